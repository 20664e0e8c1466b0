"""Deploys and wires the recurring-rebalance automation (seed 002 on the EVM).

`deploy_automation` deploys RebalanceScheduler, TxFunder, PaidRebalancerRegistry and Supervisor,
makes the registry a manager of the funder (so it can authorise the paid rebalancers it
creates, each for a finite allowance) and the registry's supervisor (new paid rebalancers are
supervised at once), authorises the supervisor as a spender, funds the funder and lets the
supervisor book its first run. Ownership of every contract ends with `admin` (two-step).

Limits set here (issue 11): the funder pays at most `funder_spend_cap_wei` per rolling day in
all; each paid rebalancer may spend at most `paid_allowance_wei` in its life; at most
`max_paid_per_owner` / `max_paid_total` live paid rebalancers; only the admin (or a creator it
names, or the owner of a position it allow-lists) creates them.

It takes the ape `project` and accounts so scripts/deploy.py, the demo and tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ballast_dev.deployment.record import DirectSteps
from ballast_dev.deployment.structs import ContractStruct

PRIORITY_HIGH = 0
PRIORITY_MEDIUM = 1
PRIORITY_LOW = 2
MAX_UINT256 = 2**256 - 1
# Defaults sized for the local profile (1 gwei/effort): a paid run costs about 3e15 wei.
DEFAULT_FUNDER_SPEND_CAP_WEI = 10**18  # per rolling day, all spenders together
DEFAULT_PAID_ALLOWANCE_WEI = 10**18  # per paid rebalancer, life-time (refunds restore it)
DEFAULT_MAX_PAID_PER_OWNER = 5
DEFAULT_MAX_PAID_TOTAL = 50


@dataclass(frozen=True)
class RecurringConfig(ContractStruct):
    """Mirror of IRecurringTask.RecurringConfig (ints only: gas, seconds, bps)."""

    interval: int
    priority: int
    execution_effort: int
    estimation_margin_bps: int
    force_rebalance: bool
    tx_funder: str

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError(f"interval must be > 0, got {self.interval}")
        if self.priority not in (PRIORITY_MEDIUM, PRIORITY_LOW):
            raise ValueError(f"priority must be Medium (1) or Low (2), got {self.priority}")
        if self.estimation_margin_bps < 10_000:
            raise ValueError(
                f"estimation_margin_bps must be >= 10000, got {self.estimation_margin_bps}"
            )


def _address(x: Any) -> str:
    return str(getattr(x, "address", x))


def deploy_automation(
    project: Any,
    deployer: Any,
    admin: Any,
    *,
    base_fee: int,
    slot_seconds: int,
    data_fee_per_byte: int = 0,
    funder_deposit: int = 0,
    paid_interval: int = 3_600,
    paid_effort: int = 500_000,
    paid_priority: int = PRIORITY_MEDIUM,
    supervisor_interval: int = 3_600,
    supervisor_effort: int = 5_000_000,
    estimation_margin_bps: int = 12_000,
    force_rebalance: bool = False,
    item_gas_cap: int = 400_000,
    max_items_per_run: int = 200,
    funder_spend_cap_wei: int = DEFAULT_FUNDER_SPEND_CAP_WEI,
    paid_allowance_wei: int = DEFAULT_PAID_ALLOWANCE_WEI,
    max_paid_per_owner: int = DEFAULT_MAX_PAID_PER_OWNER,
    max_paid_total: int = DEFAULT_MAX_PAID_TOTAL,
    low_runway_intervals: int = 0,
    steps: Any = None,
) -> dict[str, str]:
    """Deploys the automation contracts and returns their addresses by name.

    `admin` ends as owner of everything. The deployer owns the four contracts while it wires
    them, then starts the two-step transfer of each to `admin`: when `admin` is a signer distinct
    from `deployer` it accepts here; when it is a bare address, the admin must call
    `acceptOwnership()` on the RebalanceScheduler, TxFunder, PaidRebalancerRegistry and
    Supervisor (until then the deployer key still owns them). With `funder_deposit=0` the
    supervisor's first booking fails (FailedRecurringSchedule, no revert); fund the TxFunder and
    call `supervisor.fixReschedule()`.

    With `low_runway_intervals` > 0 the funder's runway is measured in paid-rebalancer intervals:
    the expected fee per interval is one paid run plus the supervisor's runs in that interval
    (scheduler fees at deploy time), and LowRunway fires below that many intervals (0 leaves
    the runway unmeasured: it reads as unlimited).
    """
    steps = steps or DirectSteps()
    if base_fee < 0 or data_fee_per_byte < 0 or funder_deposit < 0:
        raise ValueError("fees and deposit must be >= 0")
    if slot_seconds <= 0:
        raise ValueError(f"slot_seconds must be > 0, got {slot_seconds}")
    if not 0 < funder_spend_cap_wei < 2**96:
        raise ValueError(f"funder_spend_cap_wei must be in (0, 2**96), got {funder_spend_cap_wei}")
    if not 0 < paid_allowance_wei <= 1_000 * 10**18:
        raise ValueError(f"paid_allowance_wei must be in (0, 1e21], got {paid_allowance_wei}")
    if not 0 < max_paid_per_owner <= max_paid_total:
        raise ValueError(
            f"paid limits need 0 < max_paid_per_owner <= max_paid_total, "
            f"got {max_paid_per_owner}, {max_paid_total}"
        )
    admin_address = _address(admin)
    deployer_address = _address(deployer)

    scheduler = steps.deploy(
        "deploy:scheduler",
        project.RebalanceScheduler,
        deployer_address,
        slot_seconds,
        base_fee,
        data_fee_per_byte,
        sender=deployer,
    )
    funder = steps.deploy(
        "deploy:tx_funder",
        project.TxFunder,
        deployer_address,
        funder_spend_cap_wei,
        sender=deployer,
    )
    paid_config = RecurringConfig(
        paid_interval,
        paid_priority,
        paid_effort,
        estimation_margin_bps,
        force_rebalance,
        funder.address,
    )
    supervisor_config = RecurringConfig(
        supervisor_interval,
        PRIORITY_MEDIUM,
        supervisor_effort,
        estimation_margin_bps,
        False,
        funder.address,
    )
    registry = steps.deploy(
        "deploy:paid_registry",
        project.PaidRebalancerRegistry,
        deployer_address,
        scheduler.address,
        paid_config.as_tuple(),
        paid_allowance_wei,
        max_paid_per_owner,
        max_paid_total,
        sender=deployer,
    )
    supervisor = steps.deploy(
        "deploy:supervisor",
        project.Supervisor,
        deployer_address,
        scheduler.address,
        registry.address,
        supervisor_config.as_tuple(),
        item_gas_cap,
        max_items_per_run,
        sender=deployer,
    )
    steps.send(
        "tx_funder.setManager:registry",
        funder.setManager,
        registry.address,
        True,
        sender=deployer,
    )
    steps.send(
        "tx_funder.approveSpender:supervisor",
        funder.approveSpender,
        supervisor.address,
        MAX_UINT256,
        sender=deployer,
    )
    steps.send(
        "paid_registry.setSupervisor",
        registry.setSupervisor,
        supervisor.address,
        sender=deployer,
    )
    if low_runway_intervals:
        per_run = int(scheduler.feeFor(0, paid_priority, paid_effort))
        per_tick = int(scheduler.feeFor(0, PRIORITY_MEDIUM, supervisor_effort))
        ticks = -(-paid_interval // supervisor_interval)  # supervisor runs per paid interval
        expected = (per_run + per_tick * ticks) * estimation_margin_bps // 10_000
        steps.send(
            "tx_funder.setRunwayParams",
            funder.setRunwayParams,
            expected,
            low_runway_intervals,
            sender=deployer,
        )
    if funder_deposit:
        steps.transfer("tx_funder.deposit", deployer, funder.address, funder_deposit)
    steps.send("supervisor.fixReschedule", supervisor.fixReschedule, sender=deployer)
    if admin_address != deployer_address:
        hand_over_automation(
            [scheduler, funder, registry, supervisor], deployer, admin, steps=steps
        )
    return {
        "scheduler": scheduler.address,
        "tx_funder": funder.address,
        "paid_registry": registry.address,
        "supervisor": supervisor.address,
    }


def hand_over_automation(
    contracts: list[Any], deployer: Any, admin: Any, steps: Any = None
) -> None:
    """Starts the Ownable2Step transfer of each contract to `admin`; a signer admin accepts at
    once, a bare address must call `acceptOwnership()` on each (the deployer owns them until;
    ballast_dev.deployment.handover lists what is left)."""
    steps = steps or DirectSteps()
    admin_address = _address(admin)
    for c in contracts:
        name = c.contract_type.name
        steps.send(
            f"{name}.transferOwnership:admin",
            c.transferOwnership,
            admin_address,
            sender=deployer,
        )
        if hasattr(admin, "sign_transaction"):
            steps.send(f"{name}.acceptOwnership:admin", c.acceptOwnership, sender=admin)
