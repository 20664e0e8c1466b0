"""A fund plan's documents as JSON (the plan row's ``payload``, keepers.fund.records): the
planner's Plan, its actions and their results round-trip through these (integers as strings:
base units may pass 2**63), and the report of a plan resumed after a crash."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from keepers.fund.planning.actions import Action, ActionResult, ActionType, Carry, Plan, Unresolved
from keepers.fund.planning.state import AssetState, FundState, TierState
from keepers.fund.planning.triggers import Trigger, TriggerKind


def action_to_dict(a: Action) -> dict[str, Any]:
    return {
        "type": a.type.value,
        "amount": str(a.amount),
        "priority": a.priority,
        "reason": a.reason,
        "from_tier": a.from_tier,
        "to_tier": a.to_tier,
        "asset": a.asset,
        "token_amount": None if a.token_amount is None else str(a.token_amount),
        "max_tier": a.max_tier,
        "expected_deltas": [str(d) for d in a.expected_deltas],
    }


def action_from_dict(d: dict[str, Any]) -> Action:
    return Action(
        type=ActionType(d["type"]),
        amount=int(d["amount"]),
        priority=int(d["priority"]),
        reason=d["reason"],
        from_tier=d.get("from_tier"),
        to_tier=d.get("to_tier"),
        asset=d.get("asset"),
        token_amount=None if d.get("token_amount") is None else int(d["token_amount"]),
        max_tier=d.get("max_tier"),
        expected_deltas=tuple(int(x) for x in d.get("expected_deltas", (0, 0, 0))),  # type: ignore[arg-type]
    )


def plan_to_dict(p: Plan) -> dict[str, Any]:
    return {
        "id": p.id,
        "created_at": p.created_at,
        "manual": p.manual,
        "parent_id": p.parent_id,
        "triggers": [
            {
                "kind": t.kind.value,
                "code": t.code,
                "reason": t.reason,
                "tier": t.tier,
                "asset": t.asset,
                "amount": None if t.amount is None else str(t.amount),
            }
            for t in p.triggers
        ],
        "actions": [action_to_dict(a) for a in p.actions],
        "unresolved": [
            {"tier": u.tier, "reason": u.reason, "detail": u.detail} for u in p.unresolved
        ],
        "carry": [{"tier": c.tier, "amount": str(c.amount), "reason": c.reason} for c in p.carry],
    }


def plan_from_dict(d: dict[str, Any]) -> Plan:
    return Plan(
        id=d["id"],
        created_at=int(d["created_at"]),
        triggers=tuple(
            Trigger(
                TriggerKind(t["kind"]),
                t["code"],
                t["reason"],
                t.get("tier"),
                t.get("asset"),
                None if t.get("amount") is None else int(t["amount"]),
            )
            for t in d["triggers"]
        ),
        actions=tuple(action_from_dict(a) for a in d["actions"]),
        unresolved=tuple(Unresolved(u["tier"], u["reason"], u["detail"]) for u in d["unresolved"]),
        manual=bool(d.get("manual")),
        parent_id=d.get("parent_id"),
        carry=tuple(
            Carry(int(c["tier"]), int(c["amount"]), c["reason"]) for c in d.get("carry", ())
        ),
    )


def result_to_dict(r: ActionResult) -> dict[str, Any]:
    return {
        "success": r.success,
        "received": None if r.received is None else str(r.received),
        "actual_deltas": None if r.actual_deltas is None else [str(x) for x in r.actual_deltas],
        "tx_hash": r.tx_hash,
        "error": r.error,
        "cost": None if r.cost is None else str(r.cost),
    }


def result_from_dict(action: Action, d: dict[str, Any]) -> ActionResult:
    deltas = d.get("actual_deltas")
    return ActionResult(
        action=action,
        success=bool(d["success"]),
        received=None if d.get("received") is None else int(d["received"]),
        actual_deltas=None if deltas is None else tuple(int(x) for x in deltas),  # type: ignore[arg-type]
        tx_hash=d.get("tx_hash"),
        error=d.get("error"),
        cost=None if d.get("cost") is None else int(d["cost"]),
    )


def resumed_report(
    planned: dict[str, Any], report: dict[str, Any], resumed_after: list[int]
) -> dict[str, Any]:
    """The report of a plan resumed after a crash or a stop. ``report`` is built on the state
    read on resuming (which already holds the earlier actions) from the actions left, with
    every result (those recorded before the crash and this run's). The report made when the
    plan was planned (``planned``) gives back what that state cannot: every action with its
    amount, the plan's total, and the tiers before and expected. The tiers read on resuming
    stay as ``tiers_at_resume``, the actions done before it as ``resumed_after`` (indexes)."""
    out = dict(report)
    out["tiers_at_resume"] = report["tiers_before"]
    for key in ("actions", "total_amount", "tiers_before", "tiers_expected"):
        if key in planned:
            out[key] = planned[key]
    out["resumed_after"] = list(resumed_after)
    return out


def state_to_doc(state: FundState) -> dict[str, Any]:
    """A FundState as JSON (integers as strings: base units may pass 2**63)."""

    def enc(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int):
            return v
        return str(v)

    d = asdict(state)
    return {
        **{k: enc(v) for k, v in d.items() if k not in ("tiers", "assets")},
        "tiers": [{k: enc(v) for k, v in t.items()} for t in d["tiers"]],
        "assets": [{k: enc(v) for k, v in a.items()} for a in d["assets"]],
    }


def _dec(cls: type, doc: dict[str, Any]) -> dict[str, Any]:
    ints = {n for n, f in cls.__dataclass_fields__.items() if f.type in ("int", int, "int | None")}  # type: ignore[attr-defined]
    return {k: int(v) if k in ints and v is not None else v for k, v in doc.items()}


def state_from_doc(doc: dict[str, Any]) -> FundState:
    """The FundState `state_to_doc` wrote."""
    top = _dec(FundState, {k: v for k, v in doc.items() if k not in ("tiers", "assets")})
    tiers = tuple(TierState(**_dec(TierState, t)) for t in doc["tiers"])
    assets = tuple(AssetState(**_dec(AssetState, a)) for a in doc["assets"])
    return FundState(**top, tiers=tiers, assets=assets)  # type: ignore[arg-type]
