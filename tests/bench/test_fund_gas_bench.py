"""Benchmark: TieredVault deposit and withdraw gas next to a plain OpenZeppelin ERC4626 deployed
in the same run (3 tiers and 4 assets registered). Since issue 11 every entry and exit reads
the live valuation (priced at the worse of mark and live), so fresh and stale marks cost alike.

Run with `make bench`. Prints a table; not part of the pass/fail run."""

import pytest

from ballast_dev.deployment.fund import RiskSpec, add_asset, deploy_core, grant_roles

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("decimals", [6, 18])
def test_bench__deposit_withdraw_gas__vs_plain_erc4626(project, accounts, decimals):
    deployer, keeper, alice, bob = accounts[0], accounts[2], accounts[4], accounts[5]
    unit = 10**decimals
    usdt = deployer.deploy(project.TestStablecoin, "USDT", "USDT", decimals)
    plain = deployer.deploy(project.TestMoneyMarketFund, usdt, "plain", "PLAIN")
    f = deploy_core(project, deployer, usdt, risk=RiskSpec(max_top3_bps=10_000))
    grant_roles(f, deployer, keepers=[keeper], guardians=[], sender=deployer)
    erc = deployer.deploy(project.ERC4626Adapter)
    for sym, tier in (("m1", 1), ("m2", 1), ("c1", 2), ("c2", 2)):  # 3 tiers, 4 assets
        tok = deployer.deploy(project.TestMoneyMarketFund, usdt, sym, sym)
        feed = deployer.deploy(project.TestPriceFeed, 8, 10**8)
        add_asset(
            f,
            deployer,
            symbol=sym,
            token=tok,
            tier=tier,
            adapter=erc,
            feed=feed,
            max_concentration_bps=10_000,
        )
    for who in (alice, bob):
        usdt.mint(who, 10**9 * unit, sender=deployer)
        usdt.approve(plain, 2**256 - 1, sender=who)
        usdt.approve(f.vault, 2**256 - 1, sender=who)
    rows = []

    def both(label, op):
        """`op` on our vault, then on the plain one (same ERC-4626 calls): gas of each."""
        ours, base = op(f.vault).gas_used, op(plain).gas_used
        rows.append((label, ours, base, ours / base))

    def deposit(v):
        return v.deposit(1000 * unit, bob, sender=bob)

    def withdraw(v):
        return v.withdraw(500 * unit, bob, bob, sender=bob)

    def redeem(v):
        return v.redeem(v.balanceOf(bob) // 4, bob, bob, sender=bob)

    both("first deposit (empty vault)", lambda v: v.deposit(1_000_000 * unit, alice, sender=alice))
    f.controller.rebalance(True, sender=keeper)  # invest 90%: every asset holds a position
    both("deposit, new holder, fresh mark", deposit)
    both("deposit, existing holder", deposit)
    both("withdraw (from L1)", withdraw)
    both("redeem (from L1)", redeem)
    from ape import chain

    chain.pending_timestamp += 3601  # the mark is older than navMaxAge: live valuation
    for feed in f.feeds.values():
        feed.updateAnswer(10**8, sender=deployer)
    both("deposit, stale mark (live oracle pass)", deposit)
    both("withdraw, stale mark", withdraw)
    both("redeem, stale mark", redeem)
    print(
        f"\nTieredVault vs plain OpenZeppelin ERC4626, {decimals}-decimal base, 3 tiers, 4 assets"
    )
    print(f"{'operation':<40}{'TieredVault':>12}{'plain':>10}{'ratio':>8}")
    for label, ours, base, ratio in rows:
        print(f"{label:<40}{ours:>12,}{base:>10,}{ratio:>7.2f}x")
