"""Plan reports: JSON-able dicts and the text table."""

from __future__ import annotations

import json

from keepers.core.amounts import format_amount
from keepers.fund.planning.config import load_planning_config
from keepers.fund.planning.plan import ActionResult, apply, plan
from keepers.fund.planning.report import plan_report, render_text
from keepers.fund.planning.triggers import liquidity_triggers
from tests.support.fundlib import NOW, make_asset, make_state

U = 10**18
K = 1_000 * U


def test_report__plan_and_results__json_and_table() -> None:
    cfg = load_planning_config(
        {}, top3_concentration_limit=10_000, asset_concentration_limit=10_000
    )
    state = make_state(
        250 * K, [make_asset("MMF", 1, 250 * K), make_asset("HYD", 2, 500 * K)], decimals=18
    )
    p = plan(state, cfg, liquidity_triggers(state, cfg), NOW)
    after = apply(state, p)
    results = [ActionResult(a, True, received=a.amount) for a in p.actions]
    report = plan_report(state, p, results, after)
    assert json.loads(json.dumps(report)) == report
    assert report["total_amount"] == 150 * K
    assert [t["ratio_bps"] for t in report["tiers_expected"]] == [1_000, 3_000, 6_000]
    text = render_text(report)
    assert "purchaseAsset" in text and "100,000.00" in text and "l1_high" in text
    assert text.splitlines()[5].split() == ["L1", "500-1000-2000", "2500", "1000", "1000"]
    assert "HYD" in text


def test_report_amounts__cents_truncated_without_float() -> None:
    # the report's amounts: the one formatter at two places (keepers.core.amounts)
    assert format_amount(1_234_567_891, 6, places=2) == "1,234.56"
    assert format_amount(-5 * 10**17, 18, places=2) == "-0.50"


def test_progress__outcomes__in_band_improved_no_safe_move_not_improved():
    from keepers.fund.planning.report import progress
    from tests.support.fundlib import make_asset, make_state

    def fund(cash: int):
        return make_state(cash, [make_asset("M", 1, 300), make_asset("T", 2, 600)])

    inside, off, closer = fund(100), fund(400), fund(250)
    assert progress(off, inside, 2) == "in band"
    assert progress(off, closer, 1) == "improved"
    assert progress(off, off, 0) == "no safe move"
    assert progress(closer, off, 1) == "not improved"


def test_render_text__holders_lines__printed_for_review() -> None:
    """Issue 67: the lines a report was made with (fees, paid to date, the in-kind exit:
    keepers.fund.fees_paid.add_holders) are what `keeper review` prints of a stored plan."""
    cfg = load_planning_config(
        {}, top3_concentration_limit=10_000, asset_concentration_limit=10_000
    )
    state = make_state(
        250 * K, [make_asset("MMF", 1, 250 * K), make_asset("HYD", 2, 500 * K)], decimals=18
    )
    report = plan_report(state, plan(state, cfg, liquidity_triggers(state, cfg), NOW))
    assert "in-kind exit" not in render_text(report)
    report["holders_lines"] = [
        "fees: management 1.00%/yr, performance 10.00% above the high-water mark, to 0xR",
        "in-kind exit of 1% of the supply (10 shares): 5 cash (0.5% penalty kept by the fund)",
    ]
    text = render_text(json.loads(json.dumps(report)))  # as stored
    assert "fees: management 1.00%/yr" in text and "in-kind exit of 1% of the supply" in text
