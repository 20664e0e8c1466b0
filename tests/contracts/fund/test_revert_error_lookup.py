"""tests/support/ape_speedups.py's lookup of the last contract a transaction called (ape's
``Trace.get_addresses_used(reverse=True)``, which it reads to decode a custom error the
receiving contract's ABI lacks): on real traces of this fund it yields the very addresses, in
the very order, ape's own path yields, a nested custom error still decodes to its class, and a
trace with a CREATE step is left to ape's own path."""

from __future__ import annotations

from typing import Any

import ape
import pytest
from ape_ethereum.trace import Trace

from tests.support import ape_speedups

# The walk over a trace does not depend on the base coin's decimals: the 6-decimal fund only
# (each test runs ape's own walk too, a few seconds on a trace this long).
pytestmark = pytest.mark.parametrize("base_decimals", [6], ids=["usdt6"], scope="module")


def _both(chain: Any, txn_hash: Any) -> tuple[list[str], list[str]]:
    trace = chain.provider.get_transaction_trace(txn_hash)
    fast = list(
        ape_speedups._last_addresses_first(Trace.get_addresses_used.__wrapped__)(trace, True)
    )
    plain = list(Trace.get_addresses_used.__wrapped__(trace, reverse=True))
    return fast, plain


def _window_closed_redeem(
    controller: Any, fund: Any, keeper: Any, chain: Any, refresh: Any, unit: int
) -> Any:
    rwa = fund.assets["rwa"]
    buy = controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += 3 * 86_400  # past the notice; the 2-day window is closed now
    refresh()
    controller.settle(rwa, sender=keeper)
    return rwa, buy


def test_reverted_by_a_called_contract__same_last_address__error_decoded(
    controller, fund, keeper, chain, refresh_feeds, deposited, unit
):
    rwa, _ = _window_closed_redeem(controller, fund, keeper, chain, refresh_feeds, unit)
    bal = rwa.balanceOf(controller)
    failed = controller.redeemAsset(rwa, bal, 0, sender=keeper, raise_on_revert=False)
    assert failed.failed
    fast, plain = _both(chain, failed.txn_hash)
    assert len(plain) > 3  # the controller called the asset, its feed, the vault...
    assert fast == plain
    assert fast[0] == rwa.address  # the last contract called raised the error
    # the error is not in the controller's ABI: it is found through that lookup
    with ape.reverts(rwa.RedemptionWindowClosed):
        controller.redeemAsset(rwa, bal, 0, sender=keeper)


def test_a_create_step__left_to_apes_own_path(
    controller, fund, keeper, chain, refresh_feeds, deposited, unit
):
    _, buy = _window_closed_redeem(controller, fund, keeper, chain, refresh_feeds, unit)
    trace = chain.provider.get_transaction_trace(buy.txn_hash)
    frames = list(trace.raw_trace_frames)
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
