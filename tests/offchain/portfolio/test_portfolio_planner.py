"""Pure planner properties on generated portfolios (no chain): keepers.portfolio.planning.

Cases come from ballast_dev.bench.portfolio_cases (exact Uniswap V3 pools, deep and shallow,
optionally priced off the oracle); hypothesis draws the generator's seed, so a failure prints a
seed that reproduces the case.
- no plan sells and buys the same asset (ours and every seed variant), even when a sale returns
  more than the oracle value;
- ours lands at or under its residual target;
- at the seed text's own residual ours never loses more than the seed text (up to rounding),
  and at the 50 bps target its median loss is below the seed text's on deep and shallow pools.
"""

from __future__ import annotations

import random
import statistics
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast_dev.bench.portfolio_cases import (
    DEEP,
    SHALLOW,
    case_market,
    case_portfolio,
    offset_pools,
    random_case,
)
from keepers.portfolio.planning import (
    WAD,
    AssetSpec,
    FixedSlippageMarket,
    Outcome,
    Portfolio,
    execute,
    plan_exact,
    simulate_seed,
)

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
DEPTH = st.sampled_from([DEEP, SHALLOW])


def _case(seed: int, depth, offset_bps: int = 0):
    rng = random.Random(seed)
    case = random_case(rng, depth)
    if offset_bps:
        case = offset_pools(case, rng, offset_bps)
    return case_portfolio(case), case_market(case)


def _buys_back(out: Outcome) -> list[int]:
    return [
        i for i, (x, c) in enumerate(zip(out.plan.sells, out.plan.buys, strict=True)) if x and c
    ]


@SETTINGS
@given(seed=st.integers(0, 2**32), depth=DEPTH, offset=st.sampled_from([0, 30, 100]))
def test_plans__any_portfolio_and_pools__never_sell_and_buy_back_the_same_asset(
    seed, depth, offset
):
    p, m = _case(seed, depth, offset)
    for budget in ("text", "collected", "excess"):
        assert _buys_back(simulate_seed(p, m, budget=budget)) == [], budget
    for target in (0, 50):
        assert _buys_back(execute(p, m, plan_exact(p, m, residual_budget_bps=target))) == []


def test_simulate_seed__sale_above_oracle__bought_back_before_issue_14_not_now():
    # pools 30 bps off the oracle: the implementation before the fix bought back what it sold
    found = 0
    for seed in range(60):
        p, m = _case(seed, DEEP, 30)
        if _buys_back(simulate_seed(p, m, buy_back=True)):
            found += 1
            assert _buys_back(simulate_seed(p, m)) == []
    assert found > 0


@SETTINGS
@given(seed=st.integers(0, 2**32), depth=DEPTH, target=st.sampled_from([10, 50, 100]))
def test_plan_exact__residual_target__lands_at_or_under_it(seed, depth, target):
    p, m = _case(seed, depth)
    out = execute(p, m, plan_exact(p, m, residual_budget_bps=target))
    assert out.after.deviation_wad() <= target * WAD // 10_000
    assert out.after.quote_balance >= 0 and min(out.after.balances) >= 0


@SETTINGS
@given(seed=st.integers(0, 2**32), depth=DEPTH)
def test_plan_exact__at_the_seed_texts_residual__loses_no_more_than_the_seed_text(seed, depth):
    """Value lost at equal accuracy: ours spends the same residual where it saves the most.
    Rounding tolerance: 0.02 bps of the portfolio (2-asset cases leave no choice, and ours then
    lands a hair under the seed's residual)."""
    p, m = _case(seed, depth)
    seed_out = simulate_seed(p, m, budget="text")
    ours = execute(p, m, plan_exact(p, m, residual_budget_bps=seed_out.residual * 10_000))
    assert ours.residual <= seed_out.residual
    assert ours.value_lost <= seed_out.value_lost + p.total_value() * 2 // 1_000_000


@pytest.mark.parametrize("depth", [DEEP, SHALLOW], ids=["deep", "shallow"])
def test_plan_exact__target_50_bps_on_150_portfolios__median_loss_below_seed_text(depth):
    rng = random.Random(4)
    cases = [random_case(rng, depth) for _ in range(150)]
    seed_losses, our_losses, residuals = [], [], []
    for case in cases:
        p, m = case_portfolio(case), case_market(case)
        seed_losses.append(simulate_seed(p, m, budget="text").value_lost_bps)
        ours = execute(p, m, plan_exact(p, m, residual_budget_bps=50))
        our_losses.append(ours.value_lost_bps)
        residuals.append(ours.residual)
    assert statistics.median(our_losses) < statistics.median(seed_losses)
    assert max(residuals) <= Decimal("0.005")


def test_plan_exact__budget_on_one_side_only__quote_absorbs_and_target_still_met():
    # all assets under target, the quote far over: no sells, so all the slack is on the buys
    e8 = 10**8
    p = Portfolio(
        (AssetSpec("A", 18, 100 * e8), AssetSpec("B", 18, 100 * e8)),
        (30 * 10**18, 30 * 10**18),
        (4000, 4000),
        6,
        4_000 * 10**6,
        2000,
    )
    m = FixedSlippageMarket(p, (30, 100), (30, 100))
    out = execute(p, m, plan_exact(p, m, residual_budget_bps=50))
    assert out.plan.sells == (0, 0)
    assert out.residual <= Decimal("0.005")
    exact = execute(p, m, plan_exact(p, m))
    assert out.value_lost < exact.value_lost
    # the dearer pool (B, 1%) is the one left short; A's buy moves only with the final value
    short_b = exact.plan.buys[1] - out.plan.buys[1]
    assert short_b > 100 * abs(exact.plan.buys[0] - out.plan.buys[0])
