"""A TCP forwarder a test can open and close, to make a dependency unreachable and back, or
reset every connection through it while it stays reachable."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from devstack.ports import free_port


class TcpProxy:
    """Listens on `port` only while open, forwarding each connection to host:target_port."""

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._aborted: set[socket.socket] = set()
        self.resets = 0
        """Connections reset so far (each counted once, whichever end)."""

    def open(self) -> None:
        """Start accepting connections."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()

    def close(self) -> None:
        """Stop accepting; existing connections die with their peers."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None

    def reset(self) -> int:
        """Abort every connection through the proxy with a TCP RST to both ends (SO_LINGER 0,
        no FIN), as a flapping network or a restarted load balancer does; new connections are
        still accepted. Returns how many connections were reset."""
        with self._lock:
            victims = list(self._live)
            self._aborted.update(victims)
        for end in victims:
            with contextlib.suppress(OSError):
                end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                end.shutdown(socket.SHUT_RD)  # wakes its pump; the close there sends the RST
        self.resets += len(victims) // 2
        return len(victims) // 2

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._live.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                aborted = source in self._aborted or sink in self._aborted
                self._live.difference_update((source, sink))
                self._aborted.difference_update((source, sink))
            for end in (source, sink):
                if not aborted:  # a reset closes without FIN, so the peers see the RST
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)
                end.close()
