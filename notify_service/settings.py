"""Notify settings: which SMS provider, its address, and how hard to try."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import CommonSettings

DEV_WEBHOOK_KEY = "dev-only-webhook-key-change-me"


class NotifySettings(CommonSettings):
    """Settings of the notify API and workers."""

    sms_provider: Literal["console", "webhook", "unifonic", "twilio"] = Field(
        default="console", description="The provider used when SMS_PROVIDERS is not set."
    )
    sms_providers: str | None = Field(
        default=None,
        description="Providers in order of preference, comma-separated (e.g. unifonic,twilio);"
        " traffic fails over down the list.",
    )
    sms_webhook_url: str | None = Field(
        default=None, description="Where the webhook provider POSTs {to, body, id}."
    )
    sms_timeout: float = Field(default=10.0, description="Seconds one provider call may take.")
    sms_max_parts: int = Field(default=3, description="Most SMS parts a message may need.")
    sms_max_in_flight: int = Field(
        default=200, description="Most messages one worker holds between claim and answer."
    )
    sms_max_attempts: int = Field(default=10, description="Tries before technical-failure.")
    sms_sending_lease: float = Field(
        default=30.0, description="Seconds after which a 'sending' claim counts as abandoned."
    )
    sms_sending_timeout: float = Field(
        default=72 * 3600, description="Seconds without a receipt before 'temporary-failure'."
    )
    sms_failover_window: int = Field(default=60, description="Seconds of history for health.")
    sms_failover_threshold: float = Field(default=0.5, description="Failure share that trips.")
    sms_failover_min_volume: int = Field(default=10, description="Attempts before tripping.")
    sms_failover_cooldown: int = Field(default=60, description="Seconds a tripped one rests.")
    sms_callback_base_url: str | None = Field(
        default=None, description="Public base URL for delivery receipts (https://api…)."
    )
    unifonic_base_url: str = Field(default="https://el.cloud.unifonic.com", description="API.")
    unifonic_app_sid: SecretStr | None = Field(default=None, description="Unifonic AppSid.")
    unifonic_sender_id: str = Field(default="Tawasul", description="Registered sender name.")
    unifonic_receipt_token: SecretStr | None = Field(
        default=None, description="Secret path segment of Unifonic's delivery-receipt URL."
    )
    twilio_base_url: str = Field(default="https://api.twilio.com", description="API.")
    twilio_account_sid: str | None = Field(default=None, description="Twilio Account SID.")
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token (also verifies its callbacks)."
    )
    twilio_sender: str | None = Field(
        default=None, description="From number, or a Messaging Service SID (MG…)."
    )
    webhook_signing_key: SecretStr = Field(
        default=SecretStr(DEV_WEBHOOK_KEY),
        description="Master key from which each webhook's signing secret is derived.",
    )
    webhook_allow_private_targets: bool = Field(
        default=False, description="Allow webhook URLs on private addresses (tests only)."
    )
    webhook_retry_window: float = Field(
        default=86_400, description="Seconds a failing delivery is retried before it is dead."
    )
    webhook_timeout: float = Field(default=10.0, description="Seconds one delivery may take.")
    sms_redrive_after: float = Field(
        default=60.0, description="Seconds before an unfinished SMS job is sent again."
    )


@lru_cache
def get_settings() -> NotifySettings:
    """Settings read once from the environment."""
    return NotifySettings()


def check_production(settings: NotifySettings) -> None:
    """Refuse the development webhook key outside development and tests."""
    if (
        settings.environment.value == "production"
        and settings.webhook_signing_key.get_secret_value() == DEV_WEBHOOK_KEY
    ):
        raise ValueError("WEBHOOK_SIGNING_KEY must be set in production")


def provider_names(settings: NotifySettings) -> list[str]:
    """The configured providers, in order of preference."""
    raw = settings.sms_providers or settings.sms_provider
    return [name.strip() for name in raw.split(",") if name.strip()]
