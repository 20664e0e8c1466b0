"""Crash safety: a real worker process killed at every step, restarted, against anvil.

The kill is injected deterministically: KEEPER_CRASH_AT=<step>:<n> makes the worker
``os._exit(137)`` (no clean-up, no pending commit: a kill -9) right after the n-th commit of
that step; "sent" kills it after eth_sendRawTransaction returned and before Broadcast commits.
Effects are counted on-chain by TestCounter: every id must be hit exactly once.

The per-step trials fork their workers from a server that imported the worker's modules once
(tests/support/worker_fork.py: a second of imports per worker, two workers per trial); the
stray KEEPER_CRASH_AT and the SIGKILL tests start ``python -m keepers.tx.worker`` itself.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from keepers.store.db import Store
from keepers.store.models import TxIntent
from keepers.tx.pipeline import CRASH_POINTS, submit_intent
from tests.support.pipeline_helpers import ROOT, hit_spec, run_worker, worker_env
from tests.support.worker_fork import fork_worker

STEPS = sorted(CRASH_POINTS)
INTENTS_PER_TRIAL = 3
_ids = itertools.count(10_000)


def _trial(tmp_path: Any, anvil: Any, counter: Any, step: str, trial: int) -> None:
    db = f"sqlite:///{tmp_path}/crash-{step}-{trial}.db"
    ids = [next(_ids) for _ in range(INTENTS_PER_TRIAL)]
    store = Store(db)
    for i in ids:
        submit_intent(store, hit_spec(counter, i))
    store.close()
    count_before = counter.functions.count().call()
    nth = trial % INTENTS_PER_TRIAL + 1  # crash at the 1st, 2nd or 3rd commit of the step
    env = worker_env(db, anvil.url, counter.address, tmp_path)

    crashed = fork_worker(
        {**env, "KEEPER_CRASH_AT": f"{step}:{nth}", "KEEPER_FAULT_INJECTION": "1"}, "--until-idle"
    )
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    resumed = fork_worker(env, "--until-idle")
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    store = Store(db)
    with store.sessions() as s:
        statuses = dict(
            s.execute(select(TxIntent.status, func.count()).group_by(TxIntent.status)).all()
        )
    store.close()
    assert statuses == {"confirmed": INTENTS_PER_TRIAL}  # zero lost intents
    assert [counter.functions.hits(i).call() for i in ids] == [1] * INTENTS_PER_TRIAL
    assert counter.functions.count().call() == count_before + INTENTS_PER_TRIAL  # no duplicate


def test_worker__stray_crash_at_without_opt_in__not_killed(tmp_path, anvil, counter):
    """A KEEPER_CRASH_AT left in a production environment does nothing without
    KEEPER_FAULT_INJECTION=1: the worker sends everything and exits 0."""
    db = f"sqlite:///{tmp_path}/stray.db"
    i = next(_ids)
    store = Store(db)
    submit_intent(store, hit_spec(counter, i))
    store.close()
    env = worker_env(db, anvil.url, counter.address, tmp_path)
    done = run_worker({**env, "KEEPER_CRASH_AT": "sent:1"}, "--until-idle")
    assert done.returncode == 0, done.stderr[-2000:]
    assert counter.functions.hits(i).call() == 1


@pytest.mark.parametrize("trial", range(2))
@pytest.mark.parametrize("step", STEPS)
def test_worker__killed_after_step__resumes_with_each_effect_once(
    tmp_path, anvil, counter, step, trial
):
    _trial(tmp_path, anvil, counter, step, trial)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(2, 22))
@pytest.mark.parametrize("step", STEPS)
def test_worker__killed_after_step_20_trials__resumes_with_each_effect_once(
    tmp_path, anvil, counter, step, trial
):
    _trial(tmp_path, anvil, counter, step, trial)


@pytest.mark.parametrize(
    "delay_s",
    [2.5, pytest.param(2.0, marks=pytest.mark.slow), pytest.param(3.0, marks=pytest.mark.slow)],
)
def test_worker__sigkill_at_random_moment__resumes_with_each_effect_once(
    tmp_path, anvil, counter, delay_s
):
    """SIGKILL from outside while a batch of 30 intents is in flight."""
    db = f"sqlite:///{tmp_path}/kill.db"
    ids = [next(_ids) for _ in range(30)]
    store = Store(db)
    for i in ids:
        submit_intent(store, hit_spec(counter, i))
    store.close()
    count_before = counter.functions.count().call()
    env = worker_env(db, anvil.url, counter.address, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepers.tx.worker", "--until-idle"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    resumed = fork_worker(env, "--until-idle")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [counter.functions.hits(i).call() for i in ids] == [1] * len(ids)
    assert counter.functions.count().call() == count_before + len(ids)
