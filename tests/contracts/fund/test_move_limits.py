"""Issue 11: what a keeper-initiated move may do beyond the per-call guards.

- The controller's own swaps (rebalance, allocateToLayer, waterfall) carry a tight oracle-derived
  minimum (internalSlippageBps), not the 5% explicit-call bound: a sandwich of the fund's
  rebalance (the review's +21.9k on a 30M fund) is refused and costs the attacker the fees.
- Per-window budgets on value lost and notional moved: a stolen keeper key that round-trips
  through a pool it moves is stopped at the loss budget, however often it calls.
- Raising a budget (or the internal bound, or shortening the window) needs the timelock;
  changing minMoveValue either way too; the pool fee tier is the timelock's.
- An L2 sequencer-uptime feed, when configured, stops every move while it is down or in grace.
- Positions are sold largest by value first, not by raw units (6- and 18-decimal assets mix).

Who else can call these, with what, and what do they gain: the attacker actor below holds no
role; the keeper actor plays a stolen key; gov (ADMIN_ROLE) plays a compromised admin hot wallet.
"""

import ape
import pytest

from ballast_dev.deployment.fund import RiskSpec, add_asset
from ballast_dev.deployment.uniswap import swap_exact_input
from tests.support.pool_funds import create_pool_fund, day_limits

PRICE = 100  # one TBILL = 100 USDT
FEE = 3000
DAY = 86_400


@pytest.fixture(scope="module")
def m(project, deployer, gov, keeper, guardian, base_decimals, attacker, accounts):
    unit = 10**base_decimals
    limits = day_limits(unit, 20_000, 5_000_000, bound_bps=100)
    # 10M USDT / 100k TBILL, full range, at 100 USDT per TBILL; TBILL in L3, MMF in L2
    p = create_pool_fund(project, accounts, deployer, gov, keeper, guardian, base_decimals,
                         limits=limits, risk=RiskSpec(max_top3_bps=10_000, min_move_value=0),
                         fee=FEE, price=PRICE, pool_usdt=10_000_000, minted_usdt=10**10,
                         minted_tbill=10**9)  # fmt: skip
    f, usdt = p["fund"], p["usdt"]
    credit = deployer.deploy(project.TestMoneyMarketFund, usdt, "CR", "CR")
    add_asset(f, deployer, symbol="CR", token=credit, tier=2, adapter=p["erc4626"],
              feed=deployer.deploy(project.TestPriceFeed, 8, 10**8), max_concentration_bps=10_000)  # fmt: skip
    usdt.mint(attacker, 10**9 * unit, sender=deployer)
    f.vault.deposit(2_000_000 * unit, deployer, sender=deployer)
    return dict(p, credit=credit)


def _round_trip(m, attacker, usdt_in):
    """The attacker buys TBILL with `usdt_in`, returns a closure that sells it all back and
    gives the attacker's USDT profit (negative: a loss)."""
    usdt, rwa, uni = m["usdt"], m["rwa"], m["uni"]
    before = usdt.balanceOf(attacker)
    swap_exact_input(uni, usdt, rwa, FEE, usdt_in, attacker)

    def close() -> int:
        swap_exact_input(uni, rwa, usdt, FEE, rwa.balanceOf(attacker), attacker)
        return usdt.balanceOf(attacker) - before

    return close


def test_allocate__sandwiched_internal_swap__refused_and_attacker_loses(m, keeper, attacker):
    f, unit = m["fund"], m["unit"]
    f.controller.allocateToLayer.estimate_gas_cost(2, 120_000 * unit, sender=keeper)  # fine alone
    close = _round_trip(m, attacker, 75_000 * unit)  # ~1.5% above the oracle: inside 5%
    with ape.reverts(f.controller.SlippageExceeded):
        f.controller.allocateToLayer(2, 120_000 * unit, sender=keeper)
    assert close() < 0  # the attacker paid two pool fees for nothing
    assert f.vault.freeCash() == 2_000_000 * unit


