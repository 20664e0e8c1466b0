"""Chaos months (ballast_dev/demo/chaos.py): the hostile month with the fund keeper as separate
processes on one store, SIGKILLed at seeded random instants (0-1.5 s after a process is ready:
during its checks, between two writes of a plan, with a transaction in flight), the executor
and supervisor keepers running the on-chain automation beside it, and the hostile month's node
outage that starts at a send. Each month must end in band with 0 keeper crashes, 0 actions sent
twice, no plan its owners cannot sign and the longest job under 15 s. ``make test`` runs one
short seed (crashes, double sends, signability, job time; the band only in the slow seeds, see
the short test's docstring); ``make test-slow`` five more and prints each seed's line (days out of band, value
lost, kills, crashes, longest job)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ballast_dev.demo.chaos import ChaosVerdict, run_chaos
from tests.support.demo_months import demo_fund

SHALLOW = 8  # the hostile month's shallow pools
SLOW_SEEDS = (11, 12, 13, 14, 15)


def _month(accounts: Any, chain: Any, out: Path, days: int, seed: int) -> ChaosVerdict:
    out.mkdir(parents=True)
    snap = chain.snapshot()
    try:
        fund, _ = demo_fund(accounts, SHALLOW)
        v = run_chaos(fund, accounts, out, days, seed, print)
        return v
    finally:
        chain.restore(snap)


def _explain(v: ChaosVerdict) -> tuple[Any, ...]:
    print("\n".join(v.log))  # shown when the test fails
    return (v.line, v.crashes, v.unsignable, v.hostile.line)


def test_chaos_month_short__one_seed__no_crash_no_double_send_signable_jobs_bounded(
    accounts: Any, chain: Any, tmp_path: Path
) -> None:
    """What must hold however the kills land. A seed fixes each kill's delay after its
    process is ready, not what the process is doing then, which depends on the machine's
    speed: on a fresh-clone CI rehearsal this seed once ended with 1 day out of band (kills
    during liquidity checks in the bank run) where two runs on the same head ended with 0. The
    band is asserted by the slow seeds (``make test-slow``) until the month replays the same
    interleaving on any machine; here it is printed."""
    started = time.perf_counter()
    v = _month(accounts, chain, tmp_path / "chaos", 10, 7)
    print(f"\n{v.line}\nshort chaos month in {time.perf_counter() - started:.0f}s")
    assert v.kills > 0, v.line  # the seed kills at least one keeper process
    assert v.crashes == [] and v.repeated == 0 and v.unsignable == [], _explain(v)
    assert v.longest_job_s < 15, _explain(v)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_chaos_month__seeds__in_band_no_crash_no_double_send_signable(
    seed: int, accounts: Any, chain: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = _month(accounts, chain, tmp_path / f"chaos-{seed}", 10, seed)
    with capsys.disabled():  # make test-slow prints each seed's line
        print(f"\n{v.line}")
    assert v.ok, _explain(v)
