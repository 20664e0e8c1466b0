"""Stages 5-7 of a fund plan's lifecycle, for an approved plan: resume what a killed keeper
left (actions with a result are kept, actions with an intent are followed, never sent again),
simulate the rest on a fork in order, check the keeper's gas funds, send each action through
the pipeline (behind a PlanExecutor exactly the frozen calldata, through it), verify the fund
against the plan at the fills quoted just before each send, and record the outcome in one write.

One `Execution` per call of `FundBot.execute`: the values its steps pass along (the frozen
calls, the fills, the results) live on it for that call only, never on the bot between calls.
The bot provides the services (store, pipeline, reader, alerts, encoder, hooks)."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eth_typing import HexStr
from web3 import Web3
from web3.logs import DISCARD as _DISCARD

from keepers.core.logging import get_logger
from keepers.fund.actions import EncodedCall, fill_ratio
from keepers.fund.costs import receipt_cost
from keepers.fund.outcome import PAUSED, ROLE, STOPPED, CycleOutcome
from keepers.fund.planning import risk as riskmod
from keepers.fund.planning.actions import Action, ActionResult
from keepers.fund.planning.report import plan_report, progress
from keepers.fund.planning.state import BPS
from keepers.fund.reader import FundReading
from keepers.fund.records import (
    ABORTED,
    APPROVED,
    EXECUTED,
    FAILED,
    PARTIAL,
    result_from_dict,
    result_to_dict,
    resumed_report,
)
from keepers.runtime import metrics
from keepers.runtime.alerts import AlertLevel
from keepers.tx.outcome import Outcome
from keepers.tx.pipeline import IntentSpec
from keepers.tx.retry import NetworkUnavailable
from keepers.tx.simulation import SimulationResult

if TYPE_CHECKING:
    from keepers.fund.bot import FundBot

log = get_logger("keepers.fundbot")


class Execution:
    """One execution of an approved plan (see the module doc)."""

    def __init__(self, bot: FundBot) -> None:
        self.bot = bot
        # by position in the frozen order: the approved calldata, through the executor
        self.frozen_calls: dict[int, EncodedCall] = {}
        # asset -> the fill ratio quoted just before its action was sent (verify applies it)
        self.fills: dict[str, Decimal] = {}

    def run(self, ref: str, now: int) -> CycleOutcome:
        started = time.perf_counter()
        p = self.bot.plans.plan(ref)
        if self.bot.stopping.is_set():  # stopping: the plan stays approved, a restart runs it
            return CycleOutcome(ref, STOPPED, "stopping: execution not started")
        try:
            reading = self.bot.read()
        except NetworkUnavailable as err:
            self.bot.alert(AlertLevel.WARNING, "network", str(err), ref)
            return CycleOutcome(ref, APPROVED, str(err))
        if reading.state.paused:
            self.bot.alert(AlertLevel.CRITICAL, "paused", "the fund is paused: plan aborted", ref)
            self.bot.plans.update(ref, ABORTED, abort="paused")
            return CycleOutcome(ref, ABORTED, "paused")
        # A restarted keeper resumes: actions already sent (an intent exists) are neither
        # simulated nor sent again; their intents are followed to the end.
        done: dict[int, dict[str, Any]] = {}
        sent: dict[int, int] = {}
        row = self.bot.plans.get(ref)
        assert row is not None
        for arow in row.actions:
            if "result" in arow.payload:
                done[arow.seq] = arow.payload["result"]
            elif arow.intent_id is not None:
                sent[arow.seq] = arow.intent_id
        frozen = row.payload.get("frozen") if self.bot.contracts.executor is not None else None
        if self.bot.contracts.executor is not None and frozen is None:
            # With a PlanExecutor every action goes through it, and only a frozen plan can: an
            # unfrozen one (a store from before the one-write freeze) is aborted, never sent
            # around the executor; the planner plans again from the state now.
            msg = "approved plan has no frozen document: aborted, never sent outside the executor"
            self.bot.alert(AlertLevel.CRITICAL, "plan_not_frozen", msg, ref)
            self.bot.plans.update(ref, ABORTED, abort="not_frozen")
            return CycleOutcome(ref, ABORTED, msg)
        if frozen is not None:
            expired = self.bot.approvals.frozen_expired(ref, frozen, now)
            if expired is not None:
                return expired
            self.frozen_calls = self.bot.approvals.frozen_calls(ref, frozen, now)
            order_of = [int(i) for i in frozen["order"]]
            calls = [
                (idx, p.actions[idx], self.frozen_calls[k])
                for k, idx in enumerate(order_of)
                if idx not in done and idx not in sent
            ]
        else:
            order_of = sorted(range(len(p.actions)), key=lambda i: p.actions[i].priority)
            calls = [c for c in self.bot.encode_all(reading, p, skip=set(done) | set(sent))]
        # 4. simulate, in order (KEEPER_SIMULATOR: the node's eth_simulateV1 or a fork)
        sim = self.bot.simulate(reading, calls) if calls else SimulationResult()
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
        if failed is not None:
            idx = calls[failed.index][0]
            msg = f"simulation of action {idx} ({calls[failed.index][2].function}) failed: {failed.error}"
            self.bot.alert(AlertLevel.CRITICAL, "simulation_failed", msg, ref, error=failed.error)
            self.bot.sizing.record_failed_leg(
                ref, calls[failed.index][1], failed.error, reading, now
            )
            self.bot.plans.update(ref, ABORTED, simulation=sim_doc, abort="simulation")
            return CycleOutcome(ref, ABORTED, msg, seconds=time.perf_counter() - started)
        self.bot.plans.update(ref, simulation=sim_doc)
        # gas funds: the simulated gas at the current price must be covered
        gas_price = int(self.bot.w3.eth.gas_price)
        need = sim.gas_used * gas_price * 2
        balance = int(self.bot.w3.eth.get_balance(Web3.to_checksum_address(self.bot.sender)))
        if balance < need:
            msg = f"keeper {self.bot.sender} has {balance} wei, needs ~{need}: execution paused"
            self.bot.alert(AlertLevel.CRITICAL, "gas_funds", msg, ref)
            # paused, not aborted: the next tick resumes once the keeper has gas again
            self.bot.plans.update(ref, APPROVED, simulation=sim_doc, paused="gas_funds")
            return CycleOutcome(ref, PAUSED, msg)
        # 5. execute in priority order; one failure does not stop the rest
        results: list[ActionResult] = []
        this_run: list[ActionResult] = []  # results of actions sent by this run
        mined_before: set[int] = set()
        gas_wei = 0
        before = reading
        aborted: str | None = None
        for order, idx in enumerate(order_of):
            action = p.actions[idx]
            if idx in done:  # before a restart: already in the state read at the start
                results.append(result_from_dict(action, done[idx]))
                continue
            if aborted:
                self.bot.plans.record_action(ref, idx, "aborted", error=aborted, order=order)
                continue
            # no new intent once stopping, or once another replica leads this fund (the plan
            # stays approved; the leader resumes it, the intents in flight exactly once)
            if (self.bot.stopping.is_set() or not self.bot.leading()) and idx not in sent:
                return self._stopped(ref, idx, results)
            res, before, wei, stop = self._execute_one(
                ref, idx, order, action, before, sent.get(idx)
            )
            if stop == STOPPED:  # its intent is recorded where it stands; a restart follows it
                return self._stopped(ref, idx, results)
            if stop == "gas_funds":  # the intent waits for gas; the plan resumes later
                msg = f"keeper {self.bot.sender} out of gas funds at action {idx}: execution paused"
                self.bot.alert(AlertLevel.CRITICAL, "gas_funds", msg, ref)
                self.bot.plans.update(ref, APPROVED, paused="gas_funds")
                return CycleOutcome(ref, PAUSED, msg, results)
            gas_wei += wei
            results.append(res)
            if self._mined_by(res, idx in sent, reading.block):
                mined_before.add(idx)  # its effect is already in `reading`
            else:
                this_run.append(res)
            if stop:
                aborted = stop
        # 6. verify
        if self.bot.before_verify is not None:
            self.bot.before_verify()
        final = self.bot.read()
        verification = self.bot.verify(reading.state, this_run, final.state, ref, self.fills)
        ok = [r for r in results if r.success]
        verification["progress"] = progress(reading.state, final.state, len(ok))
        verification["detail"] = f"{verification['progress']}; {verification['detail']}"
        if ok:
            self.bot._clear_alert("risk_block", now)
            self.bot._clear_alert("risk_skip", now)
        if aborted:
            status = ABORTED
        elif results and len(ok) == len(results):
            status = EXECUTED
        elif ok:
            status = PARTIAL
        else:
            status = FAILED
        # 7. record
        seconds = time.perf_counter() - started
        already = set(done) | mined_before
        if already:  # resumed: the state read at the start already holds the earlier actions
            rest = tuple(a for i, a in enumerate(p.actions) if i not in already)
            report = plan_report(reading.state, replace(p, actions=rest), results, final.state)
            # every action and result, the tiers as planned before the first action
            report = resumed_report(row.payload.get("report") or {}, report, sorted(already))
        else:
            report = plan_report(reading.state, p, results, final.state)
        report["progress"] = verification["progress"]
        cost = sum(r.cost or 0 for r in results)
        report["cost"] = str(cost)
        self.bot.plans.finish(
            ref,
            status,
            now,
            cost,
            verification=verification,
            report=report,
            executed_at=now,
            gas_wei=str(gas_wei),
            seconds=round(seconds, 3),
        )
        log.info(
            "plan.done", plan=ref, status=status, seconds=round(seconds, 2), actions=len(results)
        )
        return CycleOutcome(ref, status, verification.get("detail", ""), results, seconds)

    def _stopped(self, ref: str, idx: int, results: list[ActionResult]) -> CycleOutcome:
        """The keeper stops mid-plan: nothing more is sent, the plan stays approved with its
        sent actions recorded, and a restart resumes it from there."""
        log.warning("plan.stopped", plan=ref, at_action=idx, done=len(results))
        return CycleOutcome(ref, STOPPED, f"stopped at action {idx}: resumes on restart", results)

    def _execute_one(
        self,
        ref: str,
        idx: int,
        order: int,
        action: Action,
        before: FundReading,
        intent_id: int | None = None,
    ) -> tuple[ActionResult, FundReading, int, str | None]:
        """Returns (result, reading after, gas wei, abort reason for the rest or None).
        With ``intent_id`` (sent before a restart) it only follows that intent to the end."""
        if self.bot.before_action is not None:
            self.bot.before_action(idx)
            before = self.bot.read()
        if intent_id is not None:
            return self._follow(ref, idx, order, action, before, intent_id)
        # slippage re-check at the state the previous actions left
        quote = self.bot.encoder.quote(before, action, before.block)
        if quote is not None:
            bps = riskmod.slippage_bps(quote.quote_out, quote.oracle_out)
            metrics.observe_slippage(self.bot.symbol(action.asset), bps)
            if bps > self.bot.cfg.slippage_block_bps:
                msg = f"action {idx}: quote {bps} bps under the oracle > {self.bot.cfg.slippage_block_bps}: not sent"
                self.bot.alert(AlertLevel.CRITICAL, "slippage", msg, ref)
                res = ActionResult(action, False, error=msg)
                self.bot.plans.record_action(
                    ref, idx, "skipped", result=result_to_dict(res), order=order
                )
                return res, before, 0, None
        if quote is not None and action.asset:
            self.fills[action.asset] = fill_ratio(quote)
        frozen = self.frozen_calls
        # behind a PlanExecutor: exactly the frozen (approved) calldata, through the executor
        encoded = frozen[order] if frozen else self.bot.encoder.encode(before, action, quote)
        spec = IntentSpec(
            idempotency_key=f"fund:{ref}:{idx}",
            role=ROLE,
            chain_id=self.bot.pipeline.chain_id,
            sender=self.bot.sender,
            target=encoded.target,
            calldata=encoded.calldata,
            notional=action.amount,
        )
        intent = self.bot.pipeline.submit(spec)
        self.bot.plans.record_action(
            ref,
            idx,
            "sent",
            intent_id=intent.id,
            order=order,
            call={
                "function": encoded.function,
                "min_out": None if encoded.min_out is None else str(encoded.min_out),
            },
        )
        return self._follow(ref, idx, order, action, before, intent.id)

    def _follow(
        self, ref: str, idx: int, order: int, action: Action, before: FundReading, intent_id: int
    ) -> tuple[ActionResult, FundReading, int, str | None]:
        """Work the pipeline until the action's intent is final, then measure and record it."""
        outcome = self.bot.pipeline.wait_final(
            intent_id, self.bot.k.execute_timeout_s, stop=self.bot.stopping
        )
        if outcome.kind is Outcome.HALTED and outcome.halted is not None:
            raise outcome.halted  # another process signs with our key: the keeper stops
        if outcome.kind is Outcome.STOPPED:  # the action stays sent, its intent recorded
            return ActionResult(action, False, error=STOPPED), before, 0, STOPPED
        if outcome.kind is Outcome.OUT_OF_GAS_FUNDS:
            self.bot.plans.record_action(ref, idx, "waiting_gas", order=order)
            return ActionResult(action, False, error=outcome.error), before, 0, "gas_funds"
        status, error, tx_hash = outcome.status, outcome.error, outcome.tx_hash
        after = self.bot.read()
        wei = 0
        received = None
        cost = None
        if tx_hash:
            receipt = self.bot.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            wei = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", 0))
            received = self._received(receipt, action)
            cost = receipt_cost(self.bot.contracts.controller, receipt) if outcome.ok else None
        deltas = tuple(after.state.positions()[t] - before.state.positions()[t] for t in range(3))
        # positions: L1 is cash - pending; use the cash delta for L1
        deltas = (after.state.cash - before.state.cash, deltas[1], deltas[2])
        ok = outcome.ok
        if ok and action.asset and action.amount and action.to_tier is not None:
            got = deltas[action.to_tier] if action.type.value == "purchaseAsset" else deltas[0]
            if got:
                short = max(0, action.amount - got) * BPS // action.amount
                metrics.observe_slippage(self.bot.symbol(action.asset), short)
        stop = None
        if not ok:
            error = error or status
            if outcome.revert is not None and outcome.revert.name == "EnforcedPause":
                stop = f"contract paused at action {idx}"
                self.bot.alert(
                    AlertLevel.CRITICAL, "paused", f"{stop}: every remaining action aborted", ref
                )
            else:
                self.bot.alert(
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
        self.bot.plans.record_action(
            ref, idx, "done" if ok else "failed", result=result_to_dict(res), order=order
        )
        return res, after, wei, stop

    def _received(self, receipt: Any, action: Action) -> int | None:
        ctl = self.bot.contracts.controller
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
        when this run started): then its effect is in that state and verify must not apply it
        again (a keeper killed between broadcast and recording the result)."""
        if not resumed or not res.tx_hash:
            return False
        try:
            receipt = self.bot.w3.eth.get_transaction_receipt(HexStr(res.tx_hash))
        except Exception:  # noqa: BLE001 - unknown receipt: count it as this run's
            return False
        return int(receipt["blockNumber"]) <= block
