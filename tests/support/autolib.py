"""Helpers and constants shared by the automation tests (imported as `autolib`)."""

from __future__ import annotations

from ballast_dev.deployment.automation import PRIORITY_MEDIUM, RecurringConfig

SLOT = 60
BASE_FEE = 10**9  # wei per unit of effort
DATA_FEE = 1_000  # wei per byte
EFFORT = 400_000
INTERVAL = 3_600
MARGIN_BPS = 12_000
HIGH, MEDIUM, LOW = 0, 1, 2
UNKNOWN, SCHEDULED, EXECUTED, CANCELED = 0, 1, 2, 3
# Issue 11 limits used by the fixtures: the funder's rolling-day spend cap (large, so that only
# the tests about it meet it), each paid rebalancer's allowance, the registry's caps.
FUNDER_CAP = 10**22
PAID_ALLOWANCE = 10**18
MAX_PER_OWNER = 20
MAX_TOTAL = 100


def calldata_gas(data: bytes) -> int:
    return sum(4 if b == 0 else 16 for b in data)


def execution_gas(receipt) -> int:
    """Receipt gas minus the 21,000 intrinsic and the calldata cost."""
    return receipt.gas_used - 21_000 - calldata_gas(bytes(receipt.transaction.data))


def advance(chain, seconds: int) -> None:
    chain.mine(1, timestamp=chain.pending_timestamp + seconds)


def now(chain) -> int:
    return chain.blocks.head.timestamp


# a booking's slot starts at least this long after the time the next block would have: a slot
# taken from the head block's time alone was in the past when the clock reached its start before
# the booking was mined (ScheduleRejected code 3, TimestampNotInFuture: a fresh-clone run on
# three xdist workers, where a test's steps are further apart)
BOOK_MARGIN_S = 15


def slot_ahead(chain, slots_ahead: int = 1) -> int:
    """The start of the ``slots_ahead``-th slot boundary after the next block's time plus
    ``BOOK_MARGIN_S``: a time a booking sent now is sure to find in the future."""
    return ((chain.pending_timestamp + BOOK_MARGIN_S) // SLOT + slots_ahead) * SLOT


def events(receipt, name: str) -> list:
    return [log for log in receipt.events if log.event_name == name]


def outcomes(receipt) -> list[tuple[int, int]]:
    """(id, outcome) of every item a Supervisor tick checked, in order, decoded from the packed
    words of its Ticked events (`(id << 8) | outcome`)."""
    return [(w >> 8, w & 0xFF) for log in events(receipt, "Ticked") for w in log.outcomes]


def config(funder, **kw) -> tuple:
    c = dict(
        interval=INTERVAL,
        priority=PRIORITY_MEDIUM,
        execution_effort=EFFORT,
        estimation_margin_bps=MARGIN_BPS,
        force_rebalance=False,
        tx_funder=str(getattr(funder, "address", funder)),
    )
    c.update(kw)
    return RecurringConfig(**c).as_tuple()


def deploy_registry(
    project, deployer, gov, scheduler, funder, *, allowance=PAID_ALLOWANCE, manager=True
):
    """A PaidRebalancerRegistry booking on `scheduler`, its rebalancers paid by `funder` with the
    fixtures' caps; made the funder's manager unless `manager=False`."""
    registry = deployer.deploy(
        project.PaidRebalancerRegistry,
        gov,
        scheduler,
        config(funder),
        allowance,
        MAX_PER_OWNER,
        MAX_TOTAL,
    )
    if manager:
        funder.setManager(registry, True, sender=gov)
    return registry


def deploy_fleet(project, deployer, gov, funder):
    """A TestFleetRegistry (holds misbehaving items, mass-creates real Rebalancers), made the
    funder's manager."""
    fleet = deployer.deploy(project.TestFleetRegistry)
    funder.setManager(fleet, True, sender=gov)
    return fleet


def deploy_supervisor(
    project,
    deployer,
    gov,
    scheduler,
    registry,
    funder,
    *,
    max_items,
    effort=9_000_000,
    item_gas_cap=300_000,
):
    """A Supervisor over `registry` checking up to `max_items` per run, paid by `funder`
    (approved to spend). The defaults are a fleet's: a large run effort, a lean item gas cap."""
    supervisor = deployer.deploy(
        project.Supervisor,
        gov,
        scheduler,
        registry,
        config(funder, execution_effort=effort),
        item_gas_cap,
        max_items,
    )
    funder.approveSpender(supervisor, 2**256 - 1, sender=gov)
    return supervisor


def selector(signature: str) -> bytes:
    """4-byte selector of an error or function signature, e.g. 'Foo(uint256)'."""
    from eth_utils import keccak

    return keccak(text=signature)[:4]


def create_paid(registry, position, owner, gov):
    """A paid rebalancer for `position` owned by `owner`, the way an owner gets one now: the
    admin allow-lists the position, its owner() creates. Returns (id, tx)."""
    if not registry.isPositionAllowed(position):
        registry.setPositionAllowed(position, True, sender=gov)
    tx = registry.createPaidRebalancer(position, sender=owner)
    return tx.return_value, tx
