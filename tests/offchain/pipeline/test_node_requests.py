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
