"""Builds the configured providers, in order, from the settings."""

from __future__ import annotations

from redis.asyncio import Redis

from notify_service.settings import NotifySettings, provider_names
from notify_service.sms.providers.aggregators import TwilioProvider, UnifonicProvider
from notify_service.sms.providers.base import SmsProvider
from notify_service.sms.providers.pool import ProviderPool
from notify_service.sms.providers.simple import ConsoleProvider, WebhookProvider


def build_provider(name: str, settings: NotifySettings) -> SmsProvider:
    """One provider; a missing credential fails at start-up, not at the first send."""
    timeout = settings.sms_timeout
    if name == "console":
        return ConsoleProvider()
    if name == "webhook":
        if not settings.sms_webhook_url:
            raise ValueError("SMS_WEBHOOK_URL is required for the webhook provider")
        return WebhookProvider(
            settings.sms_webhook_url, timeout=timeout, connections=settings.sms_max_in_flight
        )
    if name == "unifonic":
        if settings.unifonic_app_sid is None:
            raise ValueError("UNIFONIC_APP_SID is required for the unifonic provider")
        return UnifonicProvider(
            settings.unifonic_base_url,
            settings.unifonic_app_sid.get_secret_value(),
            settings.unifonic_sender_id,
            timeout=timeout,
        )
    if name == "twilio":
        if not (
            settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_sender
        ):
            raise ValueError("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_SENDER are required")
        callback = (
            settings.sms_callback_base_url.rstrip("/") + "/v1/sms/receipts/twilio"
            if settings.sms_callback_base_url
            else None
        )
        return TwilioProvider(
            settings.twilio_base_url,
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_sender,
            callback_url=callback,
            timeout=timeout,
        )
    raise ValueError(f"unknown SMS provider {name!r}")


def build_pool(settings: NotifySettings, redis: Redis | None) -> ProviderPool:
    """Every configured provider behind one failover pool."""
    return ProviderPool(
        [build_provider(name, settings) for name in provider_names(settings)],
        redis,
        prefix=settings.queue_prefix,
        window=settings.sms_failover_window,
        threshold=settings.sms_failover_threshold,
        min_volume=settings.sms_failover_min_volume,
        cooldown=settings.sms_failover_cooldown,
    )
