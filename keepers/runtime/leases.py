"""Replicas and leases: which `keeper run` process leads which bot.

The replica model (docs/operator/running.md, "Replicas and failover"): any number of
`keeper run` processes share one PostgreSQL store, each configured for the same bots. For
every bot and deployment there is one **lease** (``fund:<vault>``, ``executor:<scheduler>``,
...), a row of the ``leases`` table. The process that holds a bot's lease leads it: only the
leader runs that bot's jobs and ticks; the others (followers) keep their lease loop running
and take the lead when the leader's lease expires. Different bots may be led by different
replicas.

- **On the database's clock.** A lease runs until ``expires_at``, set from the database's
  ``clock_timestamp()``, never from the replica's own clock: replicas whose clocks are 30 s
  apart still agree on who leads and when a lease has run out.
- **Renewed, or lost at once.** The leader renews every third of ``KEEPER_LEASE_TTL_S``. It
  stops deciding as soon as 0.8 of the TTL passes (on its own monotonic clock, from the start
  of its last successful renewal) without a renewal, which is before any other replica can
  take the lease: a leader cut off from the database never overlaps its successor.
- **Fenced decisions.** A decision and the record it produces are one database transaction
  that first locks the bot's lease row (``SELECT ... FOR UPDATE``) and checks that this
  process still holds it (:meth:`Leases.fence`). A takeover updates that row, so it waits for
  a decision in progress to commit, and a decision after a takeover is refused
  (:class:`LeaseLost`), never written twice.
- **Takeover.** A follower tries every third of the TTL; a lease is taken when it has expired
  (its holder died, hung or was cut off) or was released (a clean stop releases at once). The
  new holder's term is one higher. Worst case from a SIGKILL to a new leader: TTL + TTL/3
  (20 s with the default 15 s), plus a renewal's round trip.

On SQLite there is one process per store (the store's lock file), which leads everything at
once: the same code, with the local clock.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from keepers.core.errors import ConfigError, DomainError
from keepers.core.logging import get_logger
from keepers.core.processes import pid_alive
from keepers.core.settings import redact_stored
from keepers.store import models as m

log = get_logger("keepers.leases")

LOCAL_SHARE = 0.8  # the leader stops deciding after this share of the TTL without a renewal
RENEW_SHARE = 1 / 3  # renew (and, as a follower, try) every this share of the TTL


class LeaseLost(DomainError, RuntimeError):
    """This process does not (or no longer) hold the lease a decision needs."""


@dataclass(frozen=True)
class LeaseView:
    """One lease as the store has it (``mine``: this process holds it)."""

    name: str
    holder: str
    replica: str
    term: int
    acquired_at: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime
    mine: bool
    live: bool  # not expired at the time it was read

    def as_dict(self) -> dict[str, Any]:
        return {
            "lease": self.name,
            "replica": self.replica,
            "holder": self.holder,
            "term": self.term,
            "since": self.acquired_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "mine": self.mine,
            "live": self.live,
        }


# a replica row's instance after a clean stop (Leases.unregister)
STOPPED = "stopped"


def db_now(s: Session) -> dt.datetime:
    """The database's clock (PostgreSQL's ``clock_timestamp()``: the time of the call, not of
    the transaction's start); the local UTC clock on SQLite (one process per store)."""
    if s.get_bind().dialect.name == "postgresql":
        value = s.execute(text("SELECT clock_timestamp()")).scalar_one()
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]
    return dt.datetime.now(dt.UTC)


