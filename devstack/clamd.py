"""A private clamd for `make run` and the tests: one custom signature (the EICAR test string),
no freshclam, so a machine without internet access can scan uploads end to end. It finds
only the EICAR test file: a stand-in for the real ClamAV service production runs.

Two signatures, so no signature download is needed and clamd starts in a fraction of a
second: an .hdb line (`md5:size:name`, what `sigtool --md5` prints) for the EICAR file itself,
and an .ndb body signature for the EICAR string anywhere, since an upload must first pass as a
PDF, JPEG or PNG before it reaches the scanner.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from devstack.ports import free_ports

# The standard antivirus test file (eicar.org); every scanner reports it, nothing runs it.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Tawasul.Test.EICAR"
INSTALL_HINT = (
    "clamd is missing: run scripts/clamav.sh (make test does), or apt-get install clamav-daemon"
)


LOCAL_SETTINGS = frozenset(
    {"DatabaseDirectory", "TemporaryDirectory", "TCPSocket", "LocalSocket", "LogFile"}
)
"""What `Clamd(config=...)` sets itself: where its files are and which port it listens on."""


class Clamd:
    """clamd in the foreground on a unix socket in a temporary directory.

    With `config` (a clamd.conf, e.g. the one deploy/k8s/clamav ships), clamd runs on that
    file instead, with only LOCAL_SETTINGS replaced: the test signatures, a temporary
    directory and log, and a free TCP port on the file's own TCPAddr."""

    def __init__(self, *, stream_max_length: str = "16M", config: Path | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="tawasul-clamd-"))
        self.socket = self.directory / "clamd.sock"
        self.stream_max_length = stream_max_length
        self.base_config = config
        self.port: int | None = None
        self.config_file = self.directory / "clamd.conf"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """What CLAMD_ADDRESS would be set to."""
        if self.port is not None:
            return f"127.0.0.1:{self.port}"
        return str(self.socket)

    def _configure(self) -> Path:
        database = self.directory / "db"
        database.mkdir()
        digest = hashlib.md5(EICAR).hexdigest()  # noqa: S324 - the .hdb format is MD5
        (database / "tawasul-test.hdb").write_text(f"{digest}:{len(EICAR)}:{SIGNATURE}\n")
        (database / "tawasul-test.ndb").write_text(f"{SIGNATURE}.Embedded:0:*:{EICAR.hex()}\n")
        config = self.config_file
        if self.base_config is not None:
            return self._configure_from(self.base_config, database)
        config.write_text(
            "\n".join(
                [
                    "Foreground yes",
                    f"LocalSocket {self.socket}",
                    f"DatabaseDirectory {database}",
                    f"StreamMaxLength {self.stream_max_length}",
                    "MaxFileSize 16M",
                    "MaxScanSize 64M",
                    "AlertExceedsMax yes",
                    "AlertEncryptedDoc yes",
                    "Bytecode no",
                    f"LogFile {self.directory / 'clamd.log'}",
                    "",
                ]
            )
        )
        return config

    def _configure_from(self, base: Path, database: Path) -> Path:
        kept = [
            line
            for line in base.read_text().splitlines()
            if line.strip() and not line.startswith("#") and line.split()[0] not in LOCAL_SETTINGS
        ]
        temporary = self.directory / "tmp"
        temporary.mkdir()
        (self.port,) = free_ports(1)
        local = [
            f"DatabaseDirectory {database}",
            f"TemporaryDirectory {temporary}",
            f"TCPSocket {self.port}",
            f"LogFile {self.directory / 'clamd.log'}",
        ]
        self.config_file.write_text("\n".join([*kept, *local, ""]))
        return self.config_file

    def _pong(self) -> bool:
        try:
            family = socket.AF_UNIX if self.port is None else socket.AF_INET
            target = str(self.socket) if self.port is None else ("127.0.0.1", self.port)
            with socket.socket(family) as client:
                client.settimeout(1)
                client.connect(target)
                client.sendall(b"zPING\x00")
                return client.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def start(self) -> Clamd:
        """Start clamd and wait until it answers PING."""
        binary = shutil.which("clamd") or "/usr/sbin/clamd"
        if not Path(binary).exists():
            shutil.rmtree(self.directory, ignore_errors=True)
            raise RuntimeError(INSTALL_HINT)
        config = self._configure()
        self.process = subprocess.Popen(  # noqa: S603 - clamd found on PATH, our own config
            [binary, f"--config-file={config}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._pong():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        log_file = self.directory / "clamd.log"
        log = log_file.read_text() if log_file.exists() else ""
        self.stop()
        raise RuntimeError(f"clamd did not start:\n{log[-2000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash would: the socket file stays, nobody answers on it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop it and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Clamd:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
