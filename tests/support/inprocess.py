"""The gateway and intake apps in one process, and workers run in bursts on the real queue."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from arq.worker import Function, Worker, func
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.app import create_app as create_gateway
from gateway.auth.tokens import load_private_key, private_key_pem
from gateway.settings import GatewaySettings
from gateway.staff.bootstrap import ensure_admin
from intake_service.app import create_app as create_intake
from intake_service.settings import IntakeSettings
from notify_service.app import create_app as create_notify
from notify_service.jobs.deliver import send_otp, send_sms
from notify_service.jobs.webhooks import deliver_webhook, fan_out_event
from notify_service.settings import NotifySettings
from notify_service.sms.providers.pool import ProviderPool
from notify_service.sms.providers.simple import WebhookProvider
from notify_service.sms.templates import load_templates
from routing_service.app import create_app as create_routing
from routing_service.jobs.route_request import route_request
from routing_service.settings import RoutingSettings
from shared.db.session import create_engine, create_sessionmaker
from shared.queue.connections import create_arq_redis, deserialize, redis_settings, serialize
from shared.queue.contract import Queue, arq_queue_name
from shared.queue.relay import relay_once
from tests.support.fake_providers import AUTH_TOKEN
from tests.support.identities import mobile, national_id

RECEIPT_BASE = "https://api.tawasul.test"
UNIFONIC_RECEIPT_TOKEN = "unifonic-receipt-secret"

QUEUE_FUNCTIONS = {
    Queue.routing: [func(route_request, name="route_request")],
    Queue.notify: [func(send_sms, name="send_sms")],
    Queue.otp: [func(send_otp, name="send_otp")],
    Queue.webhooks: [
        func(fan_out_event, name="fan_out_event"),
        func(deliver_webhook, name="deliver_webhook"),
    ],
}


@dataclass
class Resident:
    """A signed-in test resident."""

    national_id: str
    phone: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class StaffUser:
    """A signed-in test staff member."""

    id: str
    username: str
    phone: str
    access_token: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.access_token}"}


class InProcessStack:
    """Apps plus a `drain()` that moves owed work through Redis to the real job functions."""

    def __init__(self, backing: Any, sms_url: str) -> None:
        self.backing = backing
        self.sms_url = sms_url
        # Its own queues under the run's prefix: jobs a killed e2e worker left behind in the
        # shared queues must not hold up these burst workers (clean-up still covers both).
        self.prefix = f"{backing.prefix}:inproc"
        common = {
            "environment": "test",
            "database_url": backing.database_url,
            "redis_url": backing.redis_url,
            "queue_prefix": self.prefix,
            "log_json": True,
        }
        s3 = {
            "s3_endpoint_url": backing.s3_endpoint_url,
            "s3_bucket": backing.s3_bucket,
            "s3_region": backing.region,
            "s3_access_key_id": backing.aws_key,
            "s3_secret_access_key": backing.aws_secret,
        }
        self.intake_settings = IntakeSettings(**common, **s3)
        self.gateway_settings = GatewaySettings(
            **common,
            intake_url="http://intake",
            # One key, as every replica of a real deployment shares.
            jwt_private_key=private_key_pem(load_private_key(None)).decode(),
            argon2_memory_kib=1024,
            argon2_time_cost=1,
            otp_sends_per_phone_per_hour=1000,
            otp_sends_per_ip_per_hour=100000,
            login_per_ip_per_minute=100000,
            login_per_id_per_minute=1000,
            api_per_principal_per_minute=100000,
        )
        self.notify_settings = NotifySettings(
            **common,
            sms_provider="webhook",
            sms_webhook_url=sms_url,
            sms_callback_base_url=RECEIPT_BASE,
            twilio_auth_token=AUTH_TOKEN,
            unifonic_receipt_token=UNIFONIC_RECEIPT_TOKEN,
            webhook_allow_private_targets=True,  # the test receiver listens on 127.0.0.1
        )
        self.intake = create_intake(self.intake_settings)
        self.routing = create_routing(RoutingSettings(**common, **s3))
        self.notify = create_notify(self.notify_settings)
        self.gateway = create_gateway(
            self.gateway_settings,
            intake_transport=httpx.ASGITransport(app=self.intake),
            routing_transport=httpx.ASGITransport(app=self.routing),
            notify_transport=httpx.ASGITransport(app=self.notify),
        )
        self._engine = create_engine(self.intake_settings, application_name="tests")
        self.sessions: async_sessionmaker[AsyncSession] = create_sessionmaker(self._engine)
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> InProcessStack:
        await self._stack.enter_async_context(self.intake.router.lifespan_context(self.intake))
        await self._stack.enter_async_context(self.routing.router.lifespan_context(self.routing))
        await self._stack.enter_async_context(self.notify.router.lifespan_context(self.notify))
        await self._stack.enter_async_context(self.gateway.router.lifespan_context(self.gateway))
        self.redis = create_arq_redis(self.backing.redis_url, default_queue_name="unused")
        self.provider = WebhookProvider(self.sms_url, timeout=5)
        self.ctx: dict[str, Any] = {
            "sessions": self.sessions,
            "settings": self.notify_settings,
            "pool": ProviderPool([self.provider], None, prefix=self.prefix),
            "templates": load_templates(),
            "webhook_client": httpx.AsyncClient(timeout=5, follow_redirects=False),
        }
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.provider.aclose()
        await self.ctx["webhook_client"].aclose()
        await self.redis.aclose(close_connection_pool=True)
        await self._stack.aclose()
        await self._engine.dispose()

    @contextlib.asynccontextmanager
    async def gateway_client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client that talks to the gateway app."""
        transport = httpx.ASGITransport(app=self.gateway, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client

    async def run_worker(
        self,
        queue: Queue,
        ctx: dict[str, Any] | None = None,
        functions: Sequence[Function] | None = None,
    ) -> Worker:
        """One burst of `queue`'s worker until it is empty; `ctx` replaces the stack's job
        context (other settings or providers) for this burst, `functions` its jobs (a
        handler standing in for a broken one). Returns the worker, for its counts."""
        worker = Worker(
            functions=list(functions) if functions is not None else QUEUE_FUNCTIONS[queue],
            queue_name=arq_queue_name(self.prefix, queue),
            redis_settings=redis_settings(self.backing.redis_url),
            ctx=ctx if ctx is not None else self.ctx,
            burst=True,
            handle_signals=False,
            poll_delay=0.01,
            keep_result=5,
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        try:
            await worker.main()
        finally:
            await worker.close()
        return worker

    async def relay(self, queue: Queue) -> int:
        """One pass of the relay over `queue`'s due outbox rows; how many it published."""
        return await relay_once(
            self.sessions,
            self.redis,
            prefix=self.prefix,
            queues=[queue.value],
            redrive_after=60,
            max_attempts=25,
        )

    async def drain(self, rounds: int = 10) -> None:
        """Relay due outbox rows and run every queue's jobs until nothing is due."""
        for _ in range(rounds):
            moved = 0
            for queue in Queue:
                moved += await self.relay(queue)
                await self.run_worker(queue)
            if moved == 0:
                return

    async def make_pending_due(self) -> None:
        """Skip the backoff of every pending row (tests do not wait for real time)."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                text("UPDATE outbox SET available_at = now() WHERE status = 'pending'")
            )

    async def pending_outbox(self) -> int:
        """Rows still owed (for assertions that nothing was left behind)."""
        async with self.sessions() as session:
            count = await session.scalar(text("SELECT count(*) FROM outbox WHERE status='pending'"))
            return int(count or 0)

    async def sign_up(self, client: httpx.AsyncClient, ledger: Any, **extra: str) -> Resident:
        """Register, verify, sign in and verify the sign-in, reading codes from the SMS ledger."""
        nid, phone, password = national_id(), mobile(), "correct horse battery"
        body = {"national_id": nid, "phone": phone, "password": password, **extra}
        response = await client.post("/v1/auth/register", json=body)
        assert response.status_code == 202, response.text
        await self.drain()
        code = ledger.latest_code(phone)
        response = await client.post(
            "/v1/auth/register/verify", json={"national_id": nid, "code": code}
        )
        assert response.status_code == 201, response.text
        seen = len(ledger.to(phone))
        response = await client.post(
            "/v1/auth/login", json={"national_id": nid, "password": password}
        )
        assert response.status_code == 200, response.text
        challenge = response.json()["challenge_id"]
        await self.drain()
        code = ledger.latest_code(phone, after=seen)
        response = await client.post(
            "/v1/auth/login/verify", json={"challenge_id": challenge, "code": code}
        )
        assert response.status_code == 200, response.text
        tokens = response.json()
        return Resident(nid, phone, password, tokens["access_token"], tokens["refresh_token"])

    async def staff_sign_in(
        self, client: httpx.AsyncClient, ledger: Any, username: str, password: str, phone: str
    ) -> StaffUser:
        """Staff sign-in with password and the SMS code."""
        seen = len(ledger.to(phone))
        response = await client.post(
            "/v1/staff/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        challenge = response.json()["challenge_id"]
        await self.drain()
        code = ledger.latest_code(phone, after=seen)
        response = await client.post(
            "/v1/staff/auth/login/verify", json={"challenge_id": challenge, "code": code}
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        async with self.sessions() as session:
            staff_id = await session.scalar(
                text("SELECT id::text FROM staff WHERE username = :u"), {"u": username}
            )
        return StaffUser(str(staff_id), username, phone, token)

    async def admin(self, client: httpx.AsyncClient, ledger: Any) -> StaffUser:
        """A fresh admin, created the way `make run` creates the demo one."""
        username, phone = f"admin{uuid.uuid4().hex[:8]}", mobile()
        await ensure_admin(
            self.backing.database_url,
            username=username,
            password="admin-password-1",
            phone=phone,
        )
        return await self.staff_sign_in(client, ledger, username, "admin-password-1", phone)

    async def staff(
        self,
        client: httpx.AsyncClient,
        ledger: Any,
        admin: StaffUser,
        role: str,
        departments: list[str],
        *,
        on_duty: bool = False,
    ) -> StaffUser:
        """A staff member created through the admin API, signed in, optionally on duty."""
        username, phone = f"{role}{uuid.uuid4().hex[:8]}", mobile()
        response = await client.post(
            "/v1/admin/staff",
            json={
                "username": username,
                "full_name": "Test Person",
                "phone": phone,
                "password": "staff-password-1",
                "role": role,
                "departments": departments,
            },
            headers=admin.auth,
        )
        assert response.status_code == 201, response.text
        user = await self.staff_sign_in(client, ledger, username, "staff-password-1", phone)
        if on_duty:
            response = await client.put(
                "/v1/staff/me/duty", json={"on_duty": True}, headers=user.auth
            )
            assert response.status_code == 200, response.text
        return user
