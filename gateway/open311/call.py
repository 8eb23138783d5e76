"""One Open311 call: format, language, parameters, the partner, and errors[] for any failure."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from fastapi import Request
from starlette.responses import Response

from gateway.deps import GatewayState, state_of
from gateway.open311.access import Partner, authenticate, record, require_scope
from gateway.open311.mapping import language
from gateway.open311.render import Fmt, Lang, Open311Error, error_response, parse_format

log = structlog.get_logger()


@dataclass
class Call:
    """One Open311 call: its format and language, parameters, and the partner once known."""

    request: Request
    state: GatewayState
    fmt: Fmt
    lang: Lang
    params: dict[str, str]
    partner: Partner | None = None
    request_id: uuid.UUID | None = None

    async def partner_with(self, scope: str) -> Partner:
        """The partner the api_key belongs to (audited from here on), holding `scope`."""
        self.partner = await authenticate(self.state, self.params.get("api_key", "").strip())
        require_scope(self.partner, scope)
        return self.partner


Handler = Callable[[Call], Awaitable[Response]]


def _unsupported(suffix: str) -> Open311Error:
    return Open311Error.one(
        404,
        "unsupported_format",
        f"Format '{suffix[:20]}' is not served; use .xml or .json.",
        f"الصيغة «{suffix[:20]}» غير مدعومة؛ استخدم .xml أو .json.",
    )


async def read_form(request: Request) -> dict[str, str]:
    """The form's text fields (files are not part of Open311)."""
    try:
        async with request.form() as form:
            return {key: value for key, value in form.items() if isinstance(value, str)}
    except Exception as exc:  # a malformed body, whatever the parser chose to raise
        raise Open311Error.one(
            400,
            "invalid_body",
            "The body must be application/x-www-form-urlencoded.",
            "يجب أن يكون جسم الطلب بصيغة application/x-www-form-urlencoded.",
        ) from exc


async def answer(
    request: Request, suffix: str, handler: Handler, *, form: bool = False
) -> Response:
    """Run `handler` in the asked format; every failure becomes `errors[]`; partners audited."""
    lang = language(request)
    fmt = parse_format(suffix)
    if fmt is None:
        return error_response(Fmt.xml, _unsupported(suffix), lang)  # XML: the required format
    call = Call(request, state_of(request), fmt, lang, dict(request.query_params))
    try:
        if form:
            call.params.update(await read_form(request))
        response = await handler(call)
    except Open311Error as exc:
        response = error_response(fmt, exc, lang)
    except Exception:
        log.exception("open311.unhandled_error", path=request.url.path)
        crash = Open311Error.one(
            500,
            "internal_error",
            "Something went wrong on our side. Please try again.",
            "حدث خطأ من جهتنا. يرجى المحاولة مرة أخرى.",
        )
        response = error_response(fmt, crash, lang)
    if call.partner is not None:
        await record(call.state, call.partner, request, response.status_code, call.request_id)
    return response
