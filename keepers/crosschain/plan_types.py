"""The cross-chain planner's vocabulary: its scale and work limits, the route-cost function
type, its errors, amounts at the common 18-decimal scale with explicit rounding, and its inputs
and outputs. Pure: no I/O. Split from keepers.crosschain.planning (the rules and the entry
point, which re-exports every name here) so that the exact search
(keepers.crosschain.exact_search) and the planner share it without an import circle."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from keepers.core.amounts import format_amount
from keepers.core.errors import DomainError

SCALE_DECIMALS = 18
EXACT_PARTY_LIMIT = 24
"""Above this many parties (deficits + sources) of one asset the planner is heuristic."""

SWEEP_ORDERS = 144
"""Try every leg order of a block (mixed decimals, or priced routes) while
(#sources)! * (#deficits)! is within this."""

EXACT_WORK = 20_000
"""Block tests the exact search may spend on one asset before it gives up proving the optimum
and falls back to the heuristic (so a pathological instance cannot stall a keeper tick)."""

SEARCH_FIRST_WORK = 2_000
"""Block tests the search gets before the second phase (module doc): the search is faster on
most instances, the layered search bounded on the rest."""

LATE_CHAIN_CAP = 40_000
"""The layered search over the listed near-balanced subsets (`relaxation.ListedLayers`, for
amounts out of the bitset DP's range) runs while at most this many are listed (amounts to the
wei with a slack of a few percent of the total: about 25,000 at 20 parties, 0.1-0.6 s)."""

LAST_RESORT_CAP = 150_000
LAST_RESORT_WORK = 100_000
LAST_RESORT_PARTIES = 20
"""An instance of at most LAST_RESORT_PARTIES parties that the search and the capped layered
search both leave unproved (about 1 in 200 at 20 parties, amounts to the wei: more
near-balanced subsets than LATE_CHAIN_CAP, or a work budget too small) gets a third phase
with LAST_RESORT_WORK block tests: the layered search over up to LAST_RESORT_CAP listed
subsets, or the search where there are more: 0.3-4 s of CPU for those few, a proof instead
of an unproved fallback. Instances proved earlier never reach it, so the p95 does not move."""

TIE_WORK = 400
"""Block tests spent looking for a cheaper plan among plans of the optimal count."""

RouteCost = Callable[[str, str, str], int | None]
"""(asset, source chain, dest chain) -> cost of one transfer leg, or None if no route."""


# --------------------------------------------------------------------------- errors


class CrosschainPlanningError(DomainError):
    """Base class: no plan is produced when one of these is raised."""


class InsufficientSurplusError(CrosschainPlanningError):
    """Total surplus of an asset cannot bring the triggered chains back to base (the seed's
    "Insufficient surplus to bring chain c asset a back to base"), every amount in the asset's
    own units and named by its symbol (the planner's 18-decimal integers are exact there)."""

    def __init__(self, asset: str, deficits: Mapping[str, int], surplus: int) -> None:
        self.asset = asset
        self.deficits = dict(deficits)
        self.deficit = sum(deficits.values())
        self.surplus = surplus
        names = ", ".join(sorted(self.deficits))
        each = ", ".join(f"{c} {_amount(d, asset)}" for c, d in sorted(self.deficits.items()))
        super().__init__(
            f"Insufficient surplus to bring chain {names} asset {asset} back to base: "
            f"deficit {_amount(self.deficit, asset)} ({each}), total surplus "
            f"{_amount(surplus, asset)}, short by "
            f"{_amount(self.deficit - surplus, asset)}"
        )


def _amount(scaled: int, asset: str) -> str:
    """An 18-decimal planning amount in the asset's own units, exactly ("100 USDC")."""
    return format_amount(scaled, SCALE_DECIMALS, asset, grouping=False)


class NoRouteError(CrosschainPlanningError):
    """A transfer the plan needs has no route between its two chains for that asset, or (with
    `unmet`) no plan over the allowed routes can fill those deficit chains."""

    def __init__(self, asset: str, source: str, dest: str, unmet: Sequence[str] = ()) -> None:
        self.asset, self.source, self.dest = asset, source, dest
        self.unmet = tuple(unmet)
        if self.unmet:
            super().__init__(
                f"no route for {asset} can bring deficit chain(s) {dest} back to base: "
                "the sources they can reach hold too little"
            )
        else:
            super().__init__(f"no route for {asset} from {source} to {dest}")


class NotRepresentableError(DomainError, ValueError):
    """An 18-decimal amount has no exact value in the token's base units."""


# --------------------------------------------------------------------------- amounts


class Rounding(Enum):
    EXACT = "exact"
    DOWN = "down"
    UP = "up"


def to_scaled(units: int, decimals: int) -> int:
    """Token base units -> 18-decimal integer. Exact for decimals <= 18; above 18 the extra
    digits are floored (an under-read balance only makes a surplus smaller: safe)."""
    check_decimals(decimals)
    if decimals <= SCALE_DECIMALS:
        return units * 10 ** (SCALE_DECIMALS - decimals)
    return units // 10 ** (decimals - SCALE_DECIMALS)


def from_scaled(amount: int, decimals: int, rounding: Rounding = Rounding.EXACT) -> int:
    """18-decimal integer -> token base units.

    EXACT raises `NotRepresentableError` if digits would be lost; DOWN floors (use it for an
    amount a source sends: it never takes the source below base); UP ceils."""
    check_decimals(decimals)
    if decimals >= SCALE_DECIMALS:
        return amount * 10 ** (decimals - SCALE_DECIMALS)
    q = 10 ** (SCALE_DECIMALS - decimals)
    units, rest = divmod(amount, q)
    if rest == 0 or rounding is Rounding.DOWN:
        return units
    if rounding is Rounding.UP:
        return units + 1
    raise NotRepresentableError(
        f"{amount} (18 decimals) is not a whole number of {decimals}-decimal units"
    )


def check_decimals(decimals: int) -> None:
    if not 0 <= decimals <= 36:
        raise ValueError(f"token decimals must be in [0, 36], got {decimals}")


def quantum(decimals: Iterable[int]) -> int:
    """Smallest 18-decimal amount representable on every token in `decimals`."""
    return 10 ** max(0, SCALE_DECIMALS - min(decimals))


def round_up(x: int, q: int) -> int:
    return -(-x // q) * q


def round_down(x: int, q: int) -> int:
    return x // q * q


# --------------------------------------------------------------------------- inputs / outputs


@dataclass(frozen=True)
class Holding:
    """One chain's balance of one asset, already at the 18-decimal scale."""

    chain: str
    asset: str
    balance: int
    base: int
    decimals: int

    def __post_init__(self) -> None:
        check_decimals(self.decimals)
        if self.balance < 0 or self.base < 0:
            raise ValueError(f"{self.chain}/{self.asset}: balance and base must be >= 0")


@dataclass(frozen=True)
class InFlightMove:
    """A move already planned or under way. `debited` is True once the amount has left the
    source balance (Transfer_Out confirmed); until it is credited at the destination it counts
    as inbound there. A credited move is no longer in flight and must not be passed."""

    source: str
    dest: str
    asset: str
    amount: int
    debited: bool

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"in-flight amount must be > 0, got {self.amount}")


@dataclass(frozen=True)
class Transfer:
    source: str
    dest: str
    asset: str
    amount: int  # 18-decimal scale, representable at both ends (a multiple of both quanta)

    def units(self, decimals: int) -> int:
        """Amount in a token's base units; exact by construction (see module doc)."""
        return from_scaled(self.amount, decimals, Rounding.EXACT)


@dataclass(frozen=True)
class AssetPosition:
    asset: str
    triggered: tuple[str, ...]
    deficits: dict[str, int]  # rounded up to each chain's own quantum
    surpluses: dict[str, int]  # rounded down to each chain's own quantum
    quantum: int  # the asset's coarsest quantum (what greedy rounds to)
    decimals: dict[str, int] = field(default_factory=dict)  # per chain of this asset


@dataclass(frozen=True)
class Plan:
    transfers: tuple[Transfer, ...]
    positions: tuple[AssetPosition, ...] = field(default=())
    cost: int = 0

    @property
    def triggered(self) -> tuple[tuple[str, str], ...]:
        return tuple((c, p.asset) for p in self.positions for c in p.triggered)


def by_amount_desc(amounts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0]))


def quantum_of(decimals: Mapping[str, int], chain: str) -> int:
    return 10 ** max(0, SCALE_DECIMALS - decimals.get(chain, SCALE_DECIMALS))
