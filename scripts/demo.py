"""`make demo`: the fund on a local anvil chain that ape-foundry starts itself.

Part 1 deploys the local profile (real Uniswap V3 pools, test feeds and funds), takes deposits,
invests to target, lets the tiers drift out of band (a price drop through the feed and a real
pool trade, then a large deposit), and has the keeper account call
AssetController.rebalance(true); it prints the tiers before and after. Part 2 is a simulated
month with the keepers running (ballast_dev/demo/run.py); it ends with a report and one VERDICT
line (every tier in band; the kill scene killed and recovered), the same verdict the month
test (tests/offchain/demo) asserts.
"""

import sys
import time
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from ballast_dev.deployment.fund import fund_state
from ballast_dev.deployment.profile import deploy_profile, load_profile, write_addresses
from ballast_dev.deployment.tables import render_before_after
from ballast_dev.local.anvil_local import (
    forget_exited_ape_nodes,
    keep_ape_anvil_off_disk,
    retry_ape_anvil_on_a_taken_port,
)

# The demo's fund: the admin is the Safe of alice, bob and carol (2 of 3) behind the timelock,
# and the PlanExecutor stands in front of the controller: the fund keeper sends every action
# through it, and plans above its threshold run only with 2 of the 3 owners' signatures.
DEFAULT_PROFILE = "scripts/profiles/local-safe.yaml"

# the demo's local chain keeps no old state on disk (ballast_dev/local/anvil_local.py)
keep_ape_anvil_off_disk()
retry_ape_anvil_on_a_taken_port()
forget_exited_ape_nodes()  # ape's list of its nodes: only running ones (anvil_local.py)


def demo_profile(path: str):
    """The profile the demo deploys (kept as a function: the demo test deploys the same)."""
    return load_profile(path)


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--profile", "profile_path", default=DEFAULT_PROFILE, show_default=True)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 90))
@click.option(
    "--console/--no-console",
    default=True,
    show_default=True,
    help="serve the web console (keeper console) on a free loopback port during the month",
)
@click.option(
    "--hold",
    is_flag=True,
    help="after the month, keep the chain and the console up until Ctrl-C",
)
def cli(network, profile_path, days, console, hold):
    from ape import accounts
    from ape.logging import logger

    from ballast_dev.demo.run import prologue

    logger.set_level("WARNING")  # the demo prints its own progress
    t0 = time.monotonic()
    acct = accounts.test_accounts
    profile = demo_profile(profile_path)
    admin = "a Safe, 2 of 3" if profile.admin_safe is not None else "an account"
    click.echo(
        f"[{time.monotonic() - t0:5.1f}s] deploying {profile_path} ({len(profile.assets)} "
        f"assets; admin {admin})"
    )
    fund = deploy_profile(profile, acct[0], accounts, log=lambda *_: None)
    path = write_addresses(fund, "ethereum-local-demo")
    click.echo(f"[{time.monotonic() - t0:5.1f}s] deployed; addresses in {path}")
    before, after, gas = prologue(fund, acct, click.echo)
    click.echo(
        f"[{time.monotonic() - t0:5.1f}s] keeper called AssetController.rebalance(true): gas {gas:,}\n"
    )
    click.echo(render_before_after(before, after))

    from ballast_dev.demo.charts import lag_chart, tier_ratio_chart
    from ballast_dev.demo.run import fees_report, holders_report, run, summary, verdict

    out = Path("reports") / time.strftime("demo-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    click.echo(
        f"\n[{time.monotonic() - t0:5.1f}s] a simulated month with the keepers running (files in {out})"
    )
    start = fund_state(fund)
    from ballast_dev.demo.console import start_console, stop_console

    served = []
    try:
        ledger = run(
            fund,
            accounts.test_accounts,
            out,
            days,
            click.echo,
            console=(lambda env: served.append(start_console(env, click.echo)))
            if console
            else None,
        )
    except BaseException:
        for proc in served:
            stop_console(proc)
        raise
    end = fund_state(fund)
    click.echo("\n".join(ledger.log))
    if ledger.alerts:
        click.echo("\nalerts raised by the keepers:")
        click.echo("\n".join("  " + a for a in ledger.alerts[:12]))
    click.echo("")
    click.echo(summary(ledger, out / "fund-keeper.db", start, end))
    click.echo(fees_report(fund)[1])
    click.echo(holders_report(fund)[1])
    from ballast_dev.demo.horizon import horizon_report

    click.echo(horizon_report(fund)[1])
    bands = [(int(t.targetBps), int(t.minBps), int(t.maxBps)) for t in end.tiers]
    c1 = tier_ratio_chart(out / "tier-ratios.png", ledger.days, ledger.ratios, bands, ledger.events)
    c2 = lag_chart(
        out / "scheduled-run-lag.png", [d for d, _ in ledger.lags], [s for _, s in ledger.lags], 1
    )
    click.echo(f"\ncharts: {c1}  {c2}")
    click.echo(f"\ndemo finished in {time.monotonic() - t0:.1f}s")
    ok, line = verdict(ledger, out / "fund-keeper.db", end)
    click.echo(line)
    if hold and served and served[0] is not None:
        click.echo("the chain and the web console stay up: Ctrl-C to stop")
        try:
            while served[0].poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    for proc in served:
        stop_console(proc)
    if not ok:
        sys.exit(1)
