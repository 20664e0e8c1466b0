"""The demo's month on a compressed clock (the same scripted scenes, in the same order, over
20 simulated days: short enough for `make test`, long enough that TBILL-A's pool leaves its
liquidity range before the 2.5M deposit, which left the old keeper blocked with L1 at 20.06%
for the rest of the month), asserting how it ends: every tier in band, no plan blocked on two
consecutive cycles, and the kill scene exercised (SIGKILL with a transaction in flight, the
restart finishing with one transaction per action). `make demo` prints the same verdict."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from ballast_dev.demo.horizon import horizon_report
from ballast_dev.demo.report import pool_trade_routes
from ballast_dev.demo.run import fees_report, holders_report, prologue, run, verdict
from ballast_dev.deployment.fund import fund_state
from ballast_dev.deployment.profile import deploy_profile
from scripts.demo import DEFAULT_PROFILE, demo_profile

ROOT = Path(__file__).resolve().parents[3]
DAYS = 20


def test_demo_month__compressed_scenes__ends_in_band_and_kill_recovered(
    accounts: Any, chain: Any, tmp_path: Path
) -> None:
    started = time.perf_counter()
    snap = chain.snapshot()
    try:
        profile = demo_profile(str(ROOT / DEFAULT_PROFILE))  # what `make demo` deploys
        fund = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
        prologue(fund, accounts, lambda *_: None)
        ledger = run(fund, accounts, tmp_path, DAYS, lambda *_: None)
        end = fund_state(fund)
        ok, line = verdict(ledger, tmp_path / "fund-keeper.db", end)
        fees, fees_line = fees_report(fund)
        exit_now, holders_lines = holders_report(fund)
        in_kind_expected = fund.vault.previewRedeemInKind(exit_now["shares"])
        horizon, horizon_lines = horizon_report(fund)
        lens = fund.lens.exitHorizon(fund.controller.address)
    finally:
        chain.restore(snap)
    print(
        f"\n{line}\n{fees_line}\n{holders_lines}\n{horizon_lines}\nmonth of {DAYS} days in {time.perf_counter() - started:.1f}s"
    )
    # fees on (1% a year, 10% above the high-water mark): the month minted the recipient shares
    assert fees["management_bps"] == 100 and fees["performance_bps"] == 1_000
    assert fees["shares"] > 0 and fees["accrued"] > 0, fees_line
    assert fees["hwm"] > 0, fees_line
    # paid to date (issue 67): the month's FeesAccrued, at least what the recipient holds
    assert fees["minted_shares"] >= fees["shares"] > 0 and fees["accruals"] > 0, fees_line
    assert "paid to date" in fees_line and f"{fees['minted_shares']:,} shares" in fees_line
    # the in-kind exit now, as the vault previews it, and the holds line
    assert exit_now["cash"] == in_kind_expected[0] and exit_now["shares"] > 0
    assert [a for _, a in exit_now["legs"]] == list(in_kind_expected[2])
    assert holders_lines.startswith("in-kind exit of 1% of the supply")
    assert "valuation holds: none" in holders_lines or "valuation held:" in holders_lines
    # the exit horizon (issue 67): the keeper's view, the chain's part as the lens states it
    assert horizon is not None and "error" not in horizon, horizon_lines
    totals = [int(x) for x in horizon["total"]]
    assert totals == sorted(totals) and totals[0] > 0
    pools = [int(x) for x in horizon["pools"]]
    assert [t - p for t, p in zip(totals, pools, strict=True)] == list(lens.total)
    assert horizon_lines.startswith("exit horizon (base coin payable by then")
    assert ok, (line, ledger.log, ledger.alerts)
    assert ledger.kill["killed"] and ledger.kill["sent_before"] < ledger.kill["actions"]
    assert ledger.kill["transactions"] == ledger.kill["actions"]
    eng = create_engine(f"sqlite:///{tmp_path}/fund-keeper.db")
    with eng.connect() as cx:
        statuses = [r[0] for r in cx.execute(text("select status from plans order by id"))]
        keys = [r[0] for r in cx.execute(text("select idempotency_key from tx_intents"))]
    eng.dispose()
    assert "blocked" not in statuses, statuses
    assert len(keys) == len(set(keys))  # no effect sent twice
    # the keeper's pool trades went through the private relay stand-in, none public
    with eng.connect() as cx:
        routes = pool_trade_routes(cx)
    eng.dispose()
    assert routes.get("private", 0) > 0 and routes.get("public", 0) == 0, routes
    # every critical alert is a real incident (the drained funder), never a repeated block
    critical = [a for a in ledger.alerts if " critical " in a and "funder" not in a]
    assert not critical, critical
