"""What a plan leaves undone, in words, pure: the reasons for every tier the plan leaves outside
its band (``explain``) and the tiers it lands on a band's edge, which fills a little worse than
the oracle would push out (``slippage_edges``). keepers.fund.planning.plan calls both once its
legs are made; they read the legs and the planner's notes, never the planner itself.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from keepers.fund.planning.actions import Action, Plan, Unresolved
from keepers.fund.planning.metrics import band_distance
from keepers.fund.planning.simulate import apply
from keepers.fund.planning.state import BPS, FundState, Tier


def explain(
    state: FundState,
    actions: tuple[Action, ...],
    notes: list[Unresolved],
    forecast: int,
    min_amount: int,
    reported: Collection[str],
) -> tuple[Unresolved, ...]:
    """Reasons for every tier the plan leaves outside its band, plus the planner's notes whose
    reason is in ``reported`` (redemptions, concentration, depth, ... : said whatever the
    bands)."""
    after = apply(state, Plan("", 0, (), actions))
    off = [tier for tier in range(3) if band_distance(after, tier) > 0]
    notes = list(dict.fromkeys(notes))
    out = [n for n in notes if n.tier in off or n.reason in reported]
    for tier in off:
        if any(n.tier == tier for n in out):
            continue
        gap = band_distance(after, tier)
        if tier == Tier.L1 and forecast:
            out.append(Unresolved(tier, "redemptions", f"cash reserved for a {forecast} forecast"))
        elif gap < min_amount:
            out.append(Unresolved(tier, "below_minimum", f"L{tier + 1} off band by {gap}"))
        else:
            # A tier moves only against the others: their shortfalls are the reason.
            why = [n for n in notes if n.tier != tier] or [Unresolved(None, "liquidity", "")]
            detail = "; ".join(n.detail for n in why if n.detail)
            out.append(Unresolved(tier, why[0].reason, f"L{tier + 1} off band by {gap}: {detail}"))
    return tuple(out)


def slippage_edges(
    state: FundState, actions: tuple[Action, ...], known: tuple[Unresolved, ...], bps: int
) -> tuple[Unresolved, ...]:
    """Tiers that end inside their band at the oracle price but outside it when every fill is
    REBALANCE_MAX_SLIPPAGE worse (a plan that lands on a band edge)."""
    if not actions:
        return ()
    fill = Decimal(BPS - bps) / BPS
    worst = apply(state, Plan("", 0, (), actions), {a.token: fill for a in state.assets})
    explained = {u.tier for u in known}
    return tuple(
        Unresolved(t, "slippage", f"L{t + 1} leaves its band if fills are {bps} bps worse")
        for t in range(3)
        if t not in explained and band_distance(worst, t) > 0
    )
