"""What every cross-chain transfer plan must be, whatever planner made it (the pure planner's
tests and the bench): each transfer moves something, each deficit is met exactly, no surplus
gives more than it has, and (given a route table) each transfer is on a listed route."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def check_plan(
    deficits: dict[str, int],
    surpluses: dict[str, int],
    plan: Any,
    table: Any = None,
    asset: str = "USDC",
) -> None:
    got: dict[str, int] = defaultdict(int)
    sent: dict[str, int] = defaultdict(int)
    for t in plan:
        assert t.amount > 0, t
        if table is not None:
            assert (asset, t.source, t.dest) in table, t
        got[t.dest] += t.amount
        sent[t.source] += t.amount
    assert dict(got) == deficits, (dict(got), deficits)
    for s, amount in sent.items():
        assert amount <= surpluses[s], (s, amount, surpluses[s])
