"""tests/support/deployed_once.py's ``reverted_after``: what tests/contracts/fund's
``base_decimals`` puts back between a module's 6- and 18-decimal parts."""

from __future__ import annotations

from tests.support.deployed_once import reverted_after


def test_reverted_after__the_parts_changes_undone(chain, accounts):
    a, b = accounts[3], accounts[4]
    before = (chain.blocks.head.number, a.balance, b.balance, a.nonce)
    with reverted_after(chain):
        a.transfer(b, 10**18)
        chain.pending_timestamp += 86_400
        chain.mine()
    assert (chain.blocks.head.number, a.balance, b.balance, a.nonce) == before


def test_reverted_after__its_snapshot_removed_by_an_earlier_revert__left_alone(chain, accounts):
    """ape's rebase reverts to the module's snapshot, taken before this one: the part's own
    revert then has nothing to do, and must not fail the module's teardown."""
    a, b = accounts[3], accounts[4]
    outer = chain.snapshot()
    before = (chain.blocks.head.number, a.balance)
    with reverted_after(chain):
        a.transfer(b, 10**18)
        chain.restore(outer)  # as ape's rebase does, past the part's snapshot
        a.transfer(b, 2)  # the chain goes on after the rebase
        after_rebase = (chain.blocks.head.number, a.balance)
    assert (chain.blocks.head.number, a.balance) == after_rebase  # left where it was
    assert after_rebase[0] == before[0] + 1
