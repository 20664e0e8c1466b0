"""The cross-chain inventory bot: read balances on every chain, plan (rulebook, in-flight
aware through the moves table), create moves, advance every move.

`tick(now)` is one pass. Planner transfers below ``big_move_units`` (whole units, default
the approval policy's REBALANCE_APPROVAL_THRESHOLD) become *small* moves that run at once;
larger ones, and every operator instruction (`instruct`), are *big* moves that wait for
approval (keepers.core.approval). Moves created in one tick are recorded in one DB
transaction; the next tick sees them as in flight, so a deficit is never planned twice.
A planning error (insufficient surplus, no route) is reported and the tick still advances
the moves already under way.

Chains are isolated from each other (keepers.crosschain.chains): each tick reads every chain in
a thread of its own under ``chain_budget_s``; a chain that has not answered is marked down and
left out of the plan, the moves whose next step needs it wait with that reason, and the rest
goes on in the same tick. A chain where another process sent with the keeper's key is halted:
its sends stop (critical alert) and the other chains go on. Every tick ends by setting the
``crosschain_*`` metrics (keepers.crosschain.metrics) and telling readiness each chain's health.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3

from keepers import abis
from keepers.core.amounts import format_amount
from keepers.core.errors import ConfigError
from keepers.core.logging import get_logger
from keepers.core.settings import AllowedCall, PolicyConfig
from keepers.crosschain import metrics as xmetrics
from keepers.crosschain.chains import DOWN, HALTED, REFUSED, ChainHealth, ChainState
from keepers.crosschain.config import Asset, ChainConfig, CrosschainConfig
from keepers.crosschain.inventory import orders, plan_from_config
from keepers.crosschain.moves import TERMINAL as TERMINAL_STATES
from keepers.crosschain.moves import MoveEngine, MoveView
from keepers.crosschain.planning import (
    CrosschainPlanningError,
    Plan,
    effective_balances,
    is_triggered,
    to_scaled,
)
from keepers.crosschain.planning import Holding as _Holding
from keepers.runtime import readiness
from keepers.runtime.alerts import AlertLevel
from keepers.runtime.base import Alert, AlertSink, log_sink
from keepers.runtime.bots import Call as DeclaredCall
from keepers.runtime.bots import Calls
from keepers.runtime.leases import LeaseLost
from keepers.store.statuses import MoveState
from keepers.tx.contracts import contract_at

_DELAY_REASON = re.compile(r"delayReason ([A-Za-z0-9_,]+)")

log = get_logger("keepers.crosschain.bot")


@dataclass
class TickReport:
    now: int
    balances: dict[tuple[str, str], int]
    planned: list[dict[str, Any]] = field(default_factory=list)
    created: list[MoveView] = field(default_factory=list)
    moves: list[MoveView] = field(default_factory=list)
    error: str | None = None
    chains: list[dict[str, Any]] = field(default_factory=list)  # each chain's health
    halted: dict[str, str] = field(default_factory=dict)  # chains with a signer conflict


# the chains a move's next step reads (all of them must answer) and sends on (none halted).
# Transfer_In needs only the destination: funds on their way are claimed whenever it answers,
# whatever the source's node does (a step that reads the source anyway and finds it silent
# waits too: a node error is not a failed attempt)
_READS: dict[str, tuple[str, ...]] = {
    MoveState.TRANSFER_OUT: ("source", "dest"),
    MoveState.CROSS: ("source", "dest"),
    MoveState.TRANSFER_IN: ("dest",),
    MoveState.INVEST: ("dest",),
}
_SENDS: dict[str, tuple[str, ...]] = {
    MoveState.TRANSFER_OUT: ("source",),
    MoveState.TRANSFER_IN: ("dest",),
    MoveState.INVEST: ("dest",),
}


class CrosschainBot:
    name = "crosschain"

    def __init__(
        self,
        config: CrosschainConfig,
        engine: MoveEngine,
        w3s: Mapping[str, Web3],
        *,
        big_move_units: int | None = None,
        interval_s: float = 30.0,
        alert: AlertSink = log_sink,
        parallel: bool = True,
        on_stop: Callable[[], None] | None = None,
        prepare: Mapping[str, Callable[[], None]] | None = None,
        iris: Any = None,
        confirmations: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.w3s = dict(w3s)
        self.big_move_units = (
            engine.approval_policy.rebalance_approval_threshold
            if big_move_units is None
            else big_move_units
        )
        self.interval_s = interval_s
        self.alert = alert
        self.parallel = parallel
        self.on_stop = on_stop
        # each chain's first-answer checks (route contracts, simulator), run once it answers
        self.prepare = dict(prepare or {})
        self.prepared: set[str] = set()
        self.iris = iris  # Circle's Iris client (its lockout is a metric), if configured
        self.expected_confirmations = dict(confirmations or {})
        self.health = ChainHealth(
            [c.name for c in config.chains],
            config.chain_budget_s,
            on_change=self._changed,
            urls={c.name: c.rpc_url for c in config.chains},
        )

    @property
    def fence(self) -> Callable[[Any], Any] | None:
        """The lease fence of the moves this bot records (keeper run sets it)."""
        return self.engine.fence

    @fence.setter
    def fence(self, value: Callable[[Any], Any] | None) -> None:
        self.engine.fence = value

    # ------------------------------------------------------------------ Bot protocol

    def start(self) -> None:
        """Read every chain once (bounded by chain_budget_s): a chain that answers is checked
        and its nonces reconciled; one that does not is marked down and checked once it does."""
        self.balances()

    def stop(self) -> None:
        if self.on_stop is not None:
            self.on_stop()

    def confirmations(self) -> dict[str, int]:
        """Confirmations each chain's pipeline waits for (what `run` prints at start-up)."""
        out = dict(self.expected_confirmations)
        for c in self.config.chains:
            driver = self.engine.drivers.get(c.name)
            if driver is not None:
                out[c.name] = int(driver.pipeline.settings.confirmations_for(c.chain_id))
        return out

    def tick(self, now: float | None = None) -> TickReport:
        # one clock for the whole pass, not truncated: the engine compares it with the
        # next-try times it stored (a truncated wall clock ran up to a second behind them)
        now = time.time() if now is None else float(now)
        if self.engine.stopping.is_set():  # stopping: no new move, no new step
            return TickReport(int(now), {})
        self._sync_halted()
        balances = self.balances()  # the chains that answered within their budget
        report = TickReport(int(now), balances)
        try:
            plan = self.plan(balances)
            legs = orders(self.answering(balances), plan)
        except CrosschainPlanningError as err:
            report.error = self.planning_error(err, balances)
            self.alert(Alert(AlertLevel.WARNING, "crosschain_plan", report.error))
            legs = []
        small: list[tuple[str, str, str, int]] = []
        big: list[tuple[str, str, str, int]] = []
        for o in legs:
            t = o.transfer
            leg = (t.asset, t.source, t.dest, t.amount)
            report.planned.append(
                {
                    "asset": t.asset,
                    "source": t.source,
                    "dest": t.dest,
                    "amount": o.amount,
                    "route": o.route.value,
                }
            )
            (big if Decimal(o.amount) >= self.big_move_units else small).append(leg)
        try:
            if small:
                report.created += self.engine.create_many(small, kind="small", now=now)
            if big:
                report.created += self.engine.create_many(big, kind="big", now=now)
        except LeaseLost as err:  # another replica leads: it decides and moves
            report.error = str(err)
            return report
        if big:
            for v in report.created[-len(big) :]:
                self.alert(
                    Alert(
                        AlertLevel.INFO,
                        "crosschain_approval",
                        f"move {v.id} ({v.asset} {v.source}->{v.dest}) needs approval",
                    )
                )
        report.moves = self.engine.advance_all(now, parallel=self.parallel, blocked=self.blocked)
        for v in report.moves:
            self._attestation_alerts(v)
            if v.state == MoveState.FAILED:
                xmetrics.FAILED.labels(v.route or "none").inc()
                self.alert(
                    Alert(
                        AlertLevel.CRITICAL,
                        "crosschain_move_failed",
                        f"move {v.id} failed: {v.error}",
                    )
                )
        self._sync_halted()  # a conflict found by this tick's sends
        report.chains = self.health.snapshot()
        report.halted = self.health.halted()
        self.export(now, balances)
        return report

    # ------------------------------------------------------------------ chains

    def _changed(self, state: ChainState, previous: str) -> None:
        """A chain's health changed: alert (down, halted, refused) and tell readiness."""
        if state.status == DOWN:
            self.alert(
                Alert(
                    AlertLevel.WARNING,
                    "crosschain_chain_down",
                    f"chain {state.name} is down ({state.error}); its moves wait, the other "
                    "chains go on",
                )
            )
        elif state.status == HALTED:
            self.alert(
                Alert(
                    AlertLevel.CRITICAL,
                    "crosschain_signer_conflict",
                    f"chain {state.name}: nothing more is sent there: {state.error}",
                )
            )
        elif state.status == REFUSED:
            self.alert(
                Alert(
                    AlertLevel.CRITICAL,
                    "crosschain_chain_refused",
                    f"chain {state.name}: {state.error}",
                )
            )
        readiness.TRACKER.chains(self.name, self.health.snapshot())

    def _sync_halted(self) -> None:
        for name, why in self.engine.halted_chains().items():
            if self.health.status(name) != HALTED:
                self.health.halt(name, why)

    def blocked(self, v: MoveView) -> str | None:
        """Why move ``v``'s next step cannot run now (a chain it needs), None when it can."""
        ends = {"source": v.source, "dest": v.dest}
        for end in _SENDS.get(v.state, ()):
            if self.health.status(ends[end]) == HALTED:
                return self.health.why_not(ends[end])
        for end in _READS.get(v.state, ()):
            if self.health.status(ends[end]) == HALTED:
                continue  # its node answers: a halted chain is read, only not sent on
            why = self.health.why_not(ends[end])
            if why is not None:
                return why
        return None

    def _read_chain(self, chain: ChainConfig) -> dict[tuple[str, str], int]:
        """One chain's reads for a tick: its first-answer checks (once), then every token's
        balance at the chain's inventory holder (base units)."""
        name = chain.name
        if name not in self.prepared:
            try:
                check = self.prepare.get(name)
                if check is not None:
                    check()
                driver = self.engine.drivers.get(name)
                if driver is not None:
                    driver.pipeline.reconcile_nonces()
            except ConfigError as err:  # its route contracts do not match: never use it
                self.health.refuse(name, str(err).replace("\n", " "))
                raise
            self.prepared.add(name)
        holder = self.engine.holder(name)
        out = {}
        for asset, token in chain.tokens.items():
            c = contract_at(self.w3s[name], token.address, abis.load("IERC20Min"))
            out[(name, asset.value)] = int(c.functions.balanceOf(holder).call())
        return out

    # ------------------------------------------------------------------ reads

    def balances(self) -> dict[tuple[str, str], int]:
        """Each configured token's balance at the chain's inventory holder (base units), for
        the chains that answered within chain_budget_s; the others are marked down."""
        work = {c.name: (lambda c=c: self._read_chain(c)) for c in self.config.chains}
        out: dict[tuple[str, str], int] = {}
        for found in self.health.run(work).values():
            out.update(found)
        return out

    def answering(self, balances: Mapping[tuple[str, str], int]) -> CrosschainConfig:
        """The config cut to the chains every balance was read on (all of them: itself)."""
        names = {chain for chain, _ in balances}
        chains = tuple(c for c in self.config.chains if c.name in names)
        if len(chains) == len(self.config.chains):
            return self.config
        return self.config.model_copy(update={"chains": chains})

    def planning_error(self, err: Exception, balances: Mapping[tuple[str, str], int]) -> str:
        text = str(err)
        missing = [c.name for c in self.config.chains if c.name not in {k[0] for k in balances}]
        if missing:
            text += f" (not counted: chain(s) {', '.join(missing)} not read this tick)"
        return text

    def plan(self, balances: Mapping[tuple[str, str], int] | None = None) -> Plan:
        """The plan over the chains whose balances were read (every chain answering: all)."""
        balances = self.balances() if balances is None else balances
        cfg = self.answering(balances)
        if not cfg.chains:
            return Plan(())
        return plan_from_config(cfg, balances, self.engine.in_flight())

    def instruct(
        self, asset: str, source: str, dest: str, amount: str, now: int | None = None
    ) -> MoveView:
        """An operator's big move (human amount, e.g. "250000"): waits for approval."""
        scaled = int(Decimal(amount).scaleb(18))
        return self.engine.create(Asset(asset).value, source, dest, scaled, kind="big", now=now)

    def positions(
        self, balances: Mapping[tuple[str, str], int] | None = None
    ) -> list[dict[str, Any]]:
        """Per chain/asset read: balance, base, trigger threshold, in flight in and out,
        deficit and surplus, all as 18-decimal integers."""
        balances = self.balances() if balances is None else balances
        flights = self.engine.in_flight()
        cfg = self.answering(balances)
        holdings = [
            _Holding(
                chain.name,
                asset.value,
                to_scaled(balances[(chain.name, asset.value)], token.decimals),
                chain.base_balance_scaled(asset),
                token.decimals,
            )
            for chain in cfg.chains
            for asset, token in chain.tokens.items()
        ]
        p = self.config.trigger_percentage
        eff = effective_balances(holdings, flights)
        spendable = effective_balances(holdings, flights, inbound=False)
        rows = []
        for h in holdings:
            key = (h.chain, h.asset)
            triggered = is_triggered(eff[key], h.base, p) and eff[key] < h.base
            rows.append(
                {
                    "chain": h.chain,
                    "asset": h.asset,
                    "balance": h.balance,
                    "base": h.base,
                    "trigger_at": int(Decimal(h.base) * (1 - p)),
                    "in_flight_in": sum(f.amount for f in flights if (f.dest, f.asset) == key),
                    "in_flight_out": sum(f.amount for f in flights if (f.source, f.asset) == key),
                    "deficit": h.base - eff[key] if triggered else 0,
                    "surplus": max(0, spendable[key] - h.base),
                    "triggered": triggered,
                }
            )
        return rows

    def status_rows(
        self, balances: Mapping[tuple[str, str], int] | None = None
    ) -> list[dict[str, Any]]:
        """Per chain/asset: balance, base, trigger threshold, in flight in and out, deficit and
        surplus, in the asset's own units (``unit`` names it)."""
        out = []
        for r in self.positions(balances):
            row = {
                k: (
                    format_amount(v, 18, grouping=False)
                    if isinstance(v, int) and not isinstance(v, bool)
                    else v
                )
                for k, v in r.items()
            }
            row["unit"] = r["asset"]
            out.append(row)
        return out

    # ------------------------------------------------------------------ metrics

    def export(self, now: float, balances: Mapping[tuple[str, str], int]) -> None:
        """Set the crosschain_* metrics and tell readiness each chain's health."""
        from keepers.crosschain.history import move_summary

        snapshot = self.health.snapshot()
        xmetrics.observe_chains(snapshot)
        readiness.TRACKER.chains(self.name, snapshot)
        try:
            xmetrics.observe_positions(self.positions(balances))
        except (KeyError, ValueError) as err:  # a partial read: the rows it has are exported
            log.warning("metrics.positions", error=str(err))
        xmetrics.observe_moves(
            move_summary(self.engine.store, now, self.config.stuck_after_s),
            self.config.stuck_after_s,
        )
        waiting: dict[str, int] = {}
        for v in self.engine.moves(active_only=True):
            why = self.blocked(v)
            if why is not None:
                for name in {v.source, v.dest}:
                    if self.health.why_not(name) is not None:
                        waiting[name] = waiting.get(name, 0) + 1
        xmetrics.observe_waiting([c.name for c in self.config.chains], waiting)
        for name, n in self.confirmations().items():
            xmetrics.CONFIRMATIONS.labels(name).set(n)
        self._awaiting_confirmations()
        if self.iris is not None:
            left = float(self.iris.blocked_until) - float(self.iris.clock())
            xmetrics.IRIS_LOCKOUT.set(max(0.0, left))

    def _awaiting_confirmations(self) -> None:
        from sqlalchemy import func, select

        from keepers.store import models as m

        ids = {c.chain_id: c.name for c in self.config.chains}
        with self.engine.store.sessions() as s:
            found = dict(
                s.execute(
                    select(m.TxIntent.chain_id, func.count())
                    .where(m.TxIntent.status == "mined", m.TxIntent.chain_id.in_(list(ids)))
                    .group_by(m.TxIntent.chain_id)
                ).all()
            )
        for chain_id, name in ids.items():
            xmetrics.AWAITING_CONFIRMATIONS.labels(name).set(int(found.get(chain_id, 0)))

    def _attestation_alerts(self, v: Any) -> None:
        """Iris's permanent refusals and its stated reasons for holding a burn back, as
        alerts naming the move (the engine keeps them in the move's error)."""
        err = v.error or ""
        if v.state in TERMINAL_STATES or not err:
            return
        if "RouteRejected" in err:
            self.alert(
                Alert(
                    AlertLevel.CRITICAL,
                    "attestation_rejected",
                    f"move {v.id} ({v.asset} {v.source}->{v.dest}): {err}",
                )
            )
        elif (m := _DELAY_REASON.search(err)) is not None:
            self.alert(
                Alert(
                    AlertLevel.WARNING,
                    "attestation_delayed",
                    f"move {v.id} ({v.asset} {v.source}->{v.dest}) held back by Circle: "
                    f"delayReason {m.group(1)}",
                )
            )


