"""Starts, watches, restarts and stops the stack's processes; output goes to files or a prefix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import httpx

from devstack.processes import ProcessSpec


class Supervisor:
    """Owns the child processes of one stack."""

    def __init__(self, specs: Iterable[ProcessSpec], *, log_dir: Path | None = None) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self.stopping = False

    def start(self, name: str) -> None:
        """Start (or restart) one process; a killed predecessor is reaped first."""
        spec = self.specs[name]
        previous = self.procs.get(name)
        if previous is not None:
            try:
                previous.wait(timeout=5)
            except subprocess.TimeoutExpired as exc:
                raise RuntimeError(f"{name} is still running") from exc
        stdout: int | IO[bytes]
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            old = self._logs.pop(name, None)
            if old is not None:
                old.close()
            stdout = self._logs[name] = (self.log_dir / f"{name}.log").open("ab")
        else:
            stdout = subprocess.PIPE
        proc = subprocess.Popen(  # noqa: S603 - our own fixed command lines
            list(spec.argv),
            env=dict(spec.env),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self._lock:
            self.procs[name] = proc
        if self.log_dir is None:
            threading.Thread(target=self._prefix, args=(name, proc), daemon=True).start()

    @staticmethod
    def _prefix(name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        label = f"{name:>14} | ".encode()
        for line in iter(proc.stdout.readline, b""):
            sys.stdout.buffer.write(label + line)
            sys.stdout.buffer.flush()

    def start_all(self) -> None:
        """Start every process (services before the gateway, as listed)."""
        for name in self.specs:
            self.start(name)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every HTTP process answers /readyz; raise if one dies or time runs out."""
        deadline = time.monotonic() + timeout
        for name, spec in self.specs.items():
            if spec.port is None:
                continue
            url = f"http://127.0.0.1:{spec.port}/readyz"
            while True:
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while starting")
                try:
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready at {url}")
                time.sleep(0.1)

    def signal(self, name: str, sig: int) -> None:
        """Send a signal to one process (tests: SIGKILL a worker)."""
        proc = self.procs[name]
        if proc.poll() is None:
            os.kill(proc.pid, sig)

    def stop(self, name: str, *, timeout: float = 25.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        proc = self.procs.get(name)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_log(name)
        return proc.returncode

    def _close_log(self, name: str) -> None:
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()
        proc = self.procs.get(name)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    def stop_all(self, timeout: float = 25.0) -> None:
        """Stop the gateway first so no new work arrives, then everything else."""
        self.stopping = True
        for name in reversed(list(self.specs)):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in self.procs.items():
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self._close_log(name)

    def watch(self) -> None:
        """Restart any process that exits unexpectedly, with a growing pause, until stopping."""
        failures: dict[str, int] = {}
        while not self.stopping:
            for name, proc in list(self.procs.items()):
                if proc.poll() is not None and not self.stopping:
                    failures[name] = failures.get(name, 0) + 1
                    pause = min(2 ** failures[name], 30)
                    print(
                        f"[supervisor] {name} exited with {proc.returncode}; "
                        f"restarting in {pause}s",
                        flush=True,
                    )
                    time.sleep(pause)
                    if not self.stopping:
                        self.start(name)
            time.sleep(0.5)
