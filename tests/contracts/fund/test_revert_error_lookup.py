"""tests/support/ape_speedups.py's lookups of the last contract a transaction called (ape's
``Trace.get_addresses_used(reverse=True)``, which it reads to decode a custom error the
receiving contract's ABI lacks).

The suite's anvil records no steps (ape_speedups drops ``--steps-tracing``), so there the
lookup reads the call tree. Each reverted transaction here is replayed on an anvil that records
steps, from the very same state (a fork of the suite's node at its head), where ape's own walk
over the steps runs: the call tree, on either node, yields the very addresses in the very order
ape's walk yields, as does the faster walk over the steps; a nested custom error still decodes
to its class on the suite's node; and a trace with a CREATE step is left to ape's own walk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ape
import pytest
from ape_ethereum.trace import Trace
from web3 import Web3

from ballast_dev.local.anvil_local import start_anvil, stop_anvil
from tests.support import ape_speedups

# The walk over a trace does not depend on the base coin's decimals: the 6-decimal fund only
# (each test runs ape's own walk too, a few seconds on a trace this long).
pytestmark = pytest.mark.parametrize("base_decimals", [6], ids=["usdt6"], scope="module")


@pytest.fixture
def stepped(chain: Any) -> Iterator[Any]:
    """``replay(txn)``: the transaction sent again, by its sender, on an anvil that records
    steps and forks the suite's node at its head (the state right after ``txn``, read from the
    node itself); returns that node's (web3, hash).

    A fork, not ``anvil_dumpState``/``anvil_loadState``: with the once-deployed local fund's
    check module (tests/offchain/fundbot/test_fund_deployed_once.py) before this one in the
    process, the loaded dump did not hold what the suite's node answered (the controller's code
    and 17 of its first 23 storage slots differed on the replay node), and the replayed
    transaction ended otherwise (a revert replayed as a success)."""
    procs: list[Any] = []

    def replay(txn: Any) -> tuple[Web3, str]:
        head = chain.blocks.head
        proc, url = start_anvil(
            ape_speedups.STEPS_FLAG,
            "--fork-url",
            chain.provider.uri,
            "--fork-block-number",
            str(head.number),
            chain_id=chain.chain_id,
        )
        procs.append(proc)
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
        # the block after the suite node's head, as the next transaction there would be mined
        w3.provider.make_request("evm_setNextBlockTimestamp", [head.timestamp + 1])
        sender = txn.sender
        w3.provider.make_request("anvil_impersonateAccount", [sender])
        sent = w3.eth.send_transaction(
            {"from": sender, "to": txn.receiver, "data": txn.data, "gas": 15_000_000}
        )
        mined = w3.eth.wait_for_transaction_receipt(sent)
        assert mined["status"] == int(not txn.failed)  # it ends as it did on the suite's node
        return w3, sent.to_0x_hex()

    try:
        yield replay
    finally:
        for proc in procs:
            stop_anvil(proc)


def _steps(w3: Web3, txn_hash: str) -> list[dict[str, Any]]:
    return w3.provider.make_request("debug_traceTransaction", [txn_hash, {}])["result"][
        "structLogs"
    ]


def _call_tree(w3_or_chain: Any, txn_hash: str) -> list[str]:
    params = [txn_hash, {"tracer": "callTracer"}]
    if isinstance(w3_or_chain, Web3):
        tree = w3_or_chain.provider.make_request("debug_traceTransaction", params)["result"]
    else:
        tree = w3_or_chain.provider.make_request("debug_traceTransaction", params)
    return [Web3.to_checksum_address(a) for a in ape_speedups.called_last_first(dict(tree))]


class _Steps:
    """What ape's walks read of a trace: its raw steps, its frames, its ecosystem."""

    frames = Trace.frames  # ape's own: create_trace_frames over the raw steps

    class _ecosystem:  # noqa: N801 - the attribute ape's walk reads
        decode_address = staticmethod(Web3.to_checksum_address)

    def __init__(self, raw: list[dict[str, Any]]) -> None:
        self.raw_trace_frames = raw


def _apes_walk(raw: list[dict[str, Any]]) -> list[str]:
    """ape's own ``get_addresses_used(reverse=True)`` (the function ape_speedups wraps)."""
    return list(Trace.get_addresses_used.__wrapped__(_Steps(raw), reverse=True))


def _fast_walk(raw: list[dict[str, Any]]) -> list[str]:
    return list(
        ape_speedups._last_addresses_first(Trace.get_addresses_used.__wrapped__)(_Steps(raw), True)
    )


def _window_closed_redeem(
    controller: Any, fund: Any, keeper: Any, chain: Any, refresh: Any, unit: int
) -> Any:
    rwa = fund.assets["rwa"]
    buy = controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += 3 * 86_400  # past the notice; the 2-day window is closed now
    refresh()
    controller.settle(rwa, sender=keeper)
    return rwa, buy


def test_suite_node__records_no_steps(
    controller, fund, keeper, chain, refresh_feeds, deposited, unit
):
    _, buy = _window_closed_redeem(controller, fund, keeper, chain, refresh_feeds, unit)
    raw = chain.provider.make_request("debug_traceTransaction", [buy.txn_hash, {}])
    assert raw["structLogs"] == []  # anvil started without --steps-tracing
    assert _call_tree(chain, buy.txn_hash)  # the call tree is recorded all the same


def test_reverted_by_a_called_contract__same_last_address__error_decoded(
    controller, fund, keeper, chain, refresh_feeds, deposited, unit, stepped
):
    rwa, _ = _window_closed_redeem(controller, fund, keeper, chain, refresh_feeds, unit)
    bal = rwa.balanceOf(controller)
    failed = controller.redeemAsset(rwa, bal, 0, sender=keeper, raise_on_revert=False)
    assert failed.failed
    # on the suite's node (no steps): the lookup ape calls, through the call tree
    trace = chain.provider.get_transaction_trace(failed.txn_hash)
    here = list(trace.get_addresses_used(reverse=True))
    # the same transaction from the same state, on a node with steps
    w3, replayed = stepped(failed)
    raw = _steps(w3, replayed)
    assert len(raw) > 1_000
    plain = _apes_walk(raw)
    assert len(plain) > 3  # the controller called the asset, its feed, the vault...
    assert here == plain
    assert _call_tree(w3, replayed) == plain
    assert _fast_walk(raw) == plain
    assert here[0] == rwa.address  # the last contract called raised the error
    # the error is not in the controller's ABI: it is found through that lookup
    with ape.reverts(rwa.RedemptionWindowClosed):
        controller.redeemAsset(rwa, bal, 0, sender=keeper)


def test_a_create_step__left_to_apes_own_path(
    controller, fund, keeper, chain, refresh_feeds, deposited, unit, stepped
):
    _, buy = _window_closed_redeem(controller, fund, keeper, chain, refresh_feeds, unit)
    w3, replayed = stepped(buy)
    frames = _steps(w3, replayed)
    i = next(n for n, f in enumerate(frames) if f.get("op") == "CALL")
    frames[i] = {**frames[i], "op": "CREATE2"}
    calls: list[bool] = []

    def original(self: Any, reverse: bool = False) -> Any:
        calls.append(reverse)
        yield "ape's own"

    class Frames:
        raw_trace_frames = frames

    assert list(ape_speedups._last_addresses_first(original)(Frames(), True)) == ["ape's own"]
    assert calls == [True]
    # and the forward order is always ape's own
    assert list(ape_speedups._last_addresses_first(original)(Frames(), False)) == ["ape's own"]
