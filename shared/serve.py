"""Runs an app under uvicorn with a graceful stop: on SIGTERM readiness turns false first.

`python -m shared.serve gateway.app:create_app --port 8000`. On the first SIGTERM or SIGINT
the app's /readyz answers 503 at once, requests keep being served for SHUTDOWN_DELAY seconds
(so load balancers take the pod out), then uvicorn stops taking connections and finishes
in-flight requests within its graceful timeout, and the process exits 0. A second signal
stops at once. Slow clients are cut by deadlines of our own (shared/slow_clients.py): every
HTTP process starts here, so each has them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import threading
from types import FrameType

import uvicorn
from fastapi import FastAPI

from shared.slow_clients import BodyDeadlineMiddleware, GuardedHttpProtocol, client_timeouts


class GracefulServer(uvicorn.Server):
    """uvicorn.Server whose first exit signal starts a drain instead of stopping at once."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, delay: float) -> None:
        super().__init__(config)
        self._app = app
        self._delay = delay
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: not ready, then stop after the delay. Second: stop now."""
        if self._draining:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._app.state.shutting_down = True
        timer = threading.Timer(self._delay, lambda: setattr(self, "should_exit", True))
        timer.daemon = True
        timer.start()


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="python -m shared.serve")
    parser.add_argument("factory", help="module:function returning the FastAPI app")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server in a container
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--graceful-timeout", type=int, default=25)
    args = parser.parse_args()
    module_name, _, function = args.factory.partition(":")
    app: FastAPI = getattr(importlib.import_module(module_name), function)()
    timeouts = client_timeouts()
    config = uvicorn.Config(
        BodyDeadlineMiddleware(
            app, idle=timeouts.request_body_timeout, total=timeouts.request_body_deadline
        ),
        http=GuardedHttpProtocol,
        host=args.host,
        port=args.port,
        access_log=False,
        # The gateway reads the caller's address and scheme from X-Forwarded-* itself, by
        # TRUSTED_PROXY_HOPS; no other process reads them. uvicorn's own rewrite (for loopback
        # peers) was a second, different rule, and a layer every call went through.
        proxy_headers=False,
        timeout_graceful_shutdown=args.graceful_timeout,
        lifespan="on",
    )
    GracefulServer(config, app, float(os.environ.get("SHUTDOWN_DELAY", "5"))).run()


if __name__ == "__main__":
    main()
