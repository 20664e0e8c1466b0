"""Leases (keepers/runtime/leases.py) on a real PostgreSQL server and on SQLite: one holder per
lease whatever the races, expiry on the database's clock, takeover with a higher term, a
release handed over at once, a fenced decision refused to a process that does not lead, and a
leader cut off from the store stopping before anyone else may take over."""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from keepers.core.errors import ConfigError
from keepers.runtime.leases import LOCAL_SHARE, LeaseLost, Leases, fleet
from keepers.store import models as m
from keepers.store.db import Store


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: Any, tmp_path: Any) -> Iterator[Store]:
    if request.param == "postgresql":
        pg = request.getfixturevalue("postgres")
        s = Store(pg.fresh_database())
    else:
        s = Store(f"sqlite:///{tmp_path}/keeper.db")
    yield s
    s.close()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def _expire(store: Store, name: str) -> None:
    """The holder's lease runs out (as after a SIGKILL and TTL seconds)."""
    with store.transaction() as s:
        row = s.get(m.Lease, name)
        assert row is not None
        row.expires_at = row.expires_at.replace(year=2000)


def test_first_replica_leads__the_second_follows_and_sees_who(store: Store) -> None:
    a, b = Leases(store, "a", ttl_s=15), Leases(store, "b", ttl_s=15)
    va = a.try_acquire("fund:0xv")
    vb = b.try_acquire("fund:0xv")
    assert va is not None and va.mine and va.term == 1
    assert vb is not None and not vb.mine and vb.live and vb.replica == "a"
    assert a.held("fund:0xv") and not b.held("fund:0xv")
    # renewals keep it; the follower's tries do not move it
    for _ in range(3):
        assert a.try_acquire("fund:0xv").mine  # type: ignore[union-attr]
        assert not b.try_acquire("fund:0xv").mine  # type: ignore[union-attr]
    assert a.term("fund:0xv") == 1


def test_takeover_after_expiry__term_goes_up__old_leader_fenced_out(store: Store) -> None:
    clock = Clock()
    a = Leases(store, "a", ttl_s=15, clock=clock)
    b = Leases(store, "b", ttl_s=15)
    a.try_acquire("fund:0xv")
    _expire(store, "fund:0xv")
    vb = b.try_acquire("fund:0xv")
    assert vb is not None and vb.mine and vb.term == 2
    # a has not noticed yet (inside its local deadline) but its decision is refused
    assert a.held("fund:0xv")
    with (
        pytest.raises(LeaseLost, match="does not lead fund:0xv .*replica b"),
        store.transaction() as s,
    ):
        a.fence(s, "fund:0xv")
    with store.transaction() as s:
        assert b.fence(s, "fund:0xv") == 2
    # a's next round sees the truth
    va = a.try_acquire("fund:0xv")
    assert va is not None and not va.mine and not a.held("fund:0xv")


def test_release__a_follower_takes_over_at_its_next_try(store: Store) -> None:
    a, b = Leases(store, "a", ttl_s=300), Leases(store, "b", ttl_s=300)
    a.try_acquire("executor:1:0xs")
    a.release("executor:1:0xs")
    assert not a.held("executor:1:0xs")
    vb = b.try_acquire("executor:1:0xs")
    assert vb is not None and vb.mine and vb.term == 2


def test_leader_cut_off__stops_deciding_before_its_lease_can_be_taken(store: Store) -> None:
    """The local deadline: 0.8 TTL after the start of the last good renewal the leader stops,
    while the database keeps the lease until 1.0 TTL after that renewal."""
    clock = Clock()
    a = Leases(store, "a", ttl_s=10, clock=clock)
    a.try_acquire("fund:0xv")
    clock.t += 10 * LOCAL_SHARE - 0.01
    assert a.held("fund:0xv")
    clock.t += 0.02
    assert not a.held("fund:0xv")  # no renewal in 0.8 TTL: stop deciding
    with pytest.raises(LeaseLost, match="not renewed within 8.0 s"), store.transaction() as s:
        a.fence(s, "fund:0xv")
    with store.sessions() as s:  # while nobody else could have taken it yet
        row = s.get(m.Lease, "fund:0xv")
        assert row is not None and row.holder == a.instance


def test_nobody_leads_until_acquired__fence_refuses(store: Store) -> None:
    a = Leases(store, "a")
    with pytest.raises(LeaseLost, match="led by nobody"), store.transaction() as s:
        a.fence(s, "crosschain:1")


