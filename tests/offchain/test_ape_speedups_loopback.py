"""tests/support/ape_speedups.py's loopback posts (``LoopbackPost``): ape's own node connection
posts JSON-RPC with http.client instead of ``requests``. Checked against the ``requests`` path
it replaces, on the suite's anvil and on stand-in servers: the same response bytes for single
and batched requests, a JSON-RPC error and a revert; the same exception types for an HTTP
error status, a refused connection and a node that does not answer in time; a kept connection
the server closed is opened again; installed on ape's connection as the tests use it (ape-foundry
makes a new ``Web3`` after connecting) and on nothing but loopback HTTP."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
import requests
from web3 import HTTPProvider

from tests.support.ape_speedups import LoopbackPost
from tests.support.local_http import LocalHttp, QuietHandler

HEADERS = {"Content-Type": "application/json", "User-Agent": "ballast-test"}


def _rpc(method: str, params: list[Any], id_: int = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": id_}).encode()


def _both(endpoint: str) -> tuple[Any, LoopbackPost]:
    """The plain ``requests`` path and a loopback post of one fresh provider to ``endpoint``."""
    plain = HTTPProvider(endpoint)._request_session_manager.make_post_request
    return plain, LoopbackPost(plain, endpoint)


def test_installed_on_apes_connection_as_the_tests_use_it(networks):
    node = networks.provider.web3.provider
    post = node._request_session_manager.make_post_request
    assert isinstance(post, LoopbackPost) and post.endpoint == node.endpoint_uri
    assert node.cacheable_requests == {"eth_chainId"}
    assert networks.provider.web3.eth.chain_id == networks.provider.chain_id


def test_not_installed_off_loopback_or_on_https():
    for uri in ("http://10.1.2.3:8545", "https://127.0.0.1:8545", "http://node.example:8545"):
        node = HTTPProvider(uri)
        LoopbackPost.install(node)
        assert not isinstance(node._request_session_manager.make_post_request, LoopbackPost)


def test_same_bytes_as_requests__single_batch_error_and_revert(networks, accounts):
    endpoint = networks.provider.web3.provider.endpoint_uri
    plain, fast = _both(endpoint)
    asks = [
        _rpc("eth_chainId", []),
        _rpc("eth_getBlockByNumber", ["0x0", True]),
        _rpc("eth_getBalance", [accounts[0].address, "0x0"]),
        b"[" + _rpc("eth_chainId", [], 1) + b"," + _rpc("eth_blockNumber", [], 2) + b"]",
        _rpc("no_suchMethod", []),  # a JSON-RPC error, HTTP 200
        # a call that reverts: an eth_call of an empty contract's "revert(0,0)" at creation
        _rpc("eth_call", [{"data": "0x60006000fd"}, "latest"]),
    ]
    for body in asks:
        got, want = (
            fast(endpoint, body, headers=HEADERS, timeout=10),
            plain(endpoint, body, headers=HEADERS, timeout=10),
        )
        assert isinstance(got, bytes) and json.loads(got) == json.loads(want), body


class _Status(QuietHandler):
    status = 503

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(self.status)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"busy")


class _Slow(QuietHandler):
    def do_POST(self) -> None:  # noqa: N802
        time.sleep(1.0)


class _OnceThenClose(QuietHandler):
    """Answers, then closes the connection (a node restarted, an idle timeout)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        self.close_connection = True


def _raises(post: Any, endpoint: str, timeout: float = 5) -> type[BaseException]:
    with pytest.raises(requests.exceptions.RequestException) as err:
        post(endpoint, _rpc("eth_chainId", []), headers=HEADERS, timeout=timeout)
    return type(err.value)


def test_http_error_status__requests_httperror_as_before():
    server = LocalHttp(_Status)
    try:
        plain, fast = _both(server.url)
        assert _raises(fast, server.url) is _raises(plain, server.url) is requests.HTTPError
        with pytest.raises(requests.HTTPError, match="503"):
            fast(server.url, _rpc("eth_chainId", []), headers=HEADERS, timeout=5)
    finally:
        server.close()


def test_refused_and_timed_out__requests_errors_as_before():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening
        plain, fast = _both(refused)
        assert _raises(fast, refused) is _raises(plain, refused) is requests.ConnectionError
    server = LocalHttp(_Slow)
    try:
        plain, fast = _both(server.url)
        assert issubclass(_raises(fast, server.url, 0.2), requests.Timeout)
        assert issubclass(_raises(plain, server.url, 0.2), requests.Timeout)
    finally:
        server.close()


def test_connection_closed_by_the_server__opened_again_before_the_next_post():
    server = LocalHttp(_OnceThenClose)
    try:
        _, fast = _both(server.url)
        for _ in range(3):
            assert fast(server.url, _rpc("eth_chainId", []), headers=HEADERS, timeout=5) == b"{}"
            time.sleep(0.05)  # the server's close reaches the client before the next post
    finally:
        server.close()


def test_other_uri_or_a_dict_body__the_requests_path():
    calls: list[Any] = []
    fast = LoopbackPost(lambda *a, **kw: calls.append((a, kw)) or b"plain", "http://127.0.0.1:1")
    assert fast("http://127.0.0.1:2", b"x", headers=HEADERS) == b"plain"
    assert fast("http://127.0.0.1:1", {"a": 1}, headers=HEADERS) == b"plain"
    assert fast("http://127.0.0.1:1", b"x", headers=HEADERS, stream=True) == b"plain"
    assert len(calls) == 3
