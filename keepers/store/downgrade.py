"""Going back to an older release's store (docs/operator/upgrades.md, "Going back").

A migration is undone with the newer release's code, before the older keeper is installed.
Some rows the newer keeper wrote cannot be carried back:

- a waiting plan (proposed, pending approval, approved: half executed too) the newer keeper
  made (it records its deployment, revision 0010): its stored state and basis carry fields the
  0.1.0 keeper does not know (``AssetState.investable_now``), so that keeper failed on it at
  every tick, a critical ``job_failed`` each time, the plan left ``approved`` for ever;
- a ``stale`` plan (revision 0009): revision 0008's CHECK constraint cannot hold the status.

:func:`stranded` names each, and ``keeper store downgrade`` refuses while any is left unless
told ``--end-plans``: a waiting plan is then ended ``aborted`` (what it sent stays sent; the
older keeper makes a new plan from the fund as it is), a ``stale`` one is archived as
``aborted``; both keep their reason in the payload's ``ended`` (stage ``downgrade``, the status
they had). The migrations' own downgrades refuse the same rows (0009, 0010), so a downgrade run
any other way refuses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

WAITING = ("proposed", "pending_approval", "approved")
DEPLOYMENT_REVISION = "0010"  # plans.deployment: a plan made by a keeper of 0.2.0 or later
STALE_REVISION = "0009"  # plan status ``stale``
COMMAND = "keeper store downgrade {target} --end-plans"

_plans = sa.table(
    "plans",
    sa.column("id", sa.Integer),
    sa.column("ref", sa.String),
    sa.column("status", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("deployment", sa.String),
)


@dataclass(frozen=True)
class Stranded:
    """A plan the store at ``target`` would leave an older keeper unable to read or hold."""

    ref: str
    status: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"plan": self.ref, "status": self.status, "why": self.why}


def _below(target: str, revision: str, current: str | None) -> bool:
    """Going to ``target`` undoes ``revision`` (revisions are zero-padded: text order)."""
    return current is not None and target < revision <= current


def stranded(conn: Connection, current: str | None, target: str) -> list[Stranded]:
    """Every plan the downgrade from ``current`` to ``target`` would strand, oldest first."""
    out: list[Stranded] = []
    if _below(target, DEPLOYMENT_REVISION, current):
        rows = conn.execute(
            sa.select(_plans.c.ref, _plans.c.status, _plans.c.deployment)
            .where(_plans.c.status.in_(WAITING), _plans.c.deployment.is_not(None))
            .order_by(_plans.c.id)
        ).all()
        out += [
            Stranded(
                str(ref),
                str(status),
                f"made by a keeper of 0.2.0 or later (deployment {dep}); the keeper of "
                f"revision {target} cannot read it and would fail on it at every tick",
            )
            for ref, status, dep in rows
        ]
    if _below(target, STALE_REVISION, current):
        refs = conn.execute(
            sa.select(_plans.c.ref).where(_plans.c.status == "stale").order_by(_plans.c.id)
        ).scalars()
        out += [
            Stranded(str(ref), "stale", f"status stale, which revision {target} cannot hold")
            for ref in refs
        ]
    return out


def refusal(items: list[Stranded], target: str) -> str:
    """The message a downgrade refuses with: each plan, and the command that ends them."""
    named = "; ".join(f"{s.ref} ({s.status}): {s.why}" for s in items)
    return (
        f"{len(items)} plan(s) would be stranded by the downgrade to {target}: {named}. End "
        f"them first: `{COMMAND.format(target=target)}` (docs/operator/upgrades.md)"
    )


def end_stranded(conn: Connection, items: list[Stranded], target: str, now: int) -> None:
    """End each of ``items`` as ``aborted``, its reason and former status in ``ended``."""
    for s in items:
        (payload,) = conn.execute(sa.select(_plans.c.payload).where(_plans.c.ref == s.ref)).one()
        doc: dict[str, Any] = dict(payload or {})
        doc["ended"] = {
            "status": "aborted",
            "reason": f"ended for the downgrade to {target} (was {s.status}): {s.why}",
            "at": now,
            "stage": "downgrade",
            "was": s.status,
        }
        conn.execute(
            sa.update(_plans).where(_plans.c.ref == s.ref).values(status="aborted", payload=doc)
        )


def check_or_end(engine: Engine, target: str, *, end_plans: bool, now: int) -> list[Stranded]:
    """The stranded plans at ``target``; with ``end_plans`` they are ended (one transaction)
    before returning. Without it nothing is written."""
    from keepers.store.db import stored_revision

    current = stored_revision(engine)
    with engine.begin() as conn:
        items = stranded(conn, current, target)
        if items and end_plans:
            end_stranded(conn, items, target, now)
    return items
