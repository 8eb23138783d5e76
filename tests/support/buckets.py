"""Removing a bucket a test run made, with whatever uploads left in it."""

from __future__ import annotations

from typing import Any


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
