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
