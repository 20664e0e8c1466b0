"""Prometheus metrics of the keepers: seed 001 section 5.1's names, plus process health.

Units: ratios are fractions (0.07 = 7%), times unix seconds or seconds, native-coin amounts in
the native coin (wei / 1e18). Labels name assets by symbol, never by address. The shipped alert
rules (keepers/alerts/rebalance.rules.yml) hold the seed's warning and critical thresholds.

Two kinds of metric:

- set by the process that observes the event: tier ratios read from the chain, slippage, RPC
  health, gas balance, last tick per bot, funders, stuck tasks;
- read from the keeper store at each scrape (:class:`StoreCollector`): plans by status, the
  pending count, the success rate of the last 100 executed actions, the last executed plan's
  time and gas. Plans executed by any process on the same store (a ``keeper plan`` in a
  terminal, a replica, a restarted keeper) are counted once, and a fresh keeper with no
  executed action exports no success rate, so the success-rate alert cannot fire on it.

``keepers.runtime.health.serve`` serves them on /metrics next to /healthz and /readyz.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# --- seed 001 section 5.1 -------------------------------------------------------------------

DEVIATION = Gauge(
    "rebalance_deviation_ratio",
    "Tier ratio minus target (fraction of total assets); tier=max is the largest |deviation|",
    ["tier"],
)
TIER_RATIO = Gauge("rebalance_tier_ratio", "Tier share of total assets (fraction)", ["tier"])
TIER_BAND = Gauge(
    "rebalance_tier_band_ratio",
    "The controller's band of a tier (fraction): bound = min | target | max",
    ["tier", "bound"],
)
SLIPPAGE = Gauge(
    "rebalance_slippage", "Shortfall of the last fill against the oracle (fraction)", ["asset"]
)
ALERTS = Counter("rebalance_alerts", "Alerts raised, by level and code", ["level", "code"])
VENUE_SHORT = Gauge(
    "rebalance_venue_oracle_short",
    "How far an ERC-4626 venue's preview fills under its feed (fraction), by side (buy | sell)",
    ["asset", "side"],
)
# --- fees and held valuations (issue 54) -----------------------------------------------------

FEES_PENDING = Gauge(
    "rebalance_fees_pending",
    "Fees an accrual would mint now, in the base token's base units (fee shares at the exit price)",
)
HIGH_WATER_MARK = Gauge(
    "rebalance_high_water_mark",
    "The vault's high-water mark: base tokens per whole share (the performance fee's threshold)",
)
PRICE_PER_SHARE = Gauge(
    "rebalance_price_per_share",
    "The vault's exit price per share now, base tokens per whole share (fees pending counted; "
    "once closed, the price close() fixed on chain, closedPrice)",
)
FUND_PHASE = Gauge(
    "rebalance_fund_phase",
    "The vault's wind-down phase: 0 open, 1 closing (no entries, sales toward cash only), "
    "2 closed (every exit at the price fixed at close)",
)
VALUATION_HELD = Gauge(
    "rebalance_valuation_held",
    "1 while the controller holds the asset's valuation (its feed stepped past its bound), else 0",
    ["asset"],
)
VALUATION_STEP = Gauge(
    "rebalance_valuation_step_ratio",
    "The asset's feed answer against the reference it last counted (signed fraction)",
    ["asset"],
)

FEE_SHARES_HELD = Gauge(
    "rebalance_fee_shares_held",
    "Vault shares the fee recipient holds now (its balance; share units)",
)
FEES_HELD_VALUE = Gauge(
    "rebalance_fees_held_value",
    "What the fee recipient's shares are worth now at the exit price, base token base units",
)
FEE_SHARES_MINTED = Gauge(
    "rebalance_fee_shares_minted",
    "Fee shares minted to date (FeesAccrued summed over KEEPER_FEES_LOOKBACK_BLOCKS)",
)
FEES_MINTED_VALUE = Gauge(
    "rebalance_fees_minted_value",
    "Fees minted to date, base units at the time each was minted (management + performance)",
)

# --- the exit horizon (issue 67) --------------------------------------------------------------

EXIT_HORIZON = Gauge(
    "rebalance_exit_horizon",
    "Base coin the fund can pay within `days` without the keeper breaking a budget (L1 free "
    "cash, ERC-4626 venues, async RWA by window and notice, pools at the stated cost), base units",
    ["days"],
)
EXIT_HORIZON_NEED = Gauge(
    "rebalance_exit_horizon_need",
    "The next day's need: pending redemptions plus KEEPER_HORIZON_FORECAST_BPS of the fund's "
    "value, base units (ExitHorizonShort compares it with the 1-day horizon)",
)

# --- the admin's timelock (issue 67) ----------------------------------------------------------

TIMELOCK_READY = Gauge(
    "rebalance_timelock_operation_ready_timestamp_seconds",
    "Unix time a queued FundTimelock operation becomes executable (open, not expired ones only)",
    ["operation", "calls"],
)
TIMELOCK_EXPIRES = Gauge(
    "rebalance_timelock_operation_expires_timestamp_seconds",
    "Unix time after which a queued FundTimelock operation can no longer be executed "
    "(+Inf for a timelock without a window)",
    ["operation", "calls"],
)

# --- process health (issue 13) ----------------------------------------------------------------

FEATURE_ABSENT = Gauge(
    "keeper_contract_feature_absent",
    "1 for each feature the contracts a bot drives do not have: an older release it drives "
    "(docs/operator/upgrades.md); their other metrics are not written",
    ["bot", "feature"],
)
RPC_UP = Gauge("keeper_rpc_up", "1 when the last call to KEEPER_RPC_URL answered, else 0")
RPC_LAST_OK = Gauge(
    "keeper_rpc_last_success_timestamp_seconds", "Unix time of the last call the node answered"
)
RPC_ERRORS = Counter("keeper_rpc_errors", "Health checks the node did not answer")
GAS_BALANCE = Gauge(
    "keeper_gas_balance", "Native coin held by the keeper's signer (pays its gas)", ["account"]
)
LAST_TICK = Gauge(
    "keeper_last_tick_timestamp_seconds",
    "Unix time of each bot's last tick (fund: scheduled job) that ended without an error",
    ["bot"],
)

# --- replicas (keepers.runtime.leases) --------------------------------------------------------

LEASE_HELD = Gauge(
    "keeper_lease_held",
    "1 when this replica leads the bot (holds its lease), else 0; summed over the fleet: 1",
    ["bot", "replica"],
)
LEASE_ACQUIRED = Counter(
    "keeper_lease_acquired",
    "Times this replica took the lead of a bot (its start, or a takeover)",
    ["bot", "replica"],
)

# --- automation (supervisor) ------------------------------------------------------------------

STUCK_TASKS = Gauge(
    "keeper_supervisor_stuck_tasks",
    "Recurring tasks with nothing booked whose fix the keeper cannot send now (funder empty...)",
)
FUNDER_BALANCE = Gauge("keeper_funder_balance", "TxFunder balance (native coin)", ["funder"])
FUNDER_RUNWAY = Gauge(
    "keeper_funder_runway_intervals",
    "TxFunder.runway(): booking intervals its balance pays for (+Inf when runway params unset)",
    ["funder"],
)
FUNDER_RUNWAY_ALERT = Gauge(
    "keeper_funder_runway_alert_intervals",
    "The supervisor's low-runway threshold (KEEPER_SUPERVISOR_RUNWAY_ALERT_INTERVALS)",
    ["funder"],
)
FUNDER_NEXT_FEE = Gauge(
    "keeper_funder_next_fee",
    "What the next booking of the funder's tasks takes from it (native coin)",
    ["funder"],
)

UINT256_MAX = 2**256 - 1

# the process's own view of its health, read by keepers.runtime.health (readiness)
_state: dict[str, Any] = {"rpc_up": False, "rpc_last_ok": None, "ticks": {}}


def native(wei: int) -> float:
    return float(Decimal(wei) / 10**18)


def observe_tiers(tiers: Any) -> None:
    """Tier ratios, bands and deviations from ``keepers.fund.planning.metrics.tier_metrics``.

    An empty fund (nothing in any tier: freshly deployed, or every share redeemed) is off
    no target: its deviations are 0, so it pages nothing (its ratios, 0 of 0, would read as
    every target missed: ``tier="max"`` 0.6 paged RebalanceDeviationCritical before the first
    deposit)."""
    tiers = list(tiers)
    empty = all(t.value <= 0 for t in tiers)
    worst = 0
    for t in tiers:
        name = f"L{t.tier + 1}"
        TIER_RATIO.labels(name).set(float(Decimal(t.ratio_bps) / 10_000))
        for bound, bps in (("min", t.min_bps), ("target", t.target_bps), ("max", t.max_bps)):
            TIER_BAND.labels(name, bound).set(float(Decimal(bps) / 10_000))
        deviation = 0 if empty else t.deviation_bps
        DEVIATION.labels(name).set(float(Decimal(deviation) / 10_000))
        worst = max(worst, abs(deviation))
    DEVIATION.labels("max").set(float(Decimal(worst) / 10_000))


def observe_deviation(deviations_bps: dict[str, int]) -> None:
    worst = 0
    for tier, bps in deviations_bps.items():
        DEVIATION.labels(tier).set(float(Decimal(bps) / 10_000))
        worst = max(worst, abs(bps))
    DEVIATION.labels("max").set(float(Decimal(worst) / 10_000))


def observe_slippage(symbol: str, bps: int) -> None:
    """``symbol``: the asset's symbol (the caller maps a token address through the deployment
    record; an address here would make a new series per deployment)."""
    SLIPPAGE.labels(symbol).set(float(Decimal(bps) / 10_000))


def observe_venue(symbol: str, buy_bps: int, sell_bps: int) -> None:
    """An ERC-4626 venue's preview shortfall against its feed (keepers.fund.venues)."""
    VENUE_SHORT.labels(symbol, "buy").set(float(Decimal(buy_bps) / 10_000))
    VENUE_SHORT.labels(symbol, "sell").set(float(Decimal(sell_bps) / 10_000))


