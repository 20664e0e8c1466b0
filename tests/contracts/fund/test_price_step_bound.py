"""Issue 54: a valuation step bound per asset.

An answer further from the price the last mark counted (the reference) than stepBps plus
perDayBps per day since the reference was set holds the asset: entries refused (feedDown), exits
at the lower of the reference and the answer, no mark, no trade of it (PriceHeld), until the
guardian's acceptPrice or until the bound has grown over the step. Here: crA (an instant L3
fund) under a 5% + 1%/day bound, with a +15% step, a -15% step and a step that reverts a block
later; the setter's roles; the default (no bound)."""

import ape
import pytest

ONE = 10**8  # every test feed answers $1 with 8 decimals
STEP_BPS, PER_DAY_BPS = 500, 100  # 5% per update, +1% a day since the reference
DAY = 86_400


@pytest.fixture
def bounded(fund, controller, keeper, guardian, deposited):
    """alice's 1M invested at target (a fresh mark), crA under the bound (the guardian tightens)."""
    controller.rebalance(True, sender=keeper)
    crA = fund.assets["crA"]
    controller.setPriceStepBound(crA, STEP_BPS, PER_DAY_BPS, sender=guardian)
    return crA


def hold(controller, token):
    h = controller.priceHold(token)
    return dict(
        zip(
            (
                "held",
                "reference",
                "answer",
                "move",
                "allowed",
                "step",
                "per_day",
                "at",
            ),
            h,
            strict=False,
        )
    )


def step(fund, deployer, sym, answer):
    fund.feeds[sym].updateAnswer(answer, sender=deployer)


def assert_held_like_a_down_feed(controller, vault, fund, keeper, alice, token, unit):
    """Entries refused, no mark, no rebalance, no buy (of any asset: MarkWhileFeedDown, as in
    an outage), no sale of the held asset (PriceHeld)."""
    assert controller.pricingValues()[2] and controller.livePricingValues()[2]  # feedDown
    assert vault.maxDeposit(alice) == 0 and vault.maxMint(alice) == 0
    with ape.reverts(vault.FeedDown):
        vault.deposit(1_000 * unit, alice, sender=alice)
    with ape.reverts(controller.MarkWhileFeedDown):
        controller.mark(sender=alice)
    # (rebalance(False) in band and fresh reads no oracle: a no-op, as for a down feed)
    with ape.reverts(controller.MarkWhileFeedDown):
        controller.rebalance(True, sender=keeper)
    for bought in (token, fund.assets["mmfA"]):
        with ape.reverts(controller.MarkWhileFeedDown):
            controller.purchaseAsset(bought, 1_000 * unit, 0, sender=keeper)
    h = hold(controller, token)  # the error names the reference and the answer it holds
    with ape.reverts(
        controller.PriceHeld, token=token.address, referencePrice=h["reference"], answer=h["answer"]
    ):
        controller.redeemAsset(token, 1_000 * unit, 0, sender=keeper)


