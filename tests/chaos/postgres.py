"""A Postgres cluster of the test's own, so a test may crash it (`pg_ctl stop -m immediate`).

The shared test Postgres must never be crashed: other tests and other runs use it. This one
lives in a temporary directory, listens on a free port and is deleted afterwards. Postgres
refuses to run as root, so as root the cluster belongs to the `postgres` user (as in
scripts/services.sh). fsync is off: the faults here kill the server process, not the
machine, so what was written reaches the files through the OS either way.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from devstack.ports import free_port

OS_USER = "postgres"


def _bindir() -> Path:
    """The newest installed server's binaries (make test installs PostgreSQL when missing)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for candidate in reversed(candidates):
        if os.access(Path(candidate) / "pg_ctl", os.X_OK):
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found (run `make test` to install them)")


class PrivatePostgres:
    """initdb once, then start, crash, start again, and finally stop and delete."""

    def __init__(self) -> None:
        self.bin = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="tawasul-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, user=OS_USER)
            self.root.chmod(0o700)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of one database on this cluster."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self._as_root:
            command = ["runuser", "-u", OS_USER, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, cwd="/")

    def start(self) -> None:
        """Create the cluster on first use, then start it and wait until it takes connections."""
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                "--no-sync", "-E", "UTF8", "--locale=C",
            )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=200"
        )
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l", log, "-o", options,
                  "start")  # fmt: skip

    def crash(self) -> None:
        """Kill the server the hard way: no checkpoint, WAL replay on the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop_fast(self) -> None:
        """A clean, quick stop (the first half of `pg_ctl restart -m fast`): sessions are
        ended, a checkpoint is written."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        """Whether the server answers pg_ctl status."""
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def wait_stopped(self, timeout: float = 10.0) -> None:
        """pg_ctl -w returns when the postmaster is gone; this also waits for its pid file."""
        deadline = time.monotonic() + timeout
        while (self.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def destroy(self) -> None:
        """Stop (if running) and delete every file."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
