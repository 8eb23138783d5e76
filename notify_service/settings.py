"""Notify settings: which SMS provider, its address, and how hard to try."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field

from shared.settings import CommonSettings


class NotifySettings(CommonSettings):
    """Settings of the notify API and workers."""

    sms_provider: Literal["console", "webhook"] = Field(
        default="console", description="console prints messages; webhook POSTs them."
    )
    sms_webhook_url: str | None = Field(
        default=None, description="Where the webhook provider POSTs {to, body, id}."
    )
    sms_timeout: float = Field(default=10.0, description="Seconds one provider call may take.")
    sms_max_parts: int = Field(default=3, description="Most SMS parts a message may need.")
    sms_max_attempts: int = Field(default=10, description="Tries before technical-failure.")
    sms_sending_lease: float = Field(
        default=30.0, description="Seconds after which a 'sending' claim counts as abandoned."
    )
    sms_redrive_after: float = Field(
        default=60.0, description="Seconds before an unfinished SMS job is sent again."
    )


@lru_cache
def get_settings() -> NotifySettings:
    """Settings read once from the environment."""
    return NotifySettings()
