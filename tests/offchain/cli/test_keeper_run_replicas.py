"""Replicas for real: two and three `keeper run` processes (fund, executor and supervisor bots)
on one PostgreSQL store against the deployed local fund.

- Two replicas, deposits, a price move and a withdrawal while both run: every decision is
  planned once and executed once (plans, intents per idempotency key, the keeper's
  transactions on chain), the due run is executed once and the stuck rebalancer fixed once,
  `keeper status` shows who leads what, and the fund ends in band.
- Three replicas, the leader SIGKILLed with its plan's first transaction just sent (held there
  by the fault injector): another replica takes the lead within the stated bound, resumes the
  plan, and nothing is sent twice; the survivors then run a due run once and fix a stuck
  rebalancer once.

The lease TTL is 6 s here (KEEPER_LEASE_TTL_S; 15 s by default), so the bound on a takeover is
6 + 6/3 = 8 s plus a renewal's round trip; the measured time is printed.

The replicas' `keeper run` processes are forked from the tests' preloaded server
(tests/support/keeper_fork.py), each a process of its own; the console script runs `keeper run` end
to end in tests/offchain/operator/test_operator_walk.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from ballast_dev.local.anvil_local import free_port
from keepers.cli import main
from keepers.store import models as m
from keepers.store.db import Store
from tests.offchain.cli.test_keeper_run import EXECUTED, SCHEDULED
from tests.support.fundbotlib import NO_APPROVAL, UNIT
from tests.support.keeper_fork import ForkedPopen, keeper_popen
from tests.support.keeper_proc import keeper_exe, wait_file
from tests.support.keeper_store import intents_per_key, plan_rows, reading

ROOT = Path(__file__).resolve().parents[3]
TTL_S = 6.0
TAKEOVER_BOUND_S = TTL_S + TTL_S / 3 + 4  # expiry + a follower's try + the round trips


@pytest.fixture
def fleet_env(env: dict[str, str], postgres: Any) -> dict[str, str]:
    """`keeper run`'s environment on a fresh PostgreSQL database: approvals off (plans execute
    at once), the fund's event triggers read every second, a 6 s lease, the executor ticking
    every second (KEEPER_EXECUTOR_INTERVAL_S; 0.2 s by default: with the conftest's due scan
    every tick, its nextDueRuns and pipeline passes five times a second were a fifth of the
    leader's CPU and the node's, and no property here is about how soon a due run goes)."""
    return {
        **os.environ,
        **env,
        **NO_APPROVAL,
        "KEEPER_DB_URL": postgres.fresh_database(),
        "KEEPER_PLAN_TICK_S": "1",
        "KEEPER_LEASE_TTL_S": str(TTL_S),
        "KEEPER_EXECUTOR_INTERVAL_S": "1",
        "KEEPER_LOG_JSON": "1",
        "KEEPER_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }


class Fleet:
    """The replicas a test started (stdout and stderr in files: a pipe nobody reads would
    block a chatty process); every one still running is killed at the end."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp = env, tmp
        self.db = env["KEEPER_DB_URL"]
        self.procs: dict[str, ForkedPopen] = {}

    def start(self, replica: str, **extra: str) -> ForkedPopen:
        env = {**self.env, "KEEPER_REPLICA_ID": replica, **extra}
        out = open(self.tmp / f"{replica}.out", "wb")  # noqa: SIM115 - the process owns it
        err = open(self.tmp / f"{replica}.err", "wb")  # noqa: SIM115
        p = keeper_popen([keeper_exe(), "run"], env=env, stdout=out, stderr=err)
        self.procs[replica] = p
        return p

    def lead(self, replica: str, **extra: str) -> ForkedPopen:
        """Starts the first replica and waits until it leads every bot."""
        p = self.start(replica, **extra)
        wait_until(f"{replica} leads every bot", lambda: all_bots_led(self.db), 120, self)
        return p

    def join(self, *followers: str, **extra: str) -> None:
        """Starts ``followers`` (each with ``extra``) and waits until the store lists every
        replica started."""
        for r in followers:
            self.start(r, **extra)
        everyone = sorted(self.procs)
        wait_until(f"replicas {everyone}", lambda: replicas(self.db) == everyone, 120, self)

    def stderr(self, replica: str) -> str:
        return (self.tmp / f"{replica}.err").read_text(errors="replace")

    def events(self, replica: str, event: str) -> list[dict[str, Any]]:
        out = []
        for line in self.stderr(replica).splitlines():
            if f'"{event}"' in line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def stop(self, replica: str) -> int:
        p = self.procs[replica]
        p.send_signal(signal.SIGTERM)
        rc = p.wait(60)
        assert b"keeper stopped" in (self.tmp / f"{replica}.err").read_bytes(), self.stderr(
            replica
        )[-3000:]
        return rc

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(30)


