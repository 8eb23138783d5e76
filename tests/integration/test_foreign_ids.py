"""Someone else's request is indistinguishable from a missing one (reliability checklist #28).

Every operation that takes a request's ID, walked from the services' own route tables, is
called with a real request that belongs to someone else: by another resident, by an officer
and a supervisor of another department, and by partners that did not file it. The answer
must be exactly the answer for an ID that does not exist (404, or the same 403 when the
caller's role may not do it at all), so it neither acts nor tells that the request exists.
A new operation is covered without anyone remembering; one whose valid body is not listed
below is still compared, with `{}`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, sign_identity
from tests.support import files

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "طلب."}
OTHER_DEPARTMENT = "family_affairs"
ALL = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Who calls each kind of path as someone the request does not belong to, and which methods
# they must be refused. A partner whose scope covers the department may read the request
# (issue 5) but never write to one it did not file.
STRANGERS: dict[str, list[tuple[Identity, frozenset[str]]]] = {
    "/v1/requests/": [(Identity(str(uuid.uuid4()), PrincipalKind.resident), ALL)],
    "/v1/staff/requests/": [
        (
            Identity(
                str(uuid.uuid4()),
                PrincipalKind.staff,
                roles=(role,),
                departments=(OTHER_DEPARTMENT,),
            ),
            ALL,
        )
        for role in ("officer", "supervisor")
    ],
    "/v1/partner/requests/": [
        (
            Identity(
                str(uuid.uuid4()),
                PrincipalKind.partner,
                scopes=("requests:read", "requests:write"),
                departments=departments,
            ),
            methods,
        )
        for departments, methods in (((OTHER_DEPARTMENT,), ALL), (("visas",), WRITES))
    ],
}
# A body each operation accepts, so the answer is about the request and not the body.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/requests/{request_id}"): {"description": "وصف آخر."},
    ("POST", "/v1/requests/{request_id}/respond"): {"message": "رد."},
    ("POST", "/v1/requests/{request_id}/withdraw"): {"reason": "لا حاجة."},
    ("POST", "/v1/requests/{request_id}/rating"): {"score": 5},
    ("POST", "/v1/staff/requests/{request_id}/reply"): {"message": "رد."},
    ("POST", "/v1/staff/requests/{request_id}/request-info"): {"message": "أرسل."},
    ("POST", "/v1/staff/requests/{request_id}/resolve"): {"message": "تم."},
    ("POST", "/v1/staff/requests/{request_id}/reject"): {"reason": "لا."},
    ("POST", "/v1/staff/requests/{request_id}/notes"): {"text": "ملاحظة."},
    ("POST", "/v1/staff/requests/{request_id}/transfer"): {
        "department_code": OTHER_DEPARTMENT,
        "reason": "نقل.",
    },
    ("POST", "/v1/staff/requests/{request_id}/assign"): {"officer_id": str(uuid.uuid4())},
}
UPLOADS = {
    ("POST", "/v1/requests/{request_id}/documents"),
    ("POST", "/v1/partner/requests/{request_id}/documents"),
}


def _routes(app: FastAPI) -> Iterator[APIRoute]:
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = [c.original_route for c in iter_contexts(app.routes)] if iter_contexts else app.routes
    for route in routes:
        if isinstance(route, APIRoute) and "{request_id}" in route.path:
            yield route


async def _call(
    app: FastAPI, method: str, path: str, request_id: str, identity: Identity
) -> httpx.Response:
    secret = app.state.settings.internal_auth_secret.get_secret_value().encode()
    headers = {IDENTITY_HEADER: sign_identity(identity, secret)}
    url = path.replace("{request_id}", request_id)
    kwargs: dict[str, Any] = {}
    if (method, path) in UPLOADS:
        kwargs["files"] = {"file": ("passport.png", files.png(), "image/png")}
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = BODIES.get((method, path), {})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.request(method, url, headers=headers, **kwargs)


def _answer(response: httpx.Response, request_id: str) -> tuple[int, Any]:
    """Status and body, with the ID itself masked (it appears in `instance`)."""
    text = re.sub(re.escape(request_id), "<id>", response.text)
    return response.status_code, text


async def test_someone_elses_request_answers_as_a_missing_one(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    owner = await stack.sign_up(client, sms.ledger)
    draft = (await client.post("/v1/requests", json=DRAFT, headers=owner.auth)).json()
    submitted = await client.post(f"/v1/requests/{draft['id']}/submit", headers=owner.auth)
    assert submitted.status_code == 200, submitted.text
    await stack.drain()  # routed into its department
    theirs = draft["id"]
    differences: list[tuple[str, str, str, Any, Any]] = []
    operations = 0
    for service in ("intake", "routing"):
        app = getattr(stack, service)
        for route in _routes(app):
            prefix = next((p for p in STRANGERS if route.path.startswith(p)), None)
            assert prefix is not None, f"who is a stranger to {route.path}? (STRANGERS)"
            for method in sorted((route.methods or set()) - {"HEAD"}):
                for stranger, refused in STRANGERS[prefix]:
                    if method not in refused:
                        continue
                    missing = str(uuid.uuid4())
                    foreign = _answer(
                        await _call(app, method, route.path, theirs, stranger), theirs
                    )
                    absent = _answer(
                        await _call(app, method, route.path, missing, stranger), missing
                    )
                    who = f"{stranger.kind.value}:{stranger.roles}:{stranger.departments}"
                    # Identical answers leak nothing; a role refusal (403) may come first.
                    if foreign != absent or foreign[0] // 100 == 2:
                        differences.append((method, route.path, who, foreign, absent))
                    operations += 1
    assert differences == [], "\n".join(map(str, differences))
    assert operations >= 20  # the walk found the operations
    page = await client.get(f"/v1/requests/{theirs}", headers=owner.auth)
    assert page.json()["status"] == "routed"  # nobody's call changed it
    assert [e["type"] for e in page.json()["timeline"]] == ["created", "submitted", "routed"]
