"""A real HTTP server on 127.0.0.1 that plays the SMS provider and records every message."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("ok", "error500", "error429", "hang", "drip")


@dataclass
class SmsLedger:
    """What the provider received; `fail_next` makes it answer 503 that many times.

    Like a real aggregator it honours the Idempotency-Key header: a repeat of a message it
    already holds is answered 202 and counted in `repeats`, not delivered twice.
    `mode` makes every call misbehave until set back to "ok": error500 and error429 answer
    with that status and record nothing; hang reads the message and never answers (until
    `hang_seconds`); drip records nothing and sends its answer one byte every 0.8 s.
    `delay` makes "ok" answer that many seconds late: a slow provider that still takes it."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    mode: str = "ok"
    hang_seconds: float = 60.0
    delay: float = 0.0
    refused: int = 0
    repeats: int = 0
    first_seen: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_by_id(self) -> dict[str, int]:
        """How many times each message id reached the provider (ours: the notification id)."""
        counts: dict[str, int] = {}
        with self.lock:
            for message in self.messages:
                key = str(message.get("id"))
                counts[key] = counts.get(key, 0) + 1
        return counts

    def to(self, phone: str) -> list[dict[str, Any]]:
        """Messages sent to one phone, oldest first."""
        with self.lock:
            return [m for m in self.messages if m["to"] == phone]

    def wait_for(self, phone: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Block until `count` messages reached `phone`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(phone)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.to(phone))} of {count} SMS reached {phone}")

    def latest_code(self, phone: str, after: int = 0, timeout: float = 20.0) -> str:
        """The six-digit code in the first code message to `phone` after the first `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.to(phone)[after:]:
                match = re.search(r"\b(\d{6})\b", message["body"])
                if match:
                    return match.group(1)
            time.sleep(0.05)
        raise TimeoutError(f"no code reached {phone}")


class _Server(ThreadingHTTPServer):
    """A provider's front door takes a burst of connections: with the standard library's
    listen backlog of 5, fifty concurrent sends overflowed the accept queue under load and
    some connections were reset after the message was written (an "unknown" outcome)."""

    request_queue_size = 1024
    daemon_threads = True


class SmsReceiver:
    """Starts the server in a thread; `url` is what SMS_WEBHOOK_URL should be."""

    def __init__(self) -> None:
        self.ledger = SmsLedger()
        ledger = self.ledger

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                mode = ledger.mode
                if mode != "ok":
                    with ledger.lock:
                        ledger.refused += 1
                    self._misbehave(mode)
                    return
                if ledger.delay:
                    time.sleep(ledger.delay)
                key = self.headers.get("idempotency-key")
                with ledger.lock:
                    failing = ledger.fail_next > 0
                    if failing:
                        ledger.fail_next -= 1
                    elif key and key in ledger.first_seen:
                        ledger.repeats += 1
                    else:
                        ledger.messages.append(payload)
                        if key:
                            ledger.first_seen[key] = time.monotonic()
                self.send_response(503 if failing else 202)
                self.send_header("content-length", "0")
                self.end_headers()

            def _misbehave(self, mode: str) -> None:
                if mode in ("error500", "error429"):
                    self.send_response(500 if mode == "error500" else 429)
                    self.send_header("content-length", "0")
                    self.end_headers()
                elif mode == "hang":
                    time.sleep(ledger.hang_seconds)
                elif mode == "drip":
                    self.wfile.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 64\r\n\r\n")
                    deadline = time.monotonic() + ledger.hang_seconds
                    while time.monotonic() < deadline:
                        self.wfile.write(b".")
                        self.wfile.flush()
                        time.sleep(0.8)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SmsReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
