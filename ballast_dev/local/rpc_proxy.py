"""An RPC outage on demand: a JSON-RPC proxy in front of a node that a test can cut.

The keeper is given the proxy's URL as its node (KEEPER_RPC_URL). Two kinds of outage, the
node itself running on, so each ends the moment the test ends it:

- ``down`` set: every request is answered 503 (a load balancer in front of a dead node);
- :meth:`close_port` / :meth:`open_port`: the port refuses connections (the node's process
  gone), then listens again on the same port;
- :meth:`cut_after_sends`: ``down`` is set right after the n-th ``eth_sendRawTransaction``
  from now has reached the node and been answered (an outage in the middle of a plan's
  execution: the transaction is in the node, the keeper has its hash, then nothing answers).

And a node without JSON-RPC batches: ``refuse_batches`` set to one of ``BATCH_REFUSALS``
answers every batch (a JSON array of requests) the way such nodes and providers do, and
forwards single requests as before.

Used by the tests (tests/support re-exports it) and the hostile month (ballast_dev/demo)."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How a node refuses a batch, by ``refuse_batches``:
# - "error": one JSON-RPC error object for the whole batch (HTTP 200), as a server without
#   batch support answers an array it takes for one invalid request (-32600);
# - "http": HTTP 400 with no JSON-RPC body (a gateway that takes single requests only);
# - "too-large": a one-item array holding -32600 "batch too large" with the first call's id,
#   as geth answers a batch over its --rpc.batch-request-limit (rpc/handler.go).
BATCH_REFUSALS = ("error", "http", "too-large")


class RpcProxy:
    """Forwards JSON-RPC POSTs to the node; while ``down`` is set it answers 503 (an outage)."""

    def __init__(self, upstream: str) -> None:
        self.down = threading.Event()
        self.methods: list[str] = []  # every JSON-RPC method forwarded, in order (batches too)
        self.posts = 0  # HTTP requests received (a batch is one)
        self._refuse_batches: str | None = None  # how batches are refused (BATCH_REFUSALS)
        self._cut_after: int | None = None  # sends left before `down` is set (cut_after_sends)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy._note(body)
                if proxy.down.is_set():
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                refusal = proxy._refusal(body)
                if refusal is not None:
                    status, data = refusal
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                req = urllib.request.Request(
                    upstream, data=body, headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        data = r.read()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    proxy._after(body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client left (a keeper stopped or killed mid-request)

            def log_message(self, *args: Any) -> None:
                return

        self._handler = Handler
        self.server = self._serve(0)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _note(self, body: bytes) -> None:
        with self._lock:
            self.posts += 1
        try:
            sent = json.loads(body)
        except ValueError:
            return
        for call in sent if isinstance(sent, list) else [sent]:
            if isinstance(call, dict):
                self.methods.append(str(call.get("method")))

    @property
    def refuse_batches(self) -> str | None:
        return self._refuse_batches

    @refuse_batches.setter
    def refuse_batches(self, mode: str | None) -> None:
        if mode is not None and mode not in BATCH_REFUSALS:
            raise ValueError(f"refuse_batches: expected one of {BATCH_REFUSALS}, got {mode!r}")
        self._refuse_batches = mode

    def _refusal(self, body: bytes) -> tuple[int, bytes] | None:
        """(HTTP status, body) refusing a batch as ``refuse_batches`` says; None: forward it."""
        mode = self._refuse_batches
        if mode is None or not body.lstrip().startswith(b"["):
            return None
        if mode == "http":
            return 400, b""
        first = (json.loads(body) or [{}])[0]
        error = {"code": -32600, "message": "batch too large"}
        if mode == "too-large":
            return 200, json.dumps(
                [{"jsonrpc": "2.0", "id": first.get("id"), "error": error}]
            ).encode()
        error = {"code": -32600, "message": "invalid request"}
        return 200, json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()

    def cut_after_sends(self, n: int) -> None:
        """Set ``down`` once ``n`` more ``eth_sendRawTransaction`` requests have been forwarded
        and answered; `restore` (or clearing ``down``) ends the outage."""
        if n < 1:
            raise ValueError(f"cut_after_sends: n must be at least 1, got {n}")
        with self._lock:
            self._cut_after = n

    def restore(self) -> None:
        """End an outage: requests are forwarded again, and no cut is armed."""
        with self._lock:
            self._cut_after = None
        self.down.clear()

    def _after(self, body: bytes) -> None:
        if self._cut_after is None or b"eth_sendRawTransaction" not in body:
            return
        with self._lock:
            if self._cut_after is None:
                return
            self._cut_after -= body.count(b"eth_sendRawTransaction")
            if self._cut_after <= 0:
                self._cut_after = None
                self.down.set()

    def _serve(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        server.daemon_threads = True
        # polled every 50 ms for `close`'s shutdown (the default 0.5 s made each close wait)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def close_port(self) -> None:
        """Stop listening: connections to the node's URL are refused."""
        self.close()

    def open_port(self) -> None:
        """Listen again on the same port."""
        self.server = self._serve(self.port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
