"""FundState identities and the per-tier metrics (Decimal ratios, integer bps)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from keepers.fund.planning.metrics import band_distance, bps_of, tier_metrics, within
from keepers.fund.planning.state import AssetState
from tests.support.fundlib import make_asset, make_state

K = 1_000 * 10**6


def test_state__build__derives_totals_and_positions() -> None:
    state = make_state(
        150 * K, [make_asset("M", 1, 300 * K), make_asset("H", 2, 600 * K)], pending=50 * K
    )
    assert state.gross_assets == 1_050 * K and state.total_assets == 1_000 * K
    assert state.positions() == (100 * K, 300 * K, 600 * K)
    assert sum(state.positions()) == state.total_assets


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("total_assets", 1, "total_assets"),
        ("gross_assets", 1, "gross_assets"),
        ("cash", 1, "cash"),
        ("base_decimals", 8, "base_decimals"),
    ],
)
def test_state__inconsistent_view__raises(field: str, value: int, needle: str) -> None:
    state = make_state(100 * K, [make_asset("M", 1, 300 * K), make_asset("H", 2, 600 * K)])
    with pytest.raises(ValueError, match=needle):
        replace(state, **{field: value})


def test_asset__tier_zero_or_negative__raises() -> None:
    with pytest.raises(ValueError, match="tier"):
        make_asset("X", 0, K)
    with pytest.raises(ValueError, match="balance"):
        AssetState("0x1", "X", 1, -1, 0, True, 0)


def test_asset__sellable__capped_by_window_and_pending() -> None:
    a = make_asset("R", 2, 100 * K, instant=False, redeemable=80 * K, pending_value=30 * K)
    assert a.sellable_value == 70 * K
    assert make_asset("R", 2, 100 * K, instant=False, redeemable=0).sellable_value == 0


def test_asset__tokens_for_value__rounds_up_capped_at_balance() -> None:
    a = make_asset("R", 2, 3, price_num=1)  # 3 tokens worth 3
    a = replace(a, balance=10)  # 10 tokens worth 3: 1 unit of value = 3.33 tokens
    assert a.tokens_for_value(1) == 4 and a.tokens_for_value(3) == 10


@pytest.mark.parametrize("decimals", [6, 18])
def test_metrics__ratios__decimal_and_bps(decimals: int) -> None:
    k = 1_000 * 10**decimals
    state = make_state(
        41 * k, [make_asset("M", 1, 333 * k), make_asset("H", 2, 626 * k)], decimals=decimals
    )
    l1, l2, l3 = tier_metrics(state)
    assert l1.ratio == Decimal(41) / Decimal(1_000) and isinstance(l1.ratio, Decimal)
    assert (l1.ratio_bps, l1.deviation_bps, l1.within_bounds) == (410, -590, False)
    assert (l2.ratio_bps, l2.deviation_bps, l2.within_bounds) == (3_330, 330, True)
    assert (l3.ratio_bps, l3.deviation_bps, l3.within_bounds) == (6_260, 260, True)
    assert band_distance(state, 0) == 9 * k and band_distance(state, 1) == 0


def test_metrics__pending_beyond_cash__negative_l1() -> None:
    state = make_state(
        10 * K, [make_asset("M", 1, 300 * K), make_asset("H", 2, 600 * K)], pending=20 * K
    )
    l1 = tier_metrics(state)[0]
    assert l1.value == -10 * K and l1.ratio_bps < 0 and not l1.within_bounds


def test_metrics__exact_edges__inclusive() -> None:
    assert within(500, 10_000, 500, 2_000) and within(2_000, 10_000, 500, 2_000)
    assert not within(2_001, 10_000, 500, 2_000)
    assert bps_of(1, 3) == 3333 and bps_of(-1, 3) == -3333 and bps_of(5, 0) == 0


def test_asset_room__venue_limit_and_controller_cap__the_smaller_none_is_no_limit() -> None:
    a = make_asset("M", 1, 300 * K)
    assert a.room is None  # no limit read
    assert replace(a, investable_now=120 * K).room == 120 * K
    assert replace(a, cap=350 * K).room == 50 * K  # the cap bounds the position's value
    assert replace(a, investable_now=120 * K, cap=350 * K).room == 50 * K
    assert replace(a, cap=200 * K).room == 0  # a cap lowered under the position: no buy
    with pytest.raises(ValueError, match="investable_now must be >= 0"):
        replace(a, investable_now=-1)


def test_state_doc__venue_room_and_cap__round_trip_through_the_execution_record() -> None:
    from keepers.fund.plan_docs import state_from_doc, state_to_doc

    state = make_state(
        150 * K,
        [
            make_asset("M", 1, 300 * K, investable_now=7 * K, cap=10**30),
            make_asset("H", 2, 600 * K),
        ],
    )
    assert state_from_doc(state_to_doc(state)) == state


def test_verify_tiers__queue_takes_the_whole_fund__a_fill_units_off_is_no_divergence() -> None:
    """With the whole fund queued (total 0) the divergence was taken over 1 base unit: a sale
    filled 5 units under its quote read as 20,000 bps and raised verify_divergence."""
    from keepers.fund.planning.actions import ActionResult
    from keepers.fund.planning.config import load_planning_config
    from keepers.fund.planning.plan import plan
    from keepers.fund.verify import verify_tiers

    assets = [make_asset("M", 1, 30 * K), make_asset("R", 2, 20 * K, instant=False, redeemable=0)]
    before = make_state(10 * K, assets, pending=60 * K)
    assert before.total_assets == 0
    p = plan(before, load_planning_config({}), [], 0)
    (sale,) = p.actions
    actual = make_state(40 * K - 5, [replace(assets[0], balance=0, value=0, redeemable_now_value=0),
                                     assets[1]], pending=60 * K)  # fmt: skip
    out = verify_tiers(before, [ActionResult(sale, True)], actual, 100)
    assert out["ok"] and max(out["diffs_bps"]) == 0, out


def test_verify_tiers__others_deposit_after_the_first_send__said_as_theirs_not_the_plans() -> None:
    """A plan whose legs all landed, verified after holders deposited (a plan half executed by
    0.1.0 and resumed by 0.2.0 after deposits: "not improved, divergence 7501 bps" from both
    keepers, the upgrade was not the cause): L1 alone is off, by the deposit, and that is said
    as others' cash; a leg that filled short moves L2 or L3 too and is still a divergence."""
    from keepers.fund.planning.actions import ActionResult
    from keepers.fund.planning.config import load_planning_config
    from keepers.fund.planning.plan import plan
    from keepers.fund.planning.report import progress
    from keepers.fund.planning.simulate import apply
    from keepers.fund.verify import verify_tiers, with_outside_cash

    assets = [make_asset("M", 1, 300 * K), make_asset("H", 2, 600 * K)]
    before = make_state(400 * K, assets)  # L1 well over its band: the plan invests
    p = plan(before, load_planning_config({}), [], 0)
    done = [ActionResult(a, True) for a in p.actions]
    landed = apply(before, p, {})
    deposit = 700 * K
    actual = with_outside_cash(landed, deposit)
    out = verify_tiers(before, done, actual, 100)
    assert out["ok"] and out["outside_cash"] == str(deposit), out
    assert out["diffs_bps"][0] > 100 and "moved by others" in out["detail"], out
    # judged against the baseline with the deposit in it, the plan improved the fund
    assert progress(with_outside_cash(before, deposit), actual, len(done)) != "not improved"
    # a purchase that took less than planned: L1 higher AND L2/L3 lower: still a divergence
    cut = [replace(a, value=a.value - 50 * K) if a.tier == 2 else a for a in actual.assets]
    bad = make_state(actual.cash + 50 * K, cut)
    out = verify_tiers(before, done, bad, 100)
    assert not out["ok"] and "outside_cash" not in out, out
