"""`python -m devstack run`: migrate, load the catalog, start everything, stop on Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from devstack.clamd import Clamd
from devstack.processes import current_env, stack_processes
from devstack.supervisor import Supervisor

ROOT = Path(__file__).resolve().parent.parent


def prepare(env: dict[str, str]) -> None:
    """Apply migrations and load the catalog before anything serves."""
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        env=env,
        check=True,
        cwd=ROOT,
    )
    subprocess.run([sys.executable, "-m", "services.db_loader"], env=env, check=True, cwd=ROOT)
    if env.get("ENVIRONMENT", "development") == "development":
        subprocess.run(
            [sys.executable, "-m", "gateway.staff.bootstrap"], env=env, check=True, cwd=ROOT
        )


def start_scanner(env: dict[str, str]) -> Clamd | None:
    """A private clamd when none is configured, so uploads are scanned (and staff can
    download them) as in production; without clamd, uploads are kept as not_scanned."""
    if env.get("CLAMD_ADDRESS"):
        return None
    try:
        scanner = Clamd().start()
    except RuntimeError as exc:
        print(f"[supervisor] no virus scanner: {exc}", flush=True)
        print("[supervisor] uploads are stored as not_scanned and cannot be downloaded", flush=True)
        return None
    env["CLAMD_ADDRESS"] = scanner.address
    print(
        "[supervisor] scanning uploads with a private clamd that knows only the EICAR test "
        "signature (set CLAMD_ADDRESS to use a real ClamAV)",
        flush=True,
    )
    return scanner


def run() -> None:
    """Bring the stack up under one supervisor and wait for SIGINT or SIGTERM."""
    env = current_env()
    prepare(env)
    scanner = start_scanner(env)
    try:
        _serve(env)
    finally:
        if scanner is not None:
            scanner.stop()


def _serve(env: dict[str, str]) -> None:
    supervisor = Supervisor(stack_processes(env))
    done = threading.Event()

    def _stop(signum: int, _: FrameType | None) -> None:
        supervisor.stopping = True
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    supervisor.start_all()
    try:
        supervisor.wait_ready(timeout=90)
    except (RuntimeError, TimeoutError) as exc:
        print(f"[supervisor] start-up failed: {exc}", flush=True)
        supervisor.stop_all()
        raise SystemExit(1) from exc
    port = env.get("GATEWAY_PORT", "8000")
    print(
        f"\n[supervisor] Tawasul is up: http://127.0.0.1:{port}  "
        f"(OpenAPI: http://127.0.0.1:{port}/openapi.json). Ctrl-C stops everything.\n",
        flush=True,
    )
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()
    done.wait()
    print("[supervisor] stopping…", flush=True)
    supervisor.stop_all()
    print("[supervisor] stopped", flush=True)


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="python -m devstack")
    parser.add_argument("command", choices=["run", "prepare"])
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.command == "prepare":
        prepare(current_env())
    else:
        run()


if __name__ == "__main__":
    main()
