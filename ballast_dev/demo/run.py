"""`make demo`: a simulated month of the whole system on the project's own anvil chain.

The keepers run as they would in production (web3, the durable pipeline, their own SQLite
stores) and are ticked with the simulated time, so the month takes minutes:

- the fund keeper (seed 001): event, liquidity, threshold, daily and weekly checks; plans above
  the approval thresholds wait for the demo's admins (alice, bob, carol), who approve them;
- the scheduler executor: executes the recurring rebalancer's and the supervisor's due runs;
- the supervisor keeper: recovers a stuck rebalancer at once and alerts on low runway.

The market is scripted: deposits and redemption requests, price moves reported by the feeds and
traded into the real Uniswap V3 pools by an arbitrageur, the automation funder running dry and
being refilled, and the fund keeper process SIGKILLed in the middle of a plan and restarted.

Everything the keepers see comes from the chain; amounts are integers in base units.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ballast_dev.demo.prologue import prologue
from ballast_dev.demo.report import fees_report, holders_report, summary, verdict
from ballast_dev.demo.world import ADMINS, DAY, ROOT, Demo, Ledger, owners_answer
from ballast_dev.deployment.fund import FundDeployment
from ballast_dev.deployment.tables import fmt_bps
from keepers.core.amounts import format_amount


def run(
    fund: FundDeployment,
    accounts: Any,
    out: Path,
    days: int,
    echo: Any,
    console: Callable[[dict[str, str]], Any] | None = None,
) -> Ledger:
    """The demo's month: `month_script`'s scenes over `days` simulated days. ``console``, when
    given, is called with the fund keeper's environment before the month starts (scripts/demo.py
    starts the web console with it)."""
    from keepers.core.logging import configure_logging

    configure_logging(False, "ERROR")  # the demo prints its own story
    d = Demo(fund, accounts, out, echo)
    if console is not None:
        console(d.fund_env)
    return play(d, days, month_script(d, days))


def play(d: Demo, days: int, script: dict[int, list[tuple[str, Any]]]) -> Ledger:
    """Deposits of 4,500,000 from three investors, the keepers started, then one simulated
    day at a time: the runs due overnight, the day's scenes (price moves in %, callables, or
    "kill"), the fund keeper's checks and carried slices, redemptions paid, the runs due by
    the evening and the desk's mark. Returns the ledger, the keepers stopped. The keepers'
    stores and the local relay are stopped (``Demo.close``) whether the month ends or raises,
    the fork server too after a month that raised."""
    try:
        ledger = _play(d, days, script)
    except BaseException:
        d.close(raised=True)
        raise
    d.close()
    return ledger


def _play(d: Demo, days: int, script: dict[int, list[tuple[str, Any]]]) -> Ledger:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    fund = d.fund
    v = fund.vault
    for i, amount in enumerate((2_000_000, 1_500_000, 1_000_000)):
        inv = d.investors[i]
        fund.cash.mint(inv, 50_000_000 * d.unit, sender=d.deployer)
        fund.cash.approve(v, 2**256 - 1, sender=inv)
        d.deposit(i, amount)
    for sym in d.dex:
        fund.assets[sym].mint(d.market, 10**9 * 10**18, sender=d.deployer)
    fund.cash.mint(d.market, 10**12 * d.unit, sender=d.deployer)
    d.start_keepers()
    d.note("deposits: 4,500,000 USDT in L1")
    d.record()

    with Progress(
        TextColumn("[bold]simulated month[/bold]"), BarColumn(), TextColumn("day {task.completed:>2}/{task.total}"),
        TextColumn("{task.description}"), TimeElapsedColumn(), transient=False,
    ) as progress:  # fmt: skip
        task = progress.add_task("", total=days)
        for day in range(1, days + 1):
            start = d.t0 + day * DAY
            d.run_scheduled(start)  # runs falling due overnight execute on time
            now = d.warp_to(start + 60)
            moves: dict[str, int] = {}
            actions = script.get(day, [])
            for _text, act in actions:
                if isinstance(act, dict):
                    moves.update(act)
            d.report_prices(moves)
            for text, act in actions:
                if callable(act):
                    said = act()
                    if isinstance(said, str) and said:
                        text = f"{text}: {said}"
                if act == "kill":
                    text = text + ": " + d.kill_keeper_mid_plan(now, 2_500_000)
                d.note(text)
                progress.update(task, description=text[:60])
            if actions:
                d.record()  # the drift, before the keepers answer it
            now = max(now, d.now())  # a scene may have moved the clock (the hostile month's)
            monday = (start // DAY + 4) % 7 == 0  # 1970-01-01 was a Thursday
            jobs = ["liquidity", "threshold", "daily"] + (["weekly"] if monday else [])
            d.fund_checks(now, jobs)
            d.carry_slices(now)
            paid = d.settle_redemptions()
            if paid:
                d.note(
                    f"redemptions paid: {format_amount(paid, 18 if d.unit == 10**18 else 6, places=0, rounding='half_up')}"
                )
            d.run_scheduled(start + DAY - 120)
            d.mark_nav()
            d.record()
            progress.update(task, advance=1)
    from keepers.automation.executor import executed_records

    for r in executed_records(d.executor.store):
        d.ledger.lags.append(((int(r["executed_at"]) - d.t0) / DAY, int(r["lag_s"])))
    d.ledger.keeper_gas_wei = d.keeper_balance0 - int(
        d.chain.provider.get_balance(d.keeper.address)
    )
    return d.ledger


def month_script(d: Demo, days: int) -> dict[int, list[tuple[str, Any]]]:
    """The month's scenes on days 1-26 of 30; a shorter run (``days`` < 30, the month test)
    keeps them in the same order on a compressed clock (day x -> x * days / 30, at least 1)."""
    scenes: list[tuple[int, str, Any]] = [
        (1, "fund keeper deploys the new cash (liquidity trigger)", None),
        (3, "large deposit: 3,000,000 (event trigger)", lambda: d.deposit(0, 3_000_000)),
        (6, "redemption requests: 1,200,000", lambda: d.request_redeem(1, 1_200_000)),
        (9, "price shock: TBILL-A -12%", {"TBILL-A": -12}),
        (13, "funder drained by its owner", lambda: _drain(d)),
        (16, "funder refilled: 0.5 ETH", lambda: _refill(d)),
        (20, "large deposit 2,500,000, keeper killed mid-plan", "kill"),
        (23, "TBILL-B +8%", {"TBILL-B": 8}),
        (26, "redemption requests: 800,000", lambda: d.request_redeem(2, 800_000)),
    ]
    script: dict[int, list[tuple[str, Any]]] = {}
    for day, text, act in scenes:
        at = day if days >= 30 else max(1, day * days // 30)
        script.setdefault(at, []).append((text, act))
    return script


def _drain(d: Demo) -> None:
    funder = d.fund.automation["tx_funder"]
    bal = d.chain.provider.get_balance(funder.address)
    d.admin_call(funder.withdraw, d.desk_account.address, bal)


def _refill(d: Demo) -> None:
    d.fund.automation["tx_funder"].refund(value=5 * 10**17, sender=d.desk_account)


# where the demo's parts lived before they had modules of their own (scripts/demo.py, the hostile
# and chaos months and the tests import them from here)
__all__ = [
    "ADMINS",
    "DAY",
    "ROOT",
    "Demo",
    "Ledger",
    "fees_report",
    "fmt_bps",
    "holders_report",
    "month_script",
    "owners_answer",
    "play",
    "prologue",
    "run",
    "summary",
    "verdict",
]
