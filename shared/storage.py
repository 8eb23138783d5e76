"""S3 access through boto3, always in a thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ServiceUnavailable
from shared.settings import S3Settings

T = TypeVar("T")


class StorageUnavailable(ServiceUnavailable):
    """S3 did not answer in time: the caller may retry, nothing was half-done."""

    code = "storage_unavailable"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "5"})


class DocumentStore:
    """Puts, reads and removes document objects in the configured bucket."""

    def __init__(self, settings: S3Settings) -> None:
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

    @staticmethod
    async def _call(function: Callable[[], T]) -> T:
        """Run a boto3 call in a thread; a connection failure or timeout becomes a 503."""
        try:
            return await asyncio.to_thread(function)
        except ClientError:
            raise
        except BotoCoreError as exc:
            raise StorageUnavailable() from exc

    async def ensure_bucket(self) -> None:
        """Create the bucket if missing (development and tests only)."""

        def _ensure() -> None:
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError:
                self._client.create_bucket(Bucket=self.bucket)

        await self._call(_ensure)

    async def ping(self) -> None:
        """Raise unless the bucket answers (readiness)."""
        await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)

    async def put(self, key: str, data: bytes, *, content_type: str, sha256_b64: str) -> None:
        """Store the bytes; S3 verifies the SHA-256 we computed, so a corrupt upload fails."""
        await self._call(
            lambda: self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ChecksumSHA256=sha256_b64,
                ServerSideEncryption="AES256",
            )
        )

    async def delete(self, key: str) -> None:
        """Remove an object (used to undo an upload whose database row could not be written)."""
        await self._call(lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    async def read(self, key: str) -> bytes:
        """The object's bytes (downloads read at most one 10 MiB document at a time)."""

        def _read() -> bytes:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body

        return await self._call(_read)
