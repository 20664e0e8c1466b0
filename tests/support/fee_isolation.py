"""pytest plugin (tests/conftest.py's ``pytest_plugins``): each test module leaves the worker's
node pricing its next block as the node was started (ape-foundry's ``base_fee``, 0 here).

ape's isolation reverts the chain after every test and module (``evm_revert``), and anvil's
revert puts back the chain's state but not the node's fee state: a base fee set with
``anvil_setNextBlockBaseFeePerGas`` (the hostile and chaos months' 200 gwei gas spike) survives
it and decays by an eighth a block (anvil 1.7.1: a 50 gwei spike, reverted to a head of base fee
0, and the next block still cost 38 gwei). Every later module on the worker then paid it: a
``gas_price=0`` transaction was refused ("max fee per gas less than block base fee"), and in a
3-worker run a worker's fixtures paid 0.23 ETH a deploy and the executor's gas price stood at its
cap (tests/support/demo_months.py's ``restore_with_base_fee`` puts the months' own spike back).

Here, after a module's last test and its fixtures' teardown (ape's revert included), the next
block's base fee is read from ape's local node (``eth_feeHistory``'s last entry, which is the
node's fee state, not the head's); where it is not the base fee the node was started with, it is
put back and a warning names the module, so the module that leaked is found in the run's
warnings summary rather than in a later module's failure. A node that errors on the check (a
test stopped it) gets a warning too, never a failure of the module the check follows.

Before that, the node's pool is emptied (``anvil_dropAllTransactions``): anvil's revert keeps it,
so a transaction a module left pending or queued would be mined in a later module's chain; the
module is named in a ``PoolLeak`` warning with each transaction dropped."""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest

from tests.support.log_isolation import module_of


class BaseFeeLeak(UserWarning):
    """A test module left the node's next base fee off the one the node was started with."""


class PoolLeak(UserWarning):
    """A test module left transactions in the node's pool: pending ones (sent while automine
    was off, as the local relay turns it off) or queued ones (a nonce gap). anvil's revert
    keeps its pool, so the next block mined after it, in a later module's chain, would carry
    them."""


class TipLeak(UserWarning):
    """A test module left the node suggesting a higher tip than it did at the process's first
    check (``eth_maxPriorityFeePerGas``: ape prices every transaction's tip at it)."""


# anvil's floor for a suggested tip (MIN_SUGGESTED_PRIORITY_FEE: 1 gwei)
MIN_SUGGESTED_TIP = 10**9

# the node's suggested tip at this process's first module end (anvil's floor, 1 gwei, on a node
# whose blocks tipped nothing more)
_first_tip: list[int | None] = [None]


def suggested_tip(provider: Any) -> int:
    return int(provider.make_request("eth_maxPriorityFeePerGas", []), 16)


def tip_after_service(provider: Any, at_least: int, wait_s: float = 5.0) -> int:
    """The node's suggested tip once it is ``at_least``, or after ``wait_s``: anvil fills its
    fee-history cache from new-block notifications after a block is mined (restore_washed), so
    right after the blocks whose tips should raise the suggestion it can still be the floor
    on a loaded machine."""
    deadline = time.monotonic() + wait_s
    while (tip := suggested_tip(provider)) < at_least and time.monotonic() < deadline:
        time.sleep(0.005)
    return tip


def local_node() -> Any:
    """ape's connected provider when it runs the local node this process started; else None
    (a module that never touched the chain, a fork's node, no provider yet)."""
    from ape import networks

    provider = networks.active_provider
    if provider is None or not getattr(provider, "is_connected", False):
        return None
    if getattr(provider, "process", None) is None or provider.network.name != "local":
        return None
    return provider


def next_base_fee(provider: Any) -> int:
    """The base fee the node will price its next block at, in wei."""
    history = provider.make_request("eth_feeHistory", ["0x1", "latest", []])
    return int(history["baseFeePerGas"][-1], 16)


