"""Settings every process shares, read from the environment (see README's configuration table)."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_INTERNAL_SECRET = "dev-only-internal-secret-change-me"  # noqa: S105 - refused outside development


class Environment(StrEnum):
    """Where the process runs; production refuses development defaults."""

    development = "development"
    test = "test"
    production = "production"


class CommonSettings(BaseSettings):
    """Connection strings and shared secrets; each service extends this with its own fields."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Environment = Field(
        default=Environment.development,
        description="development, test or production; production refuses insecure defaults.",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://tawasul@127.0.0.1:55432/tawasul",
        description="SQLAlchemy URL of the one shared Postgres schema (asyncpg driver).",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:56379/0",
        description="Redis that carries the arq job queues and rate-limit counters.",
    )
    queue_prefix: str = Field(
        default="tawasul",
        description="Prefix of every queue name and Redis key we own, so stacks can share a Redis.",
    )
    internal_auth_secret: SecretStr = Field(
        default=SecretStr(DEV_INTERNAL_SECRET),
        description="HMAC key the gateway signs forwarded identities with; services verify it.",
    )
    # Overflow connections are closed as soon as they are returned, so a load that stays above
    # the pool's size opens and closes one per checkout (a Postgres fork and login each: 1.2 ms
    # of server CPU per draft in the bench). All 15 are kept instead, overflow off by default.
    db_pool_size: int = Field(default=15, description="Postgres connections kept per process.")
    db_max_overflow: int = Field(
        default=0, description="Extra connections opened under burst, closed after each use."
    )
    db_statement_timeout_ms: int = Field(
        default=5000, description="Postgres statement_timeout for this process's sessions."
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool = Field(default=True, description="JSON logs (production) or console lines.")

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Self:
        """A production process must never run with the development internal secret."""
        if self.environment is Environment.production:
            secret = self.internal_auth_secret.get_secret_value()
            if secret == DEV_INTERNAL_SECRET or len(secret) < 32:
                raise ValueError("INTERNAL_AUTH_SECRET must be set (32+ characters) in production")
        return self


class S3Settings(CommonSettings):
    """Where documents live: intake writes them, routing reads them for staff downloads."""

    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint; unset means AWS S3 itself."
    )
    s3_bucket: str = Field(default="tawasul-documents", description="Bucket for documents.")
    s3_region: str = Field(default="us-east-1", description="Region of the bucket.")
    s3_access_key_id: SecretStr | None = Field(
        default=None, description="Access key; unset means boto3's default credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Secret key.")
