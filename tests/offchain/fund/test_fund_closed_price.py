"""Issue 67, noticed after the wind-down: once the vault is closed, the price per share the
keeper shows (status, console, metric ``rebalance_price_per_share``) is the one ``close()``
fixed on chain (``closedPrice``), which every exit pays for ever, not totalAssets over the
supply (which rounding of the exits since moves), and the fees' lines say "closed"."""

from __future__ import annotations

from keepers.fund.holders import holders_lines
from keepers.fund.holds import PRICE_SCALE, FundFees, fee_reads, fees_from
from keepers.fund.planning.state import CLOSED, CLOSING

RECIPIENT = "0x" + "ab" * 20


def _answers(phase: int, closed: tuple[int, int], total: int, supply: int) -> list:
    # fees, highWaterMark, pendingFeeShares, totalAssets, totalSupply, phase, closedPrice
    return [(RECIPIENT, 0, 0, 1), 10**24, 0, total, supply, phase, closed]


def test_fee_reads__closed_price_read_in_the_same_batch():
    reads = fee_reads(RECIPIENT)
    assert [r.fn.name for r in reads][-2:] == ["phase", "closedPrice"]
    assert reads[-1].fn.outputs == ("uint256", "uint256")


def test_price_per_share__closed__the_fixed_price_not_the_live_ratio():
    # closed at 1,000,000 base units for 900,000e6 share units (with the virtual shares);
    # since then exits' rounding left the live ratio a little higher
    closed = (1_000_000 * 10**6, 900_000 * 10**12 + 10**6)
    f = fees_from(_answers(CLOSED, closed, 400_000 * 10**6 + 7, 360_000 * 10**12 - 5))
    assert f is not None and f.closed
    fixed = closed[0] * PRICE_SCALE // closed[1]
    assert f.price_per_share == fixed
    live = (f.total_assets + 1) * PRICE_SCALE // (f.total_supply + f.pending_shares + 10**6)
    assert live != fixed  # what was shown before
    doc = f.to_doc()
    assert doc["closed"] is True and doc["price_per_share"] == str(fixed)
    # closing (not closed yet): the live price, nothing said closed
    g = fees_from(_answers(CLOSING, (0, 0), 400_000 * 10**6, 360_000 * 10**12))
    assert g is not None and not g.closed and g.to_doc()["closed"] is False
    assert g.price_per_share == (400_000 * 10**6 + 1) * PRICE_SCALE // (360_000 * 10**12 + 10**6)


def test_holders_lines__closed__price_said_fixed_at_close():
    f = FundFees(RECIPIENT, 0, 0, 1, 10**24, 0, 10**12, 10**18, CLOSED, 10**12, 10**18)
    doc = {**f.to_doc(), "pending_value_whole": "0"}
    text = "\n".join(holders_lines({"fees": doc, "valuation_holds": [], "in_kind": None}))
    assert "price per share fixed at close (closed)" in text
    open_doc = {**FundFees(RECIPIENT, 0, 0, 1, 10**24, 0, 10**12, 10**18).to_doc(),
                "pending_value_whole": "0"}  # fmt: skip
    text = "\n".join(holders_lines({"fees": open_doc, "valuation_holds": [], "in_kind": None}))
    assert "price per share now" in text and "closed" not in text
