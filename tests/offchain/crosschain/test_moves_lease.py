"""The cross-chain bot as a replica (keepers.runtime.leases): a bot whose process does not lead
records no move (small or big, no approval plan either) and sends nothing; the leader's big
move and its approval plan are written in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from keepers.runtime.leases import Leases
from keepers.store import models as m
from tests.support.movelib import holder, holders_map

LEASE = "crosschain:1"


def _counts(bot: Any) -> tuple[int, int]:
    with bot.engine.store.sessions() as s:
        moves = s.scalar(select(func.count(m.CrosschainMove.id))) or 0
        plans = s.scalar(select(func.count(m.Plan.id)).where(m.Plan.kind == "crosschain_move")) or 0
    return int(moves), int(plans)


def test_follower__plans_but_records_and_sends_nothing__leader_records_once(
    xscene, tmp_path, monkeypatch
):
    # a store of its own: the big move it records waits for approval and must not sit in the
    # scene's shared store for the other tests' planners
    monkeypatch.setattr(xscene, "db_url", f"sqlite:///{tmp_path}/lease.db")
    who = holder(xscene, 23, {("ethereum", "USDC"): "3000", ("base", "USDC"): "200"})
    leader, follower = (
        xscene.bot(holders=holders_map(xscene, who)),
        xscene.bot(holders=holders_map(xscene, who)),
    )
    a, b = Leases(leader.engine.store, "r1"), Leases(follower.engine.store, "r2")
    a.try_acquire(LEASE)
    b.try_acquire(LEASE)
    leader.fence, follower.fence = a.fence_for(LEASE), b.fence_for(LEASE)
    moves0 = _counts(follower)
    n0 = xscene.nonce("ethereum")

    report = follower.tick()
    assert report.planned and not report.created and not report.moves
    assert "replica r2 does not lead crosschain:1 (led by replica r1" in (report.error or "")
    assert _counts(follower) == moves0 and xscene.nonce("ethereum") == n0

    big = leader.big_move_units
    created = leader.engine.create_many([("USDC", "ethereum", "base", int(big))], kind="big", now=0)
    (move,) = created
    with leader.engine.store.sessions() as s:
        row = s.get(m.CrosschainMove, move.id)
        assert row is not None and row.plan_id is not None
        plan = s.get(m.Plan, row.plan_id)
        assert plan is not None and plan.kind == "crosschain_move"
        assert plan.payload["amount"] == str(int(big))
    assert _counts(leader) == (moves0[0] + 1, moves0[1] + 1)
