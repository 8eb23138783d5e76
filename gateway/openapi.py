"""The gateway's OpenAPI: its own operations plus every proxied service's, with bearer security."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

import structlog

from gateway.proxy import Forwarder

log = structlog.get_logger()
# Called without a bearer token: the catalog, signing in, partners' token exchange, and the
# SMS providers' receipts (which carry a signature or a secret of their own instead).
PUBLIC_PREFIXES = ("/v1/catalog", "/v1/auth/", "/v1/staff/auth/", "/v1/oauth/", "/v1/sms/receipts/")
# Signing out takes the bearer token or, without one, the refresh token in the body.
OPTIONAL_BEARER = {"/v1/auth/logout"}
# Under a public prefix, yet only for the signed-in: changing one's own password.
BEARER_REQUIRED = {"/v1/auth/password"}
CACHE_SECONDS = 60.0
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _secure(path: str, operations: dict[str, Any]) -> None:
    """Document the bearer token on every operation that needs one (or takes one)."""
    if path in OPTIONAL_BEARER:
        security = [*BEARER, {}]
    elif path in BEARER_REQUIRED:
        security = BEARER
    elif path.startswith(PUBLIC_PREFIXES):
        return
    else:
        security = BEARER
    for operation in operations.values():
        operation["security"] = copy.deepcopy(security)


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
                merged.setdefault("paths", {})[path] = operations
            for schema_name, schema in upstream.get("components", {}).get("schemas", {}).items():
                schemas.setdefault(schema_name, schema)
        for path, operations in merged.get("paths", {}).items():
            _secure(path, operations)
        if complete:
            self._cached, self._at = merged, time.monotonic()
        return merged