def observe_absent(bot: str, features: tuple[str, ...]) -> None:
    """The features ``bot``'s contracts do not have (keepers.version.NOT_IN_OLDER)."""
    for f in features:
        FEATURE_ABSENT.labels(bot=bot, feature=f).set(1)


def observe_fees(pending_base_units: int, high_water_mark: int, price_per_share: int) -> None:
    """The vault's fees: ``high_water_mark`` and ``price_per_share`` in the vault's unit (base
    tokens per whole share times 1e18), exported as base tokens per whole share."""
    FEES_PENDING.set(pending_base_units)
    HIGH_WATER_MARK.set(float(Decimal(high_water_mark) / 10**18))
    PRICE_PER_SHARE.set(float(Decimal(price_per_share) / 10**18))


def observe_phase(phase: int) -> None:
    """The vault's wind-down phase (TieredVault.phase: 0 open, 1 closing, 2 closed)."""
    FUND_PHASE.set(phase)


def observe_valuation(symbol: str, held: bool, move_bps: int) -> None:
    """An asset's valuation step (AssetController.priceHold): held or not, and its signed move."""
    VALUATION_HELD.labels(symbol).set(1 if held else 0)
    VALUATION_STEP.labels(symbol).set(float(Decimal(move_bps) / 10_000))


