"""The keepers' posts to a plain-HTTP node over ``http.client`` (keepers.tx.node._Sessions)
against the ``requests`` path they replace, on stand-in servers that answer every way a node,
a load balancer or a dropped connection does: the same body for every answer (a length, chunks,
up to the close, compressed anyway, a redirect followed), the same ``requests`` exception type
for every failure (an error status, with requests' own message and the answer's headers; a
refused, a timed out and a lost connection; a body cut short or late; a malformed answer), the
same request the node sees (its path and query, body and web3's headers), one connection kept
per thread, a kept connection the node closed opened again; and which nodes go through which
path (https, credentials in the URL, a proxy in the environment: requests, as before)."""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import time
import zlib
from typing import Any

import pytest
import requests
from web3._utils.http_session_manager import HTTPSessionManager

from keepers.tx.node import _Sessions, connect_web3, plain_http
from tests.support.local_http import read_request

HEADERS = {"Content-Type": "application/json", "User-Agent": "ballast-test"}
BODY = json.dumps({"jsonrpc": "2.0", "method": "eth_chainId", "params": [], "id": 1}).encode()
ANSWER = b'{"jsonrpc":"2.0","id":1,"result":"0x7a69"}'


class _Server:
    """A loopback server whose every connection is handled by ``handle(conn, request)`` (the
    request's head and body as read); records each request and counts connections."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.requests, self.connections = handle, [], 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        rfile = conn.makefile("rb")
        try:
            while (got := read_request(rfile)) is not None:
                head, fields, body = got
                line = head.decode("latin-1").split("\r\n", 1)[0]
                request = {"line": line, "fields": fields, "body": body}
                self.requests.append(request)
                if not self.handle(conn, request):
                    return  # closed by the handler
        except OSError:
            return
        finally:
            rfile.close()
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _answer(status: str, body: bytes, *fields: str, close: bool = False) -> Any:
    def handle(conn: socket.socket, _request: dict[str, Any]) -> bool:
        head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *fields]
        if close:
            head.append("Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return not close

    return handle


def _raw(data: bytes, delay: float = 0.0, keep: bool = False) -> Any:
    def handle(conn: socket.socket, _request: dict[str, Any]) -> bool:
        time.sleep(delay)
        conn.sendall(data)
        if keep:
            time.sleep(1.0)  # neither closed nor finished: the client's timeout ends it
        return False

    return handle


def _chunked(conn: socket.socket, _request: dict[str, Any]) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for part in (ANSWER[:10], ANSWER[10:]):
        conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    conn.sendall(b"0\r\n\r\n")
    return True


def _redirect(status: str) -> Any:
    def handle(conn: socket.socket, request: dict[str, Any]) -> bool:
        if request["line"].split()[1] == "/moved":
            return _answer("200 OK", ANSWER)(conn, request)
        return _answer(status, b"", "Location: /moved")(conn, request)

    return handle


CASES = {
    "length": _answer("200 OK", ANSWER),
    "chunked": _chunked,
    "up to the close": _raw(b"HTTP/1.0 200 OK\r\n\r\n" + ANSWER),
    "gzip anyway": _answer("200 OK", gzip.compress(ANSWER), "Content-Encoding: gzip"),
    "deflate anyway": _answer("200 OK", zlib.compress(ANSWER), "Content-Encoding: deflate"),
    "bad gzip": _answer("200 OK", b"not gzip", "Content-Encoding: gzip"),
    "brotli left": _answer("200 OK", b"\x0b\x02", "Content-Encoding: br"),
    "connection close": _answer("200 OK", ANSWER, close=True),
    "503 busy": _answer("503 Service Unavailable", b"busy"),
    "429 rate limited": _answer("429 Too Many Requests", b"slow down", "Retry-After: 7"),
    "a field twice": _answer("503 Service Unavailable", b"busy", "Warning: 1", "Warning: 2"),
    "404": _answer("404 Not Found", b"no such path"),
    "401": _answer("401 Unauthorized", b"key?"),
    "307 followed": _redirect("307 Temporary Redirect"),
    "308 followed": _redirect("308 Permanent Redirect"),
    "302 without location": _answer("302 Found", ANSWER),
    "closed before the answer": _raw(b""),
    "garbage head": _raw(b"HELLO\r\n\r\n"),
    "body cut short": _raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + ANSWER),
    "chunks cut short": _raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"),
    "head late": _raw(b"HTTP/1.1 200 OK\r\n\r\n", delay=0.6),
    "body late": _raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", keep=True),
}


def _outcome(manager: Any, url: str, timeout: float = 0.3) -> Any:
    try:
        body = manager.make_post_request(url, BODY, headers=HEADERS, timeout=timeout)
    except requests.exceptions.HTTPError as err:
        r = err.response
        return ("HTTPError", str(err), r.status_code, dict(r.headers), r.content)
    except requests.exceptions.RequestException as err:
        return (type(err).__name__,)
    return ("ok", body)


def _fast(url: str) -> _Sessions:
    manager = _Sessions(False, url)
    assert manager._plain is not None
    return manager


@pytest.mark.parametrize("case", list(CASES))
def test_every_answer_and_failure__same_as_the_requests_path(case):
    server = _Server(CASES[case])
    try:
        theirs = _outcome(HTTPSessionManager(), server.url)
        ours = _outcome(_fast(server.url), server.url)
    finally:
        server.close()
    if theirs[0] == "HTTPError":  # the answer's headers: requests' urllib3 adds none of its own
        assert ours[:3] == theirs[:3] and ours[4] == theirs[4]
        assert {k.lower(): v for k, v in ours[3].items()} == {
            k.lower(): v for k, v in theirs[3].items()
        }
    else:
        assert ours == theirs
    if case in ("length", "chunked", "gzip anyway", "deflate anyway", "307 followed"):
        assert ours == ("ok", ANSWER)


def test_refused_and_connect_timed_out__requests_errors():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening
        assert _outcome(_fast(refused), refused) == _outcome(HTTPSessionManager(), refused)
        assert _outcome(_fast(refused), refused) == ("ConnectionError",)
    # a listener whose backlog is full: the kernel drops further connects (no answer)
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        url = f"http://127.0.0.1:{full.getsockname()[1]}"
        queued = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(full.getsockname())
            queued.append(c)
        try:
            theirs = _outcome(HTTPSessionManager(), url, 0.3)
            if theirs != ("ConnectTimeout",):
                pytest.skip(f"this kernel answers a full backlog: {theirs}")
            assert _outcome(_fast(url), url, 0.3) == ("ConnectTimeout",)
        finally:
            for c in queued:
                c.close()


def test_the_node_sees_the_same_request__ours_without_requests(monkeypatch):
    server = _Server(_answer("200 OK", ANSWER))
    try:
        url = server.url + "/v2/some-key?tag=x"
        with monkeypatch.context() as m:
            m.setattr(requests.Session, "request", lambda *a, **kw: pytest.fail("requests used"))
            assert _fast(url).make_post_request(url, BODY, headers=HEADERS, timeout=5) == ANSWER
        HTTPSessionManager().make_post_request(url, BODY, headers=HEADERS, timeout=5)
    finally:
        server.close()
    ours, theirs = server.requests
    assert ours["line"] == theirs["line"] == "POST /v2/some-key?tag=x HTTP/1.1"
    assert ours["body"] == theirs["body"] == BODY
    for name in ("host", "content-type", "user-agent", "content-length"):
        assert ours["fields"][name] == theirs["fields"][name], name


def test_one_connection_per_thread__a_closed_one_opened_again():
    server = _Server(_answer("200 OK", ANSWER))
    try:
        manager = _fast(server.url)
        for _ in range(5):
            assert manager.make_post_request(server.url, BODY, headers=HEADERS) == ANSWER
        assert server.connections == 1  # kept alive
        answers = []
        threads = [
            threading.Thread(
                target=lambda: answers.append(
                    manager.make_post_request(server.url, BODY, headers=HEADERS)
                )
            )
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [ANSWER] * 3 and server.connections == 4
    finally:
        server.close()
    # a node that closes after each answer (an idle timeout, a restart): opened again each time
    server = _Server(_answer("200 OK", ANSWER, close=True))
    try:
        manager = _fast(server.url)
        for _ in range(3):
            assert manager.make_post_request(server.url, BODY, headers=HEADERS) == ANSWER
            time.sleep(0.05)
        assert server.connections == 3
    finally:
        server.close()


def test_a_failure_then_the_next_post_on_a_new_connection():
    answers = iter([_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"), None, None])

    def handle(conn: socket.socket, request: dict[str, Any]) -> bool:
        cut = next(answers)
        return (cut or _answer("200 OK", ANSWER))(conn, request)

    server = _Server(handle)
    try:
        manager = _fast(server.url)
        assert _outcome(manager, server.url) == ("ChunkedEncodingError",)
        assert manager.make_post_request(server.url, BODY, headers=HEADERS) == ANSWER
    finally:
        server.close()


def test_which_nodes_go_over_http_client(monkeypatch, tmp_path):
    assert plain_http("http://127.0.0.1:8545") == ("127.0.0.1", 8545, "/")
    assert plain_http("http://node.lan/rpc?key=1") == ("node.lan", 80, "/rpc?key=1")
    assert plain_http("http://[::1]:8545") == ("::1", 8545, "/")
    for url in (
        "https://rpc.example/v2/k",
        "http://user:pw@node.lan:8545",
        "ws://127.0.0.1:8546",
        "http://127.0.0.1:99999",  # not a port: requests' own error at the first request
    ):
        assert plain_http(url) is None, url
    # a host requests refuses: its error at each request, as before
    assert _Sessions(False, "http://exa mple:8545")._plain is None
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    direct = connect_web3("http://127.0.0.1:8545", 5).provider._request_session_manager
    assert direct._plain == ("127.0.0.1", 8545, "/")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")  # the operator's proxy: requests
    proxied = connect_web3("http://node.lan:8545", 5).provider._request_session_manager
    assert proxied.trust_env is True and proxied._plain is None
    monkeypatch.delenv("HTTP_PROXY")
    assert connect_web3("https://rpc.example", 5).provider._request_session_manager._plain is None


def test_a_node_behind_https_or_other_uri__the_requests_path(monkeypatch):
    seen = []

    def theirs(self, endpoint_uri, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(str(endpoint_uri))
        response = requests.Response()
        response.status_code, response.raw = 200, io.BytesIO(b"{}")
        return response

    monkeypatch.setattr(HTTPSessionManager, "get_response_from_post_request", theirs)
    manager = _Sessions(False, "http://127.0.0.1:1")
    assert manager.make_post_request("http://127.0.0.1:2", BODY, headers=HEADERS) == b"{}"
    assert manager.make_post_request("http://127.0.0.1:1", BODY, stream=True) == b"{}"
    # a (connect, read) pair of timeouts: requests tells the two apart, so requests takes it
    assert manager.make_post_request("http://127.0.0.1:1", BODY, timeout=(1, 2)) == b"{}"
    assert (
        _Sessions(False, "https://rpc.example").make_post_request(
            "https://rpc.example", BODY, headers=HEADERS
        )
        == b"{}"
    )
    assert seen == [
        "http://127.0.0.1:2",
        "http://127.0.0.1:1",
        "http://127.0.0.1:1",
        "https://rpc.example",
    ]
