"""A real HTTP server on 127.0.0.1 that plays the SMS provider and records every message."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SmsLedger:
    """What the provider received; `fail_next` makes it answer 503 that many times."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

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


class SmsReceiver:
    """Starts the server in a thread; `url` is what SMS_WEBHOOK_URL should be."""

    def __init__(self) -> None:
        self.ledger = SmsLedger()
        ledger = self.ledger

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with ledger.lock:
                    failing = ledger.fail_next > 0
                    if failing:
                        ledger.fail_next -= 1
                    else:
                        ledger.messages.append(payload)
                self.send_response(503 if failing else 202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SmsReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
