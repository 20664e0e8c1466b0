"""Benchmark: TieredVault deposit, mint, withdraw and redeem gas next to a plain OpenZeppelin ERC4626
deployed in the same run, with 3 tiers and 4 or 16 held assets, on a 6- and an 18-decimal base.

Entries are priced at the higher of the stored mark and the live valuation, exits at the lower
(the stale-mark fix). While no held feed has a new answer since the mark and no position moved
(each move marks), the live valuation is the mark, and the controller answers from it after one
latestRoundData() per held feed, whose five words' fingerprint it compares (`_standing`; issue
45: no round id trusted): the "mark stands" rows; after one latestRound() per held feed once
the timelock vouched for the feeds as bumping their round on every answer (`setRoundsBumped`):
the "feeds vouched" rows. A feed with a new round since
the mark has its position read live in place of its marked value; once every feed has one, that
is every position and round (the "live pass" rows, the cost until the next mark). Targets (issue 29): with the
mark standing, deposit and redeem at most 2.0x the plain vault with 4 assets, 3.0x with 16;
issue 45 asks the same 2.0x of deposit, mint, withdraw and redeem with the default pricing (the
"mark stands" rows, no feed vouched for). Each fingerprint check is one latestRoundData(): on
the MockV3Aggregator feeds here a cold account and four cold slots (11.6k), so the four feeds
alone cost 0.84x of a plain redeem. tests/gas/fund.json keeps the 4-asset figures of both vaults
(`usdt*/4assets/vault.*` and `oz4626.*`).

Run with `make bench`. Prints a table; not part of the pass/fail run."""

import pytest

from ballast_dev.deployment.fund import RiskSpec, add_asset, deploy_core, grant_roles

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("n_assets", [4, 16])
@pytest.mark.parametrize("decimals", [6, 18])
def test_bench__deposit_withdraw_gas__vs_plain_erc4626(
    project, accounts, chain, decimals, n_assets
):
    deployer, keeper, alice, bob = accounts[0], accounts[2], accounts[4], accounts[5]
    unit = 10**decimals
    usdt = deployer.deploy(project.TestStablecoin, "USDT", "USDT", decimals)
    plain = deployer.deploy(project.TestMoneyMarketFund, usdt, "plain", "PLAIN")
    f = deploy_core(project, deployer, usdt, risk=RiskSpec(max_top3_bps=10_000))
    grant_roles(f, deployer, keepers=[keeper], guardians=[], sender=deployer)
    erc = deployer.deploy(project.ERC4626Adapter)
    for k in range(n_assets):  # 3 tiers: half the assets in L2, half in L3
        sym = f"a{k}"
        tok = deployer.deploy(project.TestMoneyMarketFund, usdt, sym, sym)
        feed = deployer.deploy(project.TestPriceFeed, 8, 10**8)
        add_asset(
            f,
            deployer,
            symbol=sym,
            token=tok,
            tier=1 if k < n_assets // 2 else 2,
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

    def mint(v):  # the shares 1000 base units buy: the same amount as deposit()
        return v.mint(v.convertToShares(1000 * unit), bob, sender=bob)

    def withdraw(v):
        return v.withdraw(500 * unit, bob, bob, sender=bob)

    def redeem(v):
        return v.redeem(v.balanceOf(bob) // 4, bob, bob, sender=bob)

    both("first deposit (empty vault)", lambda v: v.deposit(1_000_000 * unit, alice, sender=alice))
    f.controller.rebalance(True, sender=keeper)  # invest 90%: every asset holds a position
    held = sum(1 for t in f.assets.values() if t.balanceOf(f.controller) > 0)
    assert held == n_assets, f"{held} of {n_assets} assets held: the bench would flatter us"
    both("deposit, new holder, mark stands", deposit)
    both("deposit, existing holder, mark stands", deposit)
    both("mint, existing holder, mark stands", mint)
    both("withdraw (from L1), mark stands", withdraw)
    both("redeem (from L1), mark stands", redeem)
    # issue 45: the rows above check each feed by a fingerprint of its latestRoundData() (no
    # round id trusted, the default); from here on every feed is vouched for as bumping its
    # round on every answer (the timelock's setRoundsBumped, as for Chainlink's aggregators),
    # checked by latestRound() alone
    for token in f.assets.values():
        f.controller.setRoundsBumped(token, True, sender=deployer)
    f.controller.mark(sender=deployer)
    both("deposit, mark stands, feeds vouched", deposit)
    both("mint, mark stands, feeds vouched", mint)
    both("withdraw, mark stands, feeds vouched", withdraw)
    both("redeem, mark stands, feeds vouched", redeem)
    chain.pending_timestamp += 3601  # older than navMaxAge, but no feed has a new round
    both("deposit, mark past navMaxAge, stands", deposit)
    next(iter(f.feeds.values())).updateAnswer(10**8, sender=deployer)  # one feed's new round
    assert f.controller.livePricingValues() == f.controller.pricingValues()
    both("deposit, one feed's new round", deposit)
    for feed in f.feeds.values():  # every feed reports again: a new round each
        feed.updateAnswer(10**8, sender=deployer)
    assert f.controller.livePricingValues() == f.controller.pricingValues()
    both("deposit, new rounds (live pass)", deposit)
    both("withdraw, new rounds (live pass)", withdraw)
    both("redeem, new rounds (live pass)", redeem)
    print(
        f"\nTieredVault vs plain OpenZeppelin ERC4626, {decimals}-decimal base, 3 tiers, "
        f"{n_assets} held assets"
    )
    print(f"{'operation':<40}{'TieredVault':>12}{'plain':>10}{'ratio':>8}")
    for label, ours, base, ratio in rows:
        print(f"{label:<40}{ours:>12,}{base:>10,}{ratio:>7.2f}x")
