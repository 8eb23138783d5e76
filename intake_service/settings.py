"""Intake settings: S3, the malware scanner and the limits on what a resident may send."""

from __future__ import annotations

from functools import lru_cache
from typing import Self

from pydantic import Field, model_validator

from shared.settings import Environment, S3Settings


class IntakeSettings(S3Settings):
    """Settings of the intake API process."""

    s3_create_bucket: bool = Field(
        default=False, description="Create the bucket at start-up (development and tests)."
    )
    max_document_bytes: int = Field(default=10 * 1024 * 1024, description="Largest document.")
    max_documents_per_request: int = Field(default=5, description="Documents per request.")
    max_description_chars: int = Field(default=4000, description="Longest description.")
    clamd_address: str | None = Field(
        default=None,
        description="clamd to scan every upload with: a unix socket path, or host:port. "
        "Required in production; unset (development) records uploads as not_scanned.",
    )
    # The chain of deadlines, each under the one above it: deploy/README.md, "Deadlines".
    clamd_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Deadline of one scan, connect to verdict, seconds; under UPLOAD_TIMEOUT.",
    )
    upload_timeout: float = Field(
        default=20.0,
        gt=0,
        description="Deadline of an upload's checks, scan and storage, seconds: past it the "
        "upload answers 503 and leaves nothing behind. Under the gateway's UPSTREAM_TIMEOUT.",
    )

    @model_validator(mode="after")
    def _require_scanner_in_production(self) -> Self:
        """Production never accepts a document nobody scanned."""
        if self.environment is Environment.production and not self.clamd_address:
            raise ValueError("CLAMD_ADDRESS must be set in production")
        return self

    @model_validator(mode="after")
    def _scan_inside_upload(self) -> Self:
        """A scan that outlived its upload's deadline would answer a caller already gone."""
        if self.clamd_timeout >= self.upload_timeout:
            raise ValueError("CLAMD_TIMEOUT must be shorter than UPLOAD_TIMEOUT")
        return self


@lru_cache
def get_settings() -> IntakeSettings:
    """Settings read once from the environment."""
    return IntakeSettings()
