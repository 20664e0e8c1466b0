"""Risk rules: slippage, gas against benefit, liquidity impact, blackout windows."""

from __future__ import annotations

import pytest

from keepers.fund.planning.config import PlanningConfig, load_planning_config
from keepers.fund.planning.plan import Action, ActionType, Plan, plan
from keepers.fund.planning.risk import (
    Level,
    Quote,
    assess,
    benefit,
    check_blackout,
    check_gas,
    check_liquidity,
    check_slippage,
    in_blackout,
    min_out,
    slippage_bps,
)
from tests.support.fundlib import NOW, make_asset, make_state

U = 10**6
K = 1_000 * U


def test_slippage__bps__rounded_up_and_zero_when_better() -> None:
    assert slippage_bps(98, 100) == 200
    assert slippage_bps(9_999_999, 10_000_000) == 1
    assert slippage_bps(101, 100) == 0


@pytest.mark.parametrize(
    ("quote", "level"),
    [(98_000, Level.OK), (97_999, Level.WARN), (95_000, Level.WARN), (94_999, Level.BLOCK)],
)
def test_slippage__2pct_warn_5pct_block(cfg: PlanningConfig, quote: int, level: Level) -> None:
    assert check_slippage(Quote(quote, 100_000), cfg).level is level


def test_min_out__oracle_less_max_slippage(cfg: PlanningConfig) -> None:
    assert min_out(1_000_000, cfg) == 980_000


def test_gas__above_10pct_of_benefit__skip(cfg: PlanningConfig) -> None:
    assert check_gas(101, 1_000, cfg).level is Level.SKIP
    assert check_gas(100, 1_000, cfg).level is Level.OK


def test_benefit__deviation_reduced_times_bps(cfg: PlanningConfig) -> None:
    before = make_state(200 * K, [make_asset("M", 1, 300 * K), make_asset("H", 2, 500 * K)])
    after = make_state(100 * K, [make_asset("M", 1, 300 * K), make_asset("H", 2, 600 * K)])
    # |dev| drops from 100K + 0 + 100K to 0: 200K x 50 bps = 1K.
    assert benefit(before, after, cfg) == 1 * K
    assert benefit(after, before, cfg) == 0


def test_liquidity__share_of_redeemable__warn_and_block(cfg: PlanningConfig) -> None:
    state = make_state(
        100 * K, [make_asset("M", 1, 300 * K, redeemable=100 * K), make_asset("H", 2, 600 * K)]
    )
    token = state.assets[0].token

    def redeem(amount: int) -> Action:
        return Action(ActionType.REDEEM, amount, 1, "t", 1, 0, asset=token)

    assert check_liquidity(redeem(50 * K), state, cfg).level is Level.OK
    assert check_liquidity(redeem(50 * K + 1), state, cfg).level is Level.WARN
    assert check_liquidity(redeem(100 * K + 1), state, cfg).level is Level.BLOCK
    strict = load_planning_config(
        {}, liquidity_impact_warn_bps=1_000, liquidity_impact_block_bps=2_000
    )
    assert check_liquidity(redeem(30 * K), state, strict).level is Level.BLOCK


def test_blackout__windows__including_over_midnight() -> None:
    windows = ((13 * 60 + 25, 13 * 60 + 35), (23 * 60 + 50, 10))
    day = NOW  # 00:00 UTC
    assert in_blackout(day + 13 * 3_600 + 25 * 60, windows) == windows[0]
    assert in_blackout(day + 13 * 3_600 + 35 * 60, windows) is None  # end is exclusive
    assert in_blackout(day + 23 * 3_600 + 55 * 60, windows) == windows[1]
    assert in_blackout(day + 5 * 60, windows) == windows[1]
    assert in_blackout(day + 12 * 3_600, windows) is None


def test_blackout__config_window__blocks() -> None:
    cfg = load_planning_config({"BLACKOUT_WINDOWS": "00:00-00:30"})
    assert check_blackout(NOW + 60, cfg).level is Level.BLOCK
    assert "00:00-00:30" in check_blackout(NOW + 60, cfg).detail
    assert check_blackout(NOW + 3_600, cfg).level is Level.OK


def _deploy_state():
    return make_state(250 * K, [make_asset("M", 1, 250 * K), make_asset("H", 2, 500 * K)])


def test_assess__clean_plan__proceeds(cfg: PlanningConfig) -> None:
    state = _deploy_state()
    p = plan(
        state,
        load_planning_config({}, top3_concentration_limit=10_000, asset_concentration_limit=10_000),
        [],
        NOW,
    )
    report = assess(state, p, cfg, NOW + 3_600, gas_cost=10 * U)
    assert report.level is Level.OK and report.proceed


def test_assess__bad_quote_or_expensive_gas__stops(cfg: PlanningConfig) -> None:
    state = _deploy_state()
    open_cfg = load_planning_config(
        {}, top3_concentration_limit=10_000, asset_concentration_limit=10_000
    )
    p = plan(state, open_cfg, [], NOW)
    blocked = assess(state, p, cfg, NOW, quotes={0: Quote(90, 100)})
    assert blocked.level is Level.BLOCK and not blocked.proceed
    # Benefit: |150K| + |-50K| + |-100K| of deviation removed x 0.5% = 1.5K; 10% is 150.
    skipped = assess(state, p, cfg, NOW, gas_cost=151 * U)
    assert skipped.level is Level.SKIP
    assert assess(state, p, cfg, NOW, gas_cost=150 * U).level is Level.OK


def test_assess__redemption_preparation__never_skipped_for_gas(cfg: PlanningConfig) -> None:
    state = make_state(
        50 * K, [make_asset("M", 1, 350 * K), make_asset("H", 2, 600 * K)], pending=80 * K
    )
    p = plan(state, cfg, [], NOW)
    assert p.ordered()[0].priority == 0
    assert assess(state, p, cfg, NOW, gas_cost=10**30).proceed


def test_assess__paused_fund__blocks(cfg: PlanningConfig) -> None:
    state = make_state(100 * K, [make_asset("M", 1, 300 * K)], paused=True)
    assert assess(state, Plan("x", NOW, (), ()), cfg, NOW).level is Level.BLOCK
