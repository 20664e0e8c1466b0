"""Kill points of the chaos months: a keeper process that SIGKILLs itself at a step of its
work, not after a delay, so that a seed replays one interleaving on any machine.

``CHAOS_KILL_AT=<kind>:<n>[:<job>]``, read by the chaos month's keeper process
(``python -m ballast_dev.demo.chaos``, dev-only: nothing here is in the runtime wheel), which
calls `install` before it opens the store. The process dies by ``os.kill(os.getpid(),
SIGKILL)`` (no handler, no flush of anything but the one line below, no interpreter teardown),
the same death as a SIGKILL from outside, at:

- ``read:<n>:<job>`` the n-th node request (a single request or one batch; not the cached
  ``eth_chainId``) of the check ``<job>`` goes out unanswered: during a check, the fund read
  half done;
- ``risk:<n>`` the n-th risk check (keepers.fund.planning.risk.assess) starts: after the
  stage's own chain reads (quotes, gas), before its verdict is recorded;
- ``write:<n>`` the n-th store transaction that wrote something has committed: between two
  writes (of a plan, of an intent's steps, of a job's record);
- ``stage:<n>`` the transaction that moved a plan to its n-th status in this process (a new
  plan's first status counts) has committed: between a plan's stages;
- ``sent:<n>`` the n-th transaction went to the node (eth_sendRawTransaction answered), before
  the keeper recorded it (the pipeline's ``sent`` step): a transaction in flight.

The hooks sit outside the runtime: SQLAlchemy's class-level events (every engine, every
session), a wrapper on web3's HTTP provider, on the planning's ``risk.assess`` and on the
pipeline's fault hook (``Pipeline.crash``, which the runtime already calls at each step). A
point the process never reaches leaves it to finish its jobs. Before it dies the process
writes one JSON line, ``{"kill": <spec>, "job": <job>, "at": <what it was doing>}``, to stdout.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

ENV = "CHAOS_KILL_AT"
KINDS = ("read", "risk", "write", "stage", "sent")
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@dataclass
class KillPoint:
    kind: str
    nth: int
    job: str = ""  # read: the check whose requests count
    current: str = ""  # the job the process is running (set by the worker)
    seen: int = 0
    wrote: bool = False  # the open store transaction wrote something
    stages: list[str] = field(default_factory=list)  # plan moves of the open transaction

    @classmethod
    def parse(cls, spec: str) -> KillPoint:
        kind, _, rest = spec.partition(":")
        nth, _, job = rest.partition(":")
        if kind not in KINDS or not nth.isdigit() or int(nth) < 1 or (kind == "read") != bool(job):
            raise ValueError(
                f"{ENV}={spec!r}: expected <kind>:<n>[:<job>] with kind one of {KINDS}, "
                "n >= 1, a job for read only"
            )
        return cls(kind, int(nth), job)

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.nth}" + (f":{self.job}" if self.job else "")

    def count(self, at: str, n: int = 1) -> None:
        """One more (or ``n`` more) of this point's steps; dies at the n-th."""
        self.seen += n
        if self.seen >= self.nth:
            self.die(at)

    def die(self, at: str) -> None:
        line = {"kill": self.spec, "job": self.current, "at": at}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def install(spec: str) -> KillPoint:
    """Arms the point ``spec`` in this process (see the module docstring)."""
    point = KillPoint.parse(spec)
    {
        "read": _on_reads,
        "risk": _on_risk,
        "write": _on_store,
        "stage": _on_store,
        "sent": _on_sent,
    }[point.kind](point)
    return point


def _on_reads(point: KillPoint) -> None:
    from web3 import HTTPProvider

    single, batch = HTTPProvider.make_request, HTTPProvider.make_batch_request

    def make_request(self: Any, method: Any, params: Any) -> Any:
        # eth_chainId: answered from web3's cache after the first (keepers.tx.node)
        if point.current == point.job and method != "eth_chainId":
            point.count(f"{point.job}'s node request {point.seen + 1} ({method}) unanswered")
        return single(self, method, params)

    def make_batch_request(self: Any, requests: Any) -> Any:
        if point.current == point.job:
            point.count(f"{point.job}'s node request {point.seen + 1} (a batch) unanswered")
        return batch(self, requests)

    HTTPProvider.make_request = make_request  # type: ignore[method-assign]
    HTTPProvider.make_batch_request = make_batch_request  # type: ignore[method-assign,assignment]


def _on_risk(point: KillPoint) -> None:
    from keepers.fund.planning import risk

    assess = risk.assess

    def assessing(*args: Any, **kwargs: Any) -> Any:
        plan = args[1] if len(args) > 1 else kwargs.get("plan")
        point.count(f"risk check {point.seen + 1} of plan {getattr(plan, 'id', '?')}")
        return assess(*args, **kwargs)

    risk.assess = assessing  # type: ignore[assignment]


def _on_store(point: KillPoint) -> None:
    from sqlalchemy import Engine, event, inspect
    from sqlalchemy.orm import Session

    from keepers.store import models as m

    @event.listens_for(Engine, "before_cursor_execute")
    def _statement(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(_WRITES):
            point.wrote = True

    @event.listens_for(Session, "after_flush")
    def _flushed(session: Session, _ctx: Any) -> None:
        for obj in [*session.new, *session.dirty]:
            if isinstance(obj, m.Plan):
                added = inspect(obj).attrs.status.history.added
                if added:
                    point.stages.append(f"plan {obj.ref} {added[-1]}")

    @event.listens_for(Session, "after_commit")
    def _committed(session: Session) -> None:
        wrote, stages = point.wrote, point.stages
        point.wrote, point.stages = False, []
        if point.kind == "write" and wrote:
            point.count(f"store write {point.seen + 1} committed")
        elif point.kind == "stage":
            for moved in stages:
                point.count(f"{moved} committed (move {point.seen + 1})")

    @event.listens_for(Session, "after_rollback")
    def _rolled_back(session: Session) -> None:
        point.wrote, point.stages = False, []


def _on_sent(point: KillPoint) -> None:
    from keepers.tx.pipeline import Pipeline

    init = Pipeline.__init__

    def armed(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        inner = self.crash

        def crash(step: str, intents: int = 1) -> None:
            inner(step, intents)
            if step == "sent":
                point.count(f"transaction {point.seen + 1} sent, not yet recorded", intents)

        self.crash = crash

    Pipeline.__init__ = armed  # type: ignore[method-assign]


__all__ = ["ENV", "KINDS", "KillPoint", "install"]
