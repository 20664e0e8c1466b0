"""Plan and execution reports: plain JSON-able dicts, and a fixed-width text table.

Amounts stay integers (base units) in the dict; the table shows them in whole units with the
fund's decimals, cut (not rounded) to two places, so nothing goes through float.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keepers.core.amounts import format_amount
from keepers.fund.planning.fit import walk
from keepers.fund.planning.metrics import band_distance, tier_metrics
from keepers.fund.planning.plan import ActionResult, Plan, apply
from keepers.fund.planning.state import FundState


def tier_rows(state: FundState) -> list[dict[str, Any]]:
    return [
        {
            "tier": f"L{m.tier + 1}",
            "value": m.value,
            "ratio_bps": m.ratio_bps,
            "target_bps": m.target_bps,
            "deviation_bps": m.deviation_bps,
            "min_bps": m.min_bps,
            "max_bps": m.max_bps,
            "within_bounds": m.within_bounds,
        }
        for m in tier_metrics(state)
    ]


def plan_report(
    state: FundState,
    plan: Plan,
    results: Sequence[ActionResult] | None = None,
    actual: FundState | None = None,
) -> dict[str, Any]:
    """Everything a reviewer needs: triggers, actions, unresolved, tiers before / expected /
    actual, and per-action results when the plan ran."""
    try:
        expected = apply(state, plan)
    except (KeyError, ValueError):  # the fund moved under the plan: what still applies
        expected, _ = walk(state, plan.actions, range(len(plan.actions)))
    symbols = {a.token: a.symbol for a in state.assets}
    report: dict[str, Any] = {
        "plan_id": plan.id,
        "created_at": plan.created_at,
        "manual": plan.manual,
        "parent_id": plan.parent_id,
        "base_decimals": state.base_decimals,
        "total_amount": plan.total_amount,
        "triggers": [
            {"kind": t.kind.value, "code": t.code, "reason": t.reason} for t in plan.triggers
        ],
        "actions": [
            {
                "priority": a.priority,
                "type": a.type.value,
                "amount": a.amount,
                "from_tier": a.from_tier,
                "to_tier": a.to_tier,
                "asset": a.asset,
                "symbol": symbols.get(a.asset or ""),
                "token_amount": a.token_amount,
                "max_tier": a.max_tier,
                "expected_deltas": list(a.expected_deltas),
                "reason": a.reason,
            }
            for a in plan.ordered()
        ],
        "unresolved": [
            {"tier": u.tier, "reason": u.reason, "detail": u.detail} for u in plan.unresolved
        ],
        "carry": [{"tier": c.tier, "amount": c.amount, "reason": c.reason} for c in plan.carry],
        "tiers_before": tier_rows(state),
        "tiers_expected": tier_rows(expected),
    }
    held = [a.symbol for a in state.assets if a.held_stepped]
    if held:  # the controller holds their valuation: no trade of them in this plan
        report["valuation_held"] = held
    if results is not None:
        report["results"] = [
            {
                "type": r.action.type.value,
                "asset": r.action.asset,
                "amount": r.action.amount,
                "success": r.success,
                "received": r.received,
                "actual_deltas": list(r.actual_deltas) if r.actual_deltas else None,
                "tx_hash": r.tx_hash,
                "error": r.error,
            }
            for r in results
        ]
    if actual is not None:
        report["tiers_actual"] = tier_rows(actual)
        moved = sum(1 for r in results or () if r.success)
        report["progress"] = progress(state, actual, moved)
    return report


IN_BAND = "in band"
IMPROVED = "improved"
NO_SAFE_MOVE = "no safe move"
NOT_IMPROVED = "not improved"


def progress(before: FundState, after: FundState, moved: int) -> str:
    """How far a plan got: every tier in band; closer to the bands (or, inside them, to the
    targets); nothing could be done safely (``moved`` = actions that went through); or not
    better (a market move outran it)."""
    if all(band_distance(after, t) == 0 for t in range(3)):
        return IN_BAND
    if moved == 0:
        return NO_SAFE_MOVE
    gap_before = sum(band_distance(before, t) for t in range(3))
    gap_after = sum(band_distance(after, t) for t in range(3))
    return IMPROVED if gap_after < gap_before else NOT_IMPROVED


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell; the ``right`` columns (numbers) right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def render_text(report: dict[str, Any]) -> str:
    """The report as text: tier table (before / expected / actual), actions, unresolved."""
    d = report["base_decimals"]
    lines = [
        f"plan {report['plan_id']} at {report['created_at']}"
        f"{' (manual)' if report['manual'] else ''}: total {format_amount(report['total_amount'], d, places=2)}"
    ]
    for t in report["triggers"]:
        lines.append(f"  trigger {t['kind']}/{t['code']}: {t['reason']}")
    cols = ["tier", "band bps", "before", "expected"]
    has_actual = "tiers_actual" in report
    if has_actual:
        cols.append("actual")
    rows = []
    for i, before in enumerate(report["tiers_before"]):
        row = [
            before["tier"],
            f"{before['min_bps']}-{before['target_bps']}-{before['max_bps']}",
            f"{before['ratio_bps']}",
            f"{report['tiers_expected'][i]['ratio_bps']}",
        ]
        if has_actual:
            row.append(f"{report['tiers_actual'][i]['ratio_bps']}")
        rows.append(row)
    lines += [""] + _table(cols, rows, right=set(range(2, len(cols))))
    if report["actions"]:
        action_rows = [
            [
                str(a["priority"]),
                a["type"],
                format_amount(a["amount"], d, places=2),
                "-" if a["from_tier"] is None else f"L{a['from_tier'] + 1}",
                "-" if a["to_tier"] is None else f"L{a['to_tier'] + 1}",
                a["symbol"] or "-",
                a["reason"],
            ]
            for a in report["actions"]
        ]
        lines += [""] + _table(
            ["prio", "call", "amount", "from", "to", "asset", "reason"], action_rows, {0, 2}
        )
    else:
        lines += ["", "no actions"]
    # what holders are promised at the plan's block (fees, paid to date, the in-kind exit):
    # rendered when the report was made (keepers.fund.fees_paid.add_holders)
    lines += report.get("holders_lines", ())
    for symbol in report.get("valuation_held", ()):
        lines.append(
            f"valuation held: {symbol} (its feed stepped past its step bound): not traded, tier "
            "flows wait for the guardian's acceptPrice"
        )
    for u in report["unresolved"]:
        tier = "-" if u["tier"] is None else f"L{u['tier'] + 1}"
        lines.append(f"unresolved {tier} {u['reason']}: {u['detail']}")
    for c in report.get("carry", ()):
        lines.append(
            f"carried L{c['tier'] + 1} {format_amount(c['amount'], d, places=2)}: {c['reason']}"
        )
    if "progress" in report:
        lines.append(f"progress: {report['progress']}")
    return "\n".join(lines)