def test_price_step__plus_15_pct__held__exits_at_the_reference_no_mark_no_moves(
    fund, vault, controller, keeper, alice, deployer, bounded, chain, refresh_feeds, unit
):
    marked = controller.markedValues()
    assets, price = vault.totalAssets(), vault.convertToAssets(10**18)
    step(fund, deployer, "crA", ONE * 115 // 100)
    h = hold(controller, bounded)
    assert h["held"] and (h["reference"], h["answer"]) == (ONE, ONE * 115 // 100)
    assert (h["move"], h["allowed"], h["step"], h["per_day"]) == (1500, 500, 500, 100)
    assert_held_like_a_down_feed(controller, vault, fund, keeper, alice, bounded, unit)
    # exits at the lower value: the reference, so nothing the step added
    assert vault.totalAssets() == assets and vault.convertToAssets(10**18) == price
    # also once the mark is past navMaxAge (exits priced from the live pass alone)
    chain.pending_timestamp += 2 * 3600
    refresh_feeds()
    assert hold(controller, bounded)["held"]
    assert vault.totalAssets() == assets and vault.convertToAssets(10**18) == price
    # a keeper move on another asset goes on and keeps the mark (nothing counted at +15%)
    tx = controller.redeemAsset(fund.assets["mmfA"], 1_000 * unit, 0, sender=keeper)
    assert tx.events.filter(controller.MarkKept) and not tx.events.filter(controller.Marked)
    assert controller.markedValues() == marked


def test_price_step__minus_15_pct__held__exits_at_the_new_lower_price(
    fund, vault, controller, keeper, alice, deployer, bounded, unit
):
    units = fund.assets["crA"].balanceOf(controller)
    before_value = controller.valueOf(bounded, units)
    assets, marked = vault.totalAssets(), controller.markedValues()
    step(fund, deployer, "crA", ONE * 85 // 100)
    h = hold(controller, bounded)
    assert h["held"] and (h["reference"], h["answer"], h["move"]) == (ONE, ONE * 85 // 100, 1500)
    assert_held_like_a_down_feed(controller, vault, fund, keeper, alice, bounded, unit)
    # exits at the lower value: the new answer, to the wei
    after_value = controller.valueOf(bounded, units)
    assert after_value < before_value
    assert vault.totalAssets() == assets - (before_value - after_value)
    assert controller.markedValues() == marked


def test_price_step__reverts_a_block_later__no_longer_held__nothing_marked_at_the_step(
    fund, vault, controller, keeper, alice, deployer, bounded, chain, unit
):
    marked = controller.markedValues()
    step(fund, deployer, "crA", ONE * 115 // 100)
    assert hold(controller, bounded)["held"]
    # a move in the step's block keeps the mark: nothing counts the stepped price
    controller.redeemAsset(fund.assets["mmfA"], 1_000 * unit, 0, sender=keeper)
    assert controller.markedValues() == marked
    chain.mine()
    step(fund, deployer, "crA", ONE)  # the step reverts a block later
    assert not hold(controller, bounded)["held"] and not controller.pricingValues()[2]
    vault.deposit(1_000 * unit, alice, sender=alice)  # entries again
    controller.mark(sender=alice)
    l2, l3 = controller.markedValues()
    # the mark counts crA at $1 (L2 less the 1,000 the move sold; L3 as it was)
    assert l3 == marked[1] and marked[0] - l2 <= 1_000 * unit + 2
    assert hold(controller, bounded)["reference"] == ONE


def test_accept_price__guardian__next_mark_at_the_new_price__outsiders_refused(
    fund, vault, controller, keeper, guardian, gov, attacker, alice, deployer, bounded, unit
):
    units = fund.assets["crA"].balanceOf(controller)
    old_l3 = controller.markedValues()[1]
    step(fund, deployer, "crA", ONE * 115 // 100)
    for who in (attacker, keeper, gov, alice):  # the admin Safe (gov) confirms nothing either
        with ape.reverts(controller.AccessControlUnauthorizedAccount):
            controller.acceptPrice(bounded, sender=who)
    tx = controller.acceptPrice(bounded, sender=guardian)
    assert tx.events == [controller.PriceAccepted(bounded, ONE, ONE * 115 // 100)]
    h = hold(controller, bounded)
    assert not h["held"] and h["reference"] == ONE * 115 // 100 and h["move"] == 0
    assert not controller.pricingValues()[2]
    controller.mark(sender=alice)
    gain = controller.valueOf(bounded, units) * 15 // 115  # crA's value now less at $1
    assert abs(controller.markedValues()[1] - (old_l3 + gain)) <= 2
    # the timelock may confirm too; a down feed cannot be confirmed
    controller.acceptPrice(bounded, sender=deployer)
    step(fund, deployer, "crA", 0)
    with ape.reverts():
        controller.acceptPrice(bounded, sender=guardian)


def test_price_step__still_standing_after_the_stated_time__accepted(
    fund, vault, controller, keeper, alice, deployer, bounded, chain, refresh_feeds, unit
):
    """5% + 1%/day: a 15% step stands once the bound has grown to 15%, 10 days on."""
    at = hold(controller, bounded)["at"]
    step(fund, deployer, "crA", ONE * 115 // 100)
    chain.pending_timestamp = at + 9 * DAY + DAY // 2
    refresh_feeds()
    h = hold(controller, bounded)
    assert h["held"] and h["allowed"] == 1450
    with ape.reverts(controller.MarkWhileFeedDown):
        controller.mark(sender=alice)
    chain.pending_timestamp = at + 10 * DAY
    refresh_feeds()
    h = hold(controller, bounded)
    assert not h["held"] and h["allowed"] == 1500
    controller.mark(sender=alice)  # the step stands: counted, and the reference follows
    h = hold(controller, bounded)
    assert h["reference"] == ONE * 115 // 100 and h["allowed"] == STEP_BPS


def test_price_step__within_the_bound__marked_and_the_reference_follows(
    fund, controller, alice, deployer, bounded
):
    step(fund, deployer, "crA", ONE * 104 // 100)
    assert not hold(controller, bounded)["held"]
    controller.mark(sender=alice)
    step(fund, deployer, "crA", ONE * 108 // 100)  # 3.8% from the new reference: within
    h = hold(controller, bounded)
    assert not h["held"] and h["reference"] == ONE * 104 // 100
    controller.mark(sender=alice)
    assert hold(controller, bounded)["reference"] == ONE * 108 // 100


def test_waterfall__held_asset__skipped_reason_3__the_others_raise_the_cash(
    fund, controller, keeper, deployer, bounded, unit
):
    step(fund, deployer, "crA", ONE * 115 // 100)
    tx = controller.executeWaterfallLiquidation(400_000 * unit, 2, sender=keeper)
    skipped = [(e.token, e.reason) for e in tx.events.filter(controller.WaterfallSkipped)]
    assert (bounded.address, 3) in skipped
    assert not [e for e in tx.events.filter(controller.Redeemed) if e.token == bounded.address]
    assert tx.events.filter(controller.MarkKept)


def test_set_price_step_bound__guardian_tightens__timelock_loosens__outsiders_refused(
    fund, controller, guardian, gov, keeper, attacker, deployer
):
    token = fund.assets["crB"]
    assert hold(controller, token)["step"] == 0  # every asset's default: no bound
    for who in (attacker, keeper):
        with ape.reverts(controller.AccessControlUnauthorizedAccount):
            controller.setPriceStepBound(token, 500, 100, sender=who)
    tx = controller.setPriceStepBound(token, 500, 100, sender=guardian)  # on: tighter
    assert tx.events == [controller.PriceStepBoundSet(token, 500, 100, ONE)]
    controller.setPriceStepBound(token, 300, 100, sender=gov)  # lower: tighter
    for loose in ((400, 100), (300, 200), (0, 0)):  # higher either way, or none
        for who in (guardian, gov):
            with ape.reverts(controller.RiskIncreaseRequiresTimelock):
                controller.setPriceStepBound(token, *loose, sender=who)
    controller.setPriceStepBound(token, 1000, 200, sender=deployer)  # the timelock loosens
    h = hold(controller, token)
    assert (h["step"], h["per_day"], h["reference"]) == (1000, 200, ONE)
    controller.setPriceStepBound(token, 0, 0, sender=deployer)  # and removes it
    h = hold(controller, token)
    assert (h["step"], h["per_day"], h["reference"], h["held"]) == (0, 0, 0, False)
    with ape.reverts(controller.UnknownAsset):
        controller.setPriceStepBound(attacker, 500, 100, sender=guardian)


def test_price_step__no_bound_by_default__a_15_pct_step_is_marked_as_before(
    fund, controller, keeper, alice, deployer, deposited
):
    controller.rebalance(True, sender=keeper)
    token = fund.assets["crB"]
    step(fund, deployer, "crB", ONE * 115 // 100)
    h = hold(controller, token)
    assert not h["held"] and h["reference"] == 0 and h["answer"] == ONE * 115 // 100
    assert not controller.pricingValues()[2]
    controller.mark(sender=alice)


def test_remove_asset__bound_moves_with_the_list(fund, controller, guardian, gov, deployer):
    """The bound lives per list index (as the mark's positions do): removing an asset moves the
    last asset's bound into the freed index, and a new asset starts with none."""
    last = controller.assetList()[-1]
    controller.setPriceStepBound(last, 700, 50, sender=guardian)
    controller.removeAsset(fund.assets["mmfB"], sender=gov)  # empty: de-listed
    h = hold(controller, last)
    assert (h["step"], h["per_day"], h["reference"]) == (700, 50, ONE)
    step(fund, deployer, "rwa", ONE * 120 // 100)
    assert hold(controller, last)["held"]


def test_admin_module__called_directly__changes_nothing_on_the_controller(
    project, fund, controller, guardian, attacker, deployer, chain
):
    """The new entry points and the delegated role functions live in the admin module, which the
    controller was given at construction (adminModule): called directly, the module acts on its
    own empty storage, where nobody holds a role, so it refuses, and the controller is
    untouched."""
    module = project.AssetControllerAdmin.at(controller.adminModule())
    assert module.RELEASE() == controller.RELEASE()
    token = fund.assets["crA"]
    keeper_role = controller.KEEPER_ROLE()
    for who in (attacker, guardian, deployer):
        with ape.reverts():
            module.grantRole(keeper_role, attacker, sender=who)
        with ape.reverts():
            module.acceptPrice(token, sender=who)
        with ape.reverts():
            module.setPriceStepBound(token, 1, 0, sender=who)
    assert not controller.hasRole(keeper_role, attacker)
    assert hold(controller, token)["step"] == 0
    # through the controller, AccessControl's rules as before: the role's admin only
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.grantRole(keeper_role, attacker, sender=attacker)
    controller.grantRole(keeper_role, attacker, sender=deployer)
    assert controller.hasRole(keeper_role, attacker)
    controller.renounceRole(keeper_role, attacker, sender=attacker)
    assert not controller.hasRole(keeper_role, attacker)


# --- fifth review: nobody but the guardian or the timelock ends a hold -----------------------------


@pytest.mark.parametrize("fallback_decimals", [8, 18])
def test_use_fallback_feed__admin_during_a_hold__the_hold_goes_on(
    project, fund, vault, controller, keeper, gov, alice, deployer, bounded, unit, fallback_decimals
):
    """The team's review of issue 54: with a +15% step held, the admin (not the guardian, not
    the timelock) switched crA to its approved fallback feed, which cleared the reference: the
    next mark took the step (and a performance fee on it). The reference is kept now, in the
    fallback's decimals: the hold goes on until the guardian or the timelock accepts."""
    step(fund, deployer, "crA", ONE * 115 // 100)
    assert hold(controller, bounded)["held"]
    one = 10**fallback_decimals
    fb = deployer.deploy(project.TestPriceFeed, fallback_decimals, one * 115 // 100)
    controller.setFallbackFeed(bounded, fb, 86_400, 1, 10**30, sender=deployer)  # the timelock
    controller.useFallbackFeed(bounded, sender=gov)  # the admin
    h = hold(controller, bounded)
    assert h["held"] and (h["reference"], h["answer"]) == (one, one * 115 // 100)
    assert_held_like_a_down_feed(controller, vault, fund, keeper, alice, bounded, unit)


def test_accept_price__asset_without_a_bound__refused_naming_it(
    controller, fund, guardian, deposited
):
    """acceptPrice on an asset with no step bound confirmed nothing a bound had judged (it wrote
    a reference no price read uses): refused with the controller's InvalidParameter."""
    with ape.reverts(controller.InvalidParameter, name="priceStepBound", value=0):
        controller.acceptPrice(fund.assets["crB"], sender=guardian)
