"""tests/support/fee_isolation.py: a base fee set on the worker's node survives ape's revert, and
the module-end check puts the node's next base fee back to the one it was started with."""

from __future__ import annotations

import pytest

from tests.support.fee_isolation import local_node, next_base_fee, put_back

SPIKE = 50 * 10**9


class Item:
    """What the hook reads of a pytest item: its node id."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid


def test_put_back__spike_survives_the_revert__next_block_priced_as_started(chain):
    provider = local_node()
    assert provider is chain.provider  # the suite's own anvil is the node the check reads
    started = int(provider.settings.base_fee)
    assert put_back(provider) is None  # nothing to put back at the start
    snap = chain.snapshot()
    provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(SPIKE)])
    chain.mine()
    assert chain.blocks.head.base_fee > started
    chain.restore(snap)
    # anvil's quirk this guards against: the head is back, the node's fee state is not
    assert chain.blocks.head.base_fee == started
    leaked = next_base_fee(provider)
    assert started < leaked < SPIKE
    assert put_back(provider) == leaked
    assert next_base_fee(provider) == started
    chain.mine()
    assert chain.blocks.head.base_fee == started
    assert put_back(provider) is None


def test_module_end__a_leak_is_put_back_and_named(chain, pytestconfig):
    """The hook itself: at a module's last teardown a leaked base fee is put back with a
    warning naming the module; within a module it is left alone."""
    from tests.support import fee_isolation

    provider = chain.provider
    provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(SPIKE)])
    # the next test is of the same module: nothing checked
    fee_isolation.pytest_runtest_teardown(Item("a.py::t1"), Item("a.py::t2"))
    assert next_base_fee(provider) == SPIKE
    with pytest.warns(fee_isolation.BaseFeeLeak, match=r"a\.py left .* \(50 gwei\); put back"):
        fee_isolation.pytest_runtest_teardown(Item("a.py::t2"), Item("b.py::t1"))
    assert next_base_fee(provider) == int(provider.settings.base_fee)


def test_module_end__node_refuses_the_check__warned_not_raised(chain, monkeypatch):
    """A node that errors (a test stopped or broke it) makes the check warn naming the module;
    the module it follows does not fail on it."""
    from tests.support import fee_isolation

    def refused(provider):
        raise ConnectionError("node gone")

    monkeypatch.setattr(fee_isolation, "put_back", refused)
    with pytest.warns(fee_isolation.BaseFeeLeak, match=r"a\.py: .* not be checked .*node gone"):
        fee_isolation.pytest_runtest_teardown(Item("a.py::t1"), None)


def test_module_end__a_raised_tip_suggestion_is_named_and_put_back(chain, accounts, monkeypatch):
    """A module that leaves the node suggesting a higher tip than at the worker's first module
    end (a head whose transactions tipped 100 gwei) is named in a warning, and the suggestion
    is put back by one empty block at the head's timestamp: the next module's transactions and
    fee checks see the first module end's tip again."""
    from tests.support import fee_isolation

    provider = chain.provider
    monkeypatch.setattr(fee_isolation, "_first_tip", [fee_isolation.suggested_tip(provider)])
    fee_isolation.pytest_runtest_teardown(Item("a.py::t1"), None)  # as at its first check
    snap = chain.snapshot()
    try:
        for _ in range(5):
            accounts[0].transfer(accounts[1], 1, max_priority_fee=100 * 10**9, max_fee=300 * 10**9)
        head = chain.blocks.head
        sender = accounts[0].address.lower()  # as the node writes it
        with pytest.warns(
            fee_isolation.TipLeak,
            match=rf"b\.py left .* 100 gwei tip .*put back by one empty block; head block "
            rf"{head.number} at {head.timestamp}: {sender} nonce \d+ to .* tip 100 gwei",
        ):
            fee_isolation.pytest_runtest_teardown(Item("b.py::t1"), None)
        assert fee_isolation.suggested_tip(provider) == fee_isolation._first_tip[0]
        top = chain.blocks.head
        assert (top.number, top.timestamp) == (head.number + 1, head.timestamp)
        assert not top.transactions
    finally:
        # the 100 gwei blocks' entries in anvil's fee-history cache replaced (restore_washed)
        fee_isolation.restore_washed(chain, snap)


def test_module_end__transactions_left_in_the_pool__dropped_and_named(chain, accounts):
    """anvil's revert keeps its pool: a transaction left pending (automine off, as the local
    relay turns it off) or queued (a nonce gap) outlives the module and is mined in the next
    block anyone mines. The module-end check drops both and names them; the block mined next
    carries neither."""
    from tests.support import fee_isolation

    provider = chain.provider
    sender, other = accounts[3], accounts[5]
    start = {a.address: a.nonce for a in (sender, other)}
    snap: list = [chain.snapshot()]
    try:
        provider.make_request("evm_setAutomine", [False])
        pending = sender.transfer(accounts[1], 1, required_confirmations=0)
        # a nonce gap: the node queues it until the nonce before it is used
        queued = other.transfer(accounts[1], 2, nonce=other.nonce + 1, required_confirmations=0)
        status = provider.make_request("txpool_status", [])
        assert (int(status["pending"], 16), int(status["queued"], 16)) == (1, 1)
        chain.restore(snap.pop())
        # the quirk: the chain is back, the pool is not
        status = provider.make_request("txpool_status", [])
        assert (int(status["pending"], 16), int(status["queued"], 16)) == (1, 1)
        with pytest.warns(
            fee_isolation.PoolLeak,
            match=rf"c\.py left 2 transaction\(s\) in the node's pool; dropped: "
            rf"{sender.address.lower()} nonce {start[sender.address]} to .*\(pending\); "
            rf"{other.address.lower()} nonce {start[other.address] + 1} to .*\(queued\)",
        ):
            fee_isolation.pytest_runtest_teardown(Item("c.py::t1"), None)
        assert fee_isolation.drop_pool(provider) == []  # nothing left
        provider.make_request("evm_setAutomine", [True])  # (which mines what is pending)
        chain.mine()
        assert not chain.blocks.head.transactions
        assert (sender.nonce, other.nonce) == (start[sender.address], start[other.address])
        for tx in (pending, queued):
            with pytest.raises(Exception):  # noqa: B017,PT011 - dropped: the node knows nothing of it
                chain.provider.web3.eth.get_transaction_receipt(tx.txn_hash)
    finally:
        provider.make_request("evm_setAutomine", [True])
        provider.make_request("anvil_dropAllTransactions", [])
        if snap:
            chain.restore(snap.pop())


def test_restore_washed__the_node_never_catches_up__named_and_the_chain_back(
    chain, accounts, monkeypatch
):
    """The wash waits for anvil's fee-history service; a node that still suggests more than
    the floor after the wait is named in a TipLeak warning (never a failure), and the chain is
    at the snapshot either way."""
    from tests.support import fee_isolation

    start = chain.blocks.head.number
    snap = chain.snapshot()
    accounts[0].transfer(accounts[1], 1)
    accounts[0].transfer(accounts[1], 1)
    monkeypatch.setattr(fee_isolation, "suggested_tip", lambda provider: 100 * 10**9)
    with pytest.warns(fee_isolation.TipLeak, match=r"100000000000 wei tip 0\.05 s after 2 empty"):
        fee_isolation.restore_washed(chain, snap, wait_s=0.05)
    assert chain.blocks.head.number == start
