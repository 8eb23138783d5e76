"""GeoReport v2 under /open311/v2: discovery, services, requests and tokens, in XML or JSON."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.open311 import catalog, search
from gateway.open311.call import Call, Handler, answer
from gateway.open311.mapping import (
    NATIONAL_ID,
    request_entry,
    service_definition,
    service_entry,
    service_notice,
)
from gateway.open311.render import Open311Error, Problem, parse_format, respond
from gateway.open311.upstream import Intake
from gateway.proxy import Forwarder
from shared.settings import Environment

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-25T00:00:00+03:00"  # when this API last changed
FORMATS = ["text/xml", "application/json"]
READ, WRITE = "requests:read", "requests:write"
REQUIRED_TO_FILE = ("service_code", f"attribute[{NATIONAL_ID}]", "phone", "description")


def _unknown_service(code: str) -> Open311Error:
    return Open311Error.one(
        404,
        "service_not_found",
        f"No active service has the code '{code[:130]}'.",
        f"لا توجد خدمة متاحة بالرمز «{code[:130]}».",
    )


def _request_not_found() -> Open311Error:
    return Open311Error.one(404, "request_not_found", "Request not found.", "الطلب غير موجود.")


def _base_url(call: Call) -> str:
    url = call.request.base_url
    if call.state.settings.trusted_proxy_hops > 0:
        proto = call.request.headers.get("x-forwarded-proto", "").split(",")[-1].strip()
        if proto in ("http", "https"):
            url = url.replace(scheme=proto)
    return str(url).rstrip("/") + PREFIX


async def _discovery(call: Call) -> Response:
    production = call.state.settings.environment is Environment.production
    english = call.lang == "en"
    return respond(
        call.fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": (
                "Tawasul platform, General Directorate of Passports (Jawazat)"
                if english
                else "منصة تواصل، المديرية العامة للجوازات"
            ),
            "key_service": (
                "The api_key is the client secret (tws_...) of a partner client that Tawasul "
                "administrators register; it is required for every requests and tokens call."
                if english
                else "مفتاح الواجهة هو السر (tws_...) لنظام شريك يسجله مشرفو منصة تواصل، "
                "وهو مطلوب في كل استدعاء للطلبات والرموز."
            ),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": _base_url(call),
                    "changeset": CHANGESET,
                    "type": "production" if production else "test",
                    "formats": FORMATS,
                }
            ],
        },
    )


async def _services(call: Call) -> Response:
    async with call.state.sessions() as session:
        rows = await catalog.active_services(session)
    services = [service_entry(department, service, call.lang) for department, service in rows]
    return respond(call.fmt, "services", services)


def _definition(code: str) -> Handler:
    async def handle(call: Call) -> Response:
        async with call.state.sessions() as session:
            found = await catalog.active_service(session, code)
        if found is None:
            raise _unknown_service(code)
        return respond(call.fmt, "service_definition", service_definition(*found, call.lang))

    return handle


def _create(intake: Forwarder) -> Handler:
    async def handle(call: Call) -> Response:
        partner = await call.partner_with(WRITE)
        values = {name: call.params.get(name, "").strip() for name in REQUIRED_TO_FILE}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise Open311Error(
                400,
                [Problem("missing_parameter", f"{n} is required.", f"{n} مطلوب.") for n in missing],
            )
        async with call.state.sessions() as session:
            found = await catalog.active_service(session, values["service_code"])
        if found is None:
            raise _unknown_service(values["service_code"])
        department, service = found
        upstream = Intake(intake, partner.identity)
        draft = await upstream.create(
            department.code,
            service.code,
            call.params.get("description", ""),  # intake trims; line breaks are kept
            values[f"attribute[{NATIONAL_ID}]"],
            values["phone"],
        )
        call.request_id = uuid.UUID(draft["id"])
        submitted = await upstream.submit(call.request_id)
        entry = {
            "service_request_id": submitted["reference"],
            "service_notice": service_notice(submitted, call.lang),
        }
        return respond(call.fmt, "service_requests", [entry])

    return handle


def _token(intake: Forwarder, token: str) -> Handler:
    async def handle(call: Call) -> Response:
        partner = await call.partner_with(READ)
        try:
            call.request_id = uuid.UUID(token)
        except ValueError as exc:
            raise Open311Error.one(
                404, "token_not_found", "Token not found.", "الرمز غير موجود."
            ) from exc
        detail = await Intake(intake, partner.identity).detail(call.request_id)
        entry: dict[str, object] = {"token": token}
        if detail.get("reference"):  # a draft has no service_request_id yet
            entry = {"service_request_id": detail["reference"], "token": token}
        return respond(call.fmt, "service_requests", [entry])

    return handle


def _list(intake: Forwarder) -> Handler:
    async def handle(call: Call) -> Response:
        partner = await call.partner_with(READ)
        upstream = Intake(intake, partner.identity)
        wanted = search.comma_list(call.params, "service_request_id")
        if wanted:  # overrides every other filter
            details = await search.by_ids(upstream, wanted)
        else:
            details = await search.search(upstream, search.parse_filters(call.params))
        entries = [request_entry(detail, call.lang) for detail in details]
        return respond(call.fmt, "service_requests", entries)

    return handle


def _one(intake: Forwarder, service_request_id: str) -> Handler:
    async def handle(call: Call) -> Response:
        partner = await call.partner_with(READ)
        found = await search.by_ids(Intake(intake, partner.identity), [service_request_id])
        if not found:
            raise _request_not_found()
        call.request_id = uuid.UUID(found[0]["id"])
        return respond(call.fmt, "service_requests", [request_entry(found[0], call.lang)])

    return handle


async def _not_found(call: Call) -> Response:
    raise Open311Error.one(404, "not_found", "Not found.", "غير موجود.")


def open311_router(intake: Forwarder) -> APIRouter:
    """The GeoReport v2 routes; `intake` is the gateway's pooled client for intake."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.get("/discovery.{fmt}")
    async def discovery(fmt: str, request: Request) -> Response:
        return await answer(request, fmt, _discovery)

    @router.get("/services.{fmt}")
    async def services(fmt: str, request: Request) -> Response:
        return await answer(request, fmt, _services)

    @router.get("/services/{service_code}.{fmt}")
    async def definition(service_code: str, fmt: str, request: Request) -> Response:
        return await answer(request, fmt, _definition(service_code))

    @router.post("/requests.{fmt}")
    async def create(fmt: str, request: Request) -> Response:
        return await answer(request, fmt, _create(intake), form=True)

    @router.get("/requests.{fmt}")
    async def list_requests(fmt: str, request: Request) -> Response:
        return await answer(request, fmt, _list(intake))

    @router.get("/requests/{service_request_id}.{fmt}")
    async def one(service_request_id: str, fmt: str, request: Request) -> Response:
        return await answer(request, fmt, _one(intake, service_request_id))

    @router.get("/tokens/{token}.{fmt}")
    async def token(token: str, fmt: str, request: Request) -> Response:
        return await answer(request, fmt, _token(intake, token))

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(path: str, request: Request) -> Response:
        suffix = path.rsplit("/", 1)[-1].rpartition(".")[2]
        return await answer(request, suffix if parse_format(suffix) else "xml", _not_found)

    return router