ROLE = "crosschain"
MAX_VALUE_WEI = 10**18  # the OFT send's native fee
_TOKEN_SIGNATURES = (
    "approve(address,uint256)",
    "transfer(address,uint256)",
    "transferFrom(address,address,uint256)",
)
_CCTP_BURN = "depositForBurn(uint256,uint32,bytes32,address,bytes32,uint256,uint32)"
_CCTP_RECEIVE = "receiveMessage(bytes,bytes)"
_OFT_SEND = "send((uint32,bytes32,uint256,uint256,bytes,bytes,bytes),(uint256,uint256),address)"
_LZ_RECEIVE = "lzReceive((uint32,bytes32,uint64),address,bytes32,bytes,bytes)"


def crosschain_calls(config: CrosschainConfig) -> Calls:
    """The cross-chain bot's declared calls for ``config``: token approve / transfer /
    transferFrom, depositForBurn, receiveMessage, OFT send (with a native fee), lzReceive."""
    calls: list[DeclaredCall] = []
    for c in config.chains:
        where = f"chains[{c.name}]"
        for sym, token in c.tokens.items():
            calls.append(DeclaredCall(token.address, _TOKEN_SIGNATURES, f"{where}.tokens.{sym}"))
        for addr, sig, name in (
            (c.cctp_token_messenger, _CCTP_BURN, "cctp_token_messenger"),
            (c.cctp_message_transmitter, _CCTP_RECEIVE, "cctp_message_transmitter"),
            (c.usdt0_oft, _OFT_SEND, "usdt0_oft"),
            (c.lz_endpoint, _LZ_RECEIVE, "lz_endpoint"),
        ):
            if addr:
                calls.append(DeclaredCall(addr, (sig,), f"{where}.{name}"))
    return Calls(ROLE, tuple(calls), MAX_VALUE_WEI)


def crosschain_policy(
    config: CrosschainConfig, extra: list[dict[str, str]] | None = None
) -> PolicyConfig:
    """The audit policy role `crosschain` needs for `config` (its declared calls), plus
    ``extra`` allowed calls."""
    role = crosschain_calls(config).role_policy()
    role.allowed += [AllowedCall.model_validate(e) for e in extra or []]
    return PolicyConfig(roles={ROLE: role})
