"""Deny by default (reliability checklist #29): every route of every service, walked from
the apps' own route tables, refuses a call without the gateway's identity (401) and a
principal of the wrong kind or role (403). A route under a new prefix fails this test until
its audience is declared below, so no endpoint is left open by forgetting it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, sign_identity

# Who may call each prefix. Longest prefix wins.
AUDIENCES: dict[str, set[str]] = {
    "/v1/requests": {"resident"},
    "/v1/partner": {"partner"},
    "/v1/staff": {"officer", "supervisor", "admin"},
    "/v1/staff/statistics": {"supervisor", "admin"},
    "/v1/staff/messages": {"supervisor", "admin"},
    "/v1/admin": {"admin"},
}
# Reachable without the gateway's identity, and why.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/v1/catalog"): "the catalog of services is public",
}
# Provider callbacks: no identity, their own secret instead (refused without it).
OWN_SECRET = {
    ("POST", "/v1/sms/receipts/twilio"): "X-Twilio-Signature",
    ("POST", "/v1/sms/receipts/unifonic/{token}"): "secret token in the URL",
}
PRINCIPALS = {
    "resident": Identity(str(uuid.uuid4()), PrincipalKind.resident),
    "officer": Identity(
        str(uuid.uuid4()), PrincipalKind.staff, roles=("officer",), departments=("visas",)
    ),
    "supervisor": Identity(
        str(uuid.uuid4()), PrincipalKind.staff, roles=("supervisor",), departments=("visas",)
    ),
    "admin": Identity(str(uuid.uuid4()), PrincipalKind.staff, roles=("admin",)),
    "partner": Identity(
        str(uuid.uuid4()),
        PrincipalKind.partner,
        scopes=("requests:read", "requests:write", "webhooks:manage"),
        departments=("visas",),
    ),
}


def _routes(app: FastAPI) -> Iterator[APIRoute]:
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = [c.original_route for c in iter_contexts(app.routes)] if iter_contexts else app.routes
    for route in routes:
        if isinstance(route, APIRoute):
            yield route


def _operations(stack: Any) -> list[tuple[str, str, str]]:
    """(service, method, path template) of every operation the services serve."""
    found = []
    for name in ("intake", "routing", "notify"):
        for route in _routes(getattr(stack, name)):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((name, method, route.path))
    return found


def _audience(path: str) -> set[str] | None:
    matches = [p for p in AUDIENCES if path == p or path.startswith(p + "/")]
    return AUDIENCES[max(matches, key=len)] if matches else None


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


async def _call(app: FastAPI, method: str, path: str, identity: Identity | None) -> int:
    headers: dict[str, str] = {}
    if identity is not None:
        secret = app.state.settings.internal_auth_secret.get_secret_value().encode()
        headers[IDENTITY_HEADER] = sign_identity(identity, secret)
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.request(method, _concrete(path), json=body, headers=headers)
    return response.status_code


async def test_every_operation_has_a_declared_audience(stack: Any) -> None:
    undeclared = [
        (service, method, path)
        for service, method, path in _operations(stack)
        if (method, path) not in PUBLIC
        and (method, path) not in OWN_SECRET
        and _audience(path) is None
    ]
    assert undeclared == [], "declare who may call these (AUDIENCES, PUBLIC or OWN_SECRET)"


async def test_every_protected_operation_refuses_no_one_and_the_wrong_principals(
    stack: Any,
) -> None:
    wrong: list[tuple[str, str, str, int]] = []
    checked = 0
    for service, method, path in _operations(stack):
        app = getattr(stack, service)
        if (method, path) in PUBLIC:
            continue
        if (method, path) in OWN_SECRET:
            status = await _call(app, method, path, None)
            if status not in (401, 403, 404):
                wrong.append((method, path, "without its secret", status))
            continue
        audience = _audience(path) or set()
        status = await _call(app, method, path, None)
        if status != 401:
            wrong.append((method, path, "no identity", status))
        for name, identity in PRINCIPALS.items():
            if name in audience:
                continue
            status = await _call(app, method, path, identity)
            if status != 403:
                wrong.append((method, path, name, status))
        checked += 1
    assert wrong == [], "\n".join(map(str, wrong))
    assert checked >= 35  # the walk found the services' routes


@pytest.mark.parametrize("service", ["intake", "routing", "notify"])
async def test_the_walk_sees_each_service(stack: Any, service: str) -> None:
    assert any(s == service for s, _, _ in _operations(stack))
