"""The authorisation matrix, generated from the gateway's own OpenAPI document (issue 8).

Every documented operation whose path takes an ID is called through the gateway, with real
tokens, by: no one; another resident; an officer and a supervisor of another department; a
partner whose scope does not cover the request; and, for writes, a partner whose scope covers
it but that did not file it. Each is given a real object that belongs to someone else and an
ID that does not exist. No one gets 401; everyone else gets exactly the answer a missing ID
gets (never a 2xx), so they can neither act nor learn that the object exists. An operation
added to any service is in the document, and so in this matrix, without anyone listing it.
The service-level walks (test_route_access.py, test_foreign_ids.py) cover the routes the
document leaves out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import files
from tests.support.partners import partner_token

DEPARTMENT, OTHER = "visas", "family_affairs"
WRITES = frozenset({"post", "put", "patch", "delete"})
# Reachable without a token by design (each has its own check, tested elsewhere).
NO_TOKEN = {
    ("post", "/v1/sms/receipts/unifonic/{token}"),
    ("get", "/v1/catalog/services/{service_code}"),
}
# Path parameters that name someone's object; the rest get a harmless fixed value.
OWNED = ("request_id", "service_request_id", "webhook_id")
FIXED = {"token": "x", "fmt": "json", "service_code": "final_exit"}


@dataclass(frozen=True)
class Caller:
    """Someone the object does not belong to, and the methods they must be refused."""

    name: str
    headers: dict[str, str]
    methods: frozenset[str]


async def _partner(client: Any, admin: Any, departments: list[str]) -> dict[str, str]:
    token = await partner_token(
        client,
        admin.auth,
        name=f"Partner {uuid.uuid4().hex[:6]}",
        scopes=["requests:read", "requests:write", "webhooks:manage"],
        departments=departments,
    )
    return {"Authorization": f"Bearer {token}"}


def _url(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), FIXED.get(m.group(1), "1")), path)


async def _call(
    client: httpx.AsyncClient, method: str, url: str, operation: dict[str, Any], caller: Caller
) -> httpx.Response:
    content = operation.get("requestBody", {}).get("content", {})
    kwargs: dict[str, Any] = {}
    if "multipart/form-data" in content:
        kwargs["files"] = {"file": ("passport.png", files.png(), "image/png")}
    elif method in WRITES:
        kwargs["json"] = {}
    return await client.request(method.upper(), url, headers=caller.headers, **kwargs)


def _masked(response: httpx.Response, *ids: str) -> tuple[int, str]:
    text = response.text
    for value in ids:
        text = text.replace(value, "<id>")
    return response.status_code, text


async def test_every_operation_with_an_id_refuses_everyone_it_does_not_belong_to(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    owner = await stack.sign_up(client, sms.ledger)
    body = {"department_code": DEPARTMENT, "service_code": "final_exit", "description": "طلب."}
    draft = (await client.post("/v1/requests", json=body, headers=owner.auth)).json()
    submitted = await client.post(f"/v1/requests/{draft['id']}/submit", headers=owner.auth)
    assert submitted.status_code == 200, submitted.text
    await stack.drain()
    filer = await _partner(client, admin, [DEPARTMENT])
    hook = await client.post(
        "/v1/partner/webhooks", json={"url": "https://127.0.0.1:8443/hook"}, headers=filer
    )
    assert hook.status_code == 201, hook.text
    theirs = {"request_id": draft["id"], "service_request_id": draft["id"]}
    theirs["webhook_id"] = hook.json()["id"]
    other = await stack.sign_up(client, sms.ledger)
    officer = await stack.staff(client, sms.ledger, admin, "officer", [OTHER])
    supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", [OTHER])
    everything = frozenset({"get", *WRITES})
    callers = [
        Caller("resident", other.auth, everything),
        Caller("officer", officer.auth, everything),
        Caller("supervisor", supervisor.auth, everything),
        Caller("partner out of scope", await _partner(client, admin, [OTHER]), everything),
        # Issue 5: a partner may read what its scope covers, but writes only what it filed.
        Caller("partner in scope", await _partner(client, admin, [DEPARTMENT]), WRITES),
    ]
    document = (await client.get("/openapi.json")).json()
    leaks: list[tuple[str, str, str, Any, Any]] = []
    unauthenticated: list[tuple[str, str, int]] = []
    covered = 0
    for path, operations in document["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        if not any(name in OWNED for name in names):
            continue
        for method, operation in operations.items():
            if method not in everything:
                continue
            covered += 1
            missing = {name: str(uuid.uuid4()) for name in OWNED}
            if (method, path) not in NO_TOKEN:
                nobody = Caller("nobody", {}, everything)
                answer = await _call(client, method, _url(path, theirs), operation, nobody)
                if answer.status_code != 401:
                    unauthenticated.append((method, path, answer.status_code))
            for caller in callers:
                if method not in caller.methods:
                    continue
                foreign = _masked(
                    await _call(client, method, _url(path, theirs), operation, caller),
                    *theirs.values(),
                )
                absent = _masked(
                    await _call(client, method, _url(path, missing), operation, caller),
                    *missing.values(),
                )
                if foreign != absent or foreign[0] // 100 == 2:
                    leaks.append((method, path, caller.name, foreign, absent))
    assert unauthenticated == []
    assert leaks == [], "\n".join(map(str, leaks))
    assert covered >= 20, covered  # the document listed the operations (20 in November 2026)
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=owner.auth)).json()
    assert page["status"] == "routed"  # nobody's call changed it
    assert [event["type"] for event in page["timeline"]] == ["created", "submitted", "routed"]
    hooks = (await client.get("/v1/partner/webhooks", headers=filer)).json()
    assert [h["id"] for h in hooks] == [theirs["webhook_id"]]  # still there
    # Gone again, or it would receive (and fail to deliver) the next tests' events.
    deleted = await client.delete(f"/v1/partner/webhooks/{theirs['webhook_id']}", headers=filer)
    assert deleted.status_code == 204, deleted.text


async def test_every_partner_operation_treats_a_residents_draft_as_missing(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    """Issue 17: a draft is the resident's own until submitted, so even a partner whose scope
    covers its department gets, from every partner operation, what a missing ID gets."""
    owner = await stack.sign_up(client, sms.ledger)
    body = {"department_code": DEPARTMENT, "service_code": "final_exit", "description": "طلب."}
    draft = (await client.post("/v1/requests", json=body, headers=owner.auth)).json()
    caller = Caller("partner in scope", await _partner(client, admin, [DEPARTMENT]), frozenset())
    document = (await client.get("/openapi.json")).json()
    leaks: list[tuple[str, str, Any, Any]] = []
    covered = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/partner/") or "{request_id}" not in path:
            continue
        for method, operation in operations.items():
            covered += 1
            missing = str(uuid.uuid4())
            theirs = await _call(
                client, method, _url(path, {"request_id": draft["id"]}), operation, caller
            )
            absent = await _call(
                client, method, _url(path, {"request_id": missing}), operation, caller
            )
            foreign = _masked(theirs, draft["id"])
            if foreign != _masked(absent, missing) or foreign[0] // 100 == 2:
                leaks.append((method, path, foreign, _masked(absent, missing)))
    assert leaks == [], "\n".join(map(str, leaks))
    assert covered >= 3, covered  # read, documents, submit (November 2026)
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=owner.auth)).json()
    assert (page["status"], page["documents"]) == ("draft", [])


async def test_every_operation_that_declares_a_token_refuses_no_one(
    client: httpx.AsyncClient,
) -> None:
    """Deny by default across the whole document, the gateway's own operations included
    (the service-level walk in test_route_access.py cannot see those): each operation that
    declares bearer security answers 401 to a call without a token, whatever its body."""
    document = (await client.get("/openapi.json")).json()
    nobody = Caller("nobody", {}, frozenset({"get", *WRITES}))
    answered: list[tuple[str, str, int]] = []
    secured = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in nobody.methods or not operation.get("security"):
                continue
            if not any("bearerAuth" in requirement for requirement in operation["security"]):
                continue
            secured += 1
            url = _url(path, {name: str(uuid.uuid4()) for name in OWNED})
            response = await _call(client, method, url, operation, nobody)
            if response.status_code != 401:
                answered.append((method, path, response.status_code))
    assert answered == []
    assert secured >= 40, secured
