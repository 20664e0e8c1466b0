"""tests/support/ape_speedups.py's loopback posts (``LoopbackPost``): ape's own node connection
posts JSON-RPC on a socket of its own (``RawHttpConnection``) instead of ``requests``. Its
requests and its reading of every kind of answer (a length, chunks, up to the close, a 1xx
first, no content, an error status) and of malformed or cut ones are checked byte for byte
against ``http.client``'s. Checked against the ``requests`` path
it replaces, on the suite's anvil and on stand-in servers: the same response bytes for single
and batched requests, a JSON-RPC error and a revert; the same exception types for an HTTP
error status, a refused connection and a node that does not answer in time; a kept connection
the server closed is opened again; installed on ape's connection as the tests use it (ape-foundry
makes a new ``Web3`` after connecting) and on nothing but loopback HTTP.

And ape's sends in automine mode, mined by the send (``eth_sendRawTransactionSync``): the
receipts ape is answered with are the node's for the hash; with automine off the send is the
plain one; a send the node refuses gets eth_sendRawTransaction's error; a kept receipt is never
answered after an ``evm_revert``; a send the node did not mine in time is answered with its
hash, as eth_sendRawTransaction would."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import pytest
import requests
from eth_account import Account
from web3 import HTTPProvider

from tests.support.ape_speedups import LoopbackPost, RawHttpConnection
from tests.support.local_http import LocalHttp, QuietHandler, read_request

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


# --- the raw connection against http.client, on canned answers ------------------------------


class _Canned:
    """A loopback server that records each request's bytes (head and Content-Length body) and
    answers each with the next of ``answers`` (raw bytes), closing after the last one."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers, self.requests = list(answers), []  # type: list[bytes]
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(10)  # a client that never came: the thread and port end
        try:
            conn, _ = self.listener.accept()
            with conn, conn.makefile("rb") as rfile:
                for answer in self.answers:
                    got = read_request(rfile)
                    if got is None:
                        return
                    head, _, body = got
                    self.requests.append(head + body)
                    conn.sendall(answer)
        except TimeoutError:
            pass
        finally:
            self.listener.close()


def _outcome(post: Any) -> Any:
    try:
        return post()
    except Exception as err:  # noqa: BLE001 - the type is what is compared
        return type(err)