def put_back(provider: Any) -> int | None:
    """Puts the node's next base fee back to the one it was started with when it differs:
    the base fee found (wei), or None when there was nothing to put back."""
    started = int(provider.settings.base_fee)
    found = next_base_fee(provider)
    if found == started:
        return None
    provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(started)])
    return found


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> None:
    """After the module's last test and its fixtures' teardown."""
    if nextitem is not None and module_of(nextitem) == module_of(item):
        return
    provider = local_node()
    if provider is None:
        return
    # first, before anything here mines a block (the tip's empty block would carry them)
    try:
        left = drop_pool(provider)
    except Exception:  # noqa: BLE001 - a guard never fails the module it follows
        left = []
    if left:
        warnings.warn(
            f"{module_of(item)} left {len(left)} transaction(s) in the node's pool; dropped: "
            + "; ".join(left[:3])
            + (f" and {len(left) - 3} more" if len(left) > 3 else ""),
            PoolLeak,
            stacklevel=1,
        )
    try:
        found = put_back(provider)
    except Exception as err:  # noqa: BLE001 - a guard never fails the module it follows
        # (a node a test stopped or broke: the next module that uses it says so itself)
        warnings.warn(
            f"{module_of(item)}: the node's next base fee could not be checked "
            f"({type(err).__name__}: {err})",
            BaseFeeLeak,
            stacklevel=1,
        )
        return
    if found is not None:
        warnings.warn(
            f"{module_of(item)} left the node's next base fee at {found} wei "
            f"({found // 10**9} gwei); put back to {int(provider.settings.base_fee)} wei",
            BaseFeeLeak,
            stacklevel=1,
        )
    # a tip the node suggests above its first one: ape prices every later transaction's tip at
    # it, and the keepers' fee checks read it (a 3-worker run, 2026-11-29: 100 gwei; an
    # impersonated admin holding 1 ETH could not pay 30M gas, tests/support/fundbotlib.py's
    # timelock_sender; a later run: the executor bot's two fee tests). anvil suggests the tips
    # of its head block: a leaked suggestion is a head whose transactions tipped that much (the
    # ones seen: a session deploy's last transaction priced at a stale suggestion of anvil's
    # fee-history cache, which restore_washed is for). One empty block on top, at
    # the head's own timestamp (anvil_mine's interval 0), puts the suggestion back; the module
    # is named either way, and the warning says whether it was put back.
    try:
        tip = suggested_tip(provider)
        if _first_tip[0] is None:
            _first_tip[0] = tip
            return
        if tip <= _first_tip[0]:
            return
        head = tipped_head(provider)
        provider.make_request("anvil_mine", ["0x1", "0x0"])
        after = suggested_tip(provider)
    except Exception:  # noqa: BLE001 - as above: never a failure of the module
        return
    back = (
        "put back by one empty block"
        if after <= _first_tip[0]
        else f"still {after} wei after one empty block"
    )
    warnings.warn(
        f"{module_of(item)} left the node suggesting a {tip // 10**9} gwei tip "
        f"({tip} wei; {_first_tip[0]} wei at this worker's first module end); {back}; {head}",
        TipLeak,
        stacklevel=1,
    )


def restore_washed(chain: Any, snap: Any, wait_s: float = 5.0) -> None:
    """``chain.restore(snap)`` for a test or month that mined blocks tipping above anvil's
    floor, leaving no stale tip suggestion behind.

    anvil suggests a tip (``eth_maxPriorityFeePerGas``, which ape prices every transaction's tip
    at) from its fee-history cache entry for the head's number; a service of its own fills that
    cache from new-block notifications, after the block is mined, and a revert keeps it. So the
    entries of a reverted chain's blocks stay, and a block mined later at the same number is
    suggested from the reverted block's tips until that service catches up: on a loaded
    machine, long enough for the next transaction to read it (measured: docs/development/
    testing.md). Seen in five 3-worker runs as ``TipLeak``: the local fund's session deploy, its
    last transaction (the keeper's rebalance, nonce 0) priced at 100 gwei, on workers that had
    run the chaos month (its keepers bump tips to 100 gwei under its gas spike). Here, once the chain is back, as many empty blocks as the reverted
    chain had above the snapshot are mined in a snapshot of their own and the service is waited
    for (the head's suggestion at the floor again), then reverted: their entries, without
    tips, replace the reverted chain's."""
    above = chain.blocks.head.number
    chain.restore(snap)
    blocks = above - chain.blocks.head.number
    if blocks > 0:
        wash_tips(blocks, wait_s)


