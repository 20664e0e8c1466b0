"""The hostile month (ballast_dev/demo/hostile.py): pools 8x shallower than the demo's, a bank
run of a third of the NAV over two days, a held asset's feed silent for two days while its pool
moves, a depeg, the keeper's node cut mid-plan, SIGKILLs mid-plan and gas spikes, judged from
chain state (`judge`). The short form (10 days, every scene once) is judged in `make test`
inside the short chaos month (test_chaos_month.py: the same script and pools with kills on
top, asserting this verdict); here it runs in `make test-slow`, and so does the full
month on the demo's pools and on the shallow ones, prints both HOSTILE
VERDICT lines and holds the shallow month's value lost within twice the deep month's. The keeper
runs with every timing setting at its default (KEEPER_EXECUTE_TIMEOUT_S 300 s): each verdict
line gives the longest job's wall time, and no job in the node outage may pass 15 s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ballast_dev.demo.hostile import Judgement, judge, run_hostile
from tests.support.demo_months import (
    demo_fund,
    restore_with_base_fee,
    snapshot_with_base_fee,
)

SHALLOW = 8  # pools this many times shallower than the demo's


def _month(accounts: Any, chain: Any, out: Path, days: int, depth_div: int) -> Judgement:
    out.mkdir(parents=True)
    snap = snapshot_with_base_fee(chain)
    try:
        fund, _ = demo_fund(accounts, depth_div)
        d, ledger, start, end = run_hostile(fund, accounts, out, days, print)
        j = judge(d, ledger, start, end)
        print("\n".join(ledger.log))  # shown when the test fails
        print("\n".join(ledger.alerts))
        return j
    finally:
        restore_with_base_fee(chain, snap)  # the month's gas spike with it


def _explain(j: Judgement) -> tuple[Any, ...]:
    return (j.line, j.crashes, j.unexplained, j.late, j.unpaid)


@pytest.mark.slow
def test_hostile_month_short__shallow_pools__no_crash_feed_down_in_band_paid_once(
    accounts: Any, chain: Any, tmp_path: Path
) -> None:
    """The short month on its own (`make test-slow`). Every property it holds is held in
    `make test` by the short chaos month (tests/offchain/demo/test_chaos_month.py
    ``test_chaos_month_short...``): the same 10-day `hostile_script` on the same 8x shallower
    pools, with the keeper's daily work in killable processes on top, judged by the same
    `judge` into the same HOSTILE VERDICT, which that test asserts ``ok`` (no job died outside
    the node's outage, `feed_down` raised while the feed was down, no day ending out of band
    and no excursion over a day, every redemption paid within a day, the scripted SIGKILL and
    node outage exercised with each action sent once and the plans finished, every critical
    alert explained, no job in the outage over 15 s). The keeper processes' alerts reach the
    judgement (ballast_dev/demo/chaos.py relays them), so a `feed_down` or a critical alert
    raised there counts as here. What the chaos month changes (the fund keeper's checks in a
    fresh process each day instead of one keeper object living through the month) is held by
    the demo's month (test_demo_month.py), whose fund keeper lives through its 20 days but for
    the kill scene's restart."""
    started = time.perf_counter()
    j = _month(accounts, chain, tmp_path / "short", 10, SHALLOW)
    print(f"\n{j.line}\nshort hostile month in {time.perf_counter() - started:.0f}s")
    assert j.ok, _explain(j)


@pytest.mark.slow
def test_hostile_month__deep_and_shallow__verdicts_and_cost_within_twice(
    accounts: Any, chain: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    deep = _month(accounts, chain, tmp_path / "deep", 30, 1)
    shallow = _month(accounts, chain, tmp_path / "shallow", 30, SHALLOW)
    # what the fills cost (gains from buying a pool under its feed not netted)
    ratio = shallow.cost.paid / max(deep.cost.paid, 1)
    with capsys.disabled():  # make test-slow prints the verdicts
        print(f"\nhostile month, demo's pools:    {deep.line}")
        print(f"hostile month, {SHALLOW}x shallower: {shallow.line}")
        print(
            f"shallow / deep paid to fills: {ratio:.2f}x (at most 2x); "
            f"{time.perf_counter() - started:.0f}s"
        )
    assert deep.ok, _explain(deep)
    assert shallow.ok, _explain(shallow)
    assert shallow.cost.paid <= 2 * deep.cost.paid, ratio
