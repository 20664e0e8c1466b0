"""The cross-chain keeper's Prometheus metrics, set by the bot at the end of every tick (and by
``keeper crosschain status``'s reads), served on ``keeper run``'s ``/metrics``.

Units: token amounts in the asset's own units (1.0 = one USDC or USDT; the exact integers stay
in the store and the logs), times in unix seconds, ages in seconds. Labels name chains by their
config name and assets by symbol. The alert rules (keepers/alerts/rebalance.rules.yml, group
``crosschain``) read them: CrosschainChainDown, CrosschainSignerConflict, CrosschainMoveStuck,
CrosschainMoveFailed, CrosschainAttestationHeld.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from prometheus_client import Counter, Gauge

CHAIN_UP = Gauge(
    "crosschain_chain_up",
    "1 when the chain's node answered the last tick's reads within its budget, else 0",
    ["chain"],
)
CHAIN_HALTED = Gauge(
    "crosschain_chain_halted",
    "1 when nothing is sent on the chain: another process sent with the keeper's key there "
    "(signer conflict), until a restart",
    ["chain"],
)
CHAIN_LAST_OK = Gauge(
    "crosschain_chain_last_success_timestamp_seconds",
    "Unix time the chain's node last answered the keeper",
    ["chain"],
)
CHAIN_READ_SECONDS = Gauge(
    "crosschain_chain_read_seconds",
    "How long the last tick's reads of the chain took (its budget when it did not answer)",
    ["chain"],
)
CONFIRMATIONS = Gauge(
    "crosschain_confirmations_required",
    "Confirmations a transaction needs on the chain before its step is done",
    ["chain"],
)
AWAITING_CONFIRMATIONS = Gauge(
    "crosschain_intents_awaiting_confirmations",
    "The keeper's transactions on the chain mined and waiting for their confirmations",
    ["chain"],
)

# The amounts of each CrosschainBot.positions row (observe_positions): the row's field, the
# gauge's name and help; each a gauge per chain and asset, in the asset's units
POSITIONS: dict[str, Gauge] = {
    field: Gauge(name, doc, ["chain", "asset"])
    for field, (name, doc) in {
        "balance": ("crosschain_balance", "Inventory held on the chain (asset units)"),
        "base": ("crosschain_base", "The chain's base balance (asset units)"),
        "trigger_at": (
            "crosschain_trigger",
            "The balance at or under which the chain is topped up: base * (1 - trigger_percentage)",
        ),
        "deficit": (
            "crosschain_deficit",
            "Base minus the balance with moves in flight, when triggered (else 0; asset units)",
        ),
        "surplus": (
            "crosschain_surplus",
            "What the chain holds above its base and may send (asset units)",
        ),
    }.items()
}

MOVES = Gauge(
    "crosschain_moves",
    "Moves in the store by route and state (route none: not chosen yet)",
    ["route", "state"],
)
OLDEST_AGE = Gauge(
    "crosschain_move_oldest_age_seconds",
    "How long the oldest move in each waiting state has been in it",
    ["state"],
)
STUCK_AFTER = Gauge(
    "crosschain_move_stuck_after_seconds",
    "The config's stuck_after_s: how long a move may stand in the state before it is stuck",
    ["state"],
)
STUCK = Gauge(
    "crosschain_moves_stuck",
    "Moves standing in the state longer than its stuck_after_s",
    ["state"],
)
WAITING_ON_CHAIN = Gauge(
    "crosschain_moves_waiting_on_chain",
    "Moves held because a chain they need is down, halted or refused",
    ["chain"],
)
FAILED = Counter(
    "crosschain_moves_failed",
    "Moves that ended failed (an operator must look at each)",
    ["route"],
)
ATTESTATION_HELD = Gauge(
    "crosschain_attestation_held_moves",
    "Moves whose attestation Circle holds back (a delayReason) or refused",
    ["reason"],
)
IRIS_LOCKOUT = Gauge(
    "crosschain_iris_lockout_seconds",
    "Seconds left before the keeper asks Circle's Iris again after a 429 (0: not locked out)",
)

WAITING_STATES = ("awaiting_approval", "transfer_out", "cross", "transfer_in", "invest")
ALL_STATES = (*WAITING_STATES, "done", "failed", "rejected", "expired")
ROUTES = ("CCTP", "USDT0", "CEX", "none")


def units(scaled: int) -> float:
    """An 18-decimal planning amount in asset units, for a gauge."""
    return float(Decimal(scaled).scaleb(-18))


def observe_chains(states: Iterable[Mapping[str, Any]]) -> None:
    for st in states:
        name = st["chain"]
        CHAIN_UP.labels(name).set(1 if st["status"] == "up" else 0)
        CHAIN_HALTED.labels(name).set(1 if st["status"] == "halted" else 0)
        if st.get("last_ok") is not None:
            CHAIN_LAST_OK.labels(name).set(st["last_ok"])
        if st.get("seconds") is not None:
            CHAIN_READ_SECONDS.labels(name).set(st["seconds"])


def observe_positions(rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows of ``CrosschainBot.positions`` (18-decimal integers)."""
    for r in rows:
        for field, gauge in POSITIONS.items():
            gauge.labels(r["chain"], r["asset"]).set(units(r[field]))


def observe_moves(summary: Mapping[str, Any], stuck_after: Mapping[str, float]) -> None:
    """``summary``: `keepers.crosschain.history.move_summary`'s answer."""
    counts = summary["counts"]
    for route in ROUTES:  # every route's failure counter exported from 0: increase() sees the 1st
        FAILED.labels(route)
        for state in ALL_STATES:
            MOVES.labels(route, state).set(counts.get((route, state), 0))
    for (route, state), n in counts.items():
        if route not in ROUTES or state not in ALL_STATES:
            MOVES.labels(route, state).set(n)
    for state in WAITING_STATES:
        OLDEST_AGE.labels(state).set(summary["oldest_age_s"].get(state, 0.0))
        STUCK_AFTER.labels(state).set(stuck_after[state])
        STUCK.labels(state).set(summary["stuck"].get(state, 0))
    for reason in ("delayed", "rejected"):
        ATTESTATION_HELD.labels(reason).set(summary["attestation_held"].get(reason, 0))


def observe_waiting(chains: Iterable[str], waiting: Mapping[str, int]) -> None:
    for name in chains:
        WAITING_ON_CHAIN.labels(name).set(waiting.get(name, 0))
