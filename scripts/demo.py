"""`make demo`: the fund on a local anvil chain that ape-foundry starts itself.

Deploys the local profile (real Uniswap V3 pools, test feeds and funds), takes deposits,
invests to target, lets the tiers drift out of band (a price drop through the feed and a real
pool trade, then a large deposit), and has the keeper account call
AssetController.rebalance(true). Prints the tiers before and after.
"""

import time
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from keepers.deployment.fund import fund_state
from keepers.deployment.profile import deploy_profile, load_profile, write_addresses
from keepers.deployment.tables import fmt_bps, render_before_after
from keepers.deployment.uniswap import UniswapV3, arbitrage_to_oracle


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--profile", "profile_path", default="scripts/profiles/local.yaml", show_default=True)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 90))
def cli(network, profile_path, days):
    from ape import accounts
    from ape.logging import logger

    logger.set_level("WARNING")  # the demo prints its own progress
    t0 = time.monotonic()
    acct = accounts.test_accounts
    deployer, keeper = acct[0], acct[2]
    investors = [acct[4], acct[5], acct[6]]
    profile = load_profile(profile_path)
    click.echo(
        f"[{time.monotonic() - t0:5.1f}s] deploying the local profile ({len(profile.assets)} assets)"
    )
    fund = deploy_profile(profile, deployer, accounts, log=lambda *_: None)
    path = write_addresses(fund, "ethereum-local-demo")
    click.echo(f"[{time.monotonic() - t0:5.1f}s] deployed; addresses in {path}")
    unit = 10 ** int(fund.cash.decimals())
    v, c = fund.vault, fund.controller

    for who, amount in zip(investors, (2_000_000, 1_500_000, 1_000_000), strict=True):
        fund.cash.mint(who, 10_000_000 * unit, sender=deployer)
        fund.cash.approve(v, 2**256 - 1, sender=who)
        v.deposit(amount * unit, who, sender=who)
    click.echo(
        f"[{time.monotonic() - t0:5.1f}s] deposits: 4,500,000 USDT from 3 investors, all in L1"
    )
    c.rebalance(True, sender=keeper)
    click.echo(f"[{time.monotonic() - t0:5.1f}s] keeper invested to target: {_ratios(fund)}")
    dex_assets = [a.symbol for a in profile.assets if a.kind == "uniswap"]
    uni = UniswapV3(
        fund.adapters["uniswap_factory"], fund.adapters["uniswap_router"], None, None, None
    )

    market = acct[7]  # an arbitrageur keeping the pools at the oracle price
    for sym in dex_assets:
        fund.assets[sym].mint(market, 10**9 * 10**18, sender=deployer)
    fund.cash.mint(market, 10**12 * unit, sender=deployer)
    arbitrage_to_oracle(fund, uni, dex_assets, market)

    # Drift 1: TBILL-A falls 12%: the feed reports it and the market trades the pool down too.
    sym = "TBILL-A"
    feed = fund.feeds[sym]
    feed.updateAnswer(feed.latestAnswer() * 88 // 100, sender=deployer)
    arbitrage_to_oracle(fund, uni, dex_assets, market)
    # Drift 2: a 3,000,000 USDT deposit lands in L1.
    v.deposit(3_000_000 * unit, investors[0], sender=investors[0])
    c.mark(sender=keeper)
    before = fund_state(fund)
    click.echo(
        f"[{time.monotonic() - t0:5.1f}s] drift: {sym} -12% and a 3,000,000 USDT deposit: {_ratios(fund)}"
    )

    tx = c.rebalance(True, sender=keeper)
    after = fund_state(fund)
    click.echo(
        f"[{time.monotonic() - t0:5.1f}s] keeper called AssetController.rebalance(true): gas {tx.gas_used:,}\n"
    )
    click.echo(render_before_after(before, after))

    from keepers.demo.charts import lag_chart, tier_ratio_chart
    from keepers.demo.run import run, summary

    out = Path("reports") / time.strftime("demo-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    click.echo(
        f"\n[{time.monotonic() - t0:5.1f}s] a simulated month with the keepers running (files in {out})"
    )
    start = fund_state(fund)
    ledger = run(fund, accounts.test_accounts, out, days, click.echo)
    end = fund_state(fund)
    click.echo("\n".join(ledger.log))
    if ledger.alerts:
        click.echo("\nalerts raised by the keepers:")
        click.echo("\n".join("  " + a for a in ledger.alerts[:12]))
    click.echo("")
    click.echo(summary(ledger, out / "fund-keeper.db", start, end))
    bands = [(int(t.targetBps), int(t.minBps), int(t.maxBps)) for t in end.tiers]
    c1 = tier_ratio_chart(out / "tier-ratios.png", ledger.days, ledger.ratios, bands, ledger.events)
    c2 = lag_chart(
        out / "scheduled-run-lag.png", [d for d, _ in ledger.lags], [s for _, s in ledger.lags], 1
    )
    click.echo(f"\ncharts: {c1}  {c2}")
    click.echo(f"\ndemo finished in {time.monotonic() - t0:.1f}s")


def _ratios(fund):
    s = fund_state(fund)
    return " / ".join(f"L{i + 1} {fmt_bps(r)}" for i, r in enumerate(s.tierRatioBps))