def wash_tips(blocks: int, wait_s: float = 5.0) -> None:
    """The wash of :func:`restore_washed`: ``blocks`` empty blocks above the head, mined in a
    snapshot of ape's chain, the fee-history service waited for (up to ``wait_s``: a node
    still suggesting more than the floor then is named in a ``TipLeak`` warning, and the chain
    is put back either way), reverted."""
    from ape import chain

    provider = chain.provider
    wash = chain.snapshot()
    try:
        provider.make_request("anvil_mine", [hex(blocks), "0x0"])
        deadline = time.monotonic() + wait_s
        while (tip := suggested_tip(provider)) > MIN_SUGGESTED_TIP:
            if time.monotonic() >= deadline:
                warnings.warn(
                    f"the node still suggested a {tip} wei tip {wait_s:g} s after {blocks} empty "
                    "blocks (anvil's fee-history service behind, or its floor not 1 gwei): "
                    "later blocks at those numbers may be priced at a reverted chain's tips",
                    TipLeak,
                    stacklevel=2,
                )
                break
            time.sleep(0.005)
    finally:
        chain.restore(wash)


def drop_pool(provider: Any) -> list[str]:
    """Drops every transaction in the node's pool (``anvil_dropAllTransactions``) and returns
    them as the warning names them (sender, nonce, recipient, tip; pending before queued); an
    empty pool costs one ``txpool_status``.

    Why: anvil's ``evm_revert`` puts back the chain, not the pool (checked by
    tests/offchain/test_fee_isolation.py). A transaction left pending (sent while automine was
    off: the local relay turns it off while it holds a bundle) or queued (a nonce gap) outlives
    the module's revert, and the next block anyone mines carries it, on a chain where its nonce
    is valid again."""
    status = provider.make_request("txpool_status", [])
    if not int(status.get("pending", "0x0"), 16) and not int(status.get("queued", "0x0"), 16):
        return []
    content = provider.make_request("txpool_content", [])
    left = [
        f"{_named(t)} ({kind})"
        for kind in ("pending", "queued")
        for by_nonce in (content.get(kind) or {}).values()
        for t in by_nonce.values()
    ]
    provider.make_request("anvil_dropAllTransactions", [])
    return left


def _named(tx: dict[str, Any]) -> str:
    """A transaction as the warnings name it (the node's JSON): sender, nonce, recipient, tip."""
    tip = int(tx.get("maxPriorityFeePerGas") or tx.get("gasPrice") or "0x0", 16)
    return (
        f"{tx.get('from')} nonce {int(tx.get('nonce', '0x0'), 16)} to {tx.get('to')} tip "
        f"{tip // 10**9} gwei"
    )


def tipped_head(provider: Any, shown: int = 3) -> str:
    """The head block the node suggests its tip from, as the warning names it: its number and
    timestamp, and its first ``shown`` transactions' sender, nonce, recipient and tip, so that
    a run that warns says which transaction was mined outside its module's snapshot."""
    block = provider.make_request("eth_getBlockByNumber", ["latest", True])
    txs = block.get("transactions") or []
    seen = [_named(t) for t in txs[:shown]]
    more = f" and {len(txs) - shown} more" if len(txs) > shown else ""
    return (
        f"head block {int(block['number'], 16)} at {int(block['timestamp'], 16)}: "
        + ("; ".join(seen) or "no transaction")
        + more
    )
