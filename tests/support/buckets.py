"""Removing a bucket a test run made, with whatever uploads left in it; what an upload left."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text


def remove_bucket(s3: Any, bucket: str) -> None:
    """Empty and delete `bucket`; a failure is printed, never raised, so a clean-up cannot
    hide the result of what ran before it."""
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
    except Exception as exc:
        print(f"s3 clean-up skipped: {exc!r}")


async def documents_left_behind(stack: Any, request_id: str) -> tuple[int, list[Any]]:
    """Document rows recorded and S3 objects stored for the request: after a refused or
    abandoned upload, both must be empty."""
    async with stack.sessions() as session:
        rows = await session.scalar(
            text("SELECT count(*) FROM documents WHERE request_id = :id"), {"id": request_id}
        )
    store = stack.intake.state.store
    listing = await asyncio.to_thread(
        store._client.list_objects_v2, Bucket=store.bucket, Prefix=f"requests/{request_id}/"
    )
    return int(rows or 0), listing.get("Contents", [])