@pytest.fixture
def fleet(fleet_env: dict[str, str], tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(fleet_env, tmp_path)
    yield f
    f.close()


@dataclass(frozen=True)
class Scene:
    """What a replica test drives and counts: the fleet and its store, the deployed fund
    (``fresh``), the node, the keeper's account (the ``keeper`` role: KEEPER_SIGNER_KEY's), the
    fund's admin who deposits (``gov``), and the keeper's nonce when the test began."""

    fleet: Fleet
    fund: Any
    w3: Any
    keeper: str
    admin: Any
    nonce0: int

    @property
    def db(self) -> str:
        return self.fleet.db

    def sent(self, block: str = "latest") -> int:
        """The keeper's transactions since the test began (``pending``: with the pool's)."""
        return int(self.w3.eth.get_transaction_count(self.keeper, block)) - self.nonce0

    def deposit(self) -> None:
        """A large deposit by the admin once the leading fund bot watches events (sooner, its
        first events check would only record the block it starts from: no plan)."""
        wait_until("the fund bot watching events", lambda: events_watched(self.db), 60, self.fleet)
        self.fund.vault.deposit(400_000 * UNIT, self.admin, sender=self.admin)

    def in_band(self) -> None:
        """The fund ends with every tier within its band, as `keeper status` reads it."""
        tiers = status(self.fleet.env)["tiers"]
        assert all(t["within"] for t in tiers), tiers

    def plan_ended(self) -> tuple[str, int]:
        """Waits for the one plan to end executed: ``(ref, its number of actions)``."""
        ref, _, acts = wait_until(
            "the plan carried on to its end",
            lambda: plan_rows(self.db)[0][1] == "executed" and plan_rows(self.db)[0],
            180,
            self.fleet,
        )
        return ref, len(acts)

    def each_action_once(self, ref: str, n: int) -> None:
        """Each of plan ``ref``'s ``n`` actions had one intent, and the keeper sent one
        transaction each: no gap, nothing twice."""
        keys = intents_per_key(self.db)
        assert {k: v for k, v in keys.items() if k.startswith("fund:")} == {
            f"fund:{ref}:{i}": 1 for i in range(n)
        }
        assert self.sent() == n


@pytest.fixture
def scene(chain: Any, fleet: Fleet, fresh: Any, keeper: Any, gov: Any) -> Scene:
    w3 = chain.provider.web3
    return Scene(
        fleet, fresh, w3, keeper.address, gov, w3.eth.get_transaction_count(keeper.address)
    )


@dataclass(frozen=True)
class Waiting:
    """Automation work waiting for the leader (fixtures_automation's ``due_and_stuck``): a paid
    rebalancer's due run, its id read when made (once executed, the rebalancer books the
    next), and a stuck rebalancer, nothing booked."""

    sched: Any
    due_id: int
    stuck: Any

    @classmethod
    def make(cls, auto: dict[str, Any], due_and_stuck: Any) -> Waiting:
        due, stuck = due_and_stuck()
        return cls(auto["scheduler"], int(due.bookedRun()[0]), stuck)

    def done(self, fleet: Fleet) -> None:
        """Waits for the due run executed and the stuck rebalancer booked again."""
        sched, stuck = self.sched, self.stuck
        wait_until("the due run executed", lambda: sched.status(self.due_id) == EXECUTED, 90, fleet)
        wait_until("the stuck rebalancer fixed", lambda: int(stuck.bookedRun()[0]) != 0, 90, fleet)


def wait_until(what: str, check: Callable[[], Any], seconds: float, fleet: Fleet) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        dead = {r: p.returncode for r, p in fleet.procs.items() if p.poll() not in (None, -9)}
        assert not dead, f"replica exited while waiting for {what}: {dead}: " + "".join(
            fleet.stderr(r)[-2000:] for r in dead
        )
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")


def leaders(db: str) -> dict[str, str]:
    """bot -> the replica that holds its lease now (on the database's clock)."""
    with reading(db) as s:
        rows = s.execute(
            text("SELECT name, replica FROM leases WHERE expires_at > clock_timestamp()")
        ).all()
    return {name.split(":", 1)[0]: replica for name, replica in rows}


def replicas(db: str) -> list[str]:
    with reading(db) as s:
        return sorted(s.scalars(select(m.Replica.id)).all())


def deposit_plans(db: str) -> list[tuple[str, str]]:
    """(ref, status) of the fund plans a large deposit triggered."""
    with reading(db) as s:
        rows = s.scalars(select(m.Plan).where(m.Plan.kind == "fund_rebalance")).all()
        return [
            (r.ref or "", str(r.status))
            for r in rows
            if any(t["code"] == "large_deposit" for t in r.payload["plan"]["triggers"])
        ]


def intent_rows(db: str) -> list[tuple[str, str, str, int | None]]:
    """(key, role, status, receipt status) of every intent."""
    with reading(db) as s:
        rows = s.execute(
            select(
                m.TxIntent.idempotency_key,
                m.TxIntent.role,
                m.TxIntent.status,
                m.TxIntent.receipt_status,
            )
        ).all()
    return [(k, r, st, rs) for k, r, st, rs in rows]


def status(env: dict[str, str]) -> dict[str, Any]:
    r = CliRunner(mix_stderr=False).invoke(main, ["--json", "status"], env=env)
    assert r.exit_code == 0, r.output
    return dict(json.loads(r.stdout))


def lease_held(port: int, bot: str, replica: str) -> tuple[float] | None:
    """``(keeper_lease_held{bot,replica},)`` from a replica's /metrics; None while absent."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            body = r.read().decode()
    except OSError:
        return None
    prefix = f'keeper_lease_held{{bot="{bot}",replica="{replica}"}} '
    for line in body.splitlines():
        if line.startswith(prefix):
            return (float(line[len(prefix) :]),)
    return None


def events_watched(db: str) -> bool:
    """The leading fund bot has recorded the block its event triggers start from: its first
    events check only records it, so a deposit mined before that check is no event to it (a
    test that deposits sooner races the leader's first tick and loses the deposit's plan)."""
    with reading(db) as s:
        n = s.scalar(
            select(func.count(m.JobRun.id)).where(
                m.JobRun.job == "events", m.JobRun.status == "done"
            )
        )
    return bool(n)


def all_bots_led(db: str) -> bool:
    return set(leaders(db)) == {"fund", "executor", "supervisor"}


def test_two_replicas__every_decision_planned_and_executed_once__in_band(
    chain: Any,
    fleet_env: dict[str, str],
    auto: Any,
    due_and_stuck: Any,
    deployer: Any,
    scene: Scene,
) -> None:
    fleet, db, fresh, admin = scene.fleet, scene.db, scene.fund, scene.admin
    work = Waiting.make(auto, due_and_stuck)
    sched, stuck_reb = work.sched, work.stuck
    block0 = chain.blocks.head.number

    ports = {"r1": free_port(), "r2": free_port()}
    fleet.lead("r1", KEEPER_METRICS_PORT=str(ports["r1"]))
    fleet.join("r2", KEEPER_METRICS_PORT=str(ports["r2"]))
    led = leaders(db)
    assert set(led.values()) == {"r1"}, led  # the first replica leads; the second follows

    # the automation work waiting at start: done once by the leader
    work.done(fleet)
    assert sched.status(int(stuck_reb.bookedRun()[0])) == SCHEDULED

    # money moves while both run: a large deposit, a price move, a withdrawal, a deposit
    scene.deposit()
    wait_until(
        "the first deposit's plan executed",
        lambda: [s for _, s in deposit_plans(db)] == ["executed"],
        180,
        fleet,
    )
    feed = fresh.feeds["TBILL-B"]
    feed.updateAnswer(feed.latestAnswer() * 97 // 100, sender=deployer)
    fresh.vault.withdraw(150_000 * UNIT, admin, admin, sender=admin)
    fresh.vault.deposit(400_000 * UNIT, admin, sender=admin)
    wait_until(
        "the second deposit's plan executed",
        lambda: [s for _, s in deposit_plans(db)] == ["executed", "executed"],
        180,
        fleet,
    )
    # room for a double: both replicas run on for 3 plan ticks and a follower's try after the
    # plan ended, before they stop and the store is counted; the status and metrics checks
    # below run inside that window (it was slept first, then checked: 2-3 s more)
    room_ends = time.monotonic() + 3 * float(fleet_env["KEEPER_PLAN_TICK_S"]) + TTL_S / 3

    st = status(fleet_env)
    live = {r["replica"]: r for r in st["fleet"]["replicas"] if r["live"]}
    assert set(live) == {"r1", "r2"}
    assert sorted(live["r1"]["leads"]) == sorted(x["lease"] for x in st["fleet"]["leases"])
    assert live["r2"]["leads"] == []
    # the metrics say the same: keeper_lease_held is 1 on the leader, 0 on the follower
    for bot in ("fund", "executor", "supervisor"):
        for r, want in (("r1", 1.0), ("r2", 0.0)):
            (got,) = wait_until(
                f"{r}'s keeper_lease_held for {bot}",
                lambda r=r, bot=bot: lease_held(ports[r], bot, r),
                30,
                fleet,
            )
            assert got == want, (r, bot, got)
    time.sleep(max(0.0, room_ends - time.monotonic()))
    assert all_bots_led(db) and set(leaders(db).values()) == {"r1"}, leaders(db)  # still
    assert fleet.stop("r1") == 0 and fleet.stop("r2") == 0

    # counts: every intent once, every one confirmed and successful, one chain transaction each
    keys = intents_per_key(db)
    assert keys and all(n == 1 for n in keys.values()), keys
    rows = intent_rows(db)
    assert {st for _, _, st, _ in rows} == {"confirmed"}, rows
    assert {rs for _, _, _, rs in rows} == {1}, rows
    assert scene.sent() == len(rows)
    roles = [r for _, r, _, _ in rows]
    # the stuck rebalancer fixed once: by the supervisor bot's fixReschedule or, when the
    # on-chain Supervisor's own booked tick comes due first, by the executor running that tick
    # (which calls fixReschedule on chain); which job wins is a race (test_keeper_run.py too)
    fixed = list(stuck_reb.FixedReschedule.range(block0, chain.blocks.head.number + 1))
    assert len(fixed) == 1, fixed
    assert roles.count("supervisor") <= 1, roles
    # plans: the two deposits planned once each; every stored plan reached an end
    plans = plan_rows(db)
    assert [s for _, s in deposit_plans(db)] == ["executed", "executed"]
    assert all(s in ("executed", "nothing_to_do", "blocked") for _, s, _ in plans), plans
    fund_keys = sorted(k for k in keys if k.startswith("fund:"))
    assert fund_keys == sorted(
        f"fund:{ref}:{seq}" for ref, s, acts in plans if s == "executed" for seq, _, _ in acts
    )
    # the follower never decided: no plan attempt refused by the lease, no job run as leader
    assert not fleet.events("r2", "plan.not_leader")
    assert not fleet.events("r2", "plan.duplicate") and not fleet.events("r1", "plan.duplicate")
    scene.in_band()
    print(
        f"two replicas: {len(plans)} plans ({len(deposit_plans(db))} deposit plans executed "
        f"once each), {len(rows)} intents each sent once: fund {len(fund_keys)}, executor "
        f"{roles.count('executor')}, supervisor {roles.count('supervisor')}"
    )


def test_three_replicas__leader_sigkilled_mid_plan__taken_over_in_seconds__nothing_twice(
    auto: Any,
    due_and_stuck: Any,
    tmp_path: Path,
    scene: Scene,
) -> None:
    fleet, db = scene.fleet, scene.db
    marker = tmp_path / "held"
    r1 = fleet.lead(
        "r1",
        KEEPER_FAULT_INJECTION="1",
        KEEPER_HOLD_AT="sent:1",
        KEEPER_HOLD_FILE=str(marker),
    )
    fleet.join("r2", "r3")

    scene.deposit()
    assert wait_file(marker, r1, 180), fleet.stderr("r1")[-3000:]
    ((ref, status_at_kill, acts),) = plan_rows(db)
    assert status_at_kill == "approved" and len(acts) >= 2, acts
    assert scene.sent("pending") == 1
    killed = time.monotonic()
    r1.send_signal(signal.SIGKILL)
    r1.wait(30)

    new = wait_until(
        "another replica leads the fund",
        lambda: (leaders(db).get("fund") or "r1") != "r1" and leaders(db)["fund"],
        60,
        fleet,
    )
    takeover_s = time.monotonic() - killed
    assert takeover_s < TAKEOVER_BOUND_S, takeover_s
    wait_until(
        "every bot led by a survivor",
        lambda: set(leaders(db).values()) <= {"r2", "r3"} and all_bots_led(db),
        60,
        fleet,
    )
    _, n = scene.plan_ended()
    scene.each_action_once(ref, n)  # nothing sent twice

    # the survivors' automation: a due run executed once, a stuck rebalancer fixed once
    Waiting.make(auto, due_and_stuck).done(fleet)
    time.sleep(TTL_S / 3 + 2)  # room for a second replica to do it again
    for r in ("r2", "r3"):
        assert fleet.stop(r) == 0
    rows = intent_rows(db)
    assert all(n == 1 for n in intents_per_key(db).values()), intents_per_key(db)
    # fixed once: by the supervisor bot's fixReschedule, or (when the executor got there first)
    # by the on-chain Supervisor's own due run that the executor bot executed
    assert [r for _, r, _, _ in rows].count("supervisor") <= 1
    assert {rs for _, _, _, rs in rows} == {1}, rows
    assert scene.sent() == len(rows)
    scene.in_band()
    print(
        f"leader SIGKILLed mid-plan: {new} took the lead {takeover_s:.1f}s after the kill "
        f"(TTL {TTL_S:.0f}s, bound {TAKEOVER_BOUND_S:.0f}s); plan {ref}: {n} actions, each sent "
        f"once; then {len(rows) - n} automation intents once each"
    )


def test_two_replicas__leader_sigkilled_with_a_trade_held_at_the_relay__dropped__resigned_once(
    chain: Any, tmp_path: Path, scene: Scene
) -> None:
    """Private submission across a takeover: every fund transaction goes to the local relay
    (KEEPER_PRIVATE_ROLES=fund-keeper, the public pool refused). The leader is SIGKILLed with
    its plan's first transaction held at the relay (recorded as sent there); the relay drops it (its window passes
    with no block including it) while the survivor takes the lead; the survivor finds the
    drop, re-signs the same nonce and carries the plan on: each action once, no gap."""
    from ballast_dev.local.relay_local import RelayLocal

    fleet, db, w3 = scene.fleet, scene.db, scene.w3
    relay = RelayLocal(chain.provider.uri, drop_blocks=3).start()
    relay.withhold = True
    private = {
        "KEEPER_PRIVATE_RPC_URLS": relay.url,
        "KEEPER_PRIVATE_ROLES": "fund-keeper",
        "KEEPER_PUBLIC_MEMPOOL_FALLBACK": "false",
    }
    marker = tmp_path / "held"
    try:
        r1 = fleet.lead(
            # held right after the commit that recorded its first trade as sent to the relay
            "r1", KEEPER_FAULT_INJECTION="1", KEEPER_HOLD_AT="broadcast:1",
            KEEPER_HOLD_FILE=str(marker), **private,
        )  # fmt: skip
        fleet.join("r2", **private)
        scene.deposit()
        assert wait_file(marker, r1, 180), fleet.stderr("r1")[-3000:]
        r1.send_signal(signal.SIGKILL)
        r1.wait(30)
        held = [h for h, x in relay.held.items() if x.status == "PENDING"]
        assert len(held) == 1, relay.held
        assert scene.sent() == 0  # nothing on chain yet
        w3.provider.make_request("anvil_mine", ["0x3"])  # its window passes: dropped
        wait_until("the relay dropped it", lambda: relay.held[held[0]].status == "FAILED", 30,
                   fleet)  # fmt: skip
        relay.withhold = False
        ref, n = scene.plan_ended()
        assert fleet.stop("r2") == 0
    finally:
        relay.stop()
    scene.each_action_once(ref, n)  # no gap, nothing twice
    store = Store(db)
    with store.sessions() as s:
        attempts = s.execute(
            select(m.TxAttempt.status, m.TxAttempt.route, m.TxAttempt.tx_hash)
            .join(m.TxIntent, m.TxIntent.id == m.TxAttempt.intent_id)
            .where(m.TxIntent.idempotency_key.like("fund:%"))
        ).all()
    store.close()
    assert {route for _, route, _ in attempts} == {"private"}, attempts
    dropped = [h for st, _, h in attempts if st == "relay-dropped"]
    assert dropped == held, attempts
    assert w3.provider.make_request("eth_getTransactionByHash", [held[0]])["result"] is None


def test_keeper_plan_from_a_terminal__while_a_replica_leads__refused_naming_it(
    fleet_env: dict[str, str], fresh: Any, accounts: Any
) -> None:
    """`keeper plan` decides under the fund's lease: while a live replica leads the fund it
    exits 1 naming that replica and writes nothing; `--dry-run` still answers; once the lead
    is released, the same command plans (and leaves the lease free again)."""
    from keepers.runtime.leases import Leases

    db = fleet_env["KEEPER_DB_URL"]
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    store = Store(db)
    lease = f"fund:{fresh.vault.address.lower()}"
    try:
        running = Leases(store, "r1", ttl_s=TTL_S)
        assert running.try_acquire(lease).mine  # type: ignore[union-attr]
        runner = CliRunner(mix_stderr=False)
        r = runner.invoke(main, ["plan", "--job", "liquidity"], env=fleet_env)
        assert r.exit_code == 1, r.output
        assert f"replica r1 leads {lease}" in r.stderr and "keeper plan --dry-run" in r.stderr
        assert plan_rows(db) == []
        r = runner.invoke(
            main, ["--json", "plan", "--job", "liquidity", "--dry-run"], env=fleet_env
        )
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["status"] == "dry_run"
        running.release(lease)
        r = runner.invoke(main, ["--json", "plan", "--job", "liquidity"], env=fleet_env)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["status"] == "executed"
        assert [s for _, s, _ in plan_rows(db)] == ["executed"]
        assert running.try_acquire(lease).mine  # type: ignore[union-attr] # released after
    finally:
        store.close()
