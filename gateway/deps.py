"""Dependencies of the gateway's own endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Scope

from gateway.auth.lockout import Lockout
from gateway.auth.passwords import Passwords
from gateway.auth.service import AuthConfig
from gateway.auth.tokens import TokenIssuer
from gateway.guard import Guard
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings


@dataclass
class GatewayState:
    """Everything the gateway built at start-up, shared by all requests."""

    settings: GatewaySettings
    sessions: async_sessionmaker[AsyncSession]
    passwords: Passwords
    issuer: TokenIssuer
    guard: Guard
    limiter: RateLimiter
    lockout: Lockout
    auth: AuthConfig


def state_of(request: Request) -> GatewayState:
    """The gateway's shared state."""
    state: GatewayState = request.app.state.gateway
    return state


async def get_state(request: Request) -> GatewayState:
    """FastAPI dependency: the shared state (async, so FastAPI never hops to a thread)."""
    return state_of(request)


def client_ip(request: Request, trusted_hops: int) -> str:
    """The caller's address: the peer, or the entry our own ingress added to X-Forwarded-For."""
    return client_ip_of(request.scope, trusted_hops)


def client_ip_of(scope: Scope, trusted_hops: int) -> str:
    """`client_ip` read from the ASGI scope (the forwarding fast path has no Request)."""
    client = scope.get("client")
    peer: str = client[0] if client is not None else "unknown"
    if trusted_hops <= 0:
        return peer
    forwarded = ""
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":  # the first one, as Request.headers.get reads it
            forwarded = value.decode("latin-1")
            break
    chain = [part.strip() for part in forwarded.split(",")]
    chain = [part for part in chain if part]
    return chain[-trusted_hops] if len(chain) >= trusted_hops else peer
