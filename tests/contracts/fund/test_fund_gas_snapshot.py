"""Gas of every public state-changing function of the vault and the controller, per base
decimals, checked against tests/gas/fund.json (`make gas` rewrites it)."""

from gaslib import check_snapshot

TIERS = [(1000, 500, 2000), (3000, 2000, 4000), (6000, 5000, 7000)]


def test_gas_snapshot__vault_and_controller(
    fund, vault, controller, usdt, fund_usdt, alice, bob, keeper, guardian, gov, deployer, chain,
    base_decimals, unit, project, adapters, create_feed,
):  # fmt: skip
    g: dict[str, int] = {}

    def rec(name, tx):
        g[f"usdt{base_decimals}/{name}"] = tx.gas_used

    rec("vault.deposit.first", vault.deposit(1_000_000 * unit, alice, sender=alice))
    rec("vault.deposit.again", vault.deposit(1000 * unit, alice, sender=alice))
    rec("vault.mint", vault.mint(10**6 * unit, bob, sender=bob))
    rec("vault.withdraw", vault.withdraw(100 * unit, alice, alice, sender=alice))
    rec("vault.redeem", vault.redeem(10**6 * unit, alice, alice, sender=alice))
    rec("controller.allocateToLayer.l2", controller.allocateToLayer(1, 300_000 * unit, sender=keeper))
    rec("controller.allocateToLayer.l3", controller.allocateToLayer(2, 450_000 * unit, sender=keeper))
    rec("controller.purchaseAsset.erc4626", controller.purchaseAsset(fund.assets["crA"], 10_000 * unit, 0, sender=keeper))
    rec("controller.purchaseAsset.async", controller.purchaseAsset(fund.assets["rwa"], 10_000 * unit, 0, sender=keeper))
    rec("controller.redeemAsset.erc4626", controller.redeemAsset(fund.assets["crA"], 5_000 * unit, 0, sender=keeper))
    rec("controller.rebalance.out_of_band", controller.rebalance(False, sender=keeper))
    rec("controller.rebalance.noop_in_band", controller.rebalance(False, sender=keeper))
    rec("controller.rebalance.forced_in_band", controller.rebalance(True, sender=keeper))
    rec("vault.deposit.marked", vault.deposit(1000 * unit, bob, sender=bob))
    rec("controller.rebalanceBuffer", controller.rebalanceBuffer(sender=keeper))
    rec("controller.mark", controller.mark(sender=keeper))
    rec("vault.requestRedeem", vault.requestRedeem(vault.balanceOf(alice) // 4, alice, alice, sender=alice))
    rec("controller.executeWaterfallLiquidation", controller.executeWaterfallLiquidation(400_000 * unit, 2, sender=keeper))
    rec("vault.fulfilRedemptions.empty", vault.fulfilRedemptions(10, sender=keeper))
    rec("vault.claimRedemption", vault.claimRedemption(0, sender=alice))
    rec("controller.settle", controller.settle(fund.assets["rwa"], sender=keeper))
    rec("vault.setDepositsPaused", vault.setDepositsPaused(True, sender=guardian))
    rec("vault.setWithdrawalsPaused", vault.setWithdrawalsPaused(True, sender=guardian))
    rec("controller.setTiers", controller.setTiers(TIERS, sender=deployer))
    rec("controller.setRiskParams", controller.setRiskParams((400, 300, 6000, 3600, 0), sender=guardian))
    rec("controller.setAssetLimits", controller.setAssetLimits(fund.assets["mmfA"], 10**30, 2400, sender=guardian))
    feed = create_feed()
    rec("controller.setFeed", controller.setFeed(fund.assets["mmfA"], feed, 3600, 1, 10**20, sender=deployer))
    rec("controller.setDefaultAsset", controller.setDefaultAsset(1, fund.assets["mmfB"], sender=gov))
    token = deployer.deploy(project.TestMoneyMarketFund, usdt, "new", "NEW")
    rec(
        "controller.addAsset",
        controller.addAsset((token, 1, adapters["erc4626"], feed, 3600, 1, 10**20, 10**30, 2500), sender=deployer),
    )
    rec("controller.removeAsset", controller.removeAsset(token, sender=gov))
    rec("controller.pause", controller.pause(sender=guardian))
    rec("controller.unpause", controller.unpause(sender=gov))
    check_snapshot("fund", g)


def test_deposit_gas__tiered_vault_vs_plain_erc4626__within_1_3x(project, deployer, alice, bob, usdt, fund, fund_usdt, keeper, unit):
    """Issue target: deposit at most 1.3x a plain OpenZeppelin ERC4626 with 3 tiers and 4
    assets registered (this fixture has 6, all invested). Gas is deterministic on anvil, so this
    is a pass/fail check; the benchmark prints the full comparison."""
    plain = deployer.deploy(project.TestMoneyMarketFund, usdt, "plain", "PLAIN")
    usdt.approve(plain, 2**256 - 1, sender=alice)
    usdt.approve(plain, 2**256 - 1, sender=bob)
    plain.deposit(1_000_000 * unit, alice, sender=alice)
    fund.vault.deposit(1_000_000 * unit, alice, sender=alice)
    fund.controller.rebalance(True, sender=keeper)  # every asset holds a position, mark fresh
    ours = fund.vault.deposit(1000 * unit, bob, sender=bob).gas_used
    base = plain.deposit(1000 * unit, bob, sender=bob).gas_used
    assert ours <= base * 13 // 10, f"deposit {ours} vs plain {base}: {ours / base:.3f}x"
