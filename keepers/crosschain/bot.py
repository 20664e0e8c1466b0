"""The cross-chain inventory bot: read balances on every chain, plan (rulebook, in-flight
aware through the moves table), create moves, advance every move.

`tick(now)` is one pass. Planner transfers below ``big_move_units`` (whole units, default
the approval policy's REBALANCE_APPROVAL_THRESHOLD) become *small* moves that run at once;
larger ones, and every operator instruction (`instruct`), are *big* moves that wait for
approval (keepers.core.approval). Moves created in one tick are recorded in one DB
transaction; the next tick sees them as in flight, so a deficit is never planned twice.
A planning error (insufficient surplus, no route) is reported and the tick still advances
the moves already under way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from keepers import abis
from keepers.core.logging import get_logger
from keepers.core.settings import AllowedCall, PolicyConfig
from keepers.crosschain.config import Asset, CrosschainConfig
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
from keepers.runtime.alerts import AlertLevel
from keepers.runtime.base import Alert, AlertSink, log_sink
from keepers.runtime.bots import Call as DeclaredCall
from keepers.runtime.bots import Calls
from keepers.runtime.leases import LeaseLost
from keepers.store.statuses import MoveState

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

    @property
    def fence(self) -> Callable[[Any], Any] | None:
        """The lease fence of the moves this bot records (keeper run sets it)."""
        return self.engine.fence

    @fence.setter
    def fence(self, value: Callable[[Any], Any] | None) -> None:
        self.engine.fence = value

    # ------------------------------------------------------------------ Bot protocol

    def start(self) -> None:
        for driver in self.engine.drivers.values():
            driver.pipeline.reconcile_nonces()

    def stop(self) -> None:
        if self.on_stop is not None:
            self.on_stop()

    def tick(self, now: float | None = None) -> TickReport:
        # one clock for the whole pass, not truncated: the engine compares it with the
        # next-try times it stored (a truncated wall clock ran up to a second behind them)
        now = time.time() if now is None else float(now)
        if self.engine.stopping.is_set():  # stopping: no new move, no new step
            return TickReport(int(now), {})
        balances = self.balances()
        report = TickReport(int(now), balances)
        try:
            plan = self.plan(balances)
            legs = orders(self.config, plan)
        except CrosschainPlanningError as err:
            report.error = str(err)
            self.alert(Alert(AlertLevel.WARNING, "crosschain_plan", str(err)))
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
        report.moves = self.engine.advance_all(now, parallel=self.parallel)
        for v in report.moves:
            self._attestation_alerts(v)
            if v.state == MoveState.FAILED:
                self.alert(
                    Alert(
                        AlertLevel.CRITICAL,
                        "crosschain_move_failed",
                        f"move {v.id} failed: {v.error}",
                    )
                )
        return report

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

    # ------------------------------------------------------------------ reads

    def balances(self) -> dict[tuple[str, str], int]:
        """Each configured token's balance at the chain's inventory holder (base units)."""
        out = {}
        for chain in self.config.chains:
            holder = self.engine.holder(chain.name)
            for asset, token in chain.tokens.items():
                c = self.w3s[chain.name].eth.contract(
                    address=to_checksum_address(token.address), abi=abis.load("IERC20Min")
                )
                out[(chain.name, asset.value)] = int(c.functions.balanceOf(holder).call())
        return out

    def plan(self, balances: Mapping[tuple[str, str], int] | None = None) -> Plan:
        balances = self.balances() if balances is None else balances
        return plan_from_config(self.config, balances, self.engine.in_flight())

    def instruct(
        self, asset: str, source: str, dest: str, amount: str, now: int | None = None
    ) -> MoveView:
        """An operator's big move (human amount, e.g. "250000"): waits for approval."""
        scaled = int(Decimal(amount).scaleb(18))
        return self.engine.create(Asset(asset).value, source, dest, scaled, kind="big", now=now)

    def status_rows(
        self, balances: Mapping[tuple[str, str], int] | None = None
    ) -> list[dict[str, Any]]:
        """Per chain/asset: balance, base, trigger threshold, in flight in and out."""
        balances = self.balances() if balances is None else balances
        flights = self.engine.in_flight()
        holdings = []
        for chain in self.config.chains:
            for asset, token in chain.tokens.items():
                holdings.append(
                    _Holding(
                        chain.name,
                        asset.value,
                        to_scaled(balances[(chain.name, asset.value)], token.decimals),
                        chain.base_balance_scaled(asset),
                        token.decimals,
                    )
                )
        eff = effective_balances(holdings, flights)
        rows = []
        p = self.config.trigger_percentage
        for h in holdings:
            inbound = sum(f.amount for f in flights if (f.dest, f.asset) == (h.chain, h.asset))
            outbound = sum(f.amount for f in flights if (f.source, f.asset) == (h.chain, h.asset))
            rows.append(
                {
                    "chain": h.chain,
                    "asset": h.asset,
                    "balance": _human(h.balance),
                    "base": _human(h.base),
                    "trigger_at": _human(int(Decimal(h.base) * (1 - p))),
                    "in_flight_in": _human(inbound),
                    "in_flight_out": _human(outbound),
                    "triggered": is_triggered(eff[(h.chain, h.asset)], h.base, p)
                    and eff[(h.chain, h.asset)] < h.base,
                }
            )
        return rows


def _human(scaled: int) -> str:
    return format(Decimal(scaled).scaleb(-18).normalize(), "f")


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