def observe_fees_paid(held_shares: int, held_value: int, minted_shares: int, minted: int) -> None:
    """What the fee recipient holds and was minted to date (keepers.fund.fees_paid)."""
    FEE_SHARES_HELD.set(held_shares)
    FEES_HELD_VALUE.set(held_value)
    FEE_SHARES_MINTED.set(minted_shares)
    FEES_MINTED_VALUE.set(minted)


def observe_exit_horizon(by_days: dict[int, int], need_1d: int) -> None:
    """The exit horizon per horizon in days, and the next day's need (keepers.fund.horizon)."""
    for days, value in by_days.items():
        EXIT_HORIZON.labels(str(days)).set(value)
    EXIT_HORIZON_NEED.set(need_1d)


def observe_timelock(ops: Any) -> None:
    """The FundTimelock's open, unexpired operations (keepers.fund.timelock.QueuedOp): the
    gauges hold exactly these (an executed, cancelled or expired one disappears)."""
    TIMELOCK_READY.clear()
    TIMELOCK_EXPIRES.clear()
    for o in ops:
        labels = (o.id[:18], ",".join(o.calls))
        TIMELOCK_READY.labels(*labels).set(o.ready_at)
        TIMELOCK_EXPIRES.labels(*labels).set(math.inf if o.expires_at is None else o.expires_at)


def mark_tick(bot: str, at: float | None = None) -> None:
    """A tick of ``bot`` ended without an error (readiness and keeper_last_tick_*)."""
    at = time.time() if at is None else at
    _state["ticks"][bot] = at
    LAST_TICK.labels(bot).set(at)


def observe_rpc(ok: bool, at: float | None = None) -> None:
    _state["rpc_up"] = ok
    RPC_UP.set(1 if ok else 0)
    if ok:
        at = time.time() if at is None else at
        _state["rpc_last_ok"] = at
        RPC_LAST_OK.set(at)
    else:
        RPC_ERRORS.inc()


def observe_funder(
    funder: str, balance_wei: int, runway: int | None, threshold: int, next_fee_wei: int
) -> None:
    FUNDER_BALANCE.labels(funder).set(native(balance_wei))
    if runway is not None:
        FUNDER_RUNWAY.labels(funder).set(math.inf if runway >= UINT256_MAX else float(runway))
    FUNDER_RUNWAY_ALERT.labels(funder).set(threshold)
    FUNDER_NEXT_FEE.labels(funder).set(native(next_fee_wei))