def test_allocate__old_bound_of_5pct__the_sandwich_pays(m, keeper, attacker, deployer):
    """The hazard the tight bound closes: with the internal bound at the explicit-call 5%,
    the same sandwich goes through and the attacker profits from the fund's trade."""
    f, unit = m["fund"], m["unit"]
    f.controller.setMoveLimits(
        (20_000 * unit, 5_000_000 * unit, DAY, 500), sender=deployer
    )  # as the timelock
    close = _round_trip(m, attacker, 75_000 * unit)
    f.controller.allocateToLayer(2, 120_000 * unit, sender=keeper)
    assert close() > 0


def test_rebalance__rebalancer_triggered_while_pool_moved__that_venue_fills_nothing(m, attacker):
    """Issue 25: the controller's own rebalance no longer fails on a moved pool (which let
    anyone consume the fund's due run): the pool past the bound fills nothing and its share is
    carried (MoveCut), the ERC-4626 venues still move, and the attacker pays two fees."""
    f, unit, rwa = m["fund"], m["unit"], m["rwa"]
    close = _round_trip(m, attacker, 75_000 * unit)
    tx = f.controller.rebalance(True, sender=m["rebalancer"])
    [cut] = tx.decode_logs(f.controller.MoveCut)
    assert cut.token == rwa.address and cut.done == 0
    assert rwa.balanceOf(f.controller) == 0
    assert m["credit"].balanceOf(f.controller) > 0
    assert close() < 0


def test_budget__stolen_keeper_round_trips_through_pool__stopped_at_loss_budget(m, keeper, chain):
    f, rwa, unit = m["fund"], m["rwa"], m["unit"]
    c = f.controller
    gross0 = f.vault.totalAssets()
    calls = 0
    with ape.reverts(c.LossBudgetExceeded):
        for _ in range(200):  # each round trip loses two fees and the impact (~0.5%)
            c.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
            c.redeemAsset(rwa, rwa.balanceOf(c), 0, sender=keeper)
            calls += 2
    lost = gross0 - f.vault.totalAssets()
    assert calls >= 2  # it got some moves through before the budget stopped it
    assert lost <= 20_000 * unit  # never more than the window's loss budget
    used, _ = c.budgetUsage()
    assert used <= 20_000 * unit
    # the bucket drains linearly: half a day later half the budget is free again
    chain.pending_timestamp += DAY // 2
    c.purchaseAsset(rwa, 10_000 * unit, 0, sender=keeper)


def test_budget__notional__stops_a_churning_key(m, keeper):
    f, unit = m["fund"], m["unit"]
    c = f.controller
    with ape.reverts(c.NotionalBudgetExceeded):
        for _ in range(20):  # 300k in and out of an instant MMF: no loss, only notional
            c.purchaseAsset(m["mmf"], 300_000 * unit, 0, sender=keeper)
            c.redeemAsset(m["mmf"], m["mmf"].balanceOf(c), 0, sender=keeper)
    _, notional = c.budgetUsage()
    assert notional <= 5_000_000 * unit


def test_budget__lowered_mid_window__what_fit_before_is_refused(m, keeper, guardian):
    """Lowering a budget never lets more through: what was used stays booked, and a move that
    fit under the old budget is refused under the lower one (the symbolic proofs do not cover
    this: docs/trust-model.md)."""
    f, unit = m["fund"], m["unit"]
    c = f.controller
    c.purchaseAsset(m["mmf"], 500_000 * unit, 0, sender=keeper)  # 500k of the 5M notional
    c.setMoveLimits((20_000 * unit, 800_000 * unit, DAY, 100), sender=guardian)
    with ape.reverts(c.NotionalBudgetExceeded):  # 500k more fit under 5M, not under 800k
        c.purchaseAsset(m["mmf"], 500_000 * unit, 0, sender=keeper)
    c.purchaseAsset(m["mmf"], 250_000 * unit, 0, sender=keeper)  # what the lower one leaves
    _, notional = c.budgetUsage()
    assert 750_000 * unit - 100 * unit <= notional <= 800_000 * unit


