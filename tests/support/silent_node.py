"""A node that accepts TCP connections and never answers (a hung RPC endpoint): what a
provider's overloaded node or a half-open connection looks like to the keeper. Loopback only,
bounded: it stops by itself after ``lifetime_s`` (or on `close`), closing every connection."""

from __future__ import annotations

import socket
import threading
import time


class SilentNode:
    def __init__(self, lifetime_s: float = 300.0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + lifetime_s
        self._thread = threading.Thread(target=self._serve, name="silent-node", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                try:
                    conn, _ = self._sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                self.accepted += 1
                self._conns.append(conn)  # read nothing, answer nothing, keep it open
        finally:
            for conn in self._conns:
                conn.close()
            self._sock.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def __enter__(self) -> SilentNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
