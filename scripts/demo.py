"""`make demo`: the fund on a local anvil chain that ape-foundry starts itself.

Deploys the local profile (real Uniswap V3 pools, test feeds and funds), takes deposits,
invests to target, lets the tiers drift out of band (a price drop through the feed and a real
pool trade, then a large deposit), and has the keeper account call
AssetController.rebalance(true). Prints the tiers before and after.
"""

import time

import click
from ape.cli import ConnectedProviderCommand, network_option

from keepers.deployment.fund import fund_state
from keepers.deployment.profile import deploy_profile, load_profile, write_addresses
from keepers.deployment.tables import fmt_amount, fmt_bps, render_before_after
from keepers.deployment.uniswap import UniswapV3, arbitrage_to_price


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--profile", "profile_path", default="scripts/profiles/local.yaml", show_default=True)
def cli(network, profile_path):
    from ape import accounts
    from ape.logging import logger

    logger.set_level("WARNING")  # the demo prints its own progress
    t0 = time.monotonic()
    acct = accounts.test_accounts
    deployer, admin, keeper = acct[0], acct[1], acct[2]
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
    arbitrage(fund, uni, dex_assets, market, unit)

    # Drift 1: TBILL-A falls 12%: the feed reports it and the market trades the pool down too.
    sym = "TBILL-A"
    feed = fund.feeds[sym]
    feed.updateAnswer(feed.latestAnswer() * 88 // 100, sender=deployer)
    arbitrage(fund, uni, dex_assets, market, unit)
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
    if fund.automation:
        automation_scene(fund, deployer, admin, keeper, dex_assets, uni, market, unit, t0)
    click.echo(f"\ndemo finished in {time.monotonic() - t0:.1f}s")


def execute_due(scheduler, keeper):
    """What the executor keeper does: execute every due run in one batch, paid the fees."""
    due = list(scheduler.nextDueRuns(50))
    if not due:
        return 0, []
    tx = scheduler.executeBatch(due, sender=keeper)
    return len(due), tx


def automation_scene(fund, deployer, admin, keeper, dex_assets, uni, market, unit, t0):
    from ape import chain

    a = fund.automation
    sched, funder, sup, reb = a["scheduler"], a["tx_funder"], a["supervisor"], a["fund_rebalancer"]
    click.echo(
        "\nRecurring rebalancer on the fund (booked on RebalanceScheduler, paid by TxFunder)"
    )
    click.echo(f"{'day':>4}  {'funder ETH':>10}  {'L1 / L2 / L3':<35}{'what happened'}")

    def row(day, what):
        bal = fmt_amount(chain.provider.get_balance(funder.address), 18, 4)
        click.echo(f"{day:>4}  {bal:>10}  {_ratios(fund):<35}{what}")

    prices = {"TBILL-B": [100, 96, 103, 94, 100, 97, 92, 99]}
    for day in range(1, 9):
        chain.pending_timestamp += 86_400
        for feed in fund.feeds.values():
            feed.updateAnswer(feed.latestAnswer(), sender=deployer)
        # the market: TBILL-B wanders; arbitrage keeps its pool at the oracle
        move = prices["TBILL-B"][day - 1]
        f = fund.feeds["TBILL-B"]
        f.updateAnswer(50 * 10**8 * move // 100, sender=deployer)
        arbitrage(fund, uni, dex_assets, market, unit)
        n, tx = execute_due(sched, keeper)
        events = []
        if n:
            for e in tx.events:
                if e.event_name == "Rebalanced" and e.contract_address == reb.address:
                    events.append("rebalanced" if e.moved else "in band, no-op")
                if e.event_name == "FailedRecurringSchedule":
                    who = "rebalancer" if e.contract_address == reb.address else "supervisor"
                    events.append(f"{who}: FailedRecurringSchedule")
                if e.event_name == "Ticked":  # one word per item: (id << 8) | outcome
                    ids = [int(w) >> 8 for w in e.outcomes]
                    events.append("supervisor checked " + ", ".join(f"#{i}" for i in ids))
        booked = reb.bookedRun()[0] != 0
        row(
            day,
            f"executed {n} due run(s): "
            + (", ".join(events) or "-")
            + ("" if booked else "  [NOTHING BOOKED]"),
        )
        if day == 6:
            funder.refund(value=10**17, sender=admin)  # a deposit: anyone may fund
            row(day, "funder refilled with 0.1 ETH")
            sup.fixReschedule(sender=keeper)  # permissionless: books the supervisor again
            sup.tick(10, sender=keeper)  # permissionless tick: fixReschedule on each item
            booked = reb.bookedRun()[0] != 0
            row(day, f"supervisor fixReschedule + tick: rebalancer booked again = {booked}")
    click.echo(f"[{time.monotonic() - t0:5.1f}s] automation scene done")


def arbitrage(fund, uni, symbols, market, unit):
    """Trade every DEX pool back to its oracle price (what arbitrageurs do on a real chain)."""
    for sym in symbols:
        answer = int(fund.feeds[sym].latestAnswer())  # 8 decimals
        price = (answer * unit // 10**8, 10**18)
        fee = int(fund.adapters["uniswap"].poolFee(fund.assets[sym]))
        arbitrage_to_price(uni, fund.assets[sym], fund.cash, fee, price, market)


def _ratios(fund):
    s = fund_state(fund)
    return " / ".join(f"L{i + 1} {fmt_bps(r)}" for i, r in enumerate(s.tierRatioBps))
