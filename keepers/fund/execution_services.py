"""What the execution stage (keepers.fund.execution) is given, as values: it imports nothing of
keepers.fund.bot."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from keepers.fund.actions import ActionEncoder, EncodedCall
from keepers.fund.approval_stage import ApprovalStage
from keepers.fund.outcome import CycleOutcome
from keepers.fund.planning.actions import Action
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.state import FundState
from keepers.fund.reader import FundReading
from keepers.fund.records import (
    PlanStore,
)
from keepers.tx.contracts import FundContracts
from keepers.tx.pipeline import Pipeline
from keepers.tx.simulation import SimCall, SimStep


@dataclass(frozen=True)
class ExecutionServices:
    """What the execution stage reads and tells, as values (it imports nothing of
    keepers.fund.bot): ``cfg`` (REBALANCE_SLIPPAGE_BLOCK_BPS), ``execute_timeout_s`` and
    ``follow_budget_s`` (KEEPER_EXECUTE_TIMEOUT_S, KEEPER_FOLLOW_BUDGET_S); ``plans`` (the store:
    every document of a pass goes through the plan's row), ``contracts`` and ``w3`` (the
    controller's events, the executor, gas price, balances, receipts), ``read()`` (the fund
    now), ``simulate(reading, calls)``, ``encoder`` (quotes and calldata) and
    ``encode_all(reading, plan, skip)``, ``pipeline()`` and ``sender()`` (made on first use),
    ``approvals`` (the frozen calls), ``record_failed_leg`` (the sizing stage's memory of a leg
    that failed simulation), ``verify(before, results, after, ref, fills)``, the alerts
    (``alert``, ``alert_once``, ``clear_alert``), ``symbol(token)`` (metric labels), the keeper's
    ``stopping`` event and ``leading()`` (replicas), the lifecycle's ``fit(ref, state, done)``
    (why the plan no longer fits, or None) and ``stale(ref, reason, now, stage)`` (ends it),
    and the tests' seams ``before_action(i)`` and ``before_verify()``."""

    cfg: PlanningConfig
    execute_timeout_s: float
    follow_budget_s: float
    plans: PlanStore
    contracts: FundContracts
    w3: Web3
    read: Callable[[], FundReading]
    simulate: Callable[[FundReading, list[tuple[int, Action, EncodedCall]]], Any]
    encoder: ActionEncoder
    encode_all: Callable[..., list[tuple[int, Action, EncodedCall]]]
    pipeline: Callable[[], Pipeline]
    sender: Callable[[], str]
    approvals: ApprovalStage
    record_failed_leg: Callable[..., Any]
    verify: Callable[..., dict[str, Any]]
    alert: Callable[..., Any]
    alert_once: Callable[..., Any]
    clear_alert: Callable[[str, int], None]
    symbol: Callable[[str | None], str]
    stopping: threading.Event
    leading: Callable[[], bool]
    before_action: Callable[[int], None] | None = None
    before_verify: Callable[[], None] | None = None
    # one call alone on a block (the node's eth_simulateV1): a pool leg's fill just before it
    # is sent (keepers.fund.planning.fills); None: minOut as before (oracle less the stop)
    simulate_call: Callable[[int, SimCall], SimStep] | None = None
    fit: Callable[[str, FundState, Collection[int]], str | None] | None = None
    stale: Callable[[str, str, int, str], CycleOutcome] | None = None
