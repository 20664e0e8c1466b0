"""A stand-in HTTP service for the tests (a webhook receiver, an attacker's site, a node's
proxy): a request handler served on a free loopback port on a thread of its own; and, for the
raw-socket stand-ins that answer what http.server would not send (a garbage head, a body cut
short), the next request read off a connection (``read_request``)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (http.server prints every request to stderr)."""

    def log_message(self, *_a: Any) -> None:
        pass


class LocalHttp:
    """``handler`` served on a free port of 127.0.0.1 (``url``: ``http://127.0.0.1:PORT``) by
    a daemon thread polling for shutdown every ``poll_interval`` s; `close` stops it and frees
    the port."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], poll_interval: float = 0.5) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def read_request(rfile: BinaryIO) -> tuple[bytes, dict[str, str], bytes] | None:
    """The next request on a connection: its head (request line and fields, as sent, the blank
    line included), its fields by lower-case name and its body (``Content-Length`` bytes);
    None when the client closed the connection first."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = rfile.readline()
        if not line:
            return None
        head += line
    lines = head.decode("latin-1").split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    return head, fields, rfile.read(int(fields.get("content-length", 0)))
