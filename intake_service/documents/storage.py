"""S3 access through boto3, always in a thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from intake_service.settings import IntakeSettings


class DocumentStore:
    """Puts and removes document objects in the configured bucket."""

    def __init__(self, settings: IntakeSettings) -> None:
        self.bucket = settings.s3_bucket
        kwargs: dict[str, Any] = {
            "region_name": settings.s3_region,
            "config": Config(
                s3={"addressing_style": "path"},
                connect_timeout=3,
                read_timeout=20,
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=20,
            ),
        }
        if settings.s3_endpoint_url:
            kwargs["endpoint_url"] = settings.s3_endpoint_url
        if settings.s3_access_key_id and settings.s3_secret_access_key:
            kwargs["aws_access_key_id"] = settings.s3_access_key_id.get_secret_value()
            kwargs["aws_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
        self._client = boto3.client("s3", **kwargs)

    async def ensure_bucket(self) -> None:
        """Create the bucket if missing (development and tests only)."""

        def _ensure() -> None:
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError:
                self._client.create_bucket(Bucket=self.bucket)

        await asyncio.to_thread(_ensure)

    async def ping(self) -> None:
        """Raise unless the bucket answers (readiness)."""
        await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)

    async def put(self, key: str, data: bytes, *, content_type: str, sha256_b64: str) -> None:
        """Store the bytes; S3 verifies the SHA-256 we computed, so a corrupt upload fails."""
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumSHA256=sha256_b64,
            ServerSideEncryption="AES256",
        )

    async def delete(self, key: str) -> None:
        """Remove an object (used to undo an upload whose database row could not be written)."""
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)

    async def read(self, key: str) -> bytes:
        """The object's bytes (tests and staff downloads)."""

        def _read() -> bytes:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body

        return await asyncio.to_thread(_read)