def test_racing_replicas__exactly_one_holder_per_round(store: Store, request: Any) -> None:
    """Eight processes' worth of lease objects race 20 rounds over one lease that expires
    every round: each round has one holder, and the terms count the changes exactly."""
    if store.dialect == "sqlite":
        pytest.skip("SQLite: one process per store (its lock file); the race is PostgreSQL's")
    replicas = [Leases(store, f"r{i}", ttl_s=15) for i in range(8)]
    holders_per_round = []
    for _ in range(20):
        views: list[Any] = []
        barrier = threading.Barrier(len(replicas))

        def go(lx: Leases, out: list[Any] = views, bar: threading.Barrier = barrier) -> None:
            bar.wait()
            out.append(lx.try_acquire("fund:0xv"))

        threads = [threading.Thread(target=go, args=(lx,)) for lx in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        holders = [v.replica for v in views if v is not None and v.mine]
        holders_per_round.append(holders)
        assert sum(lx.held("fund:0xv") for lx in replicas) == 1
        _expire(store, "fund:0xv")
    assert all(len(h) == 1 for h in holders_per_round), holders_per_round
    with store.sessions() as s:
        assert s.scalar(select(m.Lease.term).where(m.Lease.name == "fund:0xv")) == 20


def test_expiry_is_on_the_database_clock(store: Store) -> None:
    """A replica whose own clock is far off still gets the store's time: the lease's expiry is
    the database's now + TTL."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has no server clock: one process, the local one")
    a = Leases(store, "a", ttl_s=15)
    v = a.try_acquire("fund:0xv")
    assert v is not None
    with store.sessions() as s:
        db = s.execute(text("SELECT clock_timestamp()")).scalar_one()
    left = (v.expires_at - db).total_seconds()
    assert 13 < left <= 15


def _replica_row(store: Store, **fields: Any) -> None:
    with store.transaction() as s:
        row = s.get(m.Replica, "keeper-1")
        assert row is not None
        for k, v in fields.items():
            setattr(row, k, v)


def test_replica_id__live_elsewhere_refused__dead_or_stale_replaced(store: Store) -> None:
    Leases(store, "keeper-1").register(["fund"])
    again = Leases(store, "keeper-1")
    refused = "KEEPER_REPLICA_ID='keeper-1': replica keeper-1 already runs as pid"
    # another live process on this host under the same id (pid 1 is always alive)
    _replica_row(store, pid=1, instance="keeper-1/x/1/y")
    with pytest.raises(ConfigError, match=refused):
        again.register(["fund"])
    # the same id whose process died on this host (a SIGKILL, then systemd's restart)
    dead = subprocess.Popen(["true"])
    dead.wait()
    _replica_row(store, pid=dead.pid)
    again.register(["fund"])
    # a process on another host that reported itself within the TTL: refused
    now = dt.datetime.now(dt.UTC)
    _replica_row(store, host="other-host", instance="keeper-1/other-host/7/z", seen_at=now)
    with pytest.raises(ConfigError, match=refused):
        Leases(store, "keeper-1").register(["fund"])
    # ... and once it has been silent for longer than the TTL (or stopped cleanly): replaced
    _replica_row(store, seen_at=now - dt.timedelta(seconds=60))
    last = Leases(store, "keeper-1")
    last.register(["fund", "executor"])
    (rep,) = fleet(store, ttl_s=15)["replicas"]
    assert rep["replica"] == "keeper-1" and rep["bots"] == ["executor", "fund"] and rep["live"]
    last.unregister()
    (rep,) = fleet(store, ttl_s=15)["replicas"]
    assert not rep["live"]


def test_fleet__who_leads_what(store: Store) -> None:
    a, b = Leases(store, "a"), Leases(store, "b")
    a.register(["fund", "executor"])
    b.register(["fund", "executor"])
    a.try_acquire("fund:0xv")
    b.try_acquire("executor:1:0xs")
    a.try_acquire("executor:1:0xs")
    view = fleet(store, ttl_s=15)
    assert {x["lease"]: x["replica"] for x in view["leases"]} == {
        "executor:1:0xs": "b",
        "fund:0xv": "a",
    }
    assert {r["replica"]: r["leads"] for r in view["replicas"]} == {
        "a": ["fund:0xv"],
        "b": ["executor:1:0xs"],
    }
    t0 = time.monotonic()
    a.release("fund:0xv")
    assert time.monotonic() - t0 < 5
    assert [x["live"] for x in fleet(store)["leases"] if x["lease"] == "fund:0xv"] == [False]


def test_fleet__stopped_and_gone_replicas__real_ages__left_out_after_forget_s(
    store: Store,
) -> None:
    """`keeper status` listed a cleanly stopped replica forever as "seen 1795690641s ago" (its
    row was dated 1970). Now a stopped replica says so with the time since it stopped, a
    silent one is "gone" with its real age, and both leave the list once older than
    KEEPER_FLEET_FORGET_S (counted as forgotten)."""
    stopped, silent, live = Leases(store, "stopped"), Leases(store, "silent"), Leases(store, "a")
    for x in (stopped, silent, live):
        x.register(["fund"])
    stopped.unregister()
    with store.transaction() as s:
        row = s.get(m.Replica, "silent")
        assert row is not None
        row.seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=600)
    view = {r["replica"]: r for r in fleet(store, ttl_s=15, forget_s=3600)["replicas"]}
    assert {k: v["state"] for k, v in view.items()} == {
        "a": "live",
        "silent": "gone",
        "stopped": "stopped",
    }
    assert view["stopped"]["seen_s_ago"] < 60 and not view["stopped"]["live"]
    assert 590 < view["silent"]["seen_s_ago"] < 700
    # a stopped replica's id is free again at once, on any host
    Leases(store, "stopped").register(["fund"])
    # older than forget_s: left out, counted
    f = fleet(store, ttl_s=15, forget_s=300)
    assert sorted(r["replica"] for r in f["replicas"]) == ["a", "stopped"]
    assert f["forgotten"] == 1


def test_fleet_lines__ages_read_as_durations() -> None:
    from keepers.fund.cli import _fleet_lines, age

    assert [age(s) for s in (0, 42, 425, 3 * 3600 + 12 * 60, 2 * 86400 + 4 * 3600)] == [
        "0s",
        "42s",
        "7m 5s",
        "3h 12m",
        "2d 4h",
    ]
    rep = {"host": "h", "pid": 7, "bots": ["fund"], "leads": [], "live": False}
    lines = _fleet_lines(
        {
            "replicas": [
                {**rep, "replica": "b", "state": "stopped", "seen_s_ago": 425.0},
                {**rep, "replica": "c", "state": "gone", "seen_s_ago": 1200.0},
            ],
            "leases": [],
            "forgotten": 2,
            "forget_s": 3600.0,
        }
    )
    assert "stopped 7m 5s ago" in lines[1] and "seen 20m 0s ago" in lines[2]
    assert "2 replica(s) not seen for over 1h 0m left out: KEEPER_FLEET_FORGET_S" in lines[3]
