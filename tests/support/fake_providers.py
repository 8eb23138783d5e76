"""A local HTTP server that answers like Unifonic's and Twilio's message APIs, and records sends."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

APP_SID = "test-app-sid"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-test-token"


@dataclass
class Aggregators:
    """Accepted messages and the answer each provider gives next.

    mode: ok | error500 | error429 | hang | auth | slow_accept (records, then answers late)
    """

    accepted: list[dict[str, Any]] = field(default_factory=list)
    mode: dict[str, str] = field(default_factory=lambda: {"unifonic": "ok", "twilio": "ok"})
    invalid_numbers: set[str] = field(default_factory=set)
    slow_seconds: float = 0.05
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: dict[str, int] = field(default_factory=lambda: {"unifonic": 0, "twilio": 0})

    def ids(self, provider: str | None = None) -> list[str]:
        """Our message IDs the provider accepted, in order."""
        with self.lock:
            return [m["id"] for m in self.accepted if provider in (None, m["provider"])]


class FakeAggregators:
    """Runs the server in a thread; `url` is the base URL both adapters are given."""

    def __init__(self) -> None:
        self.state = Aggregators()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length).decode()
                return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

            def _misbehave(self, provider: str) -> bool:
                mode = state.mode[provider]
                if mode == "error500":
                    self._reply(500, {"message": "internal error"})
                elif mode == "error429":
                    self._reply(429, {"message": "too many requests", "code": 20429})
                elif mode == "hang":
                    time.sleep(2.5)
                    self._reply(500, {})
                else:
                    return False
                return True

            def _record(self, provider: str, our_id: str, to: str, body: str) -> str:
                sid = ("SM" if provider == "twilio" else "") + uuid.uuid4().hex
                with state.lock:
                    state.accepted.append(
                        {
                            "provider": provider,
                            "id": our_id,
                            "to": to,
                            "body": body,
                            "sid": sid,
                            "at": time.time(),
                        }
                    )
                if state.mode[provider] == "slow_accept":
                    time.sleep(state.slow_seconds)  # accepted, but the answer is late
                return sid

            def do_POST(self) -> None:
                path = urlparse(self.path).path
                if path == "/rest/SMS/messages":
                    self._unifonic()
                elif path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                    self._twilio_send()
                else:
                    self._reply(404, {"message": "not found"})

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                if parsed.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                    if not self._twilio_auth():
                        return
                    to = parse_qs(parsed.query).get("To", [""])[0]
                    with state.lock:
                        found = [
                            m for m in state.accepted if m["provider"] == "twilio" and m["to"] == to
                        ]
                    self._reply(
                        200,
                        {
                            "messages": [
                                {
                                    "sid": m["sid"],
                                    "to": m["to"],
                                    "body": m["body"],
                                    "status": "sent",
                                }
                                for m in found
                            ]
                        },
                    )
                else:
                    self._reply(404, {"message": "not found"})

            def _unifonic(self) -> None:
                form = self._form()
                with state.lock:
                    state.calls["unifonic"] += 1
                if self._misbehave("unifonic"):
                    return
                if form.get("AppSid") != APP_SID or state.mode["unifonic"] == "auth":
                    self._reply(
                        401, {"success": False, "message": "Invalid AppSid", "errorCode": "ER-401"}
                    )
                    return
                recipient = form.get("Recipient", "")
                if recipient in state.invalid_numbers or not recipient.isdigit():
                    self._reply(
                        200,
                        {
                            "success": False,
                            "message": "Invalid destination number",
                            "errorCode": "ER-02",
                        },
                    )
                    return
                correlation = form.get("CorrelationID", "")
                with state.lock:
                    duplicate = any(
                        m["id"] == correlation and m["provider"] == "unifonic"
                        for m in state.accepted
                    )
                if duplicate:
                    self._reply(
                        200,
                        {"success": False, "message": "Duplicated message", "errorCode": "ER-09"},
                    )
                    return
                sid = self._record("unifonic", correlation, "+" + recipient, form.get("Body", ""))
                self._reply(
                    200,
                    {
                        "success": True,
                        "message": "",
                        "errorCode": "ER-00",
                        "data": {
                            "MessageID": sid,
                            "CorrelationID": correlation,
                            "Status": "Sent",
                            "NumberOfUnits": 1,
                        },
                    },
                )

            def _twilio_auth(self) -> bool:
                expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if (
                    self.headers.get("authorization") != f"Basic {expected}"
                    or state.mode["twilio"] == "auth"
                ):
                    self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return False
                return True

            def _twilio_send(self) -> None:
                form = self._form()
                with state.lock:
                    state.calls["twilio"] += 1
                if self._misbehave("twilio") or not self._twilio_auth():
                    return
                to = form.get("To", "")
                if to in state.invalid_numbers or not to.startswith("+"):
                    self._reply(
                        400,
                        {
                            "code": 21211,
                            "status": 400,
                            "message": f"The 'To' number {to} is not a valid phone number.",
                        },
                    )
                    return
                callback = form.get("StatusCallback", "")
                our_id = parse_qs(urlparse(callback).query).get("n", [""])[0]
                sid = self._record("twilio", our_id, to, form.get("Body", ""))
                self._reply(
                    201, {"sid": sid, "status": "queued", "to": to, "body": form.get("Body", "")}
                )

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAggregators:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