class Leases:
    """This process's leases on ``store`` (one per bot it runs), under ``replica_id``."""

    def __init__(
        self,
        store: Any,
        replica_id: str,
        *,
        ttl_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.replica = replica_id
        self.ttl_s = float(ttl_s)
        self.clock = clock
        self.host = socket.gethostname()[:128]
        self.pid = os.getpid()
        self.instance = f"{replica_id}/{self.host}/{self.pid}/{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._deadline: dict[str, float] = {}  # lease -> monotonic time it stops counting
        self._terms: dict[str, int] = {}
        self.on_change: Callable[[str, bool, LeaseView | None], None] | None = None

    @property
    def renew_s(self) -> float:
        return self.ttl_s * RENEW_SHARE

    # ------------------------------------------------------------------ the replica row

    def register(self, bots: Iterable[str]) -> None:
        """Record this process as replica ``replica_id``; ConfigError (KEEPER_REPLICA_ID) when a
        live process already runs under that id: on this host (its pid is alive), or on another
        host that reported itself within the TTL."""
        with self.store.transaction() as s:
            now = db_now(s)
            row = s.get(m.Replica, self.replica, with_for_update=True)
            if row is not None and row.instance not in (self.instance, STOPPED):
                recent = row.seen_at > now - dt.timedelta(seconds=self.ttl_s)
                same_host = row.host == self.host
                if (same_host and pid_alive(row.pid) and row.pid != self.pid) or (
                    not same_host and recent
                ):
                    raise ConfigError(
                        f"KEEPER_REPLICA_ID={self.replica!r}: replica {self.replica} already "
                        f"runs as pid {row.pid} on {row.host} (seen {row.seen_at:%H:%M:%S} "
                        "UTC); give every keeper process of the fleet its own KEEPER_REPLICA_ID"
                    )
            if row is None:
                row = m.Replica(id=self.replica)
                s.add(row)
            row.instance, row.host, row.pid = self.instance, self.host, self.pid
            row.bots, row.started_at, row.seen_at = sorted(bots), now, now

    def heartbeat(self) -> None:
        with self.store.transaction() as s:
            row = s.get(m.Replica, self.replica, with_for_update=True)
            if row is not None and row.instance == self.instance:
                row.seen_at = db_now(s)

    def unregister(self) -> None:
        """A clean stop: the replica row says so (``stopped``, seen now), so a restart under
        the same id on another host is not refused and `keeper status` shows when it stopped."""
        with self.store.transaction() as s:
            row = s.get(m.Replica, self.replica, with_for_update=True)
            if row is not None and row.instance == self.instance:
                row.instance, row.seen_at = STOPPED, db_now(s)

    # ------------------------------------------------------------------ leases

    def held(self, name: str) -> bool:
        """This process leads ``name`` now: it holds the lease and renewed it less than 0.8 of
        the TTL ago (its own monotonic clock)."""
        with self._lock:
            deadline = self._deadline.get(name)
        return deadline is not None and self.clock() < deadline

    def term(self, name: str) -> int | None:
        with self._lock:
            return self._terms.get(name) if name in self._deadline else None

    def try_acquire(self, name: str) -> LeaseView | None:
        """Acquire ``name``, renew it, or find it held by another live process. Returns the
        lease as it now stands (None: the database could not be reached; a leader then stops
        counting it at its local deadline)."""
        started = self.clock()
        try:
            view = self._acquire(name)
        except (OperationalError, IntegrityError) as err:
            # IntegrityError: another replica inserted the first row at the same moment
            log.warning("lease.unavailable", lease=name, error=type(err).__name__)
            self._expire_locally(name)
            return None
        was = self.held(name)
        with self._lock:
            if view.mine:
                self._deadline[name] = started + self.ttl_s * LOCAL_SHARE
                self._terms[name] = view.term
            else:
                self._deadline.pop(name, None)
        if view.mine != was:
            self._changed(name, view.mine, view)
        return view

    def _expire_locally(self, name: str) -> None:
        if self.held(name):
            return  # still inside its local deadline: held until then
        with self._lock:
            gone = self._deadline.pop(name, None) is not None
        if gone:
            self._changed(name, False, None)

    def _changed(self, name: str, mine: bool, view: LeaseView | None) -> None:
        if mine and view is not None:
            log.info(
                "lease.acquired", lease=name, replica=self.replica, term=view.term, ttl_s=self.ttl_s
            )
        else:
            holder = view.replica if view is not None else "unknown (store unreachable)"
            log.info("lease.lost", lease=name, replica=self.replica, now_led_by=holder)
        if self.on_change is not None:
            self.on_change(name, mine, view)

    def _acquire(self, name: str) -> LeaseView:
        ttl = dt.timedelta(seconds=self.ttl_s)
        with self.store.transaction() as s:
            now = db_now(s)
            row = s.get(m.Lease, name, with_for_update=True)
            if row is None:
                row = m.Lease(
                    name=name,
                    holder=self.instance,
                    replica=self.replica,
                    term=1,
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=now + ttl,
                )
                s.add(row)
                s.flush()
            elif row.holder == self.instance and row.expires_at > now:
                row.renewed_at, row.expires_at = now, now + ttl
            elif row.expires_at <= now:  # expired or released: taken over (or taken back)
                previous = row.replica if row.holder != self.instance else None
                row.holder, row.replica, row.term = self.instance, self.replica, row.term + 1
                row.acquired_at, row.renewed_at, row.expires_at = now, now, now + ttl
                if previous is not None:
                    log.info("lease.takeover", lease=name, replica=self.replica, previous=previous)
            return _view(row, self.instance, now)

    def release(self, name: str) -> None:
        """A clean stop: give ``name`` up now (it expires at once), so a follower takes it at
        its next try instead of after the TTL."""
        with self._lock:
            had = self._deadline.pop(name, None) is not None
        if not had:
            return
        try:
            with self.store.transaction() as s:
                row = s.get(m.Lease, name, with_for_update=True)
                if row is not None and row.holder == self.instance:
                    row.expires_at = db_now(s)
        except OperationalError as err:
            log.warning("lease.release_failed", lease=name, error=type(err).__name__)
        log.info("lease.released", lease=name, replica=self.replica)

    def fence(self, s: Session, name: str) -> int:
        """Inside a decision's transaction: lock the lease row and raise :class:`LeaseLost`
        unless this process holds it, unexpired on the database's clock and inside its own
        local deadline. Returns the term. A takeover waits for this transaction."""
        row = s.get(m.Lease, name, with_for_update=True)
        now = db_now(s)
        if row is None or row.holder != self.instance or row.expires_at <= now:
            who = "nobody" if row is None else f"replica {row.replica} (term {row.term})"
            raise LeaseLost(
                f"replica {self.replica} does not lead {name} (led by {who}): no decision"
            )
        if not self.held(name):
            raise LeaseLost(
                f"replica {self.replica}: lease {name} not renewed within "
                f"{self.ttl_s * LOCAL_SHARE:.1f} s: no decision"
            )
        return int(row.term)

    def fence_for(self, name: str) -> Callable[[Session], int]:
        """:meth:`fence` bound to ``name`` (what a bot is given)."""
        return lambda s: self.fence(s, name)


def _view(row: m.Lease, instance: str, now: dt.datetime) -> LeaseView:
    return LeaseView(
        name=row.name,
        holder=row.holder,
        replica=row.replica,
        term=int(row.term),
        acquired_at=row.acquired_at,
        renewed_at=row.renewed_at,
        expires_at=row.expires_at,
        mine=row.holder == instance and row.expires_at > now,
        live=row.expires_at > now,
    )


def fleet(store: Any, ttl_s: float | None = None, forget_s: float | None = None) -> dict[str, Any]:
    """What ``keeper status`` shows of the fleet: every lease (who leads what, until when) and
    every replica seen within ``forget_s`` (KEEPER_FLEET_FORGET_S; all when None): its state
    (``live``: seen within ``ttl_s``; ``stopped``: it stopped cleanly; ``gone``: silent) and
    how long ago it was last seen. ``forgotten``: how many older ones were left out."""
    with store.sessions() as s:
        now = db_now(s)
        leases = [_view(r, "", now).as_dict() for r in s.scalars(select(m.Lease)).all()]
        replicas = []
        forgotten = 0
        for r in s.scalars(select(m.Replica).order_by(m.Replica.id)).all():
            age = max(0.0, (now - r.seen_at).total_seconds())
            if forget_s is not None and age > forget_s:
                forgotten += 1
                continue
            live = r.instance != STOPPED and (ttl_s is None or age <= ttl_s)
            replicas.append(
                {
                    "replica": redact_stored(r.id),
                    "host": redact_stored(r.host),
                    "pid": r.pid,
                    "bots": list(r.bots),
                    "seen_s_ago": round(age, 1),
                    "live": live,
                    "state": "live" if live else "stopped" if r.instance == STOPPED else "gone",
                    "leads": sorted(
                        x["lease"] for x in leases if x["replica"] == r.id and x["live"]
                    ),
                }
            )
    for x in leases:
        x.pop("mine", None)
        x["replica"] = redact_stored(x["replica"])
    return {
        "leases": sorted(leases, key=lambda x: x["lease"]),
        "replicas": replicas,
        "forgotten": forgotten,
        "forget_s": forget_s,
    }


class Lead:
    """One lease held for the length of a one-off command (``keeper plan`` or ``keeper
    rollback`` in a terminal): acquired on entry (LeaseLost, naming the leader, when a live
    replica leads it), renewed by a thread while the command runs, released on exit. So a
    plan made by hand is decided under the same lease as the fleet's, never beside it."""

    def __init__(self, store: Any, lease: str, *, ttl_s: float, replica: str) -> None:
        self.leases = Leases(store, replica, ttl_s=ttl_s)
        self.lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Leases:
        view = self.leases.try_acquire(self.lease)
        if view is None or not view.mine:
            who = f"replica {view.replica}" if view is not None else "nobody (store unreachable)"
            until = f" until {view.expires_at:%H:%M:%S} UTC" if view is not None else ""
            raise LeaseLost(
                f"{who} leads {self.lease}{until}: the running keeper makes this fund's plans "
                "(`keeper plan --dry-run` shows what it would do now; `keeper status` shows "
                "the fleet)"
            )
        self._thread = threading.Thread(target=self._renew, name="keeper-lead", daemon=True)
        self._thread.start()
        return self.leases

    def _renew(self) -> None:
        while not self._stop.wait(self.leases.renew_s):
            self.leases.try_acquire(self.lease)

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.leases.release(self.lease)
