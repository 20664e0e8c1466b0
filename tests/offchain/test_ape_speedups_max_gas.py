"""tests/support/ape_speedups.py keeps ``Web3Provider.max_gas`` (ape asks the node for its latest
block on every transaction and contract call built with ``gas_limit: max``): the node's own
answer, asked once; a provider whose block gas limit has been set asks every time, as ape
does, until it connects again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ape_speedups


@pytest.fixture
def provider(networks: Any) -> Any:
    p = networks.provider
    ape_speedups._max_gas_cache.pop(id(p), None)
    ape_speedups._max_gas_asked.discard(id(p))
    yield p
    ape_speedups._max_gas_cache.pop(id(p), None)
    ape_speedups._max_gas_asked.discard(id(p))


@pytest.fixture
def asked(provider: Any) -> Any:
    """The RPC methods the provider sends from now on."""
    sent: list[str] = []
    cls = type(provider)
    original = cls.make_request

    def counting(self: Any, rpc: str, parameters: Any = None) -> Any:
        sent.append(rpc)
        return original(self, rpc, parameters)

    cls.make_request = counting
    yield sent
    cls.make_request = original


def _latest_gas_limit(provider: Any) -> int:
    """The latest block's gas limit, asked of the node through web3 (not counted)."""
    block = provider.web3.provider.make_request("eth_getBlockByNumber", ["latest", False])
    return int(block["result"]["gasLimit"], 16)


def test_installed__the_nodes_answer(provider):
    prop = type(provider).max_gas
    assert hasattr(prop.fget, "__wrapped__")
    assert provider.max_gas == _latest_gas_limit(provider) == prop.fget.__wrapped__(provider)


def test_asked_once(provider, asked):
    limit = provider.max_gas
    assert asked.count("eth_getBlockByNumber") == 1
    assert [provider.max_gas for _ in range(5)] == [limit] * 5
    assert asked.count("eth_getBlockByNumber") == 1


def test_gas_limit_set__asked_every_time__the_new_limit_seen_once_mined(provider, asked, chain):
    limit = provider.max_gas
    snap = chain.snapshot()
    try:
        provider.make_request("evm_setBlockGasLimit", [hex(limit - 1_000_000)])
        n = asked.count("eth_getBlockByNumber")
        assert provider.max_gas == _latest_gas_limit(provider)  # the block mined before it
        provider.make_request("evm_mine", [])
        assert provider.max_gas == _latest_gas_limit(provider) == limit - 1_000_000
        assert asked.count("eth_getBlockByNumber") == n + 2  # not kept any more
    finally:
        provider.make_request("evm_setBlockGasLimit", [hex(limit)])
        chain.restore(snap)
        provider.make_request("evm_mine", [])