# --- from the store, at each scrape -----------------------------------------------------------

# plan statuses exported even at 0 (keepers.fund.records), so a panel always has a series
PLAN_STATUSES = (
    "proposed",
    "pending_approval",
    "approved",
    "executed",
    "partial",
    "failed",
    "aborted",
    "blocked",
    "rejected",
    "expired",
    "nothing_to_do",
)
WAITING = ("proposed", "pending_approval", "approved")
ACTION_OUTCOMES = ("done", "failed", "skipped")  # an executed action ends in one of these
RAN = ("executed", "partial", "failed")  # plans that sent transactions and were recorded
RECENT_ACTIONS = 100


class StoreCollector(Collector):
    """Plan and action figures read from the keeper store at each scrape (see module doc)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from keepers.store import models as m

        with self.store.reads() as s:  # a scrape never waits on the pipeline's open batch
            plans = dict(
                s.execute(select(m.Plan.status, func.count()).group_by(m.Plan.status)).all()
            )
            actions = dict(
                s.execute(
                    select(m.Action.status, func.count())
                    .where(m.Action.status.in_(ACTION_OUTCOMES))
                    .group_by(m.Action.status)
                ).all()
            )
            recent = s.scalars(
                select(m.Action.status)
                .where(m.Action.status.in_(ACTION_OUTCOMES))
                .order_by(m.Action.id.desc())
                .limit(RECENT_ACTIONS)
            ).all()
            last = s.scalars(
                select(m.Plan)
                .where(m.Plan.status.in_(RAN))
                .order_by(m.Plan.updated_at.desc(), m.Plan.id.desc())
                .limit(1)
            ).first()
            intents = dict(
                s.execute(select(m.TxIntent.status, func.count()).group_by(m.TxIntent.status)).all()
            )
            at_relay = s.scalar(
                select(func.count())
                .select_from(m.TxIntent)
                .join(m.TxAttempt, m.TxAttempt.id == m.TxIntent.current_attempt_id)
                .where(m.TxIntent.status == "broadcast", m.TxAttempt.route == "private")
            )
        by_status = GaugeMetricFamily(
            "rebalance_plans",
            "Fund plans in the store, by status (every process)",
            labels=["status"],
        )
        for status in sorted(set(PLAN_STATUSES) | set(plans)):
            by_status.add_metric([status], plans.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "rebalance_pending_count",
            "Plans waiting for approval or execution",
            value=sum(plans.get(x, 0) for x in WAITING),
        )
        acts = GaugeMetricFamily(
            "rebalance_actions",
            "Executed plan actions in the store, by outcome (done, failed, skipped)",
            labels=["outcome"],
        )
        for outcome in ACTION_OUTCOMES:
            acts.add_metric([outcome], actions.get(outcome, 0))
        yield acts
        if recent:  # none executed yet: no rate (an empty history is not a 0% success rate)
            yield GaugeMetricFamily(
                "rebalance_success_rate",
                f"Share of the last {RECENT_ACTIONS} executed actions that succeeded",
                value=sum(1 for x in recent if x == "done") / len(recent),
            )
        if last is not None:  # the last plan that ran, whichever process ran it
            yield GaugeMetricFamily(
                "rebalance_execution_time",
                "Seconds the last executed plan took (simulate to verify)",
                value=float(last.payload.get("seconds", 0)),
            )
            yield GaugeMetricFamily(
                "rebalance_gas_cost",
                "Native coin spent on gas by the last executed plan",
                value=native(int(last.payload.get("gas_wei", 0))),
            )
        tx = GaugeMetricFamily(
            "keeper_pipeline_intents",
            "Transaction intents in the store, by status",
            labels=["status"],
        )
        for status, n in sorted(intents.items()):
            tx.add_metric([status], n)
        yield tx
        yield GaugeMetricFamily(
            "keeper_private_pending",
            "Transactions sent to a private relay and not yet mined (keepers.tx.relay)",
            value=int(at_relay or 0),
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # collected lazily: nothing is read from the store at registration


# --- readings for keepers.runtime.health (the process's own view, not scraped) ------------------------


def rpc_up() -> bool:
    return bool(_state["rpc_up"])


def last_rpc_success() -> float | None:
    value: float | None = _state["rpc_last_ok"]
    return value


def last_tick(bot: str) -> float | None:
    value: float | None = _state["ticks"].get(bot)
    return value
