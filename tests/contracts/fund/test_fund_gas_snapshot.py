"""Gas of every public state-changing function of the vault and the controller, per base
decimals, checked against tests/gas/fund.json (`make gas` rewrites it)."""

import pytest

from tests.support.erc4626_funds import Venue, erc4626_fund
from tests.support.gaslib import check_snapshot

TIERS = [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)]


def test_gas_snapshot__vault_and_controller(
    fund, vault, controller, usdt, fund_usdt, alice, bob, keeper, guardian, gov, deployer, chain,
    base_decimals, unit, project, adapters, create_feed,
):  # fmt: skip
    g: dict[str, int] = {}

    def rec(name, send):
        # every measured transaction in a new second: a mark in the same second as the last one
        # rewrites an unchanged slot (100 gas instead of 2,900) and the figure would depend on
        # the wall clock
        chain.pending_timestamp += 1
        g[f"usdt{base_decimals}/{name}"] = send().gas_used

    rec("vault.deposit.first", lambda: vault.deposit(1_000_000 * unit, alice, sender=alice))
    rec("vault.deposit.again", lambda: vault.deposit(1000 * unit, alice, sender=alice))
    rec("vault.mint", lambda: vault.mint(10**6 * unit, bob, sender=bob))
    rec("vault.withdraw", lambda: vault.withdraw(100 * unit, alice, alice, sender=alice))
    rec("vault.redeem", lambda: vault.redeem(10**6 * unit, alice, alice, sender=alice))
    rec(
        "controller.allocateToLayer.l2",
        lambda: controller.allocateToLayer(1, 300_000 * unit, sender=keeper),
    )
    rec(
        "controller.allocateToLayer.l3",
        lambda: controller.allocateToLayer(2, 450_000 * unit, sender=keeper),
    )
    rec(
        "controller.purchaseAsset.erc4626",
        lambda: controller.purchaseAsset(fund.assets["crA"], 10_000 * unit, 0, sender=keeper),
    )
    rec(
        "controller.purchaseAsset.async",
        lambda: controller.purchaseAsset(fund.assets["rwa"], 10_000 * unit, 0, sender=keeper),
    )
    rec(
        "controller.redeemAsset.erc4626",
        lambda: controller.redeemAsset(fund.assets["crA"], 5_000 * unit, 0, sender=keeper),
    )
    rec("controller.rebalance.out_of_band", lambda: controller.rebalance(False, sender=keeper))
    rec("controller.rebalance.noop_in_band", lambda: controller.rebalance(False, sender=keeper))
    rec("controller.rebalance.forced_in_band", lambda: controller.rebalance(True, sender=keeper))
    rec("vault.deposit.marked", lambda: vault.deposit(1000 * unit, bob, sender=bob))
    rec("controller.rebalanceBuffer", lambda: controller.rebalanceBuffer(sender=keeper))
    rec("controller.mark", lambda: controller.mark(sender=keeper))
    rec(
        "vault.requestRedeem",
        lambda: vault.requestRedeem(vault.balanceOf(alice) // 4, alice, alice, sender=alice),
    )
    rec(
        "controller.executeWaterfallLiquidation",
        lambda: controller.executeWaterfallLiquidation(400_000 * unit, 2, sender=keeper),
    )
    rec("vault.fulfilRedemptions.empty", lambda: vault.fulfilRedemptions(10, sender=keeper))
    rec(
        "vault.claimRedemption", lambda: vault.claimRedemption(1, alice, sender=alice)
    )  # ids from 1
    rec("controller.settle", lambda: controller.settle(fund.assets["rwa"], sender=keeper))
    rec("vault.setDepositsPaused", lambda: vault.setDepositsPaused(True, sender=guardian))
    rec("vault.setWithdrawalsPaused", lambda: vault.setWithdrawalsPaused(True, sender=guardian))
    rec("controller.setTiers", lambda: controller.setTiers(TIERS, sender=deployer))
    rec(
        "controller.setRiskParams",
        lambda: controller.setRiskParams((400, 300, 6000, 3600, 0), sender=guardian),
    )
    rec(
        "controller.setAssetLimits",
        lambda: controller.setAssetLimits(fund.assets["mmfA"], 10**30, 2400, sender=guardian),
    )
    feed = create_feed()
    rec(
        "controller.setFeed",
        lambda: controller.setFeed(fund.assets["mmfA"], feed, 3600, 1, 10**20, sender=deployer),
    )
    rec(
        "controller.setDefaultAsset",
        lambda: controller.setDefaultAsset(1, fund.assets["mmfB"], sender=gov),
    )
    token = deployer.deploy(project.TestMoneyMarketFund, usdt, "new", "NEW")
    rec(
        "controller.addAsset",
        lambda: controller.addAsset(
            (token, 1, adapters["erc4626"], feed, 3600, 1, 10**20, 10**30, 2500), sender=deployer
        ),
    )
    rec("controller.removeAsset", lambda: controller.removeAsset(token, sender=gov))
    fallback = create_feed()
    rec(
        "controller.setFallbackFeed",
        lambda: controller.setFallbackFeed(
            fund.assets["mmfB"], fallback, 3600, 1, 10**20, sender=deployer
        ),
    )
    rec(
        "controller.useFallbackFeed",
        lambda: controller.useFallbackFeed(fund.assets["mmfB"], sender=guardian),
    )
    rec("controller.setDustValue", lambda: controller.setDustValue(10 * unit, sender=deployer))
    rec("controller.pause", lambda: controller.pause(sender=guardian))
    rec("controller.unpause", lambda: controller.unpause(sender=gov))
    rec(
        "vault.redeemInKind",
        lambda: vault.redeemInKind(vault.balanceOf(bob) // 10, bob, bob, sender=bob),
    )
    # issue 14: rebalance(false) with nothing to do, whole transaction (intrinsic included)
    assert g[f"usdt{base_decimals}/controller.rebalance.noop_in_band"] < NO_OP_LIMIT
    check_snapshot("fund", g)


def test_deposit_gas__tiered_vault_vs_plain_erc4626__live_pricing_within_4x(
    project, deployer, alice, bob, usdt, fund, fund_usdt, keeper, unit
):
    """Was "within 1.3x" while deposits priced from the stored mark alone. Issue 11 finding 3:
    that price was arbitrageable, so every entry now also reads the live valuation (six held
    assets here) and is priced at max(mark, live): about 3.6x. This bounds the regression; the
    benchmark prints the full comparison."""
    plain = deployer.deploy(project.TestMoneyMarketFund, usdt, "plain", "PLAIN")
    usdt.approve(plain, 2**256 - 1, sender=alice)
    usdt.approve(plain, 2**256 - 1, sender=bob)
    plain.deposit(1_000_000 * unit, alice, sender=alice)
    fund.vault.deposit(1_000_000 * unit, alice, sender=alice)
    fund.controller.rebalance(True, sender=keeper)  # every asset holds a position, mark fresh
    ours = fund.vault.deposit(1000 * unit, bob, sender=bob).gas_used
    base = plain.deposit(1000 * unit, bob, sender=bob).gas_used
    assert ours <= base * 4, f"deposit {ours} vs plain {base}: {ours / base:.3f}x"


BOOKED_EFFORT = 3_000_000  # the recurring rebalancer's execution effort (profile default)
NO_OP_LIMIT = 30_000  # issues 14 and 45: rebalance(false) in band, fresh mark, whole transaction
# the forced rebalance at 16 assets (feeds unchanged since the mark): 1.5M after issue 45's gas
# work; the fourth review's fixes, which were to do no gas work on money paths, cost it 133,574
# (1,493,218 -> 1,626,792): each purchase leg asks the venue's own limit (investableNow, the
# cap an outsider can fill), each ERC-4626 deposit approves its exact amount (no standing
# maximum) and the snapshot reads each held position's accounted units (transfers in count
# nowhere). Still under three quarters of the booked effort (2.25M), asserted below. The fifth
# review's SEC5-03 sizes every deploy leg under the top-3 bound too (AssetController._top3Cut:
# the bound read and checked per leg, the three largest looked for only where it can bind):
# 1,640,459 -> 1,654,669 (+14,210) here, where the fixture's open limits never bind.
# Issue 68: the moves index the snapshot's copy of the asset list, a deploy leg finds its
# asset's slot once and the leg floor is read once per deploy (no configuration changes under
# a move: _notDuringMove): 1,658,105 -> 1,630,530. The goal, 1.5M, needs the batched pull
# (docs/development/performance.md). The fee book's fix (a donation a keeper move met was
# charged: the mark now hands the vault the cash the moves sent it, noteMark's `cashIn`, in
# place of the vault's MovesUnderWay probe): 1,630,559 -> 1,631,059 (+500). Its second part (a
# kept mark accrued in its own block counted a sale twice: the controller now says whether its
# mark was taken, noteMark's `valued`): 1,631,059 -> 1,631,206 (+147, fees off; the fees-on path
# loses the vault's call back to the controller's markedAt).
FORCED_16_LIMIT = 1_631_300


def _fund_with_assets(project, deployer, keeper, usdt, adapters, create_feed, n_l2, n_l3):
    venues = [Venue(tier=1)] * n_l2 + [Venue(tier=2)] * n_l3
    return erc4626_fund(project, deployer, keeper, usdt, adapters["erc4626"], create_feed, venues)


def test_gas_snapshot__4_6_and_16_assets__forced_16_under_1_631m_noop_under_30k(
    project, deployer, keeper, alice, usdt, adapters, create_feed, chain, base_decimals, unit
):
    """Issue 14: one valuation pass per external call, so a rebalance's cost grows about
    linearly with the assets. At 4, 6 and MAX_ASSETS (16) assets, every position held: an
    out-of-band rebalance (a large deposit left in L1), a forced one, and the no-op in band
    decided from the stored mark. The forced rebalance at 16 assets must fit the recurring
    rebalancer's booked effort with room to spare: under three quarters of it (it was two
    thirds until issue 29, whose mark lines cost every move two stored words per position and
    a warm feed read, +158k at 16 assets, so that every entry and exit can skip the positions:
    3.38x -> 1.73x a plain vault at 4 assets). The quarter left covers the 63/64 rule and a
    run with more legs than the fixture's. Issue 45: the forced rebalance at 16 assets at most
    1.5M (its feeds unchanged since the mark: new answers add the lines' contract, about 135k),
    1.65M since the fourth review's fixes, 1.66M since the fifth's, 1.631M since issue 68's
    cached list (FORCED_16_LIMIT),
    and the no-op under 30k at every size (one slot and the caller's role). Issue 54: at 16
    assets again with every asset under a valuation step bound (`16assets_bounded`: each price
    read loads the bound's slot, each mark moves the reference), on the unbounded pass's
    16-asset fund, the chain restored to right after its deployment: the state a second
    deployment had, but for addresses no measured call takes as calldata (every figure the
    same to the gas unit as with the second deployment, `UPDATE_GAS_SNAPSHOT=1` leaving
    tests/gas/fund.json unchanged), without deploying 16 venues and feeds twice."""
    g: dict[str, int] = {}
    deployed = None  # the chain right after the 16-asset fund's deployment
    for n_l2, n_l3, bounded in ((2, 2, False), (2, 4, False), (6, 10, False), (6, 10, True)):
        n = n_l2 + n_l3
        if bounded:  # the unbounded pass's fund, back as deployed
            chain.restore(deployed)
        else:
            f = _fund_with_assets(
                project, deployer, keeper, usdt, adapters, create_feed, n_l2, n_l3
            )
            deployed = chain.snapshot()
        assert f.controller.MAX_ASSETS() >= n
        for i in range(n if bounded else 0):
            f.controller.setPriceStepBound(f.assets[f"a{i}"], 500, 100, sender=deployer)
        size = f"{n}assets_bounded" if bounded else f"{n}assets"
        usdt.mint(alice, 10_000_000 * unit, sender=deployer)
        usdt.approve(f.vault, 2**256 - 1, sender=alice)
        f.vault.deposit(1_000_000 * unit, alice, sender=alice)
        f.controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
        f.controller.allocateToLayer(2, 600_000 * unit, sender=keeper)
        assert all(f.assets[f"a{i}"].balanceOf(f.controller) > 0 for i in range(n)), (
            "every position held"
        )
        f.vault.deposit(2_000_000 * unit, alice, sender=alice)  # L1 at 70%: out of band

        def rec(name, force, f=f, size=size):
            chain.pending_timestamp += 1
            tx = f.controller.rebalance(force, sender=keeper)
            g[f"usdt{base_decimals}/{size}/controller.rebalance.{name}"] = tx.gas_used

        rec("out_of_band", False)
        rec("noop_in_band", False)
        f.vault.deposit(200_000 * unit, alice, sender=alice)  # in band, but off target
        rec("forced", True)
        # issue 54: the exit that needs nobody, a tenth of the holder's shares, every position held
        chain.pending_timestamp += 1
        tx = f.vault.redeemInKind(f.vault.balanceOf(alice) // 10, alice, alice, sender=alice)
        g[f"usdt{base_decimals}/{n}assets/vault.redeemInKind"] = tx.gas_used
        # and an entry after it: the exit drops the mark's lines, so entries and exits are
        # priced by the live pass until the next mark (anyone's mark(), or the next move)
        chain.pending_timestamp += 1
        tx = f.vault.deposit(1000 * unit, alice, sender=alice)
        g[f"usdt{base_decimals}/{n}assets/vault.deposit.after_in_kind"] = tx.gas_used
    forced16 = g[f"usdt{base_decimals}/16assets/controller.rebalance.forced"]
    out16 = g[f"usdt{base_decimals}/16assets/controller.rebalance.out_of_band"]
    assert max(forced16, out16) < BOOKED_EFFORT * 3 // 4, (forced16, out16)
    assert forced16 <= FORCED_16_LIMIT, forced16
    for n in (4, 6, 16):
        noop = g[f"usdt{base_decimals}/{n}assets/controller.rebalance.noop_in_band"]
        assert noop < NO_OP_LIMIT, (n, noop)
    check_snapshot("fund", g)


ENTRY_EXIT_BOUND = 2.25  # default pricing: issue 45's 2.0 is out of its reach (see the docstring)
ENTRY_EXIT_BOUND_VOUCHED = 2.0  # issue 45's goal, with the feeds vouched for (setRoundsBumped)


ENTRY_EXIT_BOUND_FEES = (
    2.6  # issue 54: both fees on, vouched feeds (the fee slot, the mark and book, a mint)
)


@pytest.mark.parametrize(
    ("vouched", "fees"),
    [(False, False), (True, False), (True, True)],
    ids=["default", "vouched", "fees"],
)
def test_gas_snapshot__4_assets__entries_and_exits__next_to_plain_erc4626(
    project,
    deployer,
    keeper,
    alice,
    bob,
    usdt,
    adapters,
    create_feed,
    chain,
    base_decimals,
    unit,
    vouched,
    fees,
):
    """Issue 45: deposit, mint, withdraw and redeem at 4 held assets (2 in L2, 2 in L3), the
    mark standing, an existing holder; and the same four calls on a plain OpenZeppelin ERC4626
    over the same token, measured in the same run, so that a change on either side shows as a
    diff (tests/bench/test_fund_gas_bench.py prints the full table).

    `default`: no feed vouched for, so each held feed's latestRoundData() is read and its
    fingerprint compared with the mark's line. Bounded at ENTRY_EXIT_BOUND, not 2.0: the four
    reads alone (MockV3Aggregator: a cold account and four cold slots each, 11.6k) are 0.84x
    of a plain redeem, and what every entry must read besides (the controller's account, the
    mark and its lines' slot and contract, the vault's own two slots) leaves no way under 2.0x
    with a full read of every feed.
    `vouched`: the timelock vouched for the four feeds as bumping their round on every answer
    (`setRoundsBumped`, the deploy profile's `rounds_bumped`, for Chainlink aggregators such as
    this MockV3Aggregator), so one latestRound() per feed; held to issue 45's 2.0x.
    `fees`: vouched, and both fees on at their caps (issue 54): every call accrues (the
    management fee's time passes between calls, so each mints fee shares)."""
    f = _fund_with_assets(project, deployer, keeper, usdt, adapters, create_feed, 2, 2)
    plain = deployer.deploy(project.TestMoneyMarketFund, usdt, "plain", "PLAIN")
    for who in (alice, bob):
        usdt.mint(who, 10_000_000 * unit, sender=deployer)
        usdt.approve(f.vault, 2**256 - 1, sender=who)
        usdt.approve(plain, 2**256 - 1, sender=who)
    for v in (f.vault, plain):
        v.deposit(1_000_000 * unit, alice, sender=alice)
    if vouched:
        for t in f.assets.values():
            f.controller.setRoundsBumped(t, True, sender=deployer)  # the timelock (deployer here)
    # every block from here at a set time: with fees on, each call's fee (and so whether a
    # performance fee's rounding mints, and its gas) follows the time since the last accrual,
    # which the node's clock would otherwise decide
    t = chain.blocks.head.timestamp

    def at_next_second() -> None:
        nonlocal t
        t += 1
        chain.pending_timestamp = t

    if fees:
        at_next_second()
        f.vault.setFeeRecipient(deployer, sender=deployer)
        at_next_second()
        f.vault.setFees(200, 2000, sender=deployer)  # the caps, by the timelock (deployer here)
        # time passes before the mark, so it accrues and the recipient holds fee shares before
        # anything is measured (a first mint to an empty balance costs 17,100 more: without
        # this, whether the mark's block shared setFees' second decided the snapshot)
        t += 59
    at_next_second()
    f.controller.rebalance(True, sender=keeper)  # 90% invested, the mark (and its lines) fresh
    assert all(a.balanceOf(f.controller) > 0 for a in f.assets.values()), "every position held"
    for v in (f.vault, plain):
        at_next_second()
        v.deposit(1000 * unit, bob, sender=bob)  # bob an existing holder of both
    if fees:
        assert f.vault.balanceOf(deployer) > 0, "the recipient holds fee shares before the measure"
    assert f.controller.pricingValues() == f.controller.livePricingValues()
    g: dict[str, int] = {}
    ops = {
        "deposit": lambda v: v.deposit(1000 * unit, bob, sender=bob),
        "mint": lambda v: v.mint(v.convertToShares(1000 * unit), bob, sender=bob),
        "withdraw": lambda v: v.withdraw(500 * unit, bob, bob, sender=bob),
        "redeem": lambda v: v.redeem(v.balanceOf(bob) // 4, bob, bob, sender=bob),
    }
    ours_name = "vault_fees" if fees else "vault_vouched" if vouched else "vault"
    for op, send in ops.items():
        for name, v in ((ours_name, f.vault), ("oz4626", plain)):
            at_next_second()
            g[f"usdt{base_decimals}/4assets/{name}.{op}"] = send(v).gas_used
    bound = (
        ENTRY_EXIT_BOUND_FEES if fees else ENTRY_EXIT_BOUND_VOUCHED if vouched else ENTRY_EXIT_BOUND
    )
    for op in ops:
        ours = g[f"usdt{base_decimals}/4assets/{ours_name}.{op}"]
        base = g[f"usdt{base_decimals}/4assets/oz4626.{op}"]
        assert ours <= base * bound, (
            f"{op}: {ours} vs plain {base}, {ours / base:.3f}x (bound {bound})"
        )
    check_snapshot("fund", g)
