"""Schemathesis over every operation of the gateway's published OpenAPI (issue 8, checklist #34).

Each operation gets generated valid and invalid calls, sent with the credentials its audience
holds (resident, officer or supervisor, admin, partner; none on the sign-in routes), and each
answer must be no 5xx, a status the document declares, in the declared content type, with a
body its schema allows. The stack runs in a database of its own: the fuzzer creates staff,
partners and routing rules that must not steer the other tests' requests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import make_url

from tests.conftest import Backing, _clean_redis
from tests.support.database import create_database, drop_database, migrate_and_load
from tests.support.inprocess import InProcessStack, StaffUser
from tests.support.loop_bridge import loop_session
from tests.support.partners import partner_token
from tests.support.sms_receiver import SmsReceiver
from tests.support.sync import run_sync

GATEWAY = "http://gateway"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Who calls each prefix (longest prefix wins); "staff" is an officer or a supervisor, drawn
# per example. Prefixes not listed are public (sign-in, tokens, catalog, provider receipts).
AUDIENCE = {
    "/v1/requests": "resident",
    "/v1/partner": "partner",
    "/v1/staff": "staff",
    "/v1/staff/auth": "",
    "/v1/admin": "admin",
    # Changing one's password: the fuzzer cannot guess the resident's, so nothing changes
    # (wrong guesses lock the fuzz resident's sign-in, which nothing here uses again).
    "/v1/auth/password": "resident",
}
DEPARTMENT = "visas"


@dataclass
class Fuzz:
    """A session into the fuzz stack's gateway and the bearer token of each audience."""

    session: requests.Session
    tokens: dict[str, str]
    request_ids: list[str]
    services: list[tuple[str, str]]

    def headers(self, path: str, staff_role: str) -> dict[str, str]:
        """The Authorization header for `path`'s audience (none for public routes)."""
        prefixes = [p for p in AUDIENCE if path == p or path.startswith(p + "/")]
        audience = AUDIENCE[max(prefixes, key=len)] if prefixes else ""
        if audience == "staff":
            audience = staff_role
        return {"Authorization": f"Bearer {self.tokens[audience]}"} if audience else {}

    def realistic(self, case: schemathesis.Case[Any], data: st.DataObject) -> None:
        """A real request ID and a real department and service in place of generated ones.

        Random IDs and codes only ever reach 404 and 422; these reach the 2xx answers and
        the state machine's 409s, whose bodies must match the document too."""
        if case.path_parameters and "request_id" in case.path_parameters:
            case.path_parameters["request_id"] = data.draw(st.sampled_from(self.request_ids))
        if isinstance(case.body, dict) and "department_code" in case.body:
            department, service = data.draw(st.sampled_from(self.services))
            case.body["department_code"], case.body["service_code"] = department, service


@pytest.fixture(scope="module")
def fuzz_backing(backing: Backing) -> Iterator[Backing]:
    """A database and Redis prefix of the fuzzer's own (S3 keys are random: bucket shared)."""
    url = make_url(backing.database_url)
    name = f"{url.database}_fuzz"
    admin_url = os.environ.get("ADMIN_DATABASE_URL") or url.set(
        database="postgres"
    ).render_as_string(hide_password=False)
    run_sync(create_database(admin_url, name))
    own = dataclasses.replace(
        backing,
        database_url=url.set(database=name).render_as_string(hide_password=False),
        prefix=f"{backing.prefix}-fuzz",
    )
    try:
        run_sync(migrate_and_load(own.database_url))
        yield own
    finally:
        run_sync(drop_database(admin_url, name))
        _clean_redis(own)


async def _partner_token(client: Any, admin: StaffUser) -> str:
    return await partner_token(
        client,
        admin.auth,
        name="Fuzzed partner",
        scopes=["requests:read", "requests:write", "webhooks:manage"],
        agencies=["passports"],
        rate_limit_per_minute=100_000,
    )


async def _draft(client: Any, auth: dict[str, str], *, submit: bool) -> str:
    body = {"department_code": DEPARTMENT, "service_code": "final_exit", "description": "طلب"}
    created = await client.post("/v1/requests", json=body, headers=auth)
    assert created.status_code == 201, created.text
    request_id = str(created.json()["id"])
    if submit:
        submitted = await client.post(f"/v1/requests/{request_id}/submit", headers=auth)
        assert submitted.status_code == 200, submitted.text
    return request_id


@pytest.fixture(scope="module")
async def fuzz(fuzz_backing: Backing, sms: SmsReceiver) -> AsyncIterator[Fuzz]:
    """The in-process stack on the fuzz database, with one signed-in principal per audience."""
    async with InProcessStack(fuzz_backing, sms.url) as stack, stack.gateway_client() as client:
        admin = await stack.admin(client, sms.ledger)
        officer = await stack.staff(client, sms.ledger, admin, "officer", [DEPARTMENT])
        supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", [DEPARTMENT])
        resident = await stack.sign_up(client, sms.ledger)
        tokens = {
            "resident": resident.access_token,
            "officer": officer.access_token,
            "supervisor": supervisor.access_token,
            "admin": admin.access_token,
            "partner": await _partner_token(client, admin),
        }
        catalog = (await client.get("/v1/catalog")).json()
        services = [
            (department["code"], service["code"])
            for agency in catalog["agencies"]
            for department in agency["departments"]
            for service in department["services"]
        ]
        request_ids = [await _draft(client, resident.auth, submit=flag) for flag in (False, True)]
        await stack.drain()  # routed, so the supervisor's and officer's views hold it
        session = loop_session(asyncio.get_running_loop(), stack.gateway, "203.0.113.9")
        try:
            yield Fuzz(session, tokens, request_ids, services)
        finally:
            session.close()


@pytest.fixture(scope="module")
def gateway_api(fuzz: Fuzz) -> BaseSchema:
    """The merged document exactly as the gateway publishes it at /openapi.json."""
    response = fuzz.session.get(f"{GATEWAY}/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    document = response.json()
    assert len(document["paths"]) > 40, "an upstream's operations are missing"
    return schemathesis.openapi.from_dict(document)


STAFF_ROLES = st.sampled_from(["officer", "supervisor"])
# Checklist #34's 50 examples an operation, derandomized so CI runs the same calls each time.
FUZZ_SETTINGS = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _fuzz(operation: APIOperation[Any, Any, Any, Any], fuzz: Fuzz) -> None:
    """Valid and invalid calls of one operation, each checked against the document."""
    cases = st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode])

    @FUZZ_SETTINGS
    @given(case=cases, staff_role=STAFF_ROLES, realistic=st.booleans(), data=st.data())
    def run(
        case: schemathesis.Case[Any], staff_role: str, realistic: bool, data: st.DataObject
    ) -> None:
        if realistic:
            fuzz.realistic(case, data)
        case.call_and_validate(
            base_url=GATEWAY,
            session=fuzz.session,
            headers=fuzz.headers(case.path, staff_role),
            checks=CHECKS,
        )

    run()


def test_every_operation_answers_as_documented(
    gateway_api: BaseSchema, fuzz: Fuzz, subtests: pytest.Subtests
) -> None:
    """No 5xx; declared status, content type and body schema, for valid and invalid calls.

    Operations run one by one as subtests (schemathesis' fixture loader does not run under
    pytest 9), so each failing operation is reported on its own.
    """
    for result in gateway_api.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the published document is not valid OpenAPI: {result.err()}")
        operation = result.ok()
        with subtests.test(msg=operation.label):
            _fuzz(operation, fuzz)