def _by_http_client(port: int, bodies: list[bytes], headers: dict[str, str]) -> list[Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def post(body: bytes) -> Any:
        conn.request("POST", "/rpc", body=body, headers=headers)
        r = conn.getresponse()
        return (r.status, r.reason, r.read())

    try:
        return [_outcome(lambda b=b: post(b)) for b in bodies]
    finally:
        conn.close()


def _by_raw(port: int, bodies: list[bytes], headers: dict[str, str]) -> list[Any]:
    conn = RawHttpConnection("127.0.0.1", port)
    conn.timeout = 5
    try:
        return [_outcome(lambda b=b: conn.post("/rpc", b, headers)) for b in bodies]
    finally:
        conn.close()


_OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":1}'
ANSWERS = {
    "length": [_OK, _OK],  # kept alive: two on one connection
    "chunked": [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3;x=y\r\n{"a\r\n4\r\n":1}\r\n0\r\nTrailer: t\r\n\r\n',
        _OK,
    ],
    "until_close": [b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"b":2}'],
    "connection_close": [_OK.replace(b"content-length", b"Connection: close\r\ncontent-length")],
    "continue_first": [b"HTTP/1.1 100 Continue\r\n\r\n" + _OK],
    "no_content": [b"HTTP/1.1 204 No Content\r\n\r\n", _OK],
    "error_status": [b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"],
    "no_reason": [b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n{}"],
    "http_1_0": [b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"],
    "bad_length": [b"HTTP/1.1 200 OK\r\nContent-Length: x2\r\n\r\n{}"],
    # a line past http.client's 65,536 bytes: its LineTooLong either way, nothing read beyond
    "long_status_line": [b"HTTP/1.1 200 " + b"K" * 70_000 + b"\r\n\r\n"],
    "long_header_line": [b"HTTP/1.1 200 OK\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n"],
    "bad_status_line": [b"HTTQ/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"],
    "cut_body": [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"],
    "closed_without_answer": [b""],
    "too_many_headers": [b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n{}"],
}


@pytest.mark.parametrize("case", list(ANSWERS))
def test_raw_connection__same_request_bytes_and_outcome_as_http_client(case):
    """Each canned answer (and its failure) read by http.client and by the raw connection: the
    same (status, reason, body) or the same exception type, from the same request bytes."""
    answers = ANSWERS[case]
    bodies = [_rpc("eth_chainId", [], i) for i in range(len(answers))]
    plain, raw = _Canned(answers), _Canned(answers)
    want = _by_http_client(plain.port, bodies, HEADERS)
    got = _by_raw(raw.port, bodies, HEADERS)
    assert got == want, case
    assert raw.requests == [
        r.replace(str(plain.port).encode(), str(raw.port).encode()) for r in plain.requests
    ]
    if case == "length":
        assert want[0] == (200, "OK", b'{"a":1}') and len(raw.requests) == 2


@pytest.mark.parametrize(
    ("head", "closed"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", True),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", False),
    ],
    ids=["http_1_1", "connection_close", "http_1_0", "http_1_0_keep_alive"],
)
def test_raw_connection__closed_after_an_answer_as_http_client_closes(head, closed):
    """The connection is given up after the answers http.client gives it up after (Connection:
    close, HTTP/1.0 without keep-alive), and kept after the others."""
    server = _Canned([head + b"{}"])
    conn = RawHttpConnection("127.0.0.1", server.port)
    conn.timeout = 5
    plain = http.client.HTTPConnection("127.0.0.1", _Canned([head + b"{}"]).port, timeout=5)
    try:
        assert conn.post("/", b"{}", HEADERS) == (200, "OK", b"{}")
        plain.request("POST", "/", body=b"{}", headers=HEADERS)
        response = plain.getresponse()
        assert response.read() == b"{}" and response.will_close is closed
        assert (conn.sock is None) is closed
    finally:
        conn.close()
        plain.close()


def test_raw_connection__request_head_as_http_client_writes_it():
    """Host (bracketed for IPv6, without the port 80), Accept-Encoding and Content-Length
    first, then the caller's headers in their order; a caller's Host or length is not doubled."""
    for host, port, headers in (
        ("127.0.0.1", 8545, HEADERS),
        ("::1", 8545, HEADERS),
        ("localhost", 80, HEADERS),
        ("127.0.0.1", 8545, {"Host": "x", "Content-Length": "2", **HEADERS}),
        ("127.0.0.1", 8545, {"Accept-Encoding": "gzip"}),
    ):
        sent: list[bytes] = []
        conn = http.client.HTTPConnection(host, port)
        conn.send = sent.append  # type: ignore[method-assign]
        conn.sock = object()  # "connected": http.client only writes through send
        conn.request("POST", "/", body=b"{}", headers=headers)
        raw = RawHttpConnection(host, port).request_bytes("/", b"{}", headers)
        assert raw == b"".join(sent), (host, port, headers)


# --- ape's sends in automine mode, mined by the send (LoopbackPost.send_mined) ---------------


def _spied(post: LoopbackPost, monkeypatch: Any) -> tuple[list[str], list[Any]]:
    """The methods ``post`` sends the node, and the receipts it answers from what a mined send
    returned (as the JSON ``result`` web3 reads)."""
    sent: list[str] = []
    kept: list[Any] = []
    to_node, from_send = post._post, post._kept_receipt

    def _post(data: bytes, kwargs: dict[str, Any]) -> bytes:
        ask = json.loads(data)
        sent.extend(a["method"] for a in (ask if isinstance(ask, list) else [ask]))
        return to_node(data, kwargs)

    def _kept_receipt(data: bytes) -> bytes | None:
        answer = from_send(data)
        if answer is not None:
            kept.append(json.loads(answer)["result"])
        return answer

    monkeypatch.setattr(post, "_post", _post)
    monkeypatch.setattr(post, "_kept_receipt", _kept_receipt)
    return sent, kept


def _node_receipt(endpoint: str, tx_hash: str) -> Any:
    plain = HTTPProvider(endpoint)._request_session_manager.make_post_request
    body = _rpc("eth_getTransactionReceipt", [tx_hash])
    return json.loads(plain(endpoint, body, headers=HEADERS, timeout=10))["result"]


def test_send_in_automine__mined_by_the_send__receipts_as_the_node_gives_them(
    networks, project, deployer, accounts, monkeypatch
):
    """A deploy (contract address), a call with logs and a call that reverts on chain (status
    0): each goes as eth_sendRawTransactionSync, no eth_getTransactionReceipt reaches the node,
    and ape is answered with the very receipt the node gives for the hash afterwards."""
    provider = networks.provider
    assert provider.auto_mine is True
    post = provider.web3.provider._request_session_manager.make_post_request
    sent, kept = _spied(post, monkeypatch)
    token = deployer.deploy(project.TestStablecoin, "Mined", "MND", 6)
    minted = token.mint(accounts[1], 5, sender=deployer)
    failed = token.transfer(accounts[2], 6, sender=accounts[1], raise_on_revert=False)
    assert [r.status for r in (minted, failed)] == [1, 0] and len(minted.logs) == 1
    assert sent.count("eth_sendRawTransactionSync") == 3
    assert "eth_sendRawTransaction" not in sent and "eth_getTransactionReceipt" not in sent
    endpoint = provider.web3.provider.endpoint_uri
    assert [r["transactionHash"] for r in kept][1:] == [minted.txn_hash, failed.txn_hash]
    for receipt in kept:
        assert receipt == _node_receipt(endpoint, receipt["transactionHash"])
    assert kept[0]["contractAddress"].lower() == token.address.lower()


def test_send_with_automine_off__sent_as_before__not_held_by_the_node(
    networks, project, deployer, accounts, monkeypatch
):
    """With automine off ape does not wait for a receipt, so nothing may be held until mined:
    the send is eth_sendRawTransaction, answered at once (eth_sendRawTransactionSync would
    have held it 30 s)."""
    token = deployer.deploy(project.TestStablecoin, "Pooled", "POO", 6)
    provider = networks.provider
    post = provider.web3.provider._request_session_manager.make_post_request
    sent, _ = _spied(post, monkeypatch)
    provider.auto_mine = False
    try:
        t0 = time.monotonic()
        pending = token.mint(accounts[1], 5, sender=deployer)
        assert time.monotonic() - t0 < 5 and pending.block_number == -1
        assert "eth_sendRawTransaction" in sent and "eth_sendRawTransactionSync" not in sent
        provider.mine()
    finally:
        provider.auto_mine = True
    assert token.balanceOf(accounts[1]) == 5


def _raw_transfer(networks, accounts, nonce: int) -> str:
    acct = accounts[3]
    txn = networks.ecosystem.create_transaction(
        chain_id=networks.provider.chain_id,
        nonce=nonce,
        receiver=accounts[4].address,
        value=1,
        gas_limit=21_000,
        max_fee=10**11,
        max_priority_fee=0,
        type=2,
    )
    return "0x" + acct.sign_transaction(txn).serialize_transaction().hex().removeprefix("0x")


def test_mined_send_refused_before_the_pool__the_error_eth_sendRawTransaction_gives(
    networks, accounts
):
    endpoint = networks.provider.web3.provider.endpoint_uri
    plain, fast = _both(endpoint)
    nonce = networks.provider.get_nonce(accounts[3].address)
    assert nonce > 0 or accounts[3].transfer(accounts[4], 1)  # a nonce below the next one
    stale = _rpc("eth_sendRawTransaction", [_raw_transfer(networks, accounts, 0)])
    want = json.loads(plain(endpoint, stale, headers=HEADERS, timeout=10))
    fast.send_mined()
    got = json.loads(fast(endpoint, stale, headers=HEADERS, timeout=10))
    assert got == want and "nonce too low" in want["error"]["message"]


def test_mined_send_then_a_revert__the_receipt_asked_of_the_node(networks, accounts):
    """A receipt kept from a mined send is never answered once the chain may have been rolled
    back past it (evm_revert): the node is asked, and the transaction is gone."""
    endpoint = networks.provider.web3.provider.endpoint_uri
    _, fast = _both(endpoint)
    snap = json.loads(fast(endpoint, _rpc("evm_snapshot", []), headers=HEADERS))["result"]
    raw = _raw_transfer(networks, accounts, networks.provider.get_nonce(accounts[3].address))
    fast.send_mined()
    sent = json.loads(fast(endpoint, _rpc("eth_sendRawTransaction", [raw]), headers=HEADERS))
    assert json.loads(fast(endpoint, _rpc("evm_revert", [snap]), headers=HEADERS))["result"]
    asked = _rpc("eth_getTransactionReceipt", [sent["result"]])
    assert json.loads(fast(endpoint, asked, headers=HEADERS))["result"] is None


class _SyncTimesOut(QuietHandler):
    """anvil's answer when another connection stopped automine: in the pool, not mined."""

    protocol_version = "HTTP/1.1"
    methods: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        ask = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).methods.append(ask["method"])
        error = {"code": -32603, "message": "Transaction confirmation timeout"}
        body = json.dumps({"jsonrpc": "2.0", "id": ask["id"], "error": error}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_mined_send_not_mined_in_time__answered_as_sent_with_the_hash():
    signed = Account.create().sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": 0,
            "to": "0x" + "11" * 20,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 10**9,
            "maxPriorityFeePerGas": 0,
        }
    )
    raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
    server = LocalHttp(_SyncTimesOut)
    try:
        _, fast = _both(server.url)
        fast.send_mined()
        got = json.loads(
            fast(server.url, _rpc("eth_sendRawTransaction", [raw], 9), headers=HEADERS)
        )
    finally:
        server.close()
    assert _SyncTimesOut.methods == ["eth_sendRawTransactionSync"]
    assert got == {"jsonrpc": "2.0", "id": 9, "result": "0x" + signed.hash.hex().removeprefix("0x")}
