"""Stages 1-2 of a fund plan's lifecycle, around the pure planner (keepers.fund.planning.plan):
the plan sized to each venue's depth (QuoterV2 and univ3 readings, inside REBALANCE_MAX_SLIPPAGE
and the lower REBALANCE_TARGET_SLIPPAGE) and then to live quotes (a leg quoted past the limit
is cut to what the quoter accepts and the plan is made again around it), the off-chain cost
budget (REBALANCE_COST_BUDGET_DAILY / _30D, in bps of NAV, from the fills booked in the store),
the window's notional budget (``moveLimits``, asked in the fund read's batch: the exit horizon
floor's sales, keepers.fund.planning.floor), and the risk check of the plan at live quotes and gas.

`SizingStage` keeps no state between calls: the depth and quotes are read each time, the cost
booked is read from the store. It takes what it needs as values (`SizingServices`: the
planning config, the plan store, the depth and venue readers, the quoter, the node's gas price,
the asset symbols and the venue alert), not the bot: it imports nothing of keepers.fund.bot and
returns plans, depths and risk reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from keepers.core.logging import get_logger
from keepers.fund.actions import ActionEncoder
from keepers.fund.depth_reader import DepthReader
from keepers.fund.planning import risk as riskmod
from keepers.fund.planning import triggers as trig
from keepers.fund.planning.actions import Action, ActionType, Plan, Unresolved
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.depth import AssetDepth, largest_within
from keepers.fund.planning.inflight import InFlight, plan_in_flight, project
from keepers.fund.planning.state import BPS
from keepers.fund.planning.triggers import DAY
from keepers.fund.reader import FundReading
from keepers.fund.records import PlanStore
from keepers.fund.venues import VenueChecker, VenuePrice, error_name, held_sides
from keepers.runtime import metrics
from keepers.tx.reads import ReadFailed

log = get_logger("keepers.fundbot")


@dataclass(frozen=True)
class SizingServices:
    """What the sizing stage reads and tells: ``plans`` (the store: the cost booked, the plans
    in flight, the failed legs remembered), ``depth`` and ``venues`` (readers), ``quotes`` (the
    live QuoterV2 quotes), ``gas_price()`` (the node's, in wei), ``native_price`` (whole base
    units per native coin; 0: no gas check), ``symbol(token)`` (metric labels) and
    ``venue_alert(held, now)`` (the venue_off_oracle alert, raised or cleared)."""

    cfg: PlanningConfig
    plans: PlanStore
    depth: DepthReader
    venues: VenueChecker
    quotes: ActionEncoder
    gas_price: Callable[[], int]
    native_price: int
    symbol: Callable[[str | None], str]
    venue_alert: Callable[[dict[tuple[str, str], VenuePrice], int], None]


class SizingStage:
    """Depth- and quote-sized plans, the cost budget and the risk check (see the module doc)."""

    def __init__(self, services: SizingServices) -> None:
        self.services = services
        self.cfg = services.cfg

    def read_depth(self, reading: FundReading) -> dict[str, AssetDepth]:
        """Each DEX venue's depth inside REBALANCE_MAX_SLIPPAGE and inside
        REBALANCE_TARGET_SLIPPAGE; on a read failure none (the risk check's quotes still guard
        every leg)."""
        try:
            return self.services.depth.read(
                reading, self.cfg.rebalance_max_slippage, self.cfg.rebalance_target_slippage
            )
        except Exception as err:  # noqa: BLE001 - depth is an optimisation over the risk check
            log.warning("depth.unavailable", error=str(err))
            return {}

    def make_sized_plan(
        self,
        reading: FundReading,
        triggers: list[trig.Trigger],
        now: int,
        flights: Sequence[InFlight] = (),
    ) -> Plan:
        """The plan sized to venue depth, then to live quotes: a leg QuoterV2 prices more than
        REBALANCE_MAX_SLIPPAGE under the oracle is cut to the size the quoter accepts (0:
        dropped) and the plan is made again around it (at most 3 rounds). Planned against the
        fund as it will be once ``flights`` (the plans in flight) land, with the venues' depth
        netted against their legs (keepers.fund.planning.inflight)."""
        depth = self.hold_venues(reading, self.read_depth(reading), now)
        spent = self.budget_spent(reading.state.total_assets, now)
        cfg = self.cfg
        budget = self.notional_budget(reading)
        plan = partial(plan_in_flight, notional_budget=budget)
        p = plan(reading.state, cfg, triggers, now, flights, depth, spent)
        limit = self.cfg.rebalance_max_slippage
        notes: list[Unresolved] = []
        for _ in range(3):
            cut = False
            # every leg's quote in one batch (the loop below then asks nothing for them)
            self.services.quotes.prefetch_quotes(
                reading,
                [self._sized(reading, a, a.amount) for a in p.actions if a.amount > 0],
                reading.block,
            )
            for a in p.actions:
                if a.type not in (ActionType.PURCHASE, ActionType.REDEEM) or not a.asset:
                    continue
                bps = self._quote_bps(reading, a, a.amount)
                if bps is None or bps <= limit:
                    continue
                safe = largest_within(partial(self._quote_bps_or_0, reading, a), a.amount, limit)
                d = depth.get(a.asset) or AssetDepth(a.asset, limit_bps=limit)
                why = f"QuoterV2 {bps} bps under the oracle for {a.amount}: cut to {safe}"
                if a.type is ActionType.PURCHASE:
                    d = replace(d, max_buy=safe, detail=f"{d.detail}; {why}".lstrip("; "))
                else:
                    d = replace(d, max_sell=safe, detail=f"{d.detail}; {why}".lstrip("; "))
                depth[a.asset] = d
                symbol = reading.state.asset(a.asset).symbol
                tier = a.to_tier if a.type is ActionType.PURCHASE else a.from_tier
                notes.append(
                    Unresolved(
                        tier,
                        "depth",
                        f"{symbol}: {a.type.value} {why}",
                    )
                )
                cut = True
            if not cut:
                break
            p = plan(reading.state, cfg, triggers, now, flights, depth, spent)
        if notes:  # the reason for every leg the quotes cut stays on the plan
            p = replace(
                p, unresolved=p.unresolved + tuple(n for n in notes if n not in p.unresolved)
            )
        return p

    def notional_budget(self, reading: FundReading) -> int | None:
        """One window's notional budget (``moveLimits().notionalBudget``) at the reading's
        block, for the exit horizon's floor sales (keepers.fund.planning.floor); None when not
        read (no floor sale is planned then, never one sized to a guess). Taken from the
        fund read's batch (``FundReading.move_limits``); asked with its own eth_call only for
        a reading that did not ask it."""
        limits = reading.move_limits
        if isinstance(limits, ReadFailed):
            log.warning("move_limits.unavailable", error=limits.message[:200])
            return None
        if limits is None:
            try:
                limits = self.services.depth.c.controller.functions.moveLimits().call(
                    block_identifier=reading.block
                )
            except Exception as err:  # noqa: BLE001 - the floor's sales wait for the next read
                log.warning("move_limits.unavailable", error=str(err))
                return None
        return int(limits[1]) if int(limits[2]) else None  # window 0: no move can be made

    def hold_venues(
        self, reading: FundReading, depth: dict[str, AssetDepth], now: int
    ) -> dict[str, AssetDepth]:
        """``depth`` with every venue side that fills more than VENUE_ORACLE_MAX_BPS under its
        feed held at 0 (keepers.fund.venues): the planner routes around it and notes the cut,
        and the bot's ``venue_off_oracle`` warning names it with both prices. Read on every
        plan, so a venue is traded again once it agrees with its feed. A failed read holds
        nothing (the simulation still guards every leg)."""
        try:
            prices = self.services.venues.prices(reading)
        except Exception as err:  # noqa: BLE001 - an optimisation over the simulation
            log.warning("venues.unavailable", error=str(err))
            return depth
        for v in prices:
            metrics.observe_venue(self.services.symbol(v.token), v.buy_short_bps, v.sell_short_bps)
        held = held_sides(prices, self.cfg.venue_oracle_max_bps)
        out = dict(depth)
        for (token, side), v in held.items():
            out[token] = self._held(out.get(token), token, side, v.describe(side))
        for token, why in getattr(self.services.venues, "unread", {}).items():
            for side in ("buy", "sell"):  # not read at this block: not traded on this plan
                out[token] = self._held(out.get(token), token, side, why)
        self.services.venue_alert(held, now)
        # legs that failed simulation for a reason unchanged (their records in one query)
        failed = self.services.plans.last_job_details(
            [_failed_leg(a.token, side) for a in reading.state.assets for side in ("buy", "sell")]
        )
        for a in reading.state.assets:
            for side in ("buy", "sell"):
                if (a.token, side) in held:
                    continue
                why = self._still_failing(
                    reading, a.token, side, failed.get(_failed_leg(a.token, side))
                )
                if why is not None:
                    out[a.token] = self._held(out.get(a.token), a.token, side, why)
        return out

    def _held(self, d: AssetDepth | None, token: str, side: str, why: str) -> AssetDepth:
        d = d or AssetDepth(token, limit_bps=self.cfg.rebalance_max_slippage)
        if side == "buy":
            return replace(d, max_buy=0, cheap_buy=0, detail=why)
        return replace(d, max_sell=0, cheap_sell=0, detail=why)

    def record_failed_leg(
        self, ref: str, action: Action, error: str | None, reading: FundReading, now: int
    ) -> None:
        """A purchase or sale that failed simulation: its reason (the revert's name) and what
        it depended on (keepers.fund.venues.VenueChecker.fingerprint), for the next plans to
        leave it out while neither changes."""
        if action.type not in (ActionType.PURCHASE, ActionType.REDEEM) or not action.asset:
            return
        side = "buy" if action.type is ActionType.PURCHASE else "sell"
        try:
            fingerprint = self.services.venues.fingerprint(reading, action.asset, side)
        except Exception as err:  # noqa: BLE001 - nothing to compare with: not remembered
            log.warning("failed_leg.unrecorded", plan=ref, error=str(err))
            return
        self.services.plans.record_job_run(
            _failed_leg(action.asset, side),
            now,
            {"plan": ref, "error": error_name(error), "fingerprint": fingerprint, "at": now},
        )

    def _still_failing(
        self, reading: FundReading, token: str, side: str, last: dict[str, Any] | None
    ) -> str | None:
        """Why a leg is left out (None: it is not): its last simulation failed (``last``: its
        newest ``failed_leg`` record) and the feed and venue price it depended on are what
        they were then."""
        if not last or not last.get("error"):
            return None
        try:
            now_print = self.services.venues.fingerprint(reading, token, side)
        except Exception:  # noqa: BLE001 - cannot tell: try the leg again
            return None
        if now_print != last.get("fingerprint"):
            return None
        symbol = reading.state.asset(token).symbol
        return (
            f"{symbol} {side} left out: plan {last['plan']} failed simulation on it with "
            f"{last['error']} and its feed and venue price have not changed since "
            f"({now_print}); retried when either does"
        )

    def cost_spent(self, now: int) -> tuple[int, int]:
        """The fills' cost booked over the last day and the last 30 days (base units)."""
        day, month = self.services.plans.costs_since(now - DAY, now - 30 * DAY)
        return day, month

    def budget_spent(self, nav: int, now: int) -> str | None:
        """Why the off-chain cost budget is spent (None: it is not): the last day's or the
        last 30 days' fill cost at REBALANCE_COST_BUDGET_DAILY / _30D bps of NAV."""
        day, month = self.cost_spent(now)
        for spent, bps, name in (
            (day, self.cfg.rebalance_cost_budget_daily, "REBALANCE_COST_BUDGET_DAILY"),
            (month, self.cfg.rebalance_cost_budget_30d, "REBALANCE_COST_BUDGET_30D"),
        ):
            if spent * BPS >= bps * max(nav, 1):
                used = spent * BPS // max(nav, 1)
                return f"cost budget spent: {spent} ({used} bps of NAV) >= {name}={bps} bps"
        return None

    def _quote_bps_or_0(self, reading: FundReading, a: Action, amount: int) -> int:
        return self._quote_bps(reading, a, amount) or 0

    def _quote_bps(self, reading: FundReading, a: Action, amount: int) -> int | None:
        if amount <= 0:
            return 0
        q = self.services.quotes.quote(reading, self._sized(reading, a, amount), reading.block)
        return None if q is None else riskmod.slippage_bps(q.quote_out, q.oracle_out)

    @staticmethod
    def _sized(reading: FundReading, a: Action, amount: int) -> Action:
        """``a`` at ``amount`` as it is quoted (a sale's tokens for that value)."""
        if a.type not in (ActionType.PURCHASE, ActionType.REDEEM) or not a.asset:
            return a
        sized = replace(a, amount=amount, token_amount=None)
        if a.type is ActionType.REDEEM:
            asset = reading.state.asset(a.asset or "")
            sized = replace(sized, token_amount=asset.tokens_for_value(amount))
        return sized

    def risk_check(self, reading: FundReading, p: Plan, now: int) -> riskmod.RiskReport:
        quotes = {}
        self.services.quotes.prefetch_quotes(reading, list(p.actions), reading.block)
        for i, a in enumerate(p.actions):
            q = self.services.quotes.quote(reading, a, reading.block)
            if q is not None:
                quotes[i] = q
        gas_cost = 0
        # Manual plans (operator requests, rollbacks) are never skipped for gas: a human asked.
        if self.services.native_price and not p.manual:
            gas = self.cfg.rebalance_gas_limit * len(p.actions)
            price = self.services.gas_price()
            gas_cost = (
                gas * price * self.services.native_price * 10**reading.state.base_decimals // 10**18
            )
        # against the fund as the other plans in flight will leave it (what they sell is not
        # there to sell again; the benefit is what this plan adds to theirs)
        state = project(reading.state, self.services.plans.in_flight(exclude=p.id))
        report = riskmod.assess(state, p, self.cfg, now, quotes=quotes, gas_cost=gas_cost)
        if not any(f.rule == "fit" for f in report.findings):
            return report
        # planned before the others: it does not fit what they leave; judged on the chain
        # (a "fit" finding there too: the fund moved under it, keepers.fund.lifecycle)
        log.warning("risk.projection_mismatch", plan=p.id)
        return riskmod.assess(reading.state, p, self.cfg, now, quotes=quotes, gas_cost=gas_cost)


def _failed_leg(token: str, side: str) -> str:
    """The job name a failed leg is remembered under (``record_failed_leg``)."""
    return f"failed_leg:{token}:{side}"


# ---------------------------------------------------------------------- risk findings in words


def findings_text(report: riskmod.RiskReport) -> str:
    return (
        "; ".join(
            f"{f.rule}:{f.level.value} {f.detail}"
            for f in report.findings
            if f.level is not riskmod.Level.OK
        )
        or "ok"
    )


def block_key(p: Plan, report: riskmod.RiskReport) -> str:
    """The cause of a block, independent of amounts: rule, call and asset of each blocking
    finding (the same pool refusing every day is one cause)."""
    parts = set()
    for f in report.findings:
        if f.level not in (riskmod.Level.BLOCK, riskmod.Level.SKIP):
            continue
        a = p.actions[f.action_index] if f.action_index is not None else None
        parts.add(f"{f.rule}:{a.type.value if a else ''}:{a.asset if a else ''}")
    return "|".join(sorted(parts))


def unblock(report: riskmod.RiskReport) -> str:
    what = {
        "slippage": "liquidity near the oracle on that venue (arbitrage or new liquidity)",
        "liquidity": "the asset's redemption window / redeemable liquidity",
        "blackout": "the end of the blackout window",
        "paused": "the guardian or admin unpausing the controller",
        "gas": "a lower gas price or a larger deviation (benefit)",
    }
    rules = sorted(
        {f.rule for f in report.findings if f.level in (riskmod.Level.BLOCK, riskmod.Level.SKIP)}
    )
    return "; ".join(what.get(r, r) for r in rules)


def bps_from(detail: str) -> int:
    try:
        return int(detail.split()[1])
    except (IndexError, ValueError):
        return 0


def no_safe_move_message(p: Plan, cfg: PlanningConfig) -> tuple[str, str]:
    """The ``no_safe_move`` alert's cause (the venues that held the flow) and message."""
    depth = [u.detail for u in p.unresolved if u.reason == "depth"]
    carry = "; ".join(c.reason for c in p.carry)
    key = "|".join(sorted(d.split(":")[0] for d in depth)) or "depth"
    msg = (
        f"no safe move: {carry}; {' / '.join(depth)}. Unblock: liquidity within "
        f"{cfg.rebalance_max_slippage} bps of the oracle on those venues (arbitrage "
        "back to the oracle, or new pool liquidity), another asset with headroom in the "
        "tier, or an operator-approved REBALANCE_MAX_SLIPPAGE; retried every "
        f"{cfg.carry_slice_interval_s} s"
    )
    return key, msg
