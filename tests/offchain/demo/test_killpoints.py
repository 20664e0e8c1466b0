"""The chaos months' kill points (ballast_dev/demo/killpoints.py): a process armed with
``CHAOS_KILL_AT`` SIGKILLs itself right after the step it names committed, not before and not
after the next one, and says where; a bad spec is refused naming the variable."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ballast_dev.demo.chaos import KILL_SHARE, draw_kill
from ballast_dev.demo.killpoints import ENV, KillPoint

ROOT = Path(__file__).resolve().parents[3]

# three store transactions on a keeper store: a new plan (a write and a stage), a read only, a
# job record (a write, no stage), the plan moved on (a write and a stage), then "done"
SCRIPT = """
import sys
from ballast_dev.demo.killpoints import install
from keepers.store.db import Store
from keepers.store import models as m
from sqlalchemy import select

install(sys.argv[2])
store = Store("sqlite:///" + sys.argv[1])
with store.transaction() as s:
    s.add(m.Plan(ref="p1", kind="fund_rebalance", status="proposed", payload={}))
with store.transaction() as s:
    s.scalars(select(m.Plan)).all()
with store.transaction() as s:
    s.add(m.Plan(ref="p2", kind="fund_rebalance", status="proposed", payload={}))
with store.transaction() as s:
    s.scalars(select(m.Plan).where(m.Plan.ref == "p1")).one().status = "pending_approval"
print("done", flush=True)
"""


def _run(tmp_path: Path, spec: str) -> tuple[int, list[str], list[tuple[str, str]]]:
    db = tmp_path / "keeper.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(ENV, None)
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(db), spec],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    eng = create_engine(f"sqlite:///{db}")
    with eng.connect() as cx:
        rows = [(str(a), str(b)) for a, b in cx.execute(text("select ref, status from plans"))]
    eng.dispose()
    return r.returncode, r.stdout.splitlines(), sorted(rows)


@pytest.mark.parametrize(
    ("spec", "plans", "at"),
    [
        ("write:1", [("p1", "proposed")], "store write 1 committed"),
        # the read-only transaction is no write: the second write is p2's
        ("write:2", [("p1", "proposed"), ("p2", "proposed")], "store write 2 committed"),
        ("stage:1", [("p1", "proposed")], "plan p1 proposed committed (move 1)"),
        (
            "stage:3",
            [("p1", "pending_approval"), ("p2", "proposed")],
            "plan p1 pending_approval committed (move 3)",
        ),
    ],
)
def test_kill_point__dies_right_after_the_named_commit(
    tmp_path: Path, spec: str, plans: list[tuple[str, str]], at: str
) -> None:
    code, out, rows = _run(tmp_path, spec)
    assert code == -signal.SIGKILL, out
    assert json.loads(out[-1]) == {"kill": spec, "job": "", "at": at}
    assert "done" not in out
    assert rows == plans  # what it committed stands, nothing after it


def test_kill_point__never_reached__the_process_finishes(tmp_path: Path) -> None:
    code, out, rows = _run(tmp_path, "write:4")
    assert code == 0 and out == ["done"]
    assert rows == [("p1", "pending_approval"), ("p2", "proposed")]


@pytest.mark.parametrize("spec", ["write", "write:0", "read:2", "risk:1:liquidity", "crash:1"])
def test_kill_point__bad_spec_refused_naming_the_variable(spec: str) -> None:
    with pytest.raises(ValueError, match=ENV):
        KillPoint.parse(spec)


def test_draw_kill__a_seed_is_one_sequence_of_points_and_days_do_not_shift_it() -> None:
    """The same seed draws the same points; a day's draw takes the same number of values
    whatever it draws, so the days after a kill keep their points."""
    jobs = ["liquidity", "threshold", "daily"]
    rng1, rng2 = random.Random(7), random.Random(7)
    days1 = [draw_kill(rng1, jobs) for _ in range(30)]
    days2 = [draw_kill(rng2, jobs + (["weekly"] if d % 7 == 0 else [])) for d in range(30)]
    assert draw_kill(random.Random(7), jobs) == days1[0]
    for p in days1:
        if p is not None:
            KillPoint.parse(p)
    killed = sum(p is not None for p in days1)
    assert 0.5 * 30 < killed <= 30 and KILL_SHARE == 0.8
    # the weekly job changes which check a read kill lands in, never whether a day kills
    assert [p is None for p in days1] == [p is None for p in days2]
    assert {p.split(":")[0] for p in days1 if p} == {"read", "risk", "write", "stage", "sent"}
