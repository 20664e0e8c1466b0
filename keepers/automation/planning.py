"""Pure decisions of the automation keepers (no I/O, no web3 object).

Executor: which due scheduler runs go into which ``executeBatch`` transaction, and whether the
executor's pay (each run's prepaid fee less the scheduler's protocol share) covers the gas the
transaction really burns (the simulation's gasUsed, not the gas limit it needs) times a margin.

Supervisor: which recurring tasks are stuck (nothing booked, or a receipt whose run can no
longer execute) and when a funder's runway is low enough to page before booking fails.

Amounts are integers in wei; gas in gas units; times in unix seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

BPS = 10_000

# Scheduler run status (IRebalanceScheduler.Status)
UNKNOWN, SCHEDULED, EXECUTED, CANCELED = 0, 1, 2, 3

# Gas the scheduler wants left before calling a handler with `effort` gas: EIP-150 forwards at
# most 63/64, plus the scheduler's post-call reserve (RebalanceScheduler.POST_CALL_RESERVE).
POST_CALL_RESERVE = 30_000
# Per-run gas outside the handler in executeBatch (status write, event, loop), and the
# transaction's own overhead (intrinsic 21,000, calldata, the final payment).
PER_RUN_OVERHEAD = 45_000
TX_OVERHEAD = 60_000


# ======================================================================================
# executor
# ======================================================================================


@dataclass(frozen=True)
class DueRun:
    """A scheduler run as the executor sees it."""

    id: int
    timestamp: int  # effective timestamp: due from this block time on
    effort: int  # gas the handler receives
    fee: int  # wei prepaid: whoever executes it is credited this less the booked share
    status: int = SCHEDULED
    handler: str = ""  # the contract the run calls (checksummed; "" when not read)
    # the protocol's share booked with the run (Run.shareBps); None when not read from the
    # chain yet (a RunScheduled log): the scheduler's current rate stands in for it
    share_bps: int | None = None


@dataclass(frozen=True)
class ExecutorPolicy:
    """Knobs of the batching decision."""

    max_batch_runs: int = 100
    max_batch_gas: int = 25_000_000  # stay under the block gas limit
    fee_margin_bps: int = 12_000  # fees must cover gas cost x 1.2
    unbatched: bool = False  # one run per transaction (the benchmark's baseline)
    # the scheduler's protocolShareBps: kept from every fee, never paid to the executor (a run
    # read from the chain carries the rate it was booked at, which is the one that applies)
    protocol_share_bps: int = 0


@dataclass(frozen=True)
class Batch:
    runs: tuple[DueRun, ...]

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.runs]

    @property
    def fee(self) -> int:
        return sum(r.fee for r in self.runs)

    @property
    def gas_bound(self) -> int:
        return batch_gas_bound(self.runs)

    def pay(self, share_bps: int) -> int:
        """What executing the batch credits its executor: each fee less the share booked with
        it (``share_bps`` for a run whose booked share was not read)."""
        return sum(run_pay(r, share_bps) for r in self.runs)


def executor_pay(fee: int, share_bps: int) -> int:
    """The executor's part of a run's prepaid ``fee`` (the scheduler keeps ``share_bps``)."""
    return fee - fee * share_bps // BPS


def run_pay(run: DueRun, share_bps: int) -> int:
    """What executing ``run`` credits its executor: its fee less the share booked with it (the
    scheduler splits at booking, at the booking's rate), ``share_bps`` when that was not read."""
    return executor_pay(run.fee, share_bps if run.share_bps is None else run.share_bps)


def run_gas_bound(effort: int) -> int:
    """Worst-case gas one run can take in a batch: the handler may burn its whole effort."""
    return effort + PER_RUN_OVERHEAD


def gas_needed_for(effort: int) -> int:
    """Gas that must be left when the scheduler reaches a run (it reverts otherwise)."""
    return effort + effort // 63 + POST_CALL_RESERVE


def batch_gas_bound(runs: Sequence[DueRun]) -> int:
    """Upper bound of a batch's gas: every handler burns its effort, and the last run still
    needs its full forwarding headroom."""
    if not runs:
        return 0
    body = sum(run_gas_bound(r.effort) for r in runs[:-1])
    last = runs[-1].effort
    return TX_OVERHEAD + body + gas_needed_for(last) + PER_RUN_OVERHEAD


def gas_cost(gas: int, gas_price: int) -> int:
    return gas * gas_price


def fees_cover(fee: int, gas: int, gas_price: int, margin_bps: int) -> bool:
    """True when ``fee`` pays ``gas`` at ``gas_price`` times ``margin_bps`` / 10,000."""
    if margin_bps < 0:
        raise ValueError(f"margin_bps must be >= 0, got {margin_bps}")
    return fee * BPS >= gas * gas_price * margin_bps


def is_due(run: DueRun, now: int) -> bool:
    return run.status == SCHEDULED and run.timestamp <= now


def plan_batches(
    runs: Iterable[DueRun],
    now: int,
    gas_price: int,
    policy: ExecutorPolicy,
    in_flight: frozenset[int] = frozenset(),
    measured: Mapping[int, int] | None = None,
) -> tuple[list[Batch], list[DueRun]]:
    """Group due runs into batches, oldest first.

    Skips runs that are not Scheduled, not yet due at ``now``, or already in a transaction of
    ours in flight. A run whose pay cannot cover, times the margin, the gas it really uses
    (``measured``: its gasUsed simulated alone, when a simulation measured it; otherwise the
    least any run costs, PER_RUN_OVERHEAD) is returned in the second list (unprofitable: left
    for someone else). The worst case (the handler burning its whole effort with the EIP-150
    headroom) only sizes batches: each stays under ``max_batch_runs`` and ``max_batch_gas``.
    Duplicated ids count once.
    """
    measured = measured or {}
    seen: set[int] = set()
    candidates: list[DueRun] = []
    for r in runs:
        if r.id in seen or r.id in in_flight or not is_due(r, now):
            continue
        seen.add(r.id)
        candidates.append(r)
    candidates.sort(key=lambda r: (r.timestamp, r.id))

    unprofitable: list[DueRun] = []
    profitable: list[DueRun] = []
    for r in candidates:
        gas = measured.get(r.id, PER_RUN_OVERHEAD)
        pay = run_pay(r, policy.protocol_share_bps)
        if fees_cover(pay, gas, gas_price, policy.fee_margin_bps):
            profitable.append(r)
        else:
            unprofitable.append(r)

    limit = 1 if policy.unbatched else policy.max_batch_runs
    batches: list[Batch] = []
    current: list[DueRun] = []
    for r in profitable:
        if current and (
            len(current) >= limit or batch_gas_bound([*current, r]) > policy.max_batch_gas
        ):
            batches.append(Batch(tuple(current)))
            current = []
        current.append(r)
    if current:
        batches.append(Batch(tuple(current)))
    return batches, unprofitable


@dataclass(frozen=True)
class Unprofitable:
    """A run whose pay does not cover its own gas at this price: what ``run_unprofitable``
    says (pay and cost in wei, gap = cost x margin - pay)."""

    run: DueRun
    pay: int
    gas: int
    cost: int
    gap: int


def unprofitable_by(run: DueRun, gas: int, gas_price: int, policy: ExecutorPolicy) -> Unprofitable:
    pay = run_pay(run, policy.protocol_share_bps)
    cost = gas * gas_price
    return Unprofitable(run, pay, gas, cost, max(0, -(-cost * policy.fee_margin_bps // BPS) - pay))


def split_paying(
    batch: Batch, alone: Mapping[int, int], gas_price: int, policy: ExecutorPolicy
) -> tuple[Batch, list[Unprofitable]]:
    """The members of a batch that did not pay as a whole, each judged on its own gasUsed
    simulated alone (``alone``; a run missing from it is kept): those that pay their own way
    (the batch shares the transaction's overhead, so it pays too) and those that do not."""
    keep: list[DueRun] = []
    out: list[Unprofitable] = []
    for r in batch.runs:
        gas = alone.get(r.id)
        pay = run_pay(r, policy.protocol_share_bps)
        if gas is None or fees_cover(pay, gas, gas_price, policy.fee_margin_bps):
            keep.append(r)
        else:
            out.append(unprofitable_by(r, gas, gas_price, policy))
    return Batch(tuple(keep)), out


def refine_batch(batch: Batch, statuses: dict[int, int], now: int) -> Batch:
    """The batch without the runs another executor took since it was planned (``statuses``
    are the latest reads; a run missing from them is kept)."""
    keep = tuple(
        r for r in batch.runs if statuses.get(r.id, r.status) == SCHEDULED and r.timestamp <= now
    )
    return Batch(keep)


def split_not_due_on_chain(batch: Batch, chain_time: int) -> tuple[Batch, list[DueRun]]:
    """The runs the chain counts as due (timestamp at most the latest block's ``chain_time``)
    and those due by the keeper's clock only: executeBatch skips the latter, so they wait for a
    later block while the rest go."""
    go = tuple(r for r in batch.runs if r.timestamp <= chain_time)
    return Batch(go), [r for r in batch.runs if r.timestamp > chain_time]


def batch_pays(
    batch: Batch, gas_used: int, gas_price: int, margin_bps: int, share_bps: int = 0
) -> bool:
    """Final check: the batch's pay against the gas its simulation really used (the gas limit
    sent, with the EIP-150 headroom, is not what the transaction costs)."""
    return bool(batch.runs) and fees_cover(batch.pay(share_bps), gas_used, gas_price, margin_bps)


def lag_seconds(due: int, executed_at: int) -> int:
    """Seconds from a run being due to the block that executed it (never negative)."""
    return max(0, executed_at - due)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within [0, 100], got {q}")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return float(ordered[int(rank) - 1])


# ======================================================================================
# supervisor
# ======================================================================================


@dataclass(frozen=True)
class TaskView:
    """A recurring task (Rebalancer or Supervisor) as read from the chain."""

    address: str
    run_id: int  # bookedRun().runId, 0 when nothing is booked
    run_at: int  # bookedRun().timestamp
    run_status: int  # scheduler.status(run_id) (UNKNOWN when run_id is 0)
    destroyed: bool = False


def stuck_reason(task: TaskView, now: int) -> str | None:
    """Why ``task`` needs fixReschedule now, or None when it is fine.

    "nothing-booked": no run booked (a booking failed). "stale-receipt": the booked run was
    executed or canceled without the task booking the next one (handler ran out of gas) and
    its time has passed. A run that is still Scheduled is fine even when overdue: that is the
    executor's job, not a fix.
    """
    if task.destroyed:
        return None
    if task.run_id == 0:
        return "nothing-booked"
    if task.run_at <= now and task.run_status != SCHEDULED:
        return "stale-receipt"
    return None


def stuck_tasks(tasks: Iterable[TaskView], now: int) -> list[tuple[TaskView, str]]:
    out = []
    for t in tasks:
        why = stuck_reason(t, now)
        if why is not None:
            out.append((t, why))
    return out


@dataclass(frozen=True)
class FunderView:
    address: str
    balance: int  # wei
    runway: int  # intervals (TxFunder.runway(); max uint when nothing is expected)


@dataclass(frozen=True)
class RunwayAlert:
    level: str  # "warning" (runway below threshold) | "critical" (next booking would fail)
    code: str
    message: str


def runway_alert(
    funder: FunderView, threshold_intervals: int, next_booking_fee: int
) -> RunwayAlert | None:
    """Page before booking fails: critical when the balance cannot pay the next booking,
    warning when fewer than ``threshold_intervals`` intervals of fees are left."""
    if next_booking_fee > 0 and funder.balance < next_booking_fee:
        return RunwayAlert(
            "critical",
            "funder_empty",
            f"funder {funder.address} holds {funder.balance} wei, the next booking needs "
            f"{next_booking_fee}: bookings will fail",
        )
    if funder.runway < threshold_intervals:
        return RunwayAlert(
            "warning",
            "low_runway",
            f"funder {funder.address} runway {funder.runway} intervals < {threshold_intervals} "
            f"(balance {funder.balance} wei)",
        )
    return None


def spend_cap_alert(
    funder: str, available: int, cap: int, next_booking_fee: int
) -> RunwayAlert | None:
    """Critical when the funder's rolling-day spend cap (TxFunder.availableToSpend) cannot pay
    the next booking: bookings fail until the window drains, whatever the balance. Unexpected in
    normal running (the cap is sized for the fees the deployment expects), so it also means
    someone is spending the day's budget: check the registry's creators and paid rebalancers."""
    if next_booking_fee > 0 and available < next_booking_fee:
        return RunwayAlert(
            "critical",
            "spend_cap_reached",
            f"funder {funder} may pay {available} wei more in this rolling day (cap {cap}), the "
            f"next booking needs {next_booking_fee}: bookings fail until the window drains",
        )
    return None


def hold_run(held_since: int, last_retry: int | None, now: int, retry_s: int) -> bool:
    """A held fund rebalancer's due run (its controller has a held feed down since
    ``held_since``): True while it waits, False when it goes as the one retry of its period,
    ``retry_s`` after the hold began or after the last run let through (0: never while held)."""
    if retry_s <= 0:
        return True
    return now - (held_since if last_retry is None else last_retry) < retry_s


def due_again(last: int | None, now: int, every: int) -> bool:
    """True when something done at ``last`` (None: never) may be done again at ``now``."""
    return last is None or now - last >= every
