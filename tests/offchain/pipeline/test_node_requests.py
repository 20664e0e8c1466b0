"""How many JSON-RPC requests one keeper call costs the node (a paid plan counts each one)."""

from __future__ import annotations

from keepers.tx.node import Node, connect_web3
from tests.support.pipeline_anvil import contract_type
from tests.support.rpc_proxy import RpcProxy


def test_connect_web3__ten_eth_calls__ten_requests_and_the_chain_id_asked_once(anvil, counter):
    """web3's validation middleware asks eth_chainId before and after every eth_call: a plain
    client sends 30 requests for 10 calls. The runtime's client keeps the chain id's one
    answer and sends each call once."""
    proxy = RpcProxy(anvil.url)
    try:
        abi = contract_type("TestCounter")["abi"]
        plain_w3 = connect_web3(proxy.url, 10)
        plain_w3.provider.cache_allowed_requests = False  # type: ignore[attr-defined]
        c = plain_w3.eth.contract(address=counter.address, abi=abi)
        for _ in range(10):
            c.functions.count().call()
        plain = list(proxy.methods)
        assert plain.count("eth_call") == 10 and plain.count("eth_chainId") == 20  # the baseline

        expected = c.functions.count().call()
        proxy.methods.clear()
        w3 = connect_web3(proxy.url, 10)
        kept = w3.eth.contract(address=counter.address, abi=abi)
        assert [kept.functions.count().call() for _ in range(10)] == [expected] * 10
        assert proxy.methods.count("eth_call") == 10
        assert proxy.methods.count("eth_chainId") == 1
        assert w3.eth.chain_id == anvil.w3.eth.chain_id  # the answer kept is the node's

        proxy.methods.clear()
        node = Node(proxy.url)
        for _ in range(5):
            node.w3.eth.call({"to": counter.address, "data": "0x06661abd"})  # count()
        assert proxy.methods.count("eth_call") == 5
        assert proxy.methods.count("eth_chainId") == 1
    finally:
        proxy.close()


def test_batch_provider__same_requests_as_web3s_encoder_and_bytes_params_fall_back():
    """The batch is encoded in one json.dumps: the same JSON-RPC objects as web3's own encoder
    writes (ids from the same counter); a parameter plain JSON cannot encode (bytes) goes
    through web3's encoder, which writes it as 0x-hex."""
    import json

    from hexbytes import HexBytes
    from web3 import HTTPProvider

    from keepers.tx.node import BatchHTTPProvider

    calls = [
        ("eth_call", [{"to": "0x" + "11" * 20, "data": "0x1234"}, "pending"]),
        ("eth_blockNumber", []),
        ("eth_getBlockByNumber", ["0x5", False]),
    ]
    ours = BatchHTTPProvider("http://127.0.0.1:1")
    theirs = HTTPProvider("http://127.0.0.1:1")
    assert json.loads(ours.encode_batch_rpc_request(calls)) == json.loads(
        theirs.encode_batch_rpc_request(calls)
    )
    raw = [("eth_sendRawTransaction", [HexBytes("0x02abcd")])]
    (request,) = json.loads(ours.encode_batch_rpc_request(raw))
    assert request["params"] == ["0x02abcd"]
    assert request["method"] == "eth_sendRawTransaction"


class _Recorder:
    """A local HTTP server answering every JSON-RPC request with block 0x1 and recording the
    request line's target: an origin-form path ("/") for a direct request, the absolute URL
    for one sent through it as a proxy."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.targets = []  # type: list[str]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                seen.append(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                out = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x1"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *_a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _clear_proxies(monkeypatch) -> None:
    """No proxy variable set, and web3's sessions as in production (the suite's speed-ups
    turn every test-process session's environment lookup off: tests/support/ape_speedups.py)."""
    from web3._utils.http_session_manager import HTTPSessionManager

    made = HTTPSessionManager.cache_and_return_session
    monkeypatch.setattr(
        HTTPSessionManager, "cache_and_return_session", getattr(made, "__wrapped__", made)
    )
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)


def test_connect_web3__no_proxy_configured__sessions_skip_the_environment_go_direct(
    monkeypatch, tmp_path
):
    """No proxy for the node: requests' per-request environment lookup is off (the session's
    ``trust_env``), the request goes straight to the node (a plain-HTTP node's over
    ``http.client``: the environment is not read at all, tests/offchain/pipeline/
    test_node_plain_http.py), and the session kept per thread for what goes through requests
    (a redirect, an https node) has the CA bundle the environment names. The lookups counted
    are this connection's session's: the count patches requests' class, and a thread an
    earlier file of the same worker left running (a hung chain's request, answered late) may
    make a request of its own meanwhile (it did once, on 3 workers)."""
    import requests

    _clear_proxies(monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/some-bundle.pem")
    node = _Recorder()
    try:
        w3 = connect_web3(node.url, 5)
        env_reads = []
        real = requests.Session.merge_environment_settings

        def counted(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003
            env_reads.append((self, self.trust_env))
            return real(self, *a, **kw)

        monkeypatch.setattr(requests.Session, "merge_environment_settings", counted)
        assert [w3.provider.make_request("eth_blockNumber", [])["result"] for _ in range(3)] == [
            "0x1"
        ] * 3
        assert node.targets == ["/"] * 3  # direct
        manager = w3.provider._request_session_manager
        session = manager.cache_and_return_session(w3.provider.endpoint_uri)
        assert [trust for s, trust in env_reads if s is session] == []  # not read per request
        assert session.trust_env is False
        assert session.verify == "/etc/ssl/certs/some-bundle.pem"
        assert manager.cache_and_return_session(w3.provider.endpoint_uri) is session  # kept
    finally:
        node.close()


def test_connect_web3__operator_proxy__requests_go_through_it(monkeypatch, tmp_path):
    """An operator behind a proxy (HTTP_PROXY) keeps working: the node's requests go through
    the proxy (which sees the node's absolute URL); a NO_PROXY that names the node's host
    sends them direct again."""
    _clear_proxies(monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    proxy, node = _Recorder(), _Recorder()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        far = "http://node.invalid:8545"  # resolvable only by the proxy
        w3 = connect_web3(far, 5)
        assert w3.provider.make_request("eth_blockNumber", [])["result"] == "0x1"
        assert proxy.targets == [far + "/"] or proxy.targets == [far]
        assert w3.provider._request_session_manager.trust_env is True

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = connect_web3(node.url, 5)
        assert direct.provider.make_request("eth_blockNumber", [])["result"] == "0x1"
        assert node.targets == ["/"] and len(proxy.targets) == 1
    finally:
        proxy.close()
        node.close()