def test_set_move_limits__who_may_raise_or_lower(m, gov, guardian, deployer, attacker):
    f, unit = m["fund"], m["unit"]
    c = f.controller
    lower = (10_000 * unit, 5_000_000 * unit, DAY, 100)
    higher = (40_000 * unit, 5_000_000 * unit, DAY, 100)
    shorter = (10_000 * unit, 5_000_000 * unit, DAY // 2, 100)
    wider = (10_000 * unit, 5_000_000 * unit, DAY, 300)
    with ape.reverts():
        c.setMoveLimits(lower, sender=attacker)
    c.setMoveLimits(lower, sender=guardian)  # de-risk at once
    for more in (higher, shorter, wider):
        with ape.reverts(c.RiskIncreaseRequiresTimelock):
            c.setMoveLimits(more, sender=gov)
    c.setMoveLimits(higher, sender=deployer)  # the timelock (DEFAULT_ADMIN_ROLE)
    with ape.reverts(c.InvalidParameter):
        c.setMoveLimits((1, 1, 60, 100), sender=deployer)  # a one-minute window
    assert c.moveLimits().lossBudget == 40_000 * unit


def test_min_move_value__either_direction__needs_timelock(m, gov, deployer):
    c = m["fund"].controller
    r = c.riskParams()
    for v in (r.minMoveValue + 1, max(r.minMoveValue, 1) - 1):
        p = (r.maxSlippageBps, r.maxValueLossBps, r.maxTop3Bps, r.navMaxAge, v)
        if v == r.minMoveValue:
            continue
        with ape.reverts(c.RiskIncreaseRequiresTimelock):
            c.setRiskParams(p, sender=gov)
        c.setRiskParams(p, sender=deployer)
        c.setRiskParams((*p[:4], r.minMoveValue), sender=deployer)


def test_sequencer__down_then_grace__moves_refused_until_up_long_enough(
    m, project, deployer, gov, keeper, chain
):
    f, unit = m["fund"], m["unit"]
    c = f.controller
    seq = deployer.deploy(project.TestPriceFeed, 0, 1)  # answer 1: the sequencer is down
    c.setSequencerFeed(seq, 3_600, sender=gov)  # adding a check is risk-reducing
    with ape.reverts(c.SequencerDown):
        c.purchaseAsset(m["mmf"], 1_000 * unit, 0, sender=keeper)
    now = chain.pending_timestamp
    seq.updateRoundData(2, 0, now, now, sender=deployer)  # up again, just now
    with ape.reverts(c.SequencerGracePeriod):
        c.rebalance(True, sender=m["rebalancer"])
    chain.pending_timestamp += 3_601
    c.purchaseAsset(m["mmf"], 1_000 * unit, 0, sender=keeper)
    with ape.reverts(c.RiskIncreaseRequiresTimelock):  # removing the check is not
        c.setSequencerFeed("0x" + "00" * 20, 0, sender=gov)


def test_waterfall__mixed_decimals__sells_largest_by_value_first(m, keeper, base_decimals):
    """TBILL has 18 decimals, CR (an ERC-4626 over the base) the base's: by raw units TBILL
    looks larger; by value CR is. The old ranking sold TBILL first."""
    f, rwa, credit, unit = m["fund"], m["rwa"], m["credit"], m["unit"]
    c = f.controller
    c.purchaseAsset(credit, 300_000 * unit, 0, sender=keeper)
    c.purchaseAsset(rwa, 50_000 * unit, 0, sender=keeper)
    tbill_before = rwa.balanceOf(c)
    if base_decimals == 6:
        assert tbill_before > credit.balanceOf(c)  # more raw units, less value
    c.executeWaterfallLiquidation(100_000 * unit, 2, sender=keeper)
    assert rwa.balanceOf(c) == tbill_before  # the larger position by value paid
    assert credit.balanceOf(c) <= 200_000 * unit + unit
