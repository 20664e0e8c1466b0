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
steps pass along (the frozen calls) live on it for that pass only. Beside it: the pool legs' calls
made just before each send (keepers.fund.pool_legs), the check of the result against the fund
(keepers.fund.verify), what it is given (keepers.fund.execution_services)."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import replace
from decimal import Decimal
from typing import Any

from eth_typing import HexStr
from web3 import Web3

from keepers.core.logging import get_logger
from keepers.fund.actions import EncodedCall, fill_ratio
from keepers.fund.costs import own_events, receipt_cost
from keepers.fund.execution_services import ExecutionServices
from keepers.fund.outcome import EXECUTING, PAUSED, ROLE, STOPPED, CycleOutcome
from keepers.fund.plan_docs import (
    result_from_dict,
    result_to_dict,
    resumed_report,
    state_from_doc,
    state_to_doc,
)
from keepers.fund.planning import plan_approval
from keepers.fund.planning import risk as riskmod
from keepers.fund.planning.actions import Action, ActionResult
from keepers.fund.planning.report import plan_report, progress
from keepers.fund.planning.state import BPS, FundState
from keepers.fund.pool_legs import PoolLegs
from keepers.fund.reader import FundReading
from keepers.fund.records import (
    ABORTED,
    APPROVED,
    EXECUTED,
    FAILED,
    PARTIAL,
    STALE,
)

# verify_tiers: keepers.fund.bot imports it from here
from keepers.fund.verify import verify_tiers, with_outside_cash  # noqa: F401
from keepers.runtime import metrics
from keepers.runtime.alerts import AlertLevel
from keepers.tx.outcome import IntentOutcome, Outcome
from keepers.tx.pipeline import IntentSpec
from keepers.tx.retry import NetworkUnavailable, is_network_error
from keepers.tx.simulation import SimulationResult

log = get_logger("keepers.fundbot")

# what an action received, by the controller's event it emitted (the first found counts)
_RECEIVED = (
    ("Purchased", "tokensOut"),
    ("Redeemed", "cashOut"),
    ("WaterfallLiquidated", "raised"),
    ("Allocated", "amount"),
)

ACTION_UNCONFIRMED = "action_unconfirmed"  # alert code: sent, not final after the timeout


def _marks(state: FundState) -> dict[str, Any]:
    """What an action's measured deltas are taken against: L1 cash and the tier positions."""
    return {"cash": str(state.cash), "positions": [str(x) for x in state.positions()]}


class Execution(PoolLegs):
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
                    aborted = self._stale_at(ref, idx, order, why)
                    continue
                sent_now = self._send(ref, idx, order, action, before, now)
                if sent_now is None and self.leg_stale is not None:
                    # a signed pool leg that cannot be sent within its band: never looser; the
                    # plan ends stale and a new one is made (signed again above the threshold)
                    why, self.leg_stale = self.leg_stale, None
                    aborted = self._stale_at(ref, idx, order, why)
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

    def _stale_at(self, ref: str, idx: int, order: int, why: str) -> str:
        """The rest of the plan no longer fits (``why``): action ``idx`` recorded aborted and
        ``plan_stale`` raised; returns the reason the later actions are aborted with."""
        self.stale_reason = why
        aborted = f"stale: {why}"
        msg = f"plan {ref} is stale at action {idx}: {why}; the rest is not sent"
        self.s.alert(AlertLevel.WARNING, "plan_stale", msg, ref)
        self.s.plans.record_action(ref, idx, "aborted", error=aborted, order=order)
        return aborted

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
            if outcome.ok:  # (its fills' events and the controller's valueOf of each)
                fills = self.s.contracts.only("controller", "Purchased", "Redeemed", "valueOf")
                cost = receipt_cost(fills, receipt)
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
        ctl = self.s.contracts.only("controller", *(ev for ev, _ in _RECEIVED))
        for ev, arg in _RECEIVED:
            try:
                logs = own_events(ctl, ev, receipt)
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
