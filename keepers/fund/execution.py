"""Stages 5-7 of a fund plan's lifecycle, for an approved plan, as steps of the plan's state
machine that never wait on the chain: check that the plan still fits the fund as it is now
(keepers.fund.lifecycle: a plan the fund moved under ends ``stale``, nothing sent), simulate
what is left in order on the node itself (``eth_simulateV1``, the state carried from one call
to the next; an anvil fork only where KEEPER_SIMULATOR=fork), once, before the first action is
sent, check the keeper's gas funds, then one action at a time: check the plan still fits, send it
through the pipeline (behind a PlanExecutor exactly the frozen calldata, through it), record
it ``sent`` with its intent, drive the pipeline for it at most KEEPER_FOLLOW_BUDGET_S, and
when the intent is final measure and record the result and send the next; when every action
has its result, verify the fund against the plan at the fills quoted just before each send and
record the outcome in one write. On a chain that confirms within the budget a pass runs the
whole plan; on one that does not (a node down, a chain not mining, blocks slower than the
budget) a pass sends one action and returns.

A pass whose budget runs out with an action sent and not final returns (``executing``: it
moved the plan; ``approved``: it found the plan waiting and nothing moved); the plan stays
approved and the next pass (the fund's tick, every KEEPER_PLAN_TICK_S, or an event) follows
the same intent, never a second one. An action unconfirmed for KEEPER_EXECUTE_TIMEOUT_S
raises ``action_unconfirmed`` (once per action) while the pipeline keeps working it. What a
later pass needs is on the plan's row, never on the bot: the state before the first send
(``start``: verify and the report measure against it), and per action the positions before
it was sent, the fill quoted for it and the gas it used. One plan executes at a time: another
approved plan waits until the executing one has ended.

A killed keeper resumes the same way: actions with a result are kept, actions with an intent
are followed, never sent again. One `Execution` per pass (``FundBot.execute``), given what it
needs as values (`ExecutionServices`), returning the pass's `CycleOutcome`: the values its
steps pass along (the frozen calls) live on it for that pass only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from eth_typing import HexStr
from web3 import Web3
from web3.logs import DISCARD as _DISCARD

from keepers.core.logging import get_logger
from keepers.fund.actions import ActionEncoder, EncodedCall, fill_ratio
from keepers.fund.approval_stage import ApprovalStage
from keepers.fund.costs import receipt_cost
from keepers.fund.outcome import EXECUTING, PAUSED, ROLE, STOPPED, CycleOutcome
from keepers.fund.plan_docs import result_from_dict, result_to_dict, resumed_report
from keepers.fund.planning import plan_approval
from keepers.fund.planning import risk as riskmod
from keepers.fund.planning.actions import Action, ActionResult, Plan
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.fills import min_out_from_fill, purchase_cash_floor, redeem_floor
from keepers.fund.planning.report import plan_report, progress
from keepers.fund.planning.simulate import apply
from keepers.fund.planning.state import BPS, AssetState, FundState, TierState
from keepers.fund.reader import FundReading
from keepers.fund.records import (
    ABORTED,
    APPROVED,
    EXECUTED,
    FAILED,
    PARTIAL,
    STALE,
    PlanStore,
)
from keepers.runtime import metrics
from keepers.runtime.alerts import AlertLevel
from keepers.tx.contracts import FundContracts
from keepers.tx.outcome import IntentOutcome, Outcome
from keepers.tx.pipeline import IntentSpec, Pipeline
from keepers.tx.retry import NetworkUnavailable, is_network_error
from keepers.tx.simulation import SimCall, SimStep, SimulationResult

log = get_logger("keepers.fundbot")

ACTION_UNCONFIRMED = "action_unconfirmed"  # alert code: sent, not final after the timeout


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


def verify_tiers(
    before: FundState,
    results: list[ActionResult],
    actual: FundState,
    tolerance_bps: int,
    fills: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """Expected (planning.simulate.apply of the actions that succeeded, at the fills quoted
    just before sending; oracle fills for assets without a pool) vs actual tier positions: ok
    when none differs by more than ``tolerance_bps`` of total assets. A fund others moved so
    far that the expectation cannot be modelled says so (not ok, no diffs), never raises."""
    done = tuple(r.action for r in results if r.success)
    now = [str(x) for x in actual.positions()]
    try:
        expected = apply(before, Plan("", 0, (), done), fills or {})
    except (KeyError, ValueError) as err:
        detail = f"expected tiers not modelled ({err}): the fund moved under the plan"
        return {"ok": False, "diffs_bps": [], "expected": [], "actual": now, "detail": detail}
    # over the gross when the redemption queue takes the whole fund (a total of 0 or less made
    # a fill a few units off the quote read as a divergence of 20,000 bps)
    total = actual.total_assets if actual.total_assets > 0 else max(actual.gross_assets, 1)
    diffs = [abs(actual.positions()[t] - expected.positions()[t]) * BPS // total for t in range(3)]
    worst = max(diffs)
    detail = f"max tier divergence {worst} bps (tolerance {tolerance_bps})"
    doc: dict[str, Any] = {
        "ok": worst <= tolerance_bps,
        "diffs_bps": diffs,
        "expected": [str(x) for x in expected.positions()],
        "actual": now,
        "detail": detail,
    }
    # L1 alone off while L2 and L3 are as planned: every leg of the plan moves L2 or L3 too, so
    # the difference is cash others moved since the plan's first send (holders' deposits land
    # in L1, exits leave it; a plan resumed after a restart or an upgrade meets them). It was
    # reported as the plan's own divergence ("not improved, 7501 bps" for a 0.1.0 plan resumed
    # after deposits, by 0.1.0's keeper as by 0.2.0's): said as what it is, not alerted.
    if not doc["ok"] and max(diffs[1:]) <= tolerance_bps:
        outside = actual.positions()[0] - expected.positions()[0]
        doc |= {
            "ok": True,
            "outside_cash": str(outside),
            "detail": (
                f"L2 and L3 as planned (divergence {max(diffs[1:])} bps); L1 "
                f"{'+' if outside >= 0 else ''}{outside} base units moved by others since the "
                f"plan's first send ({diffs[0]} bps of the fund: deposits or exits, not this plan)"
            ),
        }
    return doc


def with_outside_cash(state: FundState, cash: int) -> FundState:
    """``state`` as if ``cash`` (others' deposits, or exits when negative) had been in L1
    already: the baseline a plan's progress is judged against when others moved cash."""
    l1 = replace(state.tiers[0], value=state.tiers[0].value + cash)
    return replace(
        state,
        cash=state.cash + cash,
        gross_assets=state.gross_assets + cash,
        total_assets=state.total_assets + cash,
        tiers=(l1, state.tiers[1], state.tiers[2]),
    )


def _marks(state: FundState) -> dict[str, Any]:
    """What an action's measured deltas are taken against: L1 cash and the tier positions."""
    return {"cash": str(state.cash), "positions": [str(x) for x in state.positions()]}


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


class Execution:
    """One pass over an approved plan (see the module doc)."""

    def __init__(self, services: ExecutionServices) -> None:
        self.s = services
        # by position in the frozen order: the approved calldata, through the executor
        self.frozen_calls: dict[int, EncodedCall] = {}
        self.stale_reason: str | None = None  # the fund moved under the plan mid-way
        # behind a PlanExecutor: the plan as signed and the signatures its calls carry
        self.signed: plan_approval.SignedPlan | None = None
        self.sigs: list[bytes] = []
        self.leg_stale: str | None = None  # a pool leg that cannot be sent within its band

    def _misfit(self, ref: str, state: FundState, done: Collection[int]) -> str | None:
        return None if self.s.fit is None else self.s.fit(ref, state, done)

    def run(self, ref: str, now: int) -> CycleOutcome:
        started = time.perf_counter()
        p = self.s.plans.plan(ref)
        if self.s.stopping.is_set():  # stopping: the plan stays approved, a restart runs it
            return CycleOutcome(ref, STOPPED, "stopping: execution not started")
        other = self.s.plans.executing(exclude=ref)
        if other is not None:  # one plan executes at a time: this one starts after it
            msg = f"waits for plan {other}, executing: one plan executes at a time"
            return CycleOutcome(ref, APPROVED, msg)
        try:
            reading = self.s.read()
        except NetworkUnavailable as err:
            self.s.alert(AlertLevel.WARNING, "network", str(err), ref)
            return CycleOutcome(ref, APPROVED, str(err))
        if reading.state.paused:
            self.s.alert(AlertLevel.CRITICAL, "paused", "the fund is paused: plan aborted", ref)
            self.s.plans.update(ref, ABORTED, abort="paused")
            return CycleOutcome(ref, ABORTED, "paused")
        # Actions with a result are kept; actions with an intent (sent by an earlier pass, or
        # by a keeper killed since) are followed, never sent again.
        done: dict[int, dict[str, Any]] = {}
        sent: dict[int, int] = {}
        marks: dict[int, dict[str, Any]] = {}  # per action: what its send recorded
        aborted: str | None = None
        row = self.s.plans.get(ref)
        assert row is not None
        for arow in row.actions:
            marks[arow.seq] = dict(arow.payload)
            if "result" in arow.payload:
                done[arow.seq] = arow.payload["result"]
            elif arow.intent_id is not None:
                sent[arow.seq] = arow.intent_id
            elif arow.status == "aborted":
                aborted = str(arow.payload.get("error") or "aborted")
                if aborted.startswith("stale: "):
                    self.stale_reason = aborted.removeprefix("stale: ")
        frozen = row.payload.get("frozen") if self.s.contracts.executor is not None else None
        if self.s.contracts.executor is not None and frozen is None:
            # With a PlanExecutor every action goes through it, and only a frozen plan can: an
            # unfrozen one (a store from before the one-write freeze) is aborted, never sent
            # around the executor; the planner plans again from the state now.
            msg = "approved plan has no frozen document: aborted, never sent outside the executor"
            self.s.alert(AlertLevel.CRITICAL, "plan_not_frozen", msg, ref)
            self.s.plans.update(ref, ABORTED, abort="not_frozen")
            return CycleOutcome(ref, ABORTED, msg)
        if frozen is not None:
            expired = self.s.approvals.frozen_expired(ref, frozen, now)
            if expired is not None:
                return expired
            order_of = [int(i) for i in frozen["order"]]
            self.signed = plan_approval.SignedPlan.from_frozen(frozen)
            self.sigs = self.s.approvals.signatures(ref, frozen, now)
            # the simulation before the first send runs each pool leg at the loosest minOut its
            # band allows at this reading: one whose fill is worse reverts there (stale)
            skip = {k for k, i in enumerate(order_of) if i in done or i in sent}
            legs = self._floor_legs(reading, skip)
            self.frozen_calls = self.s.approvals.frozen_calls(ref, frozen, now, legs)
        else:
            order_of = sorted(range(len(p.actions)), key=lambda i: p.actions[i].priority)
        start = row.payload.get("start")
        if start is None and not done and not sent and self.s.stale is not None:
            why = self._misfit(ref, reading.state, ())
            if why is not None:  # nothing sent: the plan ends, a fresh one is made
                return self.s.stale(ref, why, now, "simulation")
        if start is None:
            paused = self._prepare(ref, p, reading, order_of, done, sent, now)
            if paused is not None:
                return paused
            # the fund before the first send: verify and the report measure against it
            start = {
                "block": reading.block,
                "at": now,
                "state": state_to_doc(reading.state),
                "already": sorted(done),  # before a restart: already in that state
                "resumed": sorted(sent),  # sent before it: in it if mined by its block
            }
            self.s.plans.update(ref, start=start)
        # 5. one action at a time, in the frozen (priority) order; one failure does not stop
        # the rest; a pass never waits for one action's confirmation longer than its budget
        before = reading
        moved = False
        for order, idx in enumerate(order_of):
            action = p.actions[idx]
            if idx in done:
                continue
            if idx not in sent:
                if aborted:
                    self.s.plans.record_action(ref, idx, "aborted", error=aborted, order=order)
                    continue
                # no new intent once stopping, or once another replica leads this fund (the
                # plan stays approved; the leader resumes it, the intents in flight once)
                if self.s.stopping.is_set() or not self.s.leading():
                    return self._stopped(ref, idx, started)
                if self.s.before_action is not None:
                    self.s.before_action(idx)
                    before = self.s.read()
                why = self._misfit(ref, before.state, set(done) | set(sent))
                if why is not None:  # the rest no longer fits: nothing more is sent
                    self.stale_reason = why
                    aborted = f"stale: {why}"
                    msg = f"plan {ref} is stale at action {idx}: {why}; the rest is not sent"
                    self.s.alert(AlertLevel.WARNING, "plan_stale", msg, ref)
                    self.s.plans.record_action(ref, idx, "aborted", error=aborted, order=order)
                    continue
                sent_now = self._send(ref, idx, order, action, before, now)
                if sent_now is None and self.leg_stale is not None:
                    # a signed pool leg that cannot be sent within its band: never looser; the
                    # plan ends stale and a new one is made (signed again above the threshold)
                    why, self.leg_stale = self.leg_stale, None
                    self.stale_reason = why
                    aborted = f"stale: {why}"
                    msg = f"plan {ref} is stale at action {idx}: {why}; the rest is not sent"
                    self.s.alert(AlertLevel.WARNING, "plan_stale", msg, ref)
                    self.s.plans.record_action(ref, idx, "aborted", error=aborted, order=order)
                    continue
                if sent_now is None:  # not sent (slippage): recorded with its result
                    moved = True
                    continue
                sent[idx], marks[idx] = sent_now
                moved = True
            # the pipeline driven for this action at most KEEPER_FOLLOW_BUDGET_S: never
            # waiting out a node that does not answer or a chain that does not mine
            outcome = self.s.pipeline().wait_final(
                sent[idx], self.s.follow_budget_s, stop=self.s.stopping
            )
            if outcome.kind is Outcome.HALTED and outcome.halted is not None:
                raise outcome.halted  # another process signs with our key: the keeper stops
            if outcome.kind is Outcome.STOPPED:  # the action stays sent, its intent recorded
                return self._stopped(ref, idx, started)
            if outcome.kind is Outcome.OUT_OF_GAS_FUNDS:  # the intent waits for gas
                self.s.plans.record_action(ref, idx, "waiting_gas", order=order)
                msg = f"keeper {self.s.sender()} out of gas funds at action {idx}: execution paused"
                self.s.alert(AlertLevel.CRITICAL, "gas_funds", msg, ref)
                self.s.plans.update(ref, APPROVED, paused="gas_funds")
                return CycleOutcome(ref, PAUSED, msg, seconds=time.perf_counter() - started)
            if not outcome.final:  # sent, not confirmed yet: the next pass follows it
                self._unconfirmed(ref, idx, outcome, marks[idx], now)
                return self._waiting(ref, idx, outcome, outcome.status, moved, started)
            try:
                before, stop = self._measure(ref, idx, order, action, before, marks[idx], outcome)
            except Exception as err:  # the node went away between the outcome and its receipt
                if not (isinstance(err, NetworkUnavailable) or is_network_error(err)):
                    raise
                self.s.alert(AlertLevel.WARNING, "network", str(err), ref)
                return CycleOutcome(ref, EXECUTING if moved else APPROVED, str(err))
            moved = True
            if stop:
                aborted = stop
        try:
            return self._finish(ref, p, row.payload, start, order_of, now, started)
        except NetworkUnavailable as err:  # verified by the next pass
            self.s.alert(AlertLevel.WARNING, "network", str(err), ref)
            return CycleOutcome(ref, EXECUTING, str(err))

    # ------------------------------------------------------------------ before the first send

    def _prepare(
        self,
        ref: str,
        p: Any,
        reading: FundReading,
        order_of: list[int],
        done: dict[int, Any],
        sent: dict[int, int],
        now: int,
    ) -> CycleOutcome | None:
        """4. Simulate what is left, in order (KEEPER_SIMULATOR: the node's eth_simulateV1 or
        a fork), and check the keeper's gas funds: an outcome when the plan cannot start."""
        started = time.perf_counter()
        if self.frozen_calls:
            calls = [
                (idx, p.actions[idx], self.frozen_calls[k])
                for k, idx in enumerate(order_of)
                if idx not in done and idx not in sent
            ]
        else:
            calls = list(self.s.encode_all(reading, p, skip=set(done) | set(sent)))
        sim = self.s.simulate(reading, calls) if calls else SimulationResult()
        sim_doc = {
            "ok": sim.ok,
            "gas": [s.gas_used for s in sim.steps],
            "seconds": round(sim.seconds, 3),
            "error": sim.failure.error if sim.failure else None,
            "simulator": sim.simulator,  # node (eth_simulateV1) or fork (anvil)
        }
        if sim.after:  # the tiers the plan leaves, as simulated (lens.fundState after the calls)
            sim_doc["after"] = [str(x) for x in sim.after[0].positions()]
        failed = sim.failure
        if failed is not None and self.frozen_calls and self.s.stale is not None:
            position = order_of.index(calls[failed.index][0])
            assert self.signed is not None
            declared = self.signed.actions[position]
            error = failed.error or ""
            if plan_approval.is_pool_leg(declared) and (
                "SlippageExceeded" in error or "LegOutsideBand" in error
            ):
                band = self.signed.max_slippage_bps[position]
                why = (
                    f"action {calls[failed.index][0]} ({calls[failed.index][2].function}) fills "
                    f"worse than its signed band of {band} bps under the oracle now ({error}): "
                    "never sent looser than signed"
                )
                return self.s.stale(ref, why, now, "simulation")
        if failed is not None:
            idx = calls[failed.index][0]
            msg = f"simulation of action {idx} ({calls[failed.index][2].function}) failed: {failed.error}"
            self.s.alert(AlertLevel.CRITICAL, "simulation_failed", msg, ref, error=failed.error)
            self.s.record_failed_leg(ref, calls[failed.index][1], failed.error, reading, now)
            self.s.plans.update(ref, ABORTED, simulation=sim_doc, abort="simulation")
            return CycleOutcome(ref, ABORTED, msg, seconds=time.perf_counter() - started)
        self.s.plans.update(ref, simulation=sim_doc)
        # gas funds: the simulated gas at the current price must be covered
        gas_price = int(self.s.w3.eth.gas_price)
        need = sim.gas_used * gas_price * 2
        balance = int(self.s.w3.eth.get_balance(Web3.to_checksum_address(self.s.sender())))
        if balance < need:
            msg = f"keeper {self.s.sender()} has {balance} wei, needs ~{need}: execution paused"
            self.s.alert(AlertLevel.CRITICAL, "gas_funds", msg, ref)
            # paused, not aborted: the next tick resumes once the keeper has gas again
            self.s.plans.update(ref, APPROVED, simulation=sim_doc, paused="gas_funds")
            return CycleOutcome(ref, PAUSED, msg)
        return None

    # ------------------------------------------------------------------ one action

    def _send(
        self, ref: str, idx: int, order: int, action: Action, before: FundReading, now: int
    ) -> tuple[int, dict[str, Any]] | None:
        """Re-check the slippage at the state the previous actions left, then submit the
        action's intent and record it ``sent`` (with the positions before it, the fill quoted
        and when) in one write. None when it is not sent (recorded with its result)."""
        quote = self.s.encoder.quote(before, action, before.block)
        if quote is not None:
            bps = riskmod.slippage_bps(quote.quote_out, quote.oracle_out)
            metrics.observe_slippage(self.s.symbol(action.asset), bps)
            if bps > self.s.cfg.slippage_block_bps:
                msg = f"action {idx}: quote {bps} bps under the oracle > {self.s.cfg.slippage_block_bps}: not sent"
                self.s.alert(AlertLevel.CRITICAL, "slippage", msg, ref)
                res = ActionResult(action, False, error=msg)
                self.s.plans.record_action(
                    ref, idx, "skipped", result=result_to_dict(res), order=order
                )
                return None
        # a pool leg's minOut from its fill simulated now (behind a PlanExecutor within the band
        # the owners signed, through the executor; other actions exactly as approved)
        leg = self._leg(ref, idx, order, action, before, quote)
        if leg is None:
            return None
        encoded, fill = leg
        spec = IntentSpec(
            idempotency_key=f"fund:{ref}:{idx}",
            role=ROLE,
            chain_id=self.s.pipeline().chain_id,
            sender=self.s.sender(),
            target=encoded.target,
            calldata=encoded.calldata,
            notional=action.amount,
            # a leg that trades on a pool (a quote: a DEX venue), direct or through the
            # PlanExecutor, goes to the private relays, never waits in the public pool
            # (keepers.tx.relay; KEEPER_PUBLIC_MEMPOOL_FALLBACK)
            fee_policy={"private": 1} if quote is not None else {},
        )
        intent = self.s.pipeline().submit(spec)
        mark: dict[str, Any] = {
            "order": order,
            "call": {
                "function": encoded.function,
                "min_out": None if encoded.min_out is None else str(encoded.min_out),
            },
            "sent_at": now,
            "before": _marks(before.state),
        }
        if quote is not None and action.asset:  # verify applies it
            simulated = riskmod.Quote(fill, quote.oracle_out) if fill is not None else quote
            mark["fill"] = str(fill_ratio(simulated))
            if fill is not None:
                mark["call"]["fill"] = str(fill)
        self.s.plans.record_action(ref, idx, "sent", intent_id=intent.id, **mark)
        return intent.id, mark

    def _refuse(self, ref: str, idx: int, order: int, action: Action, msg: str) -> None:
        self.s.alert(AlertLevel.CRITICAL, "slippage", msg, ref)
        res = ActionResult(action, False, error=msg)
        self.s.plans.record_action(ref, idx, "skipped", result=result_to_dict(res), order=order)

    def _leg(
        self,
        ref: str,
        idx: int,
        order: int,
        action: Action,
        before: FundReading,
        quote: riskmod.Quote | None,
    ) -> tuple[EncodedCall, int | None] | None:
        """The call to send for ``action`` and the fill simulated for it (None for a leg with
        no pool). A pool leg is simulated alone on ``before.block`` with the loosest minOut
        allowed (behind a PlanExecutor its signed band against the oracle now, else the oracle
        less SLIPPAGE_BLOCK_BPS); its minOut is then the fill less REBALANCE_FILL_TOLERANCE_BPS.
        None when it is not sent: refused (recorded) when the fill is past the stop, or (behind
        an executor) ``leg_stale`` set when it cannot be sent within its band."""
        frozen = self.frozen_calls
        pool = quote is not None and self.s.simulate_call is not None
        if frozen:
            assert self.signed is not None
            declared = self.signed.actions[order]
            if not (pool and plan_approval.is_pool_leg(declared)):
                # exactly the approved calldata (an ERC-4626 or async leg: at the band's floor)
                return frozen[order], None
            band = self.signed.max_slippage_bps[order]
            floor = self._band_floor(before, declared, band, before.block)
        else:
            if not pool or action.type.value not in ("purchaseAsset", "redeemAsset"):
                return self.s.encoder.encode(before, action, quote), None
            assert quote is not None
            declared, band = b"", self.s.cfg.slippage_block_bps
            floor = quote.oracle_out * (BPS - band) // BPS
        assert quote is not None and self.s.simulate_call is not None
        probe = self._call_with(before, action, quote, declared, order, floor)
        step = self.s.simulate_call(
            before.block,
            SimCall(self.s.sender(), probe.target, probe.calldata, probe.function),
        )
        priced = "SlippageExceeded" in (step.error or "") or "LegOutsideBand" in (step.error or "")
        if not step.ok and not priced:
            # refused for another reason (approvals, a pause, a venue): sent as it stands, with
            # the pool's quote as its fill, so the chain says why (recorded as the action's
            # failure); never looser than a fill the keeper saw
            min_out = min_out_from_fill(quote.quote_out, floor, self.s.cfg)
            return self._call_with(before, action, quote, declared, order, min_out), None
        if not step.ok:
            why = (
                f"action {idx} ({probe.function}) cannot fill within {band} bps under the oracle "
                f"now (simulated: {step.error})"
            )
            if frozen:
                self.leg_stale = why + ": never sent looser than signed"
            else:
                self._refuse(ref, idx, order, action, why + ": not sent")
            return None
        fill = self._decoded_fill(step, through_executor=bool(frozen))
        bps = riskmod.slippage_bps(fill, quote.oracle_out)
        if bps > self.s.cfg.slippage_block_bps:
            msg = f"action {idx}: simulated fill {bps} bps under the oracle > {self.s.cfg.slippage_block_bps}: not sent"
            self._refuse(ref, idx, order, action, msg)
            return None
        min_out = min_out_from_fill(fill, floor, self.s.cfg)
        return self._call_with(before, action, quote, declared, order, min_out), fill

    def _call_with(
        self,
        before: FundReading,
        action: Action,
        quote: riskmod.Quote,
        declared: bytes,
        order: int,
        min_out: int,
    ) -> EncodedCall:
        """The pool leg with ``min_out``: through the executor (its signed aim) or direct."""
        if not declared:
            direct = self.s.encoder.encode(before, action, quote)
            data = bytes.fromhex(direct.calldata.removeprefix("0x"))
            data = plan_approval.with_min_out(data, min_out)
            return replace(direct, calldata="0x" + data.hex(), min_out=min_out)
        assert self.signed is not None and self.s.contracts.executor is not None
        leg = plan_approval.with_min_out(declared, min_out)
        data = plan_approval.encode_execute_action(self.signed, order, self.sigs, leg)
        fn = self.frozen_calls[order].function
        return EncodedCall(
            self.s.contracts.executor.address, "0x" + data.hex(), fn, (order,), min_out
        )

    def _decoded_fill(self, step: SimStep, through_executor: bool) -> int:
        """What the simulated purchaseAsset / redeemAsset returned (executeAction wraps it in
        ``bytes``)."""
        raw = bytes.fromhex((step.return_data or "0x").removeprefix("0x"))
        codec = self.s.w3.codec
        if through_executor:
            raw = bytes(codec.decode(["bytes"], raw)[0])
        return int(codec.decode(["uint256"], raw)[0])

    def _band_floor(self, reading: FundReading, declared: bytes, band: int, block: Any) -> int:
        """The loosest minOut the executor takes for the pool leg ``declared`` under ``band``,
        with the oracle at ``block`` (its own rule: keepers.fund.planning.fills)."""
        token = Web3.to_checksum_address(declared[16:36])
        amount = int.from_bytes(declared[36:68], "big")
        if declared[:4] == plan_approval.PURCHASE_SELECTOR:
            cash = purchase_cash_floor(amount, band)
            return self.s.encoder.tokens_worth(reading, token, cash, block)
        return redeem_floor(self.s.encoder.oracle_value_of(token, amount, block), band)

    def _floor_legs(self, reading: FundReading, skip: Collection[int]) -> dict[int, bytes]:
        """Position -> each pool leg not yet sent at its band's floor at ``reading``."""
        assert self.signed is not None
        out = {}
        for k, declared in enumerate(self.signed.actions):
            if k in skip or not plan_approval.is_pool_leg(declared):
                continue
            band = self.signed.max_slippage_bps[k]
            floor = self._band_floor(reading, declared, band, reading.block)
            out[k] = plan_approval.with_min_out(declared, floor)
        return out

    def _unconfirmed(
        self, ref: str, idx: int, outcome: IntentOutcome, mark: dict[str, Any], now: int
    ) -> None:
        """``action_unconfirmed`` (warning, once per action) when the action has been sent
        for KEEPER_EXECUTE_TIMEOUT_S without its intent ending; the pipeline keeps working it
        (its Watch step re-sends and bumps fees), the plan stays approved."""
        sent_at = mark.get("sent_at")
        if sent_at is None:
            return
        age = now - int(sent_at)
        if age < self.s.execute_timeout_s:
            return
        msg = (
            f"action {idx} sent {age} s ago (intent {outcome.intent_id}, {outcome.status}) and "
            f"not confirmed (KEEPER_EXECUTE_TIMEOUT_S={self.s.execute_timeout_s:g}): the "
            "pipeline keeps working it; the plan resumes once it is final"
        )
        self.s.alert_once(AlertLevel.WARNING, ACTION_UNCONFIRMED, f"{ref}:{idx}", msg, now, ref)

    def _waiting(
        self, ref: str, idx: int, outcome: IntentOutcome | None, what: str, moved: bool, t0: float
    ) -> CycleOutcome:
        intent = f" (intent {outcome.intent_id})" if outcome is not None else ""
        msg = f"action {idx}{intent}: {what}; the plan goes on at the next tick"
        log.info("plan.executing", plan=ref, action=idx, status=what)
        return CycleOutcome(
            ref, EXECUTING if moved else APPROVED, msg, seconds=time.perf_counter() - t0
        )

    def _measure(
        self,
        ref: str,
        idx: int,
        order: int,
        action: Action,
        now_reading: FundReading,
        mark: dict[str, Any],
        outcome: IntentOutcome,
    ) -> tuple[FundReading, str | None]:
        """The action's intent is final: measure its effect against the positions recorded
        when it was sent, record its result; (the reading after it, an abort reason for the
        rest or None)."""
        status, error, tx_hash = outcome.status, outcome.error, outcome.tx_hash
        after = self.s.read()
        wei = 0
        received = None
        cost = None
        if tx_hash:
            receipt = self.s.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            wei = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", 0))
            received = self._received(receipt, action)
            cost = receipt_cost(self.s.contracts.controller, receipt) if outcome.ok else None
        if "before" in mark:
            cash0 = int(mark["before"]["cash"])
            pos0 = [int(x) for x in mark["before"]["positions"]]
        else:  # sent by a keeper from before the split: what this pass read
            cash0, pos0 = now_reading.state.cash, list(now_reading.state.positions())
        pos = after.state.positions()
        # positions: L1 is cash - pending; use the cash delta for L1
        deltas = (after.state.cash - cash0, pos[1] - pos0[1], pos[2] - pos0[2])
        ok = outcome.ok
        if ok and action.asset and action.amount and action.to_tier is not None:
            got = deltas[action.to_tier] if action.type.value == "purchaseAsset" else deltas[0]
            if got:
                short = max(0, action.amount - got) * BPS // action.amount
                metrics.observe_slippage(self.s.symbol(action.asset), short)
        stop = None
        if not ok:
            error = error or status
            if outcome.revert is not None and outcome.revert.name == "EnforcedPause":
                stop = f"contract paused at action {idx}"
                self.s.alert(
                    AlertLevel.CRITICAL, "paused", f"{stop}: every remaining action aborted", ref
                )
            else:
                self.s.alert(
                    AlertLevel.WARNING, "tx_failed", f"action {idx} {status}: {error}", ref
                )
        res = ActionResult(
            action,
            ok,
            received=received,
            actual_deltas=deltas if ok else None,  # type: ignore[arg-type]
            tx_hash=tx_hash,
            error=None if ok else error,
            cost=cost,
        )
        self.s.plans.record_action(
            ref,
            idx,
            "done" if ok else "failed",
            result=result_to_dict(res),
            order=order,
            gas_wei=str(wei),
        )
        self.s.clear_alert(ACTION_UNCONFIRMED, int(after.state.timestamp))
        return after, stop

    # ------------------------------------------------------------------ 6-7

    def _finish(
        self,
        ref: str,
        p: Any,
        payload: dict[str, Any],
        start: dict[str, Any],
        order_of: list[int],
        now: int,
        started: float,
    ) -> CycleOutcome:
        """Every action has its result: verify against the state before the first send at
        the fills quoted before each send, and record the outcome in one write."""
        row = self.s.plans.get(ref)
        assert row is not None
        by_seq = {a.seq: dict(a.payload) for a in row.actions}
        results: list[ActionResult] = []
        indexed: list[tuple[int, ActionResult]] = []
        fills: dict[str, Decimal] = {}
        gas_wei = 0
        for idx in order_of:
            doc = by_seq.get(idx, {})
            if "result" not in doc:
                continue  # aborted: never sent
            res = result_from_dict(p.actions[idx], doc["result"])
            results.append(res)
            indexed.append((idx, res))
            gas_wei += int(doc.get("gas_wei") or 0)
            if doc.get("fill") is not None and p.actions[idx].asset:
                fills[p.actions[idx].asset] = Decimal(doc["fill"])
        aborted = any(a.status == "aborted" for a in row.actions)
        begin = state_from_doc(start["state"])
        # effects already in the starting state: results recorded before it (a restart from
        # before the split), and intents sent before it that were mined by its block
        already = {int(i) for i in start.get("already", ())}
        resumed = {int(i) for i in start.get("resumed", ())}
        for idx in resumed:
            doc = by_seq.get(idx, {})
            if "result" in doc:
                res = result_from_dict(p.actions[idx], doc["result"])
                if self._mined_by(res, True, int(start["block"])):
                    already.add(idx)
        this_run = [r for i, r in indexed if i not in already]
        # 6. verify
        if self.s.before_verify is not None:
            self.s.before_verify()
        final = self.s.read()
        verification = self.s.verify(begin, this_run, final.state, ref, fills)
        ok = [r for r in results if r.success]
        # others' cash since the first send is in the baseline: not the plan's progress
        baseline = with_outside_cash(begin, int(verification.get("outside_cash", 0)))
        verification["progress"] = progress(baseline, final.state, len(ok))
        verification["detail"] = f"{verification['progress']}; {verification['detail']}"
        if ok:
            self.s.clear_alert("risk_block", now)
            self.s.clear_alert("risk_skip", now)
        ended: dict[str, Any] = {}
        if self.stale_reason is not None:
            status = STALE
            ended = {
                "ended": {"status": str(STALE), "reason": self.stale_reason, "at": now,
                          "stage": "send"}
            }  # fmt: skip
        elif aborted:
            status = ABORTED
        elif results and len(ok) == len(results):
            status = EXECUTED
        elif ok:
            status = PARTIAL
        else:
            status = FAILED
        # 7. record
        seconds = time.perf_counter() - started
        if already:  # resumed: the state read at the start already holds the earlier actions
            rest = tuple(a for i, a in enumerate(p.actions) if i not in already)
            report = plan_report(begin, replace(p, actions=rest), results, final.state)
            # every action and result, the tiers as planned before the first action
            report = resumed_report(payload.get("report") or {}, report, sorted(already))
        else:
            report = plan_report(begin, p, results, final.state)
        report["progress"] = verification["progress"]
        planned = payload.get("report") or {}
        for key in ("holders", "holders_lines"):  # what holders saw when it was planned
            if key in planned:
                report.setdefault(key, planned[key])
        cost = sum(r.cost or 0 for r in results)
        report["cost"] = str(cost)
        self.s.plans.finish(
            ref,
            status,
            now,
            cost,
            verification=verification,
            report=report,
            executed_at=now,
            gas_wei=str(gas_wei),
            seconds=round(seconds, 3),
            executing_s=now - int(start.get("at", now)),
            **ended,
        )
        log.info(
            "plan.done", plan=ref, status=status, seconds=round(seconds, 2), actions=len(results)
        )
        return CycleOutcome(ref, status, verification.get("detail", ""), results, seconds)

    def _stopped(self, ref: str, idx: int, t0: float) -> CycleOutcome:
        """The keeper stops mid-plan: nothing more is sent, the plan stays approved with its
        sent actions recorded, and a restart resumes it from there."""
        log.warning("plan.stopped", plan=ref, at_action=idx)
        return CycleOutcome(
            ref,
            STOPPED,
            f"stopped at action {idx}: resumes on restart",
            seconds=time.perf_counter() - t0,
        )

    def _received(self, receipt: Any, action: Action) -> int | None:
        ctl = self.s.contracts.controller
        for ev, arg in (
            ("Purchased", "tokensOut"),
            ("Redeemed", "cashOut"),
            ("WaterfallLiquidated", "raised"),
            ("Allocated", "amount"),
        ):
            try:
                logs = getattr(ctl.events, ev)().process_receipt(receipt, errors=_DISCARD)
            except Exception:  # noqa: BLE001
                continue
            if logs:
                return int(sum(int(lg["args"][arg]) for lg in logs))
        return None

    def _mined_by(self, res: ActionResult, resumed: bool, block: int) -> bool:
        """Whether a resumed action's transaction was already mined at `block` (the state read
        before the first send of this execution): then its effect is in that state and verify
        must not apply it again (a keeper killed between broadcast and recording the result)."""
        if not resumed or not res.tx_hash:
            return False
        try:
            receipt = self.s.w3.eth.get_transaction_receipt(HexStr(res.tx_hash))
        except Exception:  # noqa: BLE001 - unknown receipt: count it as this run's
            return False
        return int(receipt["blockNumber"]) <= block
