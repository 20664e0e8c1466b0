"""What the store says of the cross-chain moves, for people and for Prometheus: the finished
and failed moves with their steps and transactions (``keeper crosschain history``), and the
counts, ages and holds the metrics export (`move_summary`). Reads the store only: no chain,
no signer.

A move's transactions are the pipeline's intents keyed ``xmove:<move>:<step>:g<gen>:<target>:
<selector>`` (keepers.crosschain.moves); each is listed with its step, what it called, its
status and its transaction hash, beside the move's own records (the burn or send that started
the crossing, the mint or receive that ended it, the payment to the holder).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from keepers.core.amounts import format_amount
from keepers.store import models as m

# the selectors of the calls a move makes (keepers.crosschain.bot's declared calls)
CALLS = {
    "0x095ea7b3": "approve",
    "0xa9059cbb": "transfer",
    "0x23b872dd": "transferFrom",
    "0x8e0250ee": "depositForBurn",
    "0x57ecfd28": "receiveMessage",
    "0xc7c7f5b3": "send",
    "0x0c0c389e": "lzReceive",
}
FINISHED = ("done", "failed", "rejected", "expired")
WAITING = ("awaiting_approval", "transfer_out", "cross", "transfer_in", "invest")


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def _steps(s: Any, move_id: int) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(m.TxIntent)
        .where(m.TxIntent.idempotency_key.like(f"xmove:{move_id}:%"))
        .order_by(m.TxIntent.id)
    ).all()
    out = []
    for r in rows:
        parts = r.idempotency_key.split(":")  # xmove, id, step, gen, target, selector
        step = parts[2] if len(parts) > 2 else "?"
        selector = parts[-1] if len(parts) >= 6 else r.calldata[:10]
        tx_hash = None
        if r.mined_attempt_id is not None:
            attempt = s.get(m.TxAttempt, r.mined_attempt_id)
            tx_hash = getattr(attempt, "tx_hash", None)
        out.append(
            {
                "step": step,
                "intent": r.id,
                "chain_id": r.chain_id,
                "call": CALLS.get(selector, selector),
                "target": r.target,
                "status": r.status,
                "tx": tx_hash,
            }
        )
    return out


def move_record(s: Any, row: m.CrosschainMove) -> dict[str, Any]:
    """One move as ``history`` shows it: amounts labelled in the asset's own units."""
    return {
        "id": row.id,
        "ref": row.ref,
        "kind": row.kind,
        "asset": row.asset,
        "source": row.source,
        "dest": row.dest,
        "route": row.route,
        "state": row.state,
        "amount": format_amount(row.amount_source, row.source_decimals, grouping=False),
        "received": (
            None
            if row.amount_received is None
            else format_amount(row.amount_received, row.dest_decimals, grouping=False)
        ),
        "attempts": row.attempts,
        "error": row.error,
        "created_at": _ts(row.created_at),
        "finished_at": _ts(row.finished_at),
        "transactions": {
            "initiate": row.handle_tx,
            "finalize": row.finalize_tx,
            "invest": row.invest_tx,
        },
        "steps": _steps(s, row.id),
    }


def history(
    store: Any, limit: int = 20, states: tuple[str, ...] = FINISHED
) -> list[dict[str, Any]]:
    """The newest ``limit`` moves in ``states`` (finished and failed by default), newest
    first, each with its steps and transactions."""
    with store.sessions() as s:
        rows = s.scalars(
            select(m.CrosschainMove)
            .where(m.CrosschainMove.state.in_(list(states)))
            .order_by(m.CrosschainMove.id.desc())
            .limit(limit)
        ).all()
        return [move_record(s, r) for r in rows]


def format_record(r: Mapping[str, Any]) -> list[str]:
    lines = [
        f"move {r['id']} {r['asset']} {r['source']}->{r['dest']} {r['amount']} {r['asset']} "
        f"via {r['route'] or '-'}: {r['state']}"
        + (f", received {r['received']} {r['asset']}" if r["received"] is not None else "")
        + f" (created {r['created_at']}, finished {r['finished_at'] or '-'})"
    ]
    if r["error"]:
        lines.append(f"  error: {r['error']}")
    for st in r["steps"]:
        lines.append(
            f"  {st['step']:<13} {st['call']:<15} chain {st['chain_id']:<8} {st['status']:<10} "
            f"{st['tx'] or '-'}"
        )
    return lines


def move_summary(store: Any, now: float, stuck_after: Mapping[str, float]) -> dict[str, Any]:
    """Counts by (route, state), the age of the oldest move in each waiting state, how many
    stand past ``stuck_after[state]``, and attestations held (metrics)."""
    now_dt = dt.datetime.fromtimestamp(now, dt.UTC)
    counts: dict[tuple[str, str], int] = {}
    oldest: dict[str, float] = {}
    stuck: dict[str, int] = {}
    held = {"delayed": 0, "rejected": 0}
    with store.sessions() as s:
        for route, state, n in s.execute(
            select(m.CrosschainMove.route, m.CrosschainMove.state, func.count()).group_by(
                m.CrosschainMove.route, m.CrosschainMove.state
            )
        ).all():
            counts[(route or "none", state)] = int(n)
        for row in s.scalars(
            select(m.CrosschainMove).where(m.CrosschainMove.state.in_(list(WAITING)))
        ):
            since = row.state_since or row.created_at
            if since.tzinfo is None:
                since = since.replace(tzinfo=dt.UTC)
            age = max(0.0, (now_dt - since).total_seconds())
            oldest[row.state] = max(oldest.get(row.state, 0.0), age)
            if age > stuck_after.get(row.state, float("inf")):
                stuck[row.state] = stuck.get(row.state, 0) + 1
            err = row.error or ""
            if "RouteRejected" in err:
                held["rejected"] += 1
            elif "delayReason" in err:
                held["delayed"] += 1
    return {"counts": counts, "oldest_age_s": oldest, "stuck": stuck, "attestation_held": held}
