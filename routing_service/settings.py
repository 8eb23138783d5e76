"""Routing settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import S3Settings

TRIAGE_QUEUE = "triage"


class RoutingSettings(S3Settings):
    """Settings of the routing API (S3: staff download documents through it) and worker."""

    routing_redrive_after: float = Field(
        default=60.0, description="Seconds before an unfinished routing job is sent again."
    )

    sla_reassign_on_breach: bool = Field(
        default=False,
        description="On a breach, give the request to the least-loaded other officer on duty.",
    )
    sla_sweep_batch: int = Field(default=500, description="Requests checked per sweep step.")


@lru_cache
def get_settings() -> RoutingSettings:
    """Settings read once from the environment."""
    return RoutingSettings()
