"""A venue at its cap is skipped, not fatal (fourth review, low).

An ERC-4626 venue's cap is the venue's own: `maxDeposit` answers its headroom, and anyone can
fill it (eve deposits the headroom, keeps earning the venue's yield and can redeem in full).
Before, the controller never read it and an ERC-4626 leg could not be cut, so every move into
a full venue reverted ERC4626ExceededMaxDeposit: rebalance(false), rebalance(true) and
allocateToLayer alike. Now every leg is bounded by the venue's own limit (the adapter's
investableNow): the shortfall is a cut leg (MoveCut, the rest stays in L1) and the rest of the
move goes on, into the tier's other venues.

Actors: `eve` holds no role (the `attacker` account); `keeper` and the deployer are the fund's.
"""

from __future__ import annotations

import ape
import pytest

from ballast_dev.deployment.fund import RiskSpec, add_asset, deploy_core, grant_roles

CAP = 1_000_000


@pytest.fixture(scope="module")
def capped(project, deployer, gov, keeper, usdt, adapters, create_feed, unit, attacker):
    """The project's default concentration limits (25% an asset, 60% the top three: SEC5-03,
    the 100% override hid the keeper's second pass reverting): L2 is the capped venue and
    mmfB, L3 three credit funds. Deployed once per module (each decimals); ape's isolation
    reverts each test's changes, so every test starts from it as deployed (no test changes its
    Python-side record)."""
    f = deploy_core(project, deployer, usdt, risk=RiskSpec(min_move_value=0))
    grant_roles(f, gov, keepers=[keeper], guardians=[], sender=deployer)
    venue = deployer.deploy(project.TestCappedFund, usdt, CAP * unit)
    other = deployer.deploy(project.TestMoneyMarketFund, usdt, "mmfB", "mmfB")
    credits = [
        deployer.deploy(project.TestMoneyMarketFund, usdt, s, s) for s in ("crA", "crB", "crC")
    ]
    layout = [("capped", venue, 1), ("mmfB", other, 1)]
    layout += [(c.symbol(), c, 2) for c in credits]
    for symbol, token, tier in layout:
        add_asset(f, deployer, symbol=symbol, token=token, tier=tier, adapter=adapters["erc4626"],
                  feed=create_feed())  # fmt: skip
    usdt.mint(deployer, 10**9 * unit, sender=deployer)
    usdt.approve(f.vault, 2**256 - 1, sender=deployer)
    f.vault.deposit(2_000_000 * unit, deployer, sender=deployer)
    f.controller.purchaseAsset(venue, 150_000 * unit, 0, sender=keeper)
    # eve fills the venue's headroom
    usdt.mint(attacker, 850_000 * unit, sender=deployer)
    usdt.approve(venue, 2**256 - 1, sender=attacker)
    venue.deposit(850_000 * unit, attacker, sender=attacker)
    assert venue.maxDeposit(f.controller) == 0
    return dict(fund=f, venue=venue, other=other, credit=credits[0], credits=credits)


def _top3_bps(f, tokens) -> int:
    c = f.controller
    values = sorted((c.valueOf(t, t.balanceOf(c)) for t in tokens), reverse=True)
    total = f.vault.totalAssets()
    return sum(values[:3]) * 10_000 // total


@pytest.mark.parametrize("force", [False, True])
def test_rebalance__venue_filled_to_its_cap_by_an_outsider__cut_and_the_rest_moves(
    capped, keeper, unit, force
):
    f, venue, other = capped["fund"], capped["venue"], capped["other"]
    c = f.controller
    held = venue.balanceOf(c)
    tx = c.rebalance(force, sender=keeper)
    [cut] = [e for e in tx.decode_logs(c.MoveCut) if e.token == venue.address]
    assert cut.done == 0 and cut.asked > 0
    assert venue.balanceOf(c) == held  # the full venue took nothing
    assert other.balanceOf(c) > 0 and capped["credit"].balanceOf(c) > 0  # the rest moved
    assert tx.decode_logs(c.Rebalanced)[0].moved


@pytest.mark.parametrize("force", [False, True])
def test_rebalance__venue_at_its_cap_under_default_limits__the_other_member_cut_at_the_top3_bound(
    capped, keeper, unit, force
):
    """SEC5-03: the second deploy pass poured the full venue's share into mmfB (22.5%) and L3's
    three equal shares (20% each) then summed to 62.5% in the top three: the whole run reverted
    Top3ConcentrationExceeded. Every leg is now sized under the top-3 bound too: cut, and the
    run moves, every bound kept."""
    f = capped["fund"]
    c = f.controller
    tokens = [capped["venue"], capped["other"], *capped["credits"]]
    tx = c.rebalance(force, sender=keeper)
    assert tx.decode_logs(c.Rebalanced)[0].moved
    assert _top3_bps(f, tokens) <= 6_000
    for t in tokens:
        assert c.valueOf(t, t.balanceOf(c)) * 10_000 // f.vault.totalAssets() <= 2_500


def test_allocate_to_layer__venue_at_its_cap__the_tiers_other_venue_takes_it(capped, keeper, unit):
    f, venue, other = capped["fund"], capped["venue"], capped["other"]
    c = f.controller
    held = venue.balanceOf(c)
    c.allocateToLayer(1, 100_000 * unit, sender=keeper)
    assert other.balanceOf(c) == 100_000 * unit
    assert venue.balanceOf(c) == held


def test_allocate_to_layer__venue_with_some_room__filled_to_the_cap_then_the_other(
    capped, keeper, unit, attacker
):
    """Eve withdraws 50,000: the venue has that much room again; an allocation of 300,000
    (equal shares: 75,000 more for the venue) fills the venue to its cap, one cut, and the rest
    goes to the other venue."""
    f, venue, other = capped["fund"], capped["venue"], capped["other"]
    c = f.controller
    venue.withdraw(50_000 * unit, attacker, attacker, sender=attacker)
    room = venue.maxDeposit(c)
    held = venue.balanceOf(c)
    tx = c.allocateToLayer(1, 300_000 * unit, sender=keeper)
    assert venue.convertToAssets(venue.balanceOf(c) - held) == pytest.approx(room, abs=1)
    assert venue.maxDeposit(c) <= 1
    assert other.balanceOf(c) == 300_000 * unit - room
    [cut] = tx.decode_logs(c.MoveCut)
    assert cut.token == venue.address and cut.done == room


def test_allocate_to_layer__every_venue_of_the_tier_full__named_capacity_error(
    capped, keeper, unit, project, deployer
):
    """With the tier's only other venue gone (its cap set to 0 by the guardian's limit), the
    allocation cannot be placed: the controller's own TierCapacityExhausted, not the venue's
    error."""
    f, other = capped["fund"], capped["other"]
    c = f.controller
    c.setAssetLimits(other, 0, 2_500, sender=deployer)
    with ape.reverts(c.TierCapacityExhausted):
        c.allocateToLayer(1, 100_000 * unit, sender=keeper)


def test_venue_cap__eve_redeems_in_full__nothing_of_hers_is_kept(capped, attacker, unit):
    """The attack costs eve nothing but the time her cash sits in the venue."""
    venue = capped["venue"]
    venue.redeem(venue.balanceOf(attacker), attacker, attacker, sender=attacker)
    assert venue.balanceOf(attacker) == 0
