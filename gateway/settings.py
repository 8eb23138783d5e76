"""Gateway settings: where the services are, token keys and lifetimes, limits."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from shared.settings import CommonSettings, Environment

DEV_OTP_PEPPER = "dev-only-otp-pepper-change-me"


class GatewaySettings(CommonSettings):
    """Settings of the gateway process."""

    gateway_port: int = Field(default=8000, description="Port the gateway listens on.")
    intake_url: str = Field(default="http://127.0.0.1:18001", description="Intake service URL.")
    routing_url: str = Field(default="http://127.0.0.1:18002", description="Routing API URL.")
    notify_url: str = Field(default="http://127.0.0.1:18003", description="Notify API URL.")
    jwt_private_key: SecretStr | None = Field(
        default=None, description="Ed25519 private key (PEM) that signs access tokens."
    )
    jwt_private_key_file: Path | None = Field(
        default=None, description="File holding that key, if JWT_PRIVATE_KEY is not given."
    )
    jwt_issuer: str = Field(default="https://tawasul.gov.sa", description="Access token `iss`.")
    jwt_audience: str = Field(default="tawasul-api", description="Access token `aud`.")
    access_token_ttl: int = Field(default=600, description="Access token lifetime, seconds.")
    refresh_token_ttl: int = Field(default=12 * 3600, description="Refresh token lifetime, s.")
    otp_pepper: SecretStr = Field(
        default=SecretStr(DEV_OTP_PEPPER), description="HMAC key for stored one-time codes."
    )
    otp_ttl: int = Field(default=300, description="One-time code lifetime, seconds.")
    otp_max_attempts: int = Field(default=5, description="Wrong guesses before a code dies.")
    otp_sends_per_phone_per_hour: int = Field(default=5, description="SMS codes per phone.")
    otp_sends_per_ip_per_hour: int = Field(default=20, description="SMS codes per client IP.")
    otp_sends_per_login_per_hour: int = Field(
        default=5, description="SMS codes per national ID or staff username per hour."
    )
    otp_sends_per_login_per_day: int = Field(
        default=10, description="SMS codes per national ID or staff username per day."
    )
    otp_sms_budget_per_hour: int = Field(
        default=50_000,
        description="SMS codes per hour in all before sign-in codes stop (503); alert at 40 %.",
    )
    login_per_ip_per_minute: int = Field(default=10, description="Password attempts per IP.")
    login_per_id_per_minute: int = Field(default=5, description="Password attempts per ID.")
    api_per_principal_per_minute: int = Field(default=120, description="API calls per caller.")
    max_body_bytes: int = Field(
        default=11 * 1024 * 1024, description="Largest body accepted (a 10 MB document + form)."
    )
    forward_transport: Literal["httpx", "aiohttp", "httptools"] = Field(
        # make bench here: the gateway's CPU per forwarded call 0.27 ms with aiohttp's client,
        # 0.14-0.16 ms with the lean httptools client (gateway/upstream.py); httpx's own
        # transport 2.9 ms. aiohttp stays for an https upstream.
        default="httptools",
        description="HTTP client of the forwarder (GATEWAY_FORWARD_TRANSPORT); see bench.",
        validation_alias="GATEWAY_FORWARD_TRANSPORT",
    )
    upstream_timeout: float = Field(default=30.0, description="Overall deadline of a hop, s.")
    trusted_proxy_hops: int = Field(
        default=0, description="How many X-Forwarded-For entries the ingress adds and we trust."
    )
    argon2_memory_kib: int = Field(default=19456, description="argon2id memory cost (KiB).")
    argon2_time_cost: int = Field(default=2, description="argon2id iterations.")
    argon2_concurrency: int = Field(
        # 2 × cores (numbers.md), but never more than 8: without a CPU limit a pod sees all
        # the node's cores, and 8 × 19 MiB is what the gateway's 512 Mi memory limit can spare.
        default_factory=lambda: min(8, max(2, 2 * (os.cpu_count() or 1))),
        ge=1,
        description="argon2id hashes running at once per pod, each holding argon2_memory_kib.",
    )

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Self:
        """Production needs a real OTP pepper and a signing key."""
        if self.environment is Environment.production:
            if self.otp_pepper.get_secret_value() == DEV_OTP_PEPPER:
                raise ValueError("OTP_PEPPER must be set in production")
            if self.jwt_private_key is None and self.jwt_private_key_file is None:
                raise ValueError("JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE must be set")
        return self


@lru_cache
def get_settings() -> GatewaySettings:
    """Settings read once from the environment."""
    return GatewaySettings()
