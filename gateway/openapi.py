"""The gateway's OpenAPI: its own operations plus every proxied service's, with bearer security."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

import structlog

from gateway.proxy import Forwarder

log = structlog.get_logger()
PUBLIC_PREFIXES = ("/v1/catalog",)
CACHE_SECONDS = 60.0


class MergedOpenApi:
    """Fetches upstream documents lazily and caches the merged result briefly."""

    def __init__(self, own: Any, upstreams: Mapping[str, Forwarder]) -> None:
        self._own = own
        self._upstreams = upstreams
        self._cached: dict[str, Any] | None = None
        self._at = 0.0

    async def document(self) -> dict[str, Any]:
        """The merged document; an upstream that is down is left out until it answers."""
        if self._cached is not None and time.monotonic() - self._at < CACHE_SECONDS:
            return self._cached
        merged: dict[str, Any] = copy.deepcopy(self._own())
        components = merged.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        components.setdefault("securitySchemes", {})["bearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        complete = True
        for name, forwarder in self._upstreams.items():
            try:
                upstream = await forwarder.get_json("/openapi.json")
            except Exception as exc:  # a down service only shrinks the document
                log.warning("gateway.openapi_upstream_failed", upstream=name, error=repr(exc))
                complete = False
                continue
            if not isinstance(upstream, dict):
                continue
            for path, operations in upstream.get("paths", {}).items():
                if not path.startswith("/v1/"):
                    continue
                if not path.startswith(PUBLIC_PREFIXES):
                    for operation in operations.values():
                        operation["security"] = [{"bearerAuth": []}]
                merged.setdefault("paths", {})[path] = operations
            for schema_name, schema in upstream.get("components", {}).get("schemas", {}).items():
                schemas.setdefault(schema_name, schema)
        if complete:
            self._cached, self._at = merged, time.monotonic()
        return merged
