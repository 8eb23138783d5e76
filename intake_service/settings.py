"""Intake settings: S3 and the limits on what a resident may send."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr

from shared.settings import CommonSettings


class IntakeSettings(CommonSettings):
    """Settings of the intake API process."""

    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint; unset means AWS S3 itself."
    )
    s3_bucket: str = Field(default="tawasul-documents", description="Bucket for documents.")
    s3_region: str = Field(default="us-east-1", description="Region of the bucket.")
    s3_access_key_id: SecretStr | None = Field(
        default=None, description="Access key; unset means boto3's default credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Secret key.")
    s3_create_bucket: bool = Field(
        default=False, description="Create the bucket at start-up (development and tests)."
    )
    max_document_bytes: int = Field(default=10 * 1024 * 1024, description="Largest document.")
    max_documents_per_request: int = Field(default=5, description="Documents per request.")
    max_description_chars: int = Field(default=4000, description="Longest description.")


@lru_cache
def get_settings() -> IntakeSettings:
    """Settings read once from the environment."""
    return IntakeSettings()
