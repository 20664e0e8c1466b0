"""The fund rebalance bot (seed 001 section 4.1): generate plan -> risk check -> approval ->
simulate -> execute -> verify -> record.

`FundBot` drives the stages and holds the services they share (store, pipeline, reader,
alerts): the jobs and their triggers, and the plan's state machine (`advance`) are here; each
stage is a module of its own and keeps nothing between calls, every document going through
the plan's row (one write per status change):

- plan and risk: keepers.fund.sizing (`bot.sizing`: depth- and quote-sized plans, the cost
  budget, the risk check) around the pure planner (keepers.fund.planning);
- approval and freeze: keepers.fund.approval_stage (`bot.approvals`);
- execute, verify, record: keepers.fund.execution (one `Execution` per pass of `execute`:
  sending an action and seeing it confirmed are separate steps, and no job waits on the chain
  longer than KEEPER_FOLLOW_BUDGET_S per action; the next tick follows what is in flight).

Time is passed into every entry point (``now``, unix seconds) so scheduled runs replay
deterministically. Failure handling (seed 001 section 7.1):

| event                         | handling                                                   |
|-------------------------------|------------------------------------------------------------|
| simulation failure            | plan aborted, nothing sent, alert with the decoded error   |
| transaction failed            | recorded, the next action runs                             |
| slippage too high (re-quote)  | that action is not sent, alert, the next action runs       |
| keeper out of gas funds       | execution paused (plan stays approved), critical alert     |
| network timeout               | retried 3 times (keepers.tx.retry), then alert             |
| action sent, not confirmed    | the job returns, the next tick follows the same intent;    |
|                               | action_unconfirmed after KEEPER_EXECUTE_TIMEOUT_S          |
| contract paused               | every remaining action aborted, critical alert             |
| the fund moved under the plan | plan stale with its reason, a fresh plan (fund.lifecycle)  |
| approval / executor deadline  | plan expired with its reason, critical alert               |

Partial progress: every plan is sized to each venue's depth inside
REBALANCE_MAX_SLIPPAGE (keepers.fund.depth_reader reads the pools, keepers.fund.planning.depth does the
exact V3 maths) and re-checked on QuoterV2 before it is stored; a leg that does not fit is cut
to the safe size or dropped (the plan's ``depth`` notes say which and why) and the rest of the
plan runs. What depth leaves undone is the plan's carry, stored as a slice schedule
(fund_carry) that ``tick`` works off every CARRY_SLICE_INTERVAL_S, so a large flow goes out
over hours. A block that needs a human alerts once per cause (deduplicated) and says what
would unblock it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from web3 import Web3

from keepers.core import approval as approval_policy
from keepers.core.logging import get_logger
from keepers.fund.actions import ActionEncoder, EncodedCall
from keepers.fund.approval_stage import ApprovalServices, ApprovalStage
from keepers.fund.deployment import Deployed
from keepers.fund.depth_reader import DepthReader
from keepers.fund.execution import Execution, ExecutionServices, verify_tiers
from keepers.fund.fees_paid import FeesWatch, add_holders
from keepers.fund.lifecycle import Lifecycle, basis_doc
from keepers.fund.move_cuts import read_move_cuts
from keepers.fund.outcome import (  # re-exported: the CLI and the tests import them from here
    DUPLICATE,
    NO_SAFE_MOVE_STATUS,
    NOT_LEADER,
    CycleOutcome,
)
from keepers.fund.outcome import ROLE as ROLE  # re-exported for the tests
from keepers.fund.planning import risk as riskmod
from keepers.fund.planning import triggers as trig
from keepers.fund.planning.actions import Action, ActionResult, Plan
from keepers.fund.planning.cuts import MoveCut, cut_carry
from keepers.fund.planning.inflight import project
from keepers.fund.planning.plan import CARRY, COST_BUDGET
from keepers.fund.planning.report import plan_report
from keepers.fund.planning.rollback import create_rollback_plan
from keepers.fund.planning.state import FundState
from keepers.fund.read_watch import ReadWatch
from keepers.fund.reader import FUND_STATE, FundReader, FundReading, to_fund_state
from keepers.fund.records import (
    ABORTED,
    APPROVED,
    BLOCKED,
    EXECUTED,
    EXPIRED,
    FAILED,
    NOTHING,
    PARTIAL,
    PENDING_APPROVAL,
    PROPOSED,
    REJECTED,
    STALE,
    CarryStore,
    PlanPendingError,
    PlanStore,
)
from keepers.fund.roles import fund_calls as fund_calls  # re-exported for the tests
from keepers.fund.roles import fund_role as fund_role  # re-exported for the tests
from keepers.fund.settings import FundConfig
from keepers.fund.sizing import (
    SizingServices,
    SizingStage,
    block_key,
    bps_from,
    findings_text,
    no_safe_move_message,
    unblock,
)
from keepers.fund.venues import VenueChecker, VenuePrice
from keepers.runtime import metrics
from keepers.runtime.alerts import Alerter, AlertLevel
from keepers.runtime.leases import LeaseLost
from keepers.store.db import Store
from keepers.tx import children
from keepers.tx.contracts import FundAddresses, FundContracts
from keepers.tx.node import Node, connect_web3
from keepers.tx.pipeline import HoldHook, Pipeline  # HoldHook: re-exported
from keepers.tx.release import ReleaseCheck
from keepers.tx.retry import NetworkUnavailable
from keepers.tx.revert import RevertDecoder
from keepers.tx.signers import Signer, signer_from_settings
from keepers.tx.simulation import SimCall, SimRead, Simulator, choose_simulator

log = get_logger("keepers.fundbot")

KEEPER_FUNCTIONS = (
    "purchaseAsset",
    "redeemAsset",
    "allocateToLayer",
    "executeWaterfallLiquidation",
    "rebalanceBuffer",
)
JOBS = ("daily", "weekly", "threshold", "liquidity")
VENUE_OFF_ORACLE = "venue_off_oracle"


class FundBot:
    def __init__(
        self,
        config: FundConfig,
        store: Store,
        *,
        w3: Web3 | None = None,
        signer: Signer | None = None,
        alerter: Alerter | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        self.config = config
        self.cfg = config.planning
        self.k = config.keeper
        self.store = store
        self.plans = PlanStore(store, lambda: self.deployment)
        self.w3 = w3 or connect_web3(self.k.rpc_url, self.k.rpc_timeout_s)
        self.addresses = FundAddresses.load(self.k.deployment)
        # the release and deployment it drives, read on first use (check_chain at start-up)
        self.deployed = Deployed(self.w3, self.addresses, self.plans, lambda *a: self.alert(*a))
        self.contracts = FundContracts(self.w3, self.addresses)
        self.reader = FundReader(self.contracts)
        self.encoder = ActionEncoder(self.contracts, self.cfg)
        self.depth = DepthReader(self.contracts, self.encoder)
        self.venues = VenueChecker(self.w3, self.encoder)
        self.reader.riders += [self.depth, self.venues]  # their first reads in the fund's batch
        self.carry = CarryStore(store)
        self.watch = ReadWatch(self)  # what every read also watches (alerts, metrics, scans)
        # the lifecycle's stages (plan -> risk: sizing; approval -> freeze: approvals; execute
        # -> verify -> record: keepers.fund.execution, one Execution per call)
        self.sizing = SizingStage(
            SizingServices(
                cfg=self.cfg,
                plans=self.plans,
                depth=self.depth,
                venues=self.venues,
                quotes=self.encoder,
                gas_price=lambda: int(self.w3.eth.gas_price),
                native_price=self.k.native_price,
                symbol=self.symbol,
                venue_alert=self.venue_alert,
            )
        )
        self.decoder = RevertDecoder.default()
        self._simulator: Simulator | None = None  # chosen by check_chain (KEEPER_SIMULATOR)
        # a simulation fork an earlier, killed keeper left running (keepers.tx.children)
        children.reap_orphans()
        self.alert = alerter or Alerter()
        # the plan lifecycle's policy: stale and expired plans (keepers.fund.lifecycle)
        self.lifecycle = Lifecycle(self.plans, lambda *a, **kw: self.alert(*a, **kw))
        self.approvals = ApprovalStage(
            ApprovalServices(
                cfg=self.cfg,
                plans=self.plans,
                contracts=self.contracts,
                w3=self.w3,
                controller=self.addresses.controller,
                execution_window_s=self.k.plan_execution_window_s,
                encode_all=self.encode_all,
                alert=self.alert,
            )
        )
        self.signer = signer
        self._pipeline = pipeline
        # test seams: before each action is re-quoted and sent (with its index), and after
        # execution, before verification
        self.before_action: Callable[[int], None] | None = None
        self.before_verify: Callable[[], None] | None = None
        # set when the keeper stops (keeper run's SIGTERM): no new plan, no new intent; the
        # transaction in flight is left recorded, for a restart to resume
        self.stopping = threading.Event()
        # replicas (keeper run, keepers.runtime.leases): ``fence`` locks the fund's lease row
        # inside the decision's transaction and raises LeaseLost unless this process leads;
        # ``leading`` is the cheap check between two actions (False: start no new intent)
        self.fence: Callable[[Any], Any] | None = None
        self.leading: Callable[[], bool] = lambda: True

    @property
    def lease_scope(self) -> str:
        """What this bot decides for, in its lease's name: the fund's vault."""
        return str(self.addresses.vault).lower()

    # ------------------------------------------------------------------ wiring

    @property
    def sender(self) -> str:
        if self.signer is None:
            self.signer = signer_from_settings(self.k)
        return self.signer.address

    def check_chain(self) -> None:
        """Refuse to run against the wrong chain (KEEPER_CHAIN_ID), contracts, release or tier
        bands (keepers.fund.deployment), and check KEEPER_SIMULATOR now, never on a tick."""
        self.deployed.check(self.contracts, self.cfg, self.k.chain_id)
        self.simulator  # noqa: B018

    @property
    def release(self) -> ReleaseCheck:
        """The fund contracts' release against this keeper's ABIs (keepers.fund.deployment)."""
        return self.deployed.release

    @property
    def deployment(self) -> str:
        """The deployment this keeper drives, as plans record it (plans.deployment)."""
        return self.deployed.id

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            settings = self.k.model_copy(update={"policy": self.deployed.policy(self.k.policy)})
            node = Node(self.k.rpc_url, self.k.rpc_timeout_s)
            _ = self.sender  # builds the signer from the settings when none was given
            assert self.signer is not None
            self._pipeline = Pipeline(
                self.store,
                node,
                [self.signer],
                settings,
                decoder=self.decoder,
                crash=HoldHook.from_env(),
            )
            self._pipeline.reconcile_nonces()
        return self._pipeline

    # ------------------------------------------------------------------ reading

    def read(self) -> FundReading:
        """The fund at the latest block (keepers.fund.reader), watched as every read is
        (keepers.fund.read_watch: metrics, feed and hold alerts, timelock and fees paid)."""
        reading = self.reader.read()
        self.watch.observe(reading)
        return reading

    def fees_watch(self) -> FeesWatch:
        """The FeesAccrued sum this process keeps (for plan reports: keepers.fund.fees_paid)."""
        return self.watch.fees_watch()

    def symbol(self, token: str | None) -> str:
        """The asset's symbol for metric labels (the address only if the record lacks it)."""
        return self.addresses.symbols.get((token or "").lower(), token or "")

    # ------------------------------------------------------------------ 1. generate

    def triggers_for(self, job: str, state: FundState, now: int) -> list[trig.Trigger]:
        if job in ("daily", "weekly"):
            due = trig.scheduled_triggers(
                now,
                None if job != "daily" else self.plans.last_job_run("daily"),
                None if job != "weekly" else self.plans.last_job_run("weekly"),
                self.cfg,
            )
            due = [t for t in due if t.code == job]
            if not due:
                return []
            return (
                due
                + trig.threshold_triggers(state, self.cfg)
                + trig.liquidity_triggers(state, self.cfg)
            )
        if job == "threshold":
            return trig.threshold_triggers(state, self.cfg)
        if job == "liquidity":
            return trig.liquidity_triggers(state, self.cfg)
        raise ValueError(f"unknown job {job!r}; one of {JOBS}")

    def check(self, job: str, now: int, *, dry_run: bool = False) -> CycleOutcome:
        """One scheduled check: triggers -> plan -> (unless dry_run) the rest of the cycle."""
        try:
            reading = self.read()
        except NetworkUnavailable as err:
            self.alert(AlertLevel.WARNING, "network", str(err))
            return CycleOutcome(None, "network_error", str(err))
        triggers = self.triggers_for(job, reading.state, now)
        if job in ("daily", "weekly") and not dry_run:
            self.plans.record_job_run(job, now, {"triggers": len(triggers)})
        if not triggers:
            return CycleOutcome(None, NOTHING, f"{job}: no trigger")
        return self.plan_and_run(reading, triggers, now, dry_run=dry_run)

    def events(self, now: int) -> CycleOutcome:
        """Event triggers (seed 001 section 2.1 item 4) since the previous events check: vault
        deposits above LARGE_DEPOSIT_AMOUNT (Deposit logs), assets matured or whose redemption
        window opened, and oracle prices that moved by more than PRICE_MOVE_THRESHOLD. The
        first check only records where it starts."""
        try:
            reading = self.read()
        except NetworkUnavailable as err:
            self.alert(AlertLevel.WARNING, "network", str(err))
            return CycleOutcome(None, "network_error", str(err))
        last = self.plans.last_job_detail("events")
        detail = {
            "block": reading.block,
            "at": now,
            "prices": {k: str(v) for k, v in reading.prices.items()},
        }
        triggers: list[trig.Trigger] = []
        if last is not None:
            dec = reading.state.base_decimals
            if reading.block > int(last["block"]):
                deposits = self.contracts.only("vault", "Deposit").events.Deposit
                logs = deposits.get_logs(from_block=int(last["block"]) + 1, to_block=reading.block)
                for lg in logs:
                    triggers += trig.deposit_trigger(int(lg["args"]["assets"]), dec, self.cfg)
                self._move_cuts(int(last["block"]) + 1, reading, now)
            triggers += trig.asset_event_triggers(reading.state, int(last["at"]), now)
            previous = {k: int(v) for k, v in (last.get("prices") or {}).items()}
            triggers += trig.price_move_triggers(previous, reading.prices, self.cfg)
        self.plans.record_job_run("events", now, detail)
        if not triggers:
            return CycleOutcome(None, NOTHING, "events: no trigger")
        return self.plan_and_run(reading, triggers, now)

    def _move_cuts(self, from_block: int, reading: FundReading, now: int) -> list[MoveCut]:
        """The due runs' ``MoveCut`` events since ``from_block`` (keepers.fund.move_cuts: a
        warning each); what each cut left joins the carry (slices work it off)."""
        cuts = read_move_cuts(
            self.contracts.controller, self.w3, str(self.addresses.cash), self.symbol,
            self.alert, from_block, reading.block,
        )  # fmt: skip
        carry = cut_carry(reading.state, cuts)
        if carry:
            self.carry.join(carry, "move_cut", now, now)
        return cuts

    def manual(
        self, now: int, requested_by: str, reason: str, *, force: bool = True, dry_run: bool = False
    ) -> CycleOutcome:
        reading = self.read()
        triggers = [trig.manual_trigger(requested_by, reason, force_targets=force)]
        out = self.plan_and_run(reading, triggers, now, dry_run=dry_run)
        if out.status == DUPLICATE:  # an operator asked: refused, naming the pending plan
            raise PlanPendingError(out.detail)
        return out

    # ------------------------------------------------------------------ start-up

    def start(self) -> list[dict[str, Any]]:
        """At start-up: the plans this keeper resumes (waiting for approval or executing),
        logged one line each, returned for ``keeper run`` to print."""
        self.deployed.end_others()  # never resumed, never simulated
        resumed = self.plans.resumable()
        for r in resumed:
            log.warning(
                "fund.resume",
                plan=r["ref"],
                status=r["status"],
                done=r["done"],
                in_flight=r["in_flight"],
                actions=r["total"],
            )
        return resumed

    def plan_and_run(
        self, reading: FundReading, triggers: list[trig.Trigger], now: int, *, dry_run: bool = False
    ) -> CycleOutcome:
        if not dry_run:
            # another deployment's open plans never count as in flight here, nor cover a new
            # plan; a plan past its deadline neither covers nor holds a new one
            self.deployed.end_others(now)
            self.lifecycle.expire_overdue(now)
        # one picture of the fund: planned against the fund as it will be once the plans in
        # flight land (keepers.fund.planning.inflight), whichever trigger asked
        flights = self.plans.in_flight()
        p = self.sizing.make_sized_plan(reading, triggers, now, flights)
        report = add_holders(plan_report(project(reading.state, flights), p), self, reading)
        carried = any(t.code == CARRY for t in triggers)
        if not dry_run and (p.carry or carried):
            self.carry.replace(p, now, now + self.cfg.carry_slice_interval_s)
            if not p.carry:
                self.clear_alert("no_safe_move", now)
        if not p.actions:
            detail = "; ".join(f"{u.reason}: {u.detail}" for u in p.unresolved) or "in band"
            if reading.state.paused:
                self.alert(AlertLevel.CRITICAL, "paused", "the fund is paused: no rebalance", p.id)
                return CycleOutcome(p.id, NOTHING, detail)
            if p.carry and not dry_run:
                self._no_safe_move(p, now)
                return CycleOutcome(p.id, NO_SAFE_MOVE_STATUS, detail)
            held = next(
                (
                    u
                    for u in p.unresolved
                    if u.reason == COST_BUDGET and not u.detail.endswith("nothing else is due")
                ),
                None,
            )
            if held is not None and not dry_run and not self.stopping.is_set():
                # what waits for the budget is a plan record, not only a log line
                ref = self.plans.save_held(
                    p, COST_BUDGET, held.detail, {"report": report, "block": reading.block}
                )
                return CycleOutcome(ref, BLOCKED, detail)
            flying = next((f for f in flights if f.actions), None)
            if flying is not None:  # the trigger saw the chain; a plan in flight covers it
                msg = (
                    f"plan {flying.ref} ({flying.status}) already covers these actions: "
                    f"nothing to add to what is in flight ({detail})"
                )
                log.warning("plan.covered", plan=p.id, covered_by=flying.ref)
                return CycleOutcome(flying.ref, DUPLICATE, msg)
            return CycleOutcome(p.id, NOTHING, detail, report=report if dry_run else None)
        if dry_run:
            findings = self.sizing.risk_check(reading, p, now)
            return CycleOutcome(p.id, "dry_run", findings_text(findings), report=report)
        if self.stopping.is_set():
            return CycleOutcome(None, NOTHING, "stopping: no new plan")
        doc = {"report": report, "block": reading.block}
        doc["basis"] = basis_doc(project(reading.state, flights), p)
        try:  # the decision and its record: one transaction under the fund's decision lock
            covering = self.plans.save_decided(p, PROPOSED, doc, fence=self.fence)
        except LeaseLost as err:  # another replica leads this fund now: it decides
            log.warning("plan.not_leader", plan=p.id, reason=str(err))
            return CycleOutcome(None, NOT_LEADER, str(err))
        if covering is not None:
            msg = (
                f"plan {covering.ref} ({covering.status}) already covers these actions: "
                "no second plan while it is pending"
            )
            log.warning("plan.duplicate", plan=p.id, covered_by=covering.ref)
            return CycleOutcome(covering.ref, DUPLICATE, msg)
        return self.advance(p.id, now, reading)

    # ------------------------------------------------------------------ alerts needing a human

    def alert_once(
        self, level: AlertLevel, code: str, key: str, message: str, now: int, ref: str | None
    ) -> bool:
        """Alert unless the same cause (``key``) was alerted last for ``code``; a cleared or
        different cause alerts again."""
        last = self.plans.last_job_detail("alert:" + code)
        if last is not None and last.get("key") == key:
            log.info("alert.repeat_suppressed", code=code, key=key)
            return False
        self.plans.record_job_run("alert:" + code, now, {"key": key})
        self.alert(level, code, message, ref)
        return True

    def end_alert(self, code: str, ended: str, text: str, now: int) -> None:
        """The cause alerted for ``code`` is gone: cleared, and said once (``ended``, info),
        naming what it was; nothing when no cause was in force."""
        last = self.plans.last_job_detail("alert:" + code)
        if last is not None and last.get("key"):
            self.clear_alert(code, now)
            self.alert(AlertLevel.INFO, ended, f"{text} (was: {last['key']})")

    def clear_alert(self, code: str, now: int) -> None:
        last = self.plans.last_job_detail("alert:" + code)
        if last is not None and last.get("key") is not None:
            self.plans.record_job_run("alert:" + code, now, {"key": None})

    def venue_alert(self, held: dict[tuple[str, str], VenuePrice], now: int) -> None:
        """``venue_off_oracle`` (warning, once per set of held venue sides) naming each venue
        held and both its prices; cleared once every venue agrees with its feed again."""
        if not held:
            self.clear_alert(VENUE_OFF_ORACLE, now)
            return
        key = ",".join(sorted(f"{t}:{side}" for t, side in held))
        msg = (
            "; ".join(v.describe(side) for (_, side), v in sorted(held.items()))
            + f" (VENUE_ORACLE_MAX_BPS={self.cfg.venue_oracle_max_bps}): the plan uses the other "
            "venues; the venue is traded again once its price agrees with its feed"
        )
        self.alert_once(AlertLevel.WARNING, VENUE_OFF_ORACLE, key, msg, now, None)

    def _no_safe_move(self, p: Plan, now: int) -> None:
        key, msg = no_safe_move_message(p, self.cfg)
        self.alert_once(AlertLevel.WARNING, "no_safe_move", key, msg, now, p.id)

    # ------------------------------------------------------------------ slice schedule

    def slices(self, now: int) -> list[CycleOutcome]:
        """The next slice of the carried flow, when one is due and no plan waits for approval
        (a waiting plan holds the non-urgent flow, keepers.fund.planning.inflight; approved and
        executing plans are netted like every trigger's)."""
        if not self.carry.due(now) or self.plans.with_status(PROPOSED, PENDING_APPROVAL):
            return []
        try:
            reading = self.read()
        except NetworkUnavailable as err:
            self.alert(AlertLevel.WARNING, "network", str(err))
            return [CycleOutcome(None, "network_error", str(err))]
        out = self.plan_and_run(reading, self.carry.triggers(), now)
        if out.status in (NOTHING, NO_SAFE_MOVE_STATUS) and self.carry.active():
            self.carry.postpone(now + self.cfg.carry_slice_interval_s)
        return [out]

    # ------------------------------------------------------------------ the state machine

    def advance(self, ref: str, now: int, reading: FundReading | None = None) -> CycleOutcome:
        """Move a stored plan on as far as it can go at ``now``."""
        row = self.plans.get(ref)
        if row is None:
            raise KeyError(ref)
        if row.status in (PROPOSED, PENDING_APPROVAL, APPROVED):
            ended = self.deployed.end_if_other(row, now)  # before any simulation
            if ended is not None:
                return ended
        p = self.plans.plan_of(row)
        if row.status in (PROPOSED, PENDING_APPROVAL):
            # the fund as it is now: a plan someone else's move left behind ends stale
            reading = reading or self.read()
            why = self.lifecycle.fit(ref, reading.state)
            if why is not None:
                stage = "risk check" if row.status == PROPOSED else "approval"
                return self.lifecycle.stale(ref, why, now, stage)
        if row.status == PROPOSED:
            assert reading is not None
            report = self.sizing.risk_check(reading, p, now)
            if any(f.rule == "fit" for f in report.findings):
                return self.lifecycle.stale(ref, findings_text(report), now, "risk check")
            findings = [
                {
                    "rule": f.rule,
                    "level": f.level.value,
                    "detail": f.detail,
                    "action": f.action_index,
                }
                for f in report.findings
            ]
            for f in report.findings:
                if f.rule == "slippage" and f.action_index is not None:
                    a = p.actions[f.action_index]
                    metrics.observe_slippage(self.symbol(a.asset), bps_from(f.detail))
            if not report.proceed:
                level = (
                    AlertLevel.CRITICAL
                    if any(f.rule == "paused" for f in report.findings)
                    else AlertLevel.WARNING
                )
                if any(
                    f.rule == "slippage" and f.level is riskmod.Level.BLOCK for f in report.findings
                ):
                    level = AlertLevel.CRITICAL
                text = findings_text(report)
                key = block_key(p, report)
                self.alert_once(
                    level, "risk_" + report.level.value, key, f"{text}; unblock: {unblock(report)}",
                    now, ref,
                )  # fmt: skip
                self.plans.update(ref, BLOCKED, risk=findings)
                return CycleOutcome(ref, BLOCKED, text)
            if report.level is riskmod.Level.WARN:
                self.alert(AlertLevel.WARNING, "risk_warn", findings_text(report), ref)
            # One write: the status, the frozen plan and who may approve it together, so that
            # no kill can leave a plan waiting with nothing to sign or nobody to sign it.
            frozen = (
                self.approvals.frozen_doc(ref, reading, now)
                if self.contracts.executor is not None
                else None
            )
            _, approval = self.approvals.decision(ref, now, frozen)
            docs = {"approval": approval, **({"frozen": frozen} if frozen is not None else {})}
            self.plans.update(ref, PENDING_APPROVAL, risk=findings, **docs)
            row = self.plans.get(ref)
            assert row is not None
        if (
            row.status == PENDING_APPROVAL
            and self.contracts.executor is not None
            and row.payload.get("frozen") is None
        ):
            # Written by a keeper killed between its two writes (before they were one): nothing
            # could be signed, so freeze it now and let the owners sign.
            log.warning("plan.refrozen", plan=ref, why="pending approval without a frozen plan")
            self.approvals.freeze(ref, reading or self.read(), now)
            row = self.plans.get(ref)
            assert row is not None
        if row.status == PENDING_APPROVAL:
            decision = self.approvals.decide(ref, now)
            if decision.status is approval_policy.ApprovalStatus.PENDING:
                self.approvals.approval_alert(ref, decision, now)
            if decision.status is approval_policy.ApprovalStatus.EXPIRED:
                why = f"its approval deadline {decision.deadline} passed: {decision.detail}"
                return self.lifecycle.expire(ref, why, now, "approval")
            if not decision.status.may_execute:
                status = {
                    approval_policy.ApprovalStatus.REJECTED: REJECTED,
                }.get(decision.status, PENDING_APPROVAL)
                self.plans.update(ref, status)
                return CycleOutcome(ref, status, decision.detail)
            self.plans.update(ref, APPROVED)
            row = self.plans.get(ref)
        if row is not None and row.status == APPROVED:
            overdue = self.lifecycle.executor_overdue(row.payload, now)
            if overdue is not None:
                return self.lifecycle.expire(ref, overdue, now, "execution")
            return self.execute(ref, now)
        return CycleOutcome(ref, row.status if row else "missing")

    def record_decision(
        self, ref: str, admin: str, now: int, approve: bool = True, note: str = ""
    ) -> dict[str, Any]:
        """Record one admin's decision only (see PlanStore.record_decision)."""
        return self.plans.record_decision(ref, admin, now, approve, note)

    def approve(
        self, ref: str, admin: str, now: int, approve: bool = True, note: str = ""
    ) -> CycleOutcome:
        """In the running keeper: record a decision, then move the plan on at once."""
        self.record_decision(ref, admin, now, approve, note)
        return self.advance(ref, now)

    def tick(self, now: int) -> list[CycleOutcome]:
        """Move every waiting plan on (approvals that arrived, deadlines that passed), then
        run the next slice of the carried flow when it is due."""
        outs: list[CycleOutcome] = []
        first: BaseException | None = None
        for r in self.plans.with_status(PROPOSED, PENDING_APPROVAL, APPROVED):
            if not r.ref:
                continue
            try:  # one plan's failure never keeps the others waiting
                outs.append(self.advance(r.ref, now))
            except NetworkUnavailable as err:
                self.alert(AlertLevel.WARNING, "network", str(err), r.ref)
                outs.append(CycleOutcome(r.ref, "network_error", str(err)))
            except Exception as err:  # noqa: BLE001 - raised after the other plans moved
                log.error("plan.advance_failed", plan=r.ref, error=repr(err))
                first = first or err
        if any(o.status in (STALE, EXPIRED) for o in outs) and not self.stopping.is_set():
            outs += self.replan(now)  # in the same tick, from the fund as it is
        if first is not None:
            raise first
        return outs + self.slices(now)

    def replan(self, now: int) -> list[CycleOutcome]:
        """After a plan ended stale or expired: a fresh plan from the fund as it is now, when
        the band and liquidity triggers still hold (none: nothing to do)."""
        try:
            reading = self.read()
        except NetworkUnavailable as err:
            self.alert(AlertLevel.WARNING, "network", str(err))
            return [CycleOutcome(None, "network_error", str(err))]
        triggers = trig.threshold_triggers(reading.state, self.cfg) + trig.liquidity_triggers(
            reading.state, self.cfg
        )
        if not triggers:
            return []
        return [self.plan_and_run(reading, triggers, now)]

    # ------------------------------------------------------------------ 4-7

    def encode_all(
        self, reading: FundReading, p: Plan, skip: set[int] | None = None
    ) -> list[tuple[int, Action, EncodedCall]]:
        order = sorted(range(len(p.actions)), key=lambda i: p.actions[i].priority)
        out = []
        for i in order:
            if skip and i in skip:
                continue
            a = p.actions[i]
            out.append(
                (
                    i,
                    a,
                    self.encoder.encode(reading, a, self.encoder.quote(reading, a, reading.block)),
                )
            )
        return out

    @property
    def simulator(self) -> Simulator:
        """The plan simulator KEEPER_SIMULATOR chose (keepers.tx.simulation.choose_simulator),
        chosen once: at start-up by check_chain, else on first use."""
        if self._simulator is None:
            self._simulator = choose_simulator(
                self.k.simulator, self.w3, self.k.rpc_url, self.decoder, self.k.anvil_bin
            )
        return self._simulator

    def simulate(self, reading: FundReading, calls: list[tuple[int, Action, EncodedCall]]) -> Any:
        """The calls in order on the state at the reading's block, then the fund's state they
        leave (``after[0]``, a FundState)."""
        sim_calls = [SimCall(self.sender, c.target, c.calldata, c.function) for _, _, c in calls]
        symbols, ts = self.addresses.symbols, reading.state.timestamp
        lens, controller = self.addresses.lens, self.addresses.controller
        read = SimRead(lens, FUND_STATE.calldata(controller),
                       lambda data: to_fund_state(FUND_STATE.result(data), ts, symbols),
                       "lens.fundState")  # fmt: skip
        return self.simulator.simulate(reading.block, sim_calls, [read])

    def execute(self, ref: str, now: int) -> CycleOutcome:
        """Stages 5-7 of an approved plan (resume, simulate, send, follow, verify, record),
        one pass: the plan stays approved (outcome ``executing``) while an action it sent is
        not final (keepers.fund.execution)."""
        return Execution(self.execution_services()).run(ref, now)

    def execution_services(self) -> ExecutionServices:
        """What the execution stage needs, as values, made per pass: ``leading`` and the
        test seams may be set on the bot after it is built (keeper run's replicas)."""
        return ExecutionServices(
            cfg=self.cfg,
            execute_timeout_s=self.k.execute_timeout_s,
            follow_budget_s=self.k.follow_budget_s,
            plans=self.plans,
            contracts=self.contracts,
            w3=self.w3,
            read=self.read,
            simulate=self.simulate,
            encoder=self.encoder,
            encode_all=self.encode_all,
            pipeline=lambda: self.pipeline,
            sender=lambda: self.sender,
            approvals=self.approvals,
            record_failed_leg=self.sizing.record_failed_leg,
            verify=self.verify,
            alert=self.alert,
            alert_once=self.alert_once,
            clear_alert=self.clear_alert,
            symbol=self.symbol,
            stopping=self.stopping,
            leading=self.leading,
            before_action=self.before_action,
            before_verify=self.before_verify,
            simulate_call=lambda block, call: self.simulator.simulate_each(block, [call])[0],
            fit=self.lifecycle.fit,
            stale=self.lifecycle.stale,
        )

    def verify(
        self,
        before: FundState,
        results: list[ActionResult],
        actual: FundState,
        ref: str,
        fills: dict[str, Decimal] | None = None,
    ) -> dict[str, Any]:
        """keepers.fund.execution.verify_tiers at KEEPER_VERIFY_TOLERANCE_BPS, alerting
        ``verify_divergence`` past it."""
        doc = verify_tiers(before, results, actual, self.k.verify_tolerance_bps, fills)
        if not doc["ok"] and doc["diffs_bps"]:
            self.alert(AlertLevel.WARNING, "verify_divergence", doc["detail"], ref,
                       diffs_bps=doc["diffs_bps"])  # fmt: skip
        return doc

    # ------------------------------------------------------------------ rollback

    def rollback(self, ref: str, now: int, requested_by: str) -> CycleOutcome:
        row = self.plans.get(ref)
        if row is None:
            raise KeyError(ref)
        if row.status not in (EXECUTED, PARTIAL, ABORTED, FAILED):
            raise ValueError(f"plan {ref} is {row.status}: only executed plans can be rolled back")
        p = self.plans.plan_of(row)
        rb = create_rollback_plan(p, self.plans.results(ref), now, requested_by)
        if not rb.actions:
            return CycleOutcome(rb.id, NOTHING, "nothing executed to reverse")
        reading = self.read()
        doc = {"report": plan_report(reading.state, rb), "block": reading.block}
        self.plans.save_new(rb, PROPOSED, {**doc, "basis": basis_doc(reading.state, rb)})
        return self.advance(rb.id, now, reading)
