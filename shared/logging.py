"""structlog setup: JSON lines with the request ID bound; secrets are dropped, not printed."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = {
    "password",
    "code",
    "token",
    "access_token",
    "refresh_token",
    "phone",
    "national_id",
    "authorization",
    "secret",
}
_NATIONAL_ID = re.compile(r"\b[12]\d{9}\b")
_PHONE = re.compile(r"\+?9665\d{8}\b")


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop secret-named fields and mask IDs and phone numbers that slip into messages."""
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(event[key], str):
            event[key] = _PHONE.sub("[phone]", _NATIONAL_ID.sub("[id]", event[key]))
    return event


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    """Route structlog and stdlib logs (uvicorn, arq) through one renderer with service name."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)

    def add_service(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.stdlib.add_log_level,
        timestamper,
        _scrub,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
