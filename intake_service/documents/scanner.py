"""A clamd client for the INSTREAM command, over asyncio streams, under one deadline.

Written here rather than taken from a library: the protocol is three messages (command,
length-prefixed chunks, a NUL-terminated verdict), and the Python clients on PyPI (clamd,
pyclamd) are synchronous and have had no release in years, with no deadline we could enforce.
Anything but a clear "OK" or "FOUND" (down, slow, over its limits, an error line) raises
ScannerUnavailable: a document is never recorded as clean unless clamd said so.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass

import structlog

from intake_service.documents.errors import ScannerUnavailable

log = structlog.get_logger()

CHUNK = 64 * 1024
MAX_REPLY = 4096


@dataclass(frozen=True)
class Verdict:
    """What clamd said: clean, or the signature that matched."""

    clean: bool
    signature: str | None = None


def parse_address(address: str) -> tuple[str, int] | str:
    """`host:port` (or `tcp://host:port`) as a pair; a unix socket path (or `unix:path`) as is."""
    if address.startswith("unix:"):
        return address[len("unix:") :]
    if address.startswith("/"):
        return address
    host, sep, port = address.removeprefix("tcp://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"CLAMD_ADDRESS must be a socket path or host:port, not {address!r}")
    return host.strip("[]"), int(port)


def parse_reply(reply: bytes) -> Verdict:
    """`stream: OK` or `stream: <signature> FOUND`; anything else is an error of the scanner."""
    text = reply.rstrip(b"\x00\n").decode("utf-8", "replace")
    if text.endswith(": OK"):
        return Verdict(clean=True)
    if text.endswith(" FOUND"):
        return Verdict(clean=False, signature=text.split(": ", 1)[-1].removesuffix(" FOUND"))
    raise ScannerError(text)


class ScannerError(Exception):
    """clamd answered with an error (e.g. "INSTREAM size limit exceeded. ERROR")."""


class ClamdScanner:
    """Scans bytes through clamd's INSTREAM; one connection per scan."""

    def __init__(self, address: str, *, timeout: float) -> None:
        self._target = parse_address(address)
        self._timeout = timeout

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if isinstance(self._target, str):
            return await asyncio.open_unix_connection(self._target)
        host, port = self._target
        return await asyncio.open_connection(host, port)

    async def _exchange(self, data: bytes) -> bytes:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\x00")
            for start in range(0, len(data), CHUNK):
                piece = data[start : start + CHUNK]
                writer.write(struct.pack(">I", len(piece)) + piece)
                await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            reply = await reader.readuntil(b"\x00")
            if len(reply) > MAX_REPLY:
                raise ScannerError("reply too long")
        except BaseException:
            # Not close(): it waits to flush what is still buffered, and a hung clamd never
            # reads it, so the scan would outlive its deadline (issue 17).
            writer.transport.abort()
            raise
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return reply

    async def scan(self, data: bytes) -> Verdict:
        """The verdict, or ScannerUnavailable (503) when clamd cannot give a clear one in time."""
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._exchange(data)
            return parse_reply(reply)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ScannerError) as exc:
            log.warning("documents.scan_failed", error=type(exc).__name__, detail=str(exc)[:200])
            raise ScannerUnavailable() from exc
        except asyncio.LimitOverrunError as exc:
            log.warning("documents.scan_failed", error="reply too long")
            raise ScannerUnavailable() from exc
