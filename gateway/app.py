"""Gateway app factory: sign-in endpoints, then authenticated forwarding to the services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from redis.asyncio import Redis
from starlette.responses import JSONResponse, Response

from gateway.auth.endpoints import router as auth_router
from gateway.auth.lockout import Lockout
from gateway.auth.passwords import Passwords
from gateway.auth.service import AuthConfig
from gateway.auth.tokens import TokenIssuer, load_private_key
from gateway.deps import GatewayState, client_ip
from gateway.fast_path import ForwardTarget, install
from gateway.guard import Guard
from gateway.open311.endpoints import open311_router
from gateway.openapi import MergedOpenApi
from gateway.partners.audit import audit_partner_call
from gateway.partners.endpoints import router as partners_router
from gateway.proxy import Forwarder
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings, get_settings
from gateway.staff.endpoints import router as staff_router
from shared.db.session import create_engine, create_sessionmaker
from shared.errors import install_error_handlers
from shared.fast_lane import ServiceApp
from shared.http import BodyLimitMiddleware, health_router
from shared.identity import PrincipalKind
from shared.logging import configure_logging
from shared.openapi import install_problem_responses
from shared.service_app import database_check, instrument

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _signing_key_pem(settings: GatewaySettings) -> bytes | None:
    if settings.jwt_private_key is not None:
        return settings.jwt_private_key.get_secret_value().encode()
    if settings.jwt_private_key_file is not None:
        return settings.jwt_private_key_file.read_bytes()
    return None


def create_app(
    settings: GatewaySettings | None = None,
    *,
    intake_transport: httpx.AsyncBaseTransport | None = None,
    routing_transport: httpx.AsyncBaseTransport | None = None,
    notify_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the gateway; tests may pass a transport that reaches intake in-process."""
    settings = settings or get_settings()
    configure_logging("gateway", level=settings.log_level, json=settings.log_json)
    engine = create_engine(settings, application_name="gateway")
    redis = Redis.from_url(
        settings.redis_url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30
    )
    secret = settings.internal_auth_secret.get_secret_value().encode()
    issuer = TokenIssuer(
        load_private_key(_signing_key_pem(settings)),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.access_token_ttl,
    )

    def forwarder(url: str, transport: httpx.AsyncBaseTransport | None) -> Forwarder:
        return Forwarder(
            url,
            secret,
            timeout=settings.upstream_timeout,
            transport=transport,
            kind=settings.forward_transport,
        )

    intake = forwarder(settings.intake_url, intake_transport)
    routing = forwarder(settings.routing_url, routing_transport)
    notify = forwarder(settings.notify_url, notify_transport)
    pepper = settings.otp_pepper.get_secret_value().encode()
    state = GatewayState(
        settings=settings,
        sessions=create_sessionmaker(engine),
        passwords=Passwords(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            concurrency=settings.argon2_concurrency,
        ),
        issuer=issuer,
        guard=Guard(
            issuer,
            redis,
            prefix=settings.queue_prefix,
            per_minute=settings.api_per_principal_per_minute,
        ),
        limiter=RateLimiter(redis, settings.queue_prefix),
        lockout=Lockout(
            redis, settings.queue_prefix, settings.otp_pepper.get_secret_value().encode()
        ),
        auth=AuthConfig(
            pepper=pepper,
            otp_ttl=settings.otp_ttl,
            otp_max_attempts=settings.otp_max_attempts,
            refresh_ttl=settings.refresh_token_ttl,
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await intake.aclose()
        await routing.aclose()
        await notify.aclose()
        await redis.aclose()
        await engine.dispose()
        state.passwords.close()

    app = ServiceApp(
        title="Tawasul API",
        version="1.0.0",
        description="Residents file requests to the Passports departments and follow them by SMS.",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = state
    install_error_handlers(app)

    async def redis_ready() -> None:
        await redis.ping()

    app.include_router(health_router({"database": database_check(engine), "redis": redis_ready}))
    app.include_router(auth_router)
    app.include_router(staff_router)
    app.include_router(partners_router)
    app.include_router(open311_router(intake))

    # gateway/fast_path.py serves these routes' calls without FastAPI; the endpoints below
    # answer only the calls it leaves to FastAPI (e.g. under FastAPI's own telemetry).
    # `targets` tells the fast path where each forwards.
    targets: dict[Callable[..., Any], ForwardTarget] = {}

    def public(upstream: Forwarder) -> Callable[[Request], Awaitable[Response]]:
        async def forward(request: Request) -> Response:
            ip = client_ip(request, settings.trusted_proxy_hops)
            return await upstream.forward(request, None, client_ip=ip)

        targets[forward] = ForwardTarget(upstream, authenticated=False)
        return forward

    def authenticated(upstream: Forwarder) -> Callable[[Request], Awaitable[Response]]:
        async def forward(request: Request) -> Response:
            claims = await state.guard.authenticate(request.headers.get("authorization"))
            ip = client_ip(request, settings.trusted_proxy_hops)
            response = await upstream.forward(request, claims.identity, client_ip=ip)
            if claims.identity.kind is PrincipalKind.partner:
                await audit_partner_call(state, claims.identity, request, response, ip)
            return response

        targets[forward] = ForwardTarget(upstream, authenticated=True)
        return forward

    app.add_api_route("/v1/catalog", public(intake), methods=["GET"], include_in_schema=False)
    # Providers' delivery receipts carry no token: notify checks their signature itself.
    app.add_api_route(
        "/v1/sms/receipts/{path:path}", public(notify), methods=["POST"], include_in_schema=False
    )
    for prefix, upstream in (
        ("/v1/staff/messages", notify),  # before /v1/staff, which is routing's
        ("/v1/partner/webhooks", notify),  # before /v1/partner, which is intake's
        ("/v1/admin/webhooks", notify),  # before /v1/admin, which is routing's
        ("/v1/partner", intake),
        ("/v1/requests", intake),
        ("/v1/staff", routing),
        ("/v1/admin", routing),
    ):
        handler = authenticated(upstream)
        app.add_api_route(prefix, handler, methods=PROXY_METHODS, include_in_schema=False)
        app.add_api_route(
            f"{prefix}/{{path:path}}", handler, methods=PROXY_METHODS, include_in_schema=False
        )

    install_problem_responses(app)
    merged = MergedOpenApi(app.openapi, {"intake": intake, "routing": routing, "notify": notify})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(await merged.document())

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    instrument(app, "gateway")
    # Last, once every route is in: the fast path decides by the routes as registered.
    install(app, targets, state)
    return app
