"""/v1/sms/receipts/*: providers' delivery callbacks; a forged one changes nothing (403)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from notify_service.receipts import service
from notify_service.settings import NotifySettings
from shared.db.database import Database
from shared.errors import AppError, Forbidden, NotFound

router = APIRouter(prefix="/v1/sms/receipts", tags=["delivery receipts"])


class InvalidSignature(Forbidden):
    """The callback is not signed by the provider we configured."""

    code = "invalid_signature"
    message_en = "The callback signature is not valid."
    message_ar = "توقيع الاستدعاء غير صالح."


class MalformedReceipt(AppError):
    """The callback's body cannot be read: a provider's bug, not ours, and not worth a retry."""

    status = 400
    code = "malformed_receipt"
    message_en = "The delivery report body is not valid JSON."
    message_ar = "محتوى تقرير التسليم ليس JSON صالحاً."


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of a caller's string; compare_digest refuses non-ASCII str."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _settings(request: Request) -> NotifySettings:
    settings: NotifySettings = request.app.state.settings
    return settings


async def _record(request: Request, provider: str, **fields: Any) -> dict[str, str]:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        outcome = await service.apply_receipt(
            session, provider=provider, now=datetime.now(UTC), **fields
        )
    return {"result": outcome}


# Read by hand, as the signature covers every field sent: documented here for FastAPI.
TWILIO_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "MessageSid": {"type": "string"},
                    "MessageStatus": {"type": "string"},
                    "ErrorCode": {"type": "string"},
                },
            }
        }
    },
}


@router.post(
    "/twilio",
    summary="Twilio status callback (X-Twilio-Signature checked)",
    openapi_extra={"requestBody": TWILIO_FORM},
)
async def twilio_receipt(request: Request) -> dict[str, str]:
    """Form fields MessageSid, MessageStatus, ErrorCode; our ID rides in the `n` query."""
    settings = _settings(request)
    if not (settings.twilio_auth_token and settings.sms_callback_base_url):
        raise NotFound()
    form = {key: str(value) for key, value in (await request.form()).items()}
    url = settings.sms_callback_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    expected = service.twilio_signature(settings.twilio_auth_token.get_secret_value(), url, form)
    given = request.headers.get("x-twilio-signature", "")
    if not _same(given, expected):
        raise InvalidSignature()
    return await _record(
        request,
        "twilio",
        notification_id=request.query_params.get("n"),
        reference=form.get("MessageSid") or form.get("SmsSid"),
        status=service.twilio_status(form.get("MessageStatus", ""), form.get("ErrorCode")),
        error=f"twilio {form.get('ErrorCode')}" if form.get("ErrorCode") else None,
    )


def _field(data: dict[str, Any], *names: str) -> str | None:
    lowered = {key.lower(): value for key, value in data.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value not in (None, ""):
            return str(value)
    return None


@router.post("/unifonic/{token}", summary="Unifonic delivery report (secret URL checked)")
async def unifonic_receipt(token: str, request: Request) -> dict[str, str]:
    """JSON or form; CorrelationID is our notification ID."""
    settings = _settings(request)
    secret = settings.unifonic_receipt_token
    if secret is None or not _same(token, secret.get_secret_value()):
        raise InvalidSignature()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await request.json()
        except ValueError as exc:  # bad JSON or bad UTF-8: the sender's fault (400), never a 500
            raise MalformedReceipt() from exc
        data = data if isinstance(data, dict) else {}
    else:
        data = dict(await request.form())
    error_code = _field(data, "errorCode", "ErrorCode")
    return await _record(
        request,
        "unifonic",
        notification_id=_field(data, "correlationId", "CorrelationID"),
        reference=_field(data, "messageId", "MessageID"),
        status=service.unifonic_status(_field(data, "status", "Status") or "", error_code),
        error=f"unifonic {error_code}" if error_code else None,
    )
