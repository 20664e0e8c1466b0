"""Cross-chain USDC/USDT inventory planning (seed 003, the rebalancing rulebook). Pure: no I/O.

Amounts
-------
Every amount here is an ``int`` at a common 18-decimal scale (1 USD = 10**18), never a float.
`to_scaled` / `from_scaled` convert to and from a token's base units. From a token with
<= 18 decimals the conversion is exact; back to such a token an amount is exact only if it is
a multiple of that token's *quantum* ``10**(18 - decimals)`` (10**12 for a 6-decimal token,
1 for an 18-decimal one). `from_scaled` refuses or rounds in an explicit direction otherwise:
``DOWN`` for what a source sends (the source can never drop below its base because of
rounding), ``UP`` only where over-delivery is the safe side.

Rounding: per party, then per block of legs
-------------------------------------------
Each chain's deficit is rounded **up** to its own token's quantum and each surplus **down** to
its own (lossless: every leg into or out of a 6-decimal chain is a whole number of its units
anyway). A leg must be representable at both of its ends, so the planner serves each *block*
(a connected set of legs, see below) in the quantum of the coarsest token in that block: a
block of 18-decimal chains only is exact to the wei, however many 6-decimal chains the asset
has elsewhere; a block with a 6-decimal chain moves whole micro-units, its 18-decimal
deficits rounded up (a destination gets less than one micro-unit extra) and its 18-decimal
sources rounded down (a source never goes below its base). If that falls short, the block is
tried leg by leg, each leg rounded by its own two ends (18-to-6 and 6-to-18 legs in whole
micro-units, 18-to-18 legs to the wei). Either way a destination gets less than one unit of its
coarsest incoming leg extra and a source never sends more than its surplus.

Rules (rulebook sections 2-5)
-----------------------------
* Trigger per (chain, asset): ``current <= base * (1 - p)``, only that chain and that asset.
  "current" is the effective balance: on-chain + inbound in flight - outbound not yet
  debited (`InFlightMove`), so a move already under way is never planned twice.
* Deficit ``base - current`` on triggered pairs; surplus ``spendable - base`` on any pair
  above base, where spendable = on-chain - outbound not yet debited (inbound money still in
  flight is not sent on before it lands). A source never ends below its base. Same-asset transfers only.
* Total surplus short of the total triggered deficit of an asset -> `InsufficientSurplusError`
  and no plan at all (no partial rebalance). Enough surplus that no allowed route can carry
  -> `NoRouteError` naming the deficit chain(s) left unmet.
* `greedy_match` is the rulebook's greedy matching, kept as the reference (it rounds every
  amount to the asset's coarsest quantum, as the rulebook's normalised amounts do).
* `exact_match` plans the exact minimum number of transfers over the allowed routes for up to
  `EXACT_PARTY_LIMIT` parties (deficits + sources) per asset, as long as the search proves the
  optimum within `EXACT_WORK` block tests; above the limit or out of work it takes the better
  of greedy and best-fit whose legs all have routes, else the cheapest flow over the allowed
  routes cut to a forest. Never more transfers than greedy when greedy is routable.

Exact formulation
-----------------
Parties: deficits D_i > 0 and sources with surplus S_j > 0 (of one asset); routes: the allowed
(source, deficit) pairs. A plan is a set of transfers on allowed pairs with positive amounts;
every deficit receives its D_i and every source sends at most S_j. Take a plan with the fewest
legs: it has no cycle (a cycle can be cancelled around until one leg is zero), so it is a
forest, and each tree with k parties has k - 1 legs. Call the trees that hold deficits
*blocks* (X deficits, Y sources); unused sources are trees of their own. Then

    transfers = |deficits| + sum over blocks (|Y| - 1),

and a block (X, Y) can be served by a tree iff a flow over its allowed pairs exists (Hall:
every subset of X needs at most what its neighbours in Y hold); the flow of least route cost
is a vertex of the transportation polytope, i.e. a forest, and it is a single tree in an
optimal partition (otherwise the partition was not optimal). So the planner minimises the
*excess* sum (|Y| - 1) over partitions of the deficits into blocks with disjoint source sets.

Search. First the bounds and shortcuts: no flow over the allowed routes even to the wei ->
"no route" at once; the *all-routes relaxation* (the most groups of net >= 0 a partition of
the parties can have) gives excess >= k - groups, and its partition is the plan when every
group can be served over its routes. The relaxation is computed exactly either by the bitset
DP over all subsets of `relaxation.py` (`max_groups_exact`: when the slack, total surplus -
total deficit, is a few units of the amounts' gcd, e.g. whole k$ nearly balanced: the class
the search alone could not prove at 20 parties), or by `_max_groups`, a chain DP over the
near-balanced subsets found by meet-in-the-middle when there are at most `CHAIN_CAP` of them
(an instance balanced to the wei with no balanced proper subset is one tree, proved at once).
A route-aware best-fit plan caps the levels to try. Then
iterative deepening on the excess, each level decided either by going through the partitions
of the sources into k - excess parts and placing the deficits into them (when there are at
most `PARTITION_LIMIT` such partitions: few sources, many deficits) or by the deficit-driven
search: deficits largest first; each joins an open block (adding sources to it if needed) or
opens a block with a minimal set of unused sources it can reach; two lower bounds prune (a
deficit larger than what it can reach with one leg, an open block it has a route into or an
unused source it has a route from, needs at least one more source; the demand left needs at
least so many of the largest unused sources, each new block's first one free), a memo of
states proved short (with every route open, blocks of equal slack are one state), an exact
fit taken alone (exchange argument), and sources of equal amount, decimals and routes tried
once. The first plan found is optimal in count. A block can be served iff Hall's condition
holds over its routes (a connected, balanced route graph is not enough: a tree's flow is set
by the balances and may run backwards), checked by enumerating the subsets of the block's
smaller side.

Second phase. When the search has spent `SEARCH_FIRST_WORK` block tests without a proof (a
few instances in 100 at 20 parties), every excess below the level it reached is refuted, and:
in the bitset DP's range (`relaxation.layers_for_range`) the *layered search* decides the
rest exhaustively (`_Search._by_layers`: for each count of groups from the relaxation's down,
a partition into that many groups every one of which can be served, the group holding the
lowest party left chosen first, what is left required to lie in the relaxation's layer for
the groups still to come, failures memoised); out of that range (amounts to the wei) the
same layered search runs over the listed near-balanced subsets (`relaxation.ListedLayers`)
while there are at most `LATE_CHAIN_CAP` of them; beyond, the search goes on. The whole is
exponential in the worst case: `EXACT_WORK` bounds the search and the layered search,
`LATE_CHAIN_CAP` the listing (the share proved and the times are measured in the README), so
a keeper tick never stalls.

Ties in count are broken by route cost (sum of per-leg costs from a table): every block takes
the cheapest of its per-unit cheapest flow, its plain flow and its fill-in-order sweeps (all
orders for small blocks), and plans of the optimal count are searched for the cheapest one up
to `_TIE_WORK` block tests (best-effort beyond; the count stays exact).

Mixed decimals: a block whose coarse-quantum flow falls short may still be served by a sweep
that rounds each leg by its own ends (an 18-decimal residue moves on 18-to-18 legs only); that
test is not monotone in the block's sources, so with wei residues in a mixed block the count is
best-effort. Blocks of one decimals, and any instance in whole micro-units, are exact.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from keepers.core.errors import DomainError
from keepers.crosschain.relaxation import (
    Layers,
    ListedLayers,
    layers_for,
    max_groups_exact,
    near_balanced,
)

SCALE_DECIMALS = 18
EXACT_PARTY_LIMIT = 24
"""Above this many parties (deficits + sources) of one asset the planner is heuristic."""

_SWEEP_ORDERS = 144
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

_TIE_WORK = 400
"""Block tests spent looking for a cheaper plan among plans of the optimal count."""

RouteCost = Callable[[str, str, str], int | None]
"""(asset, source chain, dest chain) -> cost of one transfer leg, or None if no route."""


# --------------------------------------------------------------------------- errors


class CrosschainPlanningError(DomainError):
    """Base class: no plan is produced when one of these is raised."""


class InsufficientSurplusError(CrosschainPlanningError):
    """Total surplus of an asset cannot bring the triggered chains back to base."""

    def __init__(self, asset: str, deficits: Mapping[str, int], surplus: int) -> None:
        self.asset = asset
        self.deficits = dict(deficits)
        self.deficit = sum(deficits.values())
        self.surplus = surplus
        chains = ", ".join(f"{c} (deficit {d})" for c, d in sorted(self.deficits.items()))
        super().__init__(
            f"insufficient surplus to bring chain(s) {chains} asset {asset} back to base: "
            f"total deficit {self.deficit} > total surplus {surplus} (18-decimal units)"
        )


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
    _check_decimals(decimals)
    if decimals <= SCALE_DECIMALS:
        return units * 10 ** (SCALE_DECIMALS - decimals)
    return units // 10 ** (decimals - SCALE_DECIMALS)


def from_scaled(amount: int, decimals: int, rounding: Rounding = Rounding.EXACT) -> int:
    """18-decimal integer -> token base units.

    EXACT raises `NotRepresentableError` if digits would be lost; DOWN floors (use it for an
    amount a source sends: it never takes the source below base); UP ceils."""
    _check_decimals(decimals)
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


def _check_decimals(decimals: int) -> None:
    if not 0 <= decimals <= 36:
        raise ValueError(f"token decimals must be in [0, 36], got {decimals}")


def quantum(decimals: Iterable[int]) -> int:
    """Smallest 18-decimal amount representable on every token in `decimals`."""
    return 10 ** max(0, SCALE_DECIMALS - min(decimals))


def _round_up(x: int, q: int) -> int:
    return -(-x // q) * q


def _round_down(x: int, q: int) -> int:
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
        _check_decimals(self.decimals)
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


# --------------------------------------------------------------------------- rules


def is_triggered(current: int, base: int, p: Decimal) -> bool:
    """Rulebook 2: ``current <= base * (1 - p)``, compared exactly (p as a fraction)."""
    if not 0 < p < 1:
        raise ValueError(f"trigger percentage must be in (0, 1), got {p}")
    frac = Fraction(p)
    return current * frac.denominator <= base * (frac.denominator - frac.numerator)


def effective_balances(
    holdings: Iterable[Holding], in_flight: Iterable[InFlightMove], inbound: bool = True
) -> dict[tuple[str, str], int]:
    """balance + inbound in flight - outbound not yet debited, per (chain, asset).

    With ``inbound=False`` money still on its way in is left out: that is what a chain can
    send *now*, used for surpluses (a source never sends funds it has not received yet)."""
    eff = {(h.chain, h.asset): h.balance for h in holdings}
    for m in in_flight:
        if inbound and (m.dest, m.asset) in eff:
            eff[(m.dest, m.asset)] += m.amount
        if not m.debited and (m.source, m.asset) in eff:
            eff[(m.source, m.asset)] -= m.amount
    return eff


def positions(
    holdings: Sequence[Holding], p: Decimal, in_flight: Iterable[InFlightMove] = ()
) -> list[AssetPosition]:
    """Triggered deficits and all surpluses per asset (rulebook 2-4), each rounded to its
    own chain's quantum in the safe direction (deficit up, surplus down)."""
    in_flight = tuple(in_flight)
    eff = effective_balances(holdings, in_flight)
    spendable = effective_balances(holdings, in_flight, inbound=False)
    out = []
    for asset in sorted({h.asset for h in holdings}):
        rows = [h for h in holdings if h.asset == asset]
        q = quantum(h.decimals for h in rows)
        triggered, deficits, surpluses = [], {}, {}
        for h in rows:
            own = quantum([h.decimals])
            cur = eff[(h.chain, h.asset)]
            if is_triggered(cur, h.base, p) and cur < h.base:
                triggered.append(h.chain)
                deficits[h.chain] = _round_up(h.base - cur, own)
            elif spendable[(h.chain, h.asset)] > h.base:
                s = _round_down(spendable[(h.chain, h.asset)] - h.base, own)
                if s > 0:
                    surpluses[h.chain] = s
        decimals = {h.chain: h.decimals for h in rows}
        out.append(AssetPosition(asset, tuple(triggered), deficits, surpluses, q, decimals))
    return out


def _check_sufficient(
    asset: str, deficits: Mapping[str, int], surpluses: Mapping[str, int]
) -> None:
    total = sum(surpluses.values())
    if sum(deficits.values()) > total:
        raise InsufficientSurplusError(asset, deficits, total)


def _by_amount_desc(amounts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0]))


def _sweep(
    asset: str, deficits: Sequence[tuple[str, int]], sources: Sequence[tuple[str, int]]
) -> list[Transfer]:
    """North-west-corner sweep: each transfer exhausts the current deficit or source."""
    out: list[Transfer] = []
    j, s_left = 0, sources[0][1] if sources else 0
    for dest, d in deficits:
        while d > 0:
            if s_left == 0:  # callers check sufficiency first; never loop on an empty source
                raise InsufficientSurplusError(asset, {dest: d}, 0)
            x = min(d, s_left)
            out.append(Transfer(sources[j][0], dest, asset, x))
            d -= x
            s_left -= x
            if s_left == 0 and j + 1 < len(sources):
                j += 1
                s_left = sources[j][1]
    return out


def greedy_match(
    asset: str, deficits: Mapping[str, int], surpluses: Mapping[str, int]
) -> list[Transfer]:
    """Rulebook 5, verbatim: deficits and surpluses in descending order, sweep."""
    _check_sufficient(asset, deficits, surpluses)
    if not deficits:
        return []
    return _sweep(asset, _by_amount_desc(deficits), _by_amount_desc(surpluses))


# --------------------------------------------------------------------------- exact planner


def _quantum_of(decimals: Mapping[str, int], chain: str) -> int:
    return 10 ** max(0, SCALE_DECIMALS - decimals.get(chain, SCALE_DECIMALS))


def exact_match(
    asset: str,
    deficits: Mapping[str, int],
    surpluses: Mapping[str, int],
    route_cost: RouteCost | None = None,
    limit: int = EXACT_PARTY_LIMIT,
    decimals: Mapping[str, int] | None = None,
    work: int | None = EXACT_WORK,
) -> list[Transfer]:
    """Fewest transfers over the allowed routes (exact up to `limit` parties), ties ->
    cheapest routes. `decimals` maps a chain to its token's decimals (18 if absent); every
    amount planned is representable at both ends of its leg (module doc)."""
    _check_sufficient(asset, deficits, surpluses)
    if not deficits:
        return []
    dec = dict(decimals or {})
    if len(deficits) + len(surpluses) <= limit:
        plan = _Search(asset, deficits, surpluses, route_cost, dec, work).solve()
        if plan is not None:
            return plan
    return _large_instance(asset, deficits, surpluses, route_cost, dec)


def best_fit_match(
    asset: str, deficits: Mapping[str, int], surpluses: Mapping[str, int]
) -> list[Transfer]:
    """Heuristic for instances above the exact limit. Deficits largest first; a deficit that
    one source can cover takes the *smallest* such source (one leg closes it, big sources
    stay whole for big deficits); otherwise it takes the largest source whole (the leg
    exhausts that source). Every leg exhausts a deficit or a source, like greedy."""
    _check_sufficient(asset, deficits, surpluses)
    left = dict(surpluses)
    out: list[Transfer] = []
    for dest, d in _by_amount_desc(deficits):
        while d > 0:
            fits = [(amount, name) for name, amount in left.items() if amount >= d]
            if fits:
                _, name = min(fits)
                x = d
            else:
                name, x = min(left.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(Transfer(name, dest, asset, x))
            left[name] -= x
            d -= x
            if left[name] == 0:
                del left[name]
    return out


def _large_instance(
    asset: str,
    deficits: Mapping[str, int],
    surpluses: Mapping[str, int],
    route_cost: RouteCost | None,
    decimals: Mapping[str, int],
) -> list[Transfer]:
    """Above the exact limit (or out of work): the better of greedy and best-fit (both in the
    asset's coarsest quantum; fewest legs, then cost) among those whose every leg has a
    route, else the cheapest flow over the allowed routes, cut to a forest."""
    q = max(_quantum_of(decimals, c) for c in [*deficits, *surpluses])
    d_q = {c: _round_up(x, q) for c, x in deficits.items()}
    s_q = {c: _round_down(x, q) for c, x in surpluses.items()}
    candidates: list[list[Transfer]] = []
    if sum(s_q.values()) >= sum(d_q.values()):
        candidates += [greedy_match(asset, d_q, s_q), best_fit_match(asset, d_q, s_q)]
    scored = []
    for plan in candidates:
        cost = 0
        if route_cost is not None:
            legs = [route_cost(asset, t.source, t.dest) for t in plan]
            if any(c is None for c in legs):
                continue
            cost = sum(c for c in legs if c is not None)
        scored.append((len(plan), cost, plan))
    if scored:
        return min(scored, key=lambda x: x[:2])[2]
    # Neither heuristic plan is routable (or whole micro-units fall short): one block of
    # every party, served by its cheapest flow over the allowed routes (a forest).
    search = _Search(asset, deficits, surpluses, route_cost, decimals)
    whole = search.whole()
    if whole is None:
        search.fail()
    assert whole is not None
    return whole


def _require_routes(asset: str, plan: Sequence[Transfer], route_cost: RouteCost | None) -> None:
    if route_cost is None:
        return
    for t in plan:
        if route_cost(asset, t.source, t.dest) is None:
            raise NoRouteError(asset, t.source, t.dest)


def _factorial(n: int) -> int:
    out = 1
    for k in range(2, n + 1):
        out *= k
    return out


@functools.lru_cache(maxsize=1 << 16)
def _bits(mask: int) -> tuple[int, ...]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return tuple(out)


CHAIN_CAP = 1_024
"""Most near-balanced sub-multisets `_max_groups` chains over before it gives up."""


def _max_groups(
    deficits: Sequence[int], sources: Sequence[int], cap: int = CHAIN_CAP
) -> list[int] | None:
    """A partition of the parties (bit masks: deficits, then sources) into the most groups
    possible when every group's sources hold at least its deficits (routes and rounding
    ignored: a relaxation, so every plan has at least parties - len(result) transfers). None
    if more than `cap` subsets lie in range.

    Let T = total surplus - total deficit. Order the groups of a partition G_1..G_g and let
    C_t = G_1 + ... + G_t: net(C_t) rises from 0 to T, so every C_t has net in [0, T], and
    conversely any chain of nested subsets with non-decreasing nets in [0, T] from the empty
    set to all parties is a partition into groups of net >= 0. The subsets with net in [0, T]
    are listed by meet-in-the-middle (two halves of 2^(n/2) sums each, sorted); the longest
    chain is a DP over them in order of size, the proper subsets of each found with bitsets
    over the list (sorted by net, so "net <= net(C)" is a prefix). When the total is exactly
    balanced and no proper subset balances (amounts to the wei: the hard case for the
    search), the list is {empty, all}: one group, proved at once."""
    vals = [-d for d in deficits] + list(sources)
    n = len(vals)
    listed = near_balanced(vals, cap)
    if listed is None:
        return None
    nets = [x for x, _ in listed]
    masks = [mask for _, mask in reversed(listed)]
    lacks = [  # bit c set: listed subset c does not hold party p (built as a binary string)
        int("".join("0" if mask >> p & 1 else "1" for mask in masks), 2) for p in range(n)
    ]
    level: list[int] = []  # level[b]: the listed subsets whose longest chain has b groups
    before: dict[int, int] = {}  # a listed subset -> the one before it on a longest chain
    full = next(c for c, (_, mask) in enumerate(listed) if mask == (1 << n) - 1)
    for c in sorted(range(len(listed)), key=lambda c: listed[c][1].bit_count()):
        mask = listed[c][1]
        cand = (1 << bisect.bisect_right(nets, nets[c])) - 1 & ~(1 << c)
        for p in range(n):
            if not mask >> p & 1:
                cand &= lacks[p]
        b = 0
        if mask:
            b = next((b for b in range(len(level), 0, -1) if level[b - 1] & cand), 0)
            if b == 0:
                continue
            prev = level[b - 1] & cand
            before[c] = (prev & -prev).bit_length() - 1
        while len(level) <= b:
            level.append(0)
        level[b] |= 1 << c
    groups, c = [], full
    while c in before:
        groups.append(listed[c][1] ^ listed[before[c]][1])
        c = before[c]
    return groups


PARTITION_LIMIT = 40
"""An excess level whose partitions of the sources number at most this is decided by going
through them (`_Search._by_source_partition`), not by the deficit-driven search: few
sources and many deficits is where the latter is slow."""


@functools.lru_cache(maxsize=1024)
def _stirling2(n: int, k: int) -> int:
    """Partitions of n labelled items into exactly k non-empty parts."""
    if n == k:
        return 1
    if k == 0 or k > n:
        return 0
    return k * _stirling2(n - 1, k) + _stirling2(n - 1, k - 1)


_HALL_SIDE = 10
"""Hall's condition is checked by enumeration while one side of a block has at most this
many parties (2^side subsets); a max flow decides larger blocks."""


def _hall(d: Mapping[int, int], s: Mapping[int, int], nbr: Sequence[int], y: int) -> bool:
    """Hall's condition for a block with uncapacitated routes: the deficits whose routes
    (within the block's sources `y`) all lead into a set Z of sources need at most S(Z), for
    every Z (equivalently, every set of deficits needs at most what its neighbours hold).
    Enumerates the subsets of the smaller side."""
    if len(d) <= len(s):
        ds = list(d)
        reach = {0: 0}
        need = {0: 0}
        for mask in range(1, 1 << len(ds)):
            low = mask & -mask
            i = ds[low.bit_length() - 1]
            reach[mask] = reach[mask ^ low] | nbr[i] & y
            need[mask] = need[mask ^ low] + d[i]
            if need[mask] > sum(s[j] for j in _bits(reach[mask])):
                return False
        return True
    inside = [(nbr[i] & y, amount) for i, amount in d.items()]
    js = list(s)
    held = {0: 0}
    for mask in range(1 << len(js)):
        if mask:
            low = mask & -mask
            held[mask] = held[mask ^ low] + s[js[low.bit_length() - 1]]
        z = 0
        for b in _bits(mask):
            z |= 1 << js[b]
        if sum(amount for reach, amount in inside if reach & ~z == 0) > held[mask]:
            return False
    return True


class _OutOfWork(Exception):
    """The search has spent its work budget (block tests)."""


Group = tuple[int, int]  # (deficit bitmask, source bitmask)


class _Search:
    """Exact minimum-transfer search (module doc). Deficits 0..m-1 largest first, sources
    0..k-1 largest first; a state is (next deficit, unused sources, open blocks)."""

    def __init__(
        self,
        asset: str,
        deficits: Mapping[str, int],
        surpluses: Mapping[str, int],
        route_cost: RouteCost | None,
        decimals: Mapping[str, int],
        work_budget: int | None = None,
    ) -> None:
        self.asset = asset
        dl = _by_amount_desc(deficits)
        sl = _by_amount_desc(surpluses)
        self.dn, self.D = [n for n, _ in dl], [a for _, a in dl]
        self.sn, self.S = [n for n, _ in sl], [a for _, a in sl]
        self.dq = [_quantum_of(decimals, n) for n in self.dn]
        self.sq = [_quantum_of(decimals, n) for n in self.sn]
        self.m, self.k = len(self.D), len(self.S)
        self.priced = route_cost is not None
        self.cost: dict[tuple[int, int], int] = {}
        self.nbr = [0] * self.m
        for i in range(self.m):
            for j in range(self.k):
                c = 0 if route_cost is None else route_cost(asset, self.sn[j], self.dn[i])
                if c is not None:
                    self.nbr[i] |= 1 << j
                    self.cost[(j, i)] = c
        full = (1 << self.k) - 1
        self.all_routes = all(n == full for n in self.nbr)
        self.levels = sorted(set(self.dq + self.sq))
        self.uniform = self.all_routes and len(self.levels) == 1
        self.suffix = [sum(self.D[i:]) for i in range(self.m + 1)]
        # Sources alike in amount, decimals, routes and costs are interchangeable.
        sig: dict[tuple, int] = {}
        self.klass = []
        for j in range(self.k):
            col = tuple((self.nbr[i] >> j & 1, self.cost.get((j, i))) for i in range(self.m))
            self.klass.append(sig.setdefault((self.S[j], self.sq[j], col), len(sig)))
        self._feas: dict[Group, bool] = {}
        self._infos: dict[Group, tuple[int, tuple[int, ...], int]] = {}
        self._plans: dict[Group, tuple[int, list[tuple[int, int, int]]] | None] = {}
        self._short: dict[tuple, int] = {}
        self.best: tuple[Group, ...] | None = None
        self.best_cost = 0
        self.tie = False
        self.budget: int | None = None
        self.work_budget = work_budget
        self.proved = False
        self.limit = 0

    # ------------------------------------------------------------------ driver

    def solve(self) -> list[Transfer] | None:
        """The plan of fewest transfers, or None if the work budget ran out first (the
        caller then falls back to a heuristic); raises if no plan exists."""
        full = (1 << self.k) - 1
        limit = self._lb(0, full, ())
        if limit >= self.k or not self.all_routes and self._unmet():
            self.fail()  # no flow over the allowed routes, even to the wei: no plan at all
        chain = _max_groups(self.D, self.S)  # cheap when few subsets are near-balanced
        if chain is None:
            chain = max_groups_exact(self.D, self.S)
        self.limit = limit
        self._relax(chain)
        limit = self.limit
        known = None if self.best is not None else self._best_fit()
        first = self.work_budget
        late = first is not None and self.best is None and first > SEARCH_FIRST_WORK
        if late:
            first = SEARCH_FIRST_WORK  # the rest for the layered search (second phase)
        self.budget, self.limit = first, limit
        try:  # iterative deepening on the excess: the first plan found is optimal
            self._deepen(known)
        except _OutOfWork:
            if not late:
                return None
            assert self.work_budget is not None and first is not None
            self.budget = self.work_budget - first  # every excess below self.limit is refuted
            values = [-d for d in self.D] + self.S
            try:
                layers = layers_for(self.D, self.S) or ListedLayers.build(values, LATE_CHAIN_CAP)
                if layers is not None:
                    self.best = self._by_layers(self.limit, layers)
                else:
                    self._deepen(known)
            except _OutOfWork:
                try:
                    self._last_resort(values, known)
                except _OutOfWork:
                    return None
            if self.best is not None:
                self.limit = self._excess(self.best)
        limit = self.limit
        if self.best is None:
            self.fail()
        assert self.best is not None
        self.proved = True
        if self.priced:  # cheapest plan among those of the optimal count, within a budget
            self.tie, self.budget = True, _TIE_WORK
            self.best_cost = self._plan_cost(self.best)
            with contextlib.suppress(_OutOfWork):
                self._dfs(0, full, (), 0, limit)
        return self._transfers(self.best)

    def _last_resort(self, values: list[int], known: tuple[Group, ...] | None) -> None:
        """Third phase, only for an instance the first two left unproved (so no instance they
        prove takes longer): up to LAST_RESORT_PARTIES parties, a fresh budget of
        LAST_RESORT_WORK block tests for the layered search over up to LAST_RESORT_CAP listed
        subsets, or, with more than that, for the search. Every excess below `self.limit` is
        already refuted. Raises _OutOfWork when it cannot run or runs out."""
        if self.m + self.k > LAST_RESORT_PARTIES or self.work_budget is None:
            raise _OutOfWork
        self.budget = LAST_RESORT_WORK
        layers = ListedLayers.build(values, LAST_RESORT_CAP)
        if layers is not None:
            self.best = self._by_layers(self.limit, layers)
        else:
            self._deepen(known)

    def _relax(self, chain: Sequence[int] | None) -> None:
        """Raise the lower bound to the all-routes relaxation's (a partition into the most
        groups of net >= 0), and take that partition if every group of it can be served."""
        if chain is None:
            return
        self.limit = max(self.limit, self.k - len(chain))
        blocks = self._blocks(chain)
        if blocks is not None and self._excess(blocks) == self.limit:
            self.best = blocks

    def _deepen(self, known: tuple[Group, ...] | None) -> None:
        """Iterative deepening on the excess from `self.limit` (every smaller excess is
        refuted), raising it level by level: the first plan found is optimal."""
        full = (1 << self.k) - 1
        while self.best is None and self.limit < self.k:
            if known is not None and self._excess(known) <= self.limit:
                self.best = known  # every smaller excess was refuted: optimal
            elif _stirling2(self.k, self.k - self.limit) <= PARTITION_LIMIT:
                found = self._by_source_partition(self.limit)
                if found is None:
                    self.limit += 1
                else:
                    self.best = found
            elif not self._dfs(0, full, (), 0, self.limit):
                self.limit += 1

    def _by_layers(self, limit: int, layers: Layers | ListedLayers) -> tuple[Group, ...]:
        """The most groups the parties can be cut into such that every group can be served
        (a group of sources only needs nothing), found exhaustively for each count from
        the relaxation's (`layers.most`) down. Raises if no count works (no plan)."""
        low = (1 << self.m) - 1

        def ok(mask: int) -> bool:
            x, y = mask & low, mask >> self.m
            return x == 0 or self._feasible(x, y)

        for count in range(min(layers.most, self.k - limit), 0, -1):
            groups = layers.partition_where(count, ok, self._charge)
            if groups is not None:
                return tuple(sorted((g & low, g >> self.m) for g in groups if g & low))
        self.fail()
        raise AssertionError("unreachable: fail() raises")

    def _by_source_partition(self, excess: int) -> tuple[Group, ...] | None:
        """A plan of exactly `excess`, or None if there is none (exhaustive). A plan's blocks
        and its unused sources partition the k sources into k - excess parts (a block with
        |Y| sources has |Y| - 1 of the excess), so: every such partition (restricted growth
        strings), and for each, the deficits (largest first) placed into parts, each part
        served over its routes and quanta (monotone: a part that fails stays failed),
        cut when the demand left exceeds the room left in the parts it can reach."""
        parts = self.k - excess
        if parts < 1:
            return None
        label = [0] * self.k

        def partitions(j: int, used: int) -> Iterator[list[int]]:
            if self.k - j < parts - used:
                return
            if j == self.k:
                if used == parts:
                    ys = [0] * parts
                    for jj, p in enumerate(label):
                        ys[p] |= 1 << jj
                    yield ys
                return
            for p in range(min(used + 1, parts)):
                label[j] = p
                yield from partitions(j + 1, max(used, p + 1))

        for ys in partitions(0, 0):
            xs = self._place(ys)
            if xs is not None:
                return tuple(sorted((x, y) for x, y in zip(xs, ys, strict=True) if x))
        return None

    def _place(self, ys: list[int]) -> list[int] | None:
        """Deficits into the source parts `ys`, each part servable; None if impossible."""
        xs = [0] * len(ys)
        room = [sum(self.S[j] for j in _bits(y)) for y in ys]
        failed: set[tuple[int, tuple[int, ...]]] = set()
        tick = [0]

        def place(i: int) -> bool:
            if i == self.m:
                return True
            key = (i, tuple(xs))
            if key in failed:
                return False
            if self.suffix[i] > sum(r for r, y in zip(room, ys, strict=True) if r > 0):
                failed.add(key)
                return False
            for p, y in enumerate(ys):
                if room[p] < self.D[i] or not self.nbr[i] & y:
                    continue
                hit = self._feas.get((xs[p] | 1 << i, y))
                if hit is None:
                    hit = self._feasible(xs[p] | 1 << i, y)
                else:  # a test already made costs a quarter of one
                    tick[0] += 1
                    if tick[0] % 4 == 0:
                        self._charge()
                if hit:
                    xs[p] |= 1 << i
                    room[p] -= self.D[i]
                    if place(i + 1):
                        return True
                    xs[p] ^= 1 << i
                    room[p] += self.D[i]
            failed.add(key)
            return False

        return xs if place(0) else None

    def _best_fit(self) -> tuple[Group, ...] | None:
        """A plan found without search, as blocks (the trees of its legs): deficits largest
        first, each from the smallest source it has a route from that covers it, else the
        largest such source drained. None if that gets stuck or a block cannot be served
        in its quanta. The search stops at this plan's excess instead of re-finding it."""
        left = list(self.S)
        root = list(range(self.m + self.k))  # union-find over deficits, then sources

        def find(a: int) -> int:
            while root[a] != a:
                root[a] = root[root[a]]
                a = root[a]
            return a

        for i in range(self.m):
            need = self.D[i]
            while need > 0:
                reach = [j for j in _bits(self.nbr[i]) if left[j] > 0]
                if not reach:
                    return None
                fits = [j for j in reach if left[j] >= need]
                j = min(fits, key=lambda j: left[j]) if fits else reach[0]
                moved = min(need, left[j])
                left[j] -= moved
                need -= moved
                root[find(self.m + j)] = find(i)
        blocks: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for i in range(self.m):
            blocks[find(i)][0] |= 1 << i
        for j in range(self.k):
            if find(self.m + j) in blocks:
                blocks[find(self.m + j)][1] |= 1 << j
        out = []
        for x, y in blocks.values():
            if not self._feasible(x, y):
                return None
            out.append((x, y))
        return tuple(sorted(out))

    def _blocks(self, chain: Sequence[int]) -> tuple[Group, ...] | None:
        """The groups of a partition of the parties (masks over deficits then sources) as
        blocks, if every block can be served over its routes and quanta; else None."""
        blocks = []
        for mask in chain:
            x, y = mask & (1 << self.m) - 1, mask >> self.m
            if x == 0:
                continue  # sources left alone
            if not self._feasible(x, y):
                return None
            blocks.append((x, y))
        return tuple(sorted(blocks))

    def _excess(self, groups: tuple[Group, ...]) -> int:
        return sum(gy.bit_count() - 1 for _, gy in groups)

    def whole(self) -> list[Transfer] | None:
        """All parties as one block, served by its cheapest flow (a forest), or None."""
        groups = (((1 << self.m) - 1, (1 << self.k) - 1),)
        if self._plan(*groups[0]) is None:
            return None
        return self._transfers(groups)

    def _unmet(self) -> list[str]:
        """Deficits that a flow over the allowed routes (to the wei) leaves short."""
        dem = {i: self.D[i] for i in range(self.m)}
        sup = {j: self.S[j] for j in range(self.k)}
        arcs = {(j, i): 0 for (j, i) in self.cost}
        got = _min_cost_flow(sup, dem, arcs)[1]
        return [self.dn[i] for i in range(self.m) if got[i] < dem[i]]

    def fail(self) -> None:
        """No plan: name the deficits that no flow over the allowed routes can fill."""
        unmet = self._unmet()
        if unmet:
            raise NoRouteError(self.asset, "<any source>", ", ".join(sorted(unmet)), unmet)
        # Routes suffice to the wei, whole micro-units of the mixed blocks do not.
        q = max(self.dq + self.sq)
        d_q = {self.dn[i]: _round_up(self.D[i], q) for i in range(self.m)}
        raise InsufficientSurplusError(self.asset, d_q, sum(_round_down(s, q) for s in self.S))

    # ------------------------------------------------------------------ search

    def _dfs(self, i: int, unused: int, groups: tuple[Group, ...], extra: int, limit: int) -> bool:
        """True if a completion with total excess <= limit exists (found and recorded)."""
        if i == self.m:
            self._leaf(groups, extra)
            return True
        allowance = limit - extra
        key = self._key(i, unused, groups)
        if self._short.get(key, -1) >= allowance:
            return False
        if self._lb(i, unused, groups) > allowance:
            self._short[key] = max(self._short.get(key, -1), allowance)
            return False
        found = False
        for cost, new_unused, new_groups in self._options(i, unused, groups, allowance):
            if self._dfs(i + 1, new_unused, new_groups, extra + cost, limit):
                found = True
                if not self.tie:
                    return True
        if not found:
            self._short[key] = max(self._short.get(key, -1), allowance)
        return found

    def _key(self, i: int, unused: int, groups: tuple[Group, ...]) -> tuple:
        """Memo key. With every route open a block's future depends only on its slack at
        each quantum at or above its own, so blocks of equal slack make one state."""
        if not self.all_routes:
            return (i, unused, groups)
        return (i, unused, tuple(sorted(self._info(gx, gy)[1] for gx, gy in groups)))

    def _info(self, x: int, y: int) -> tuple[int, tuple[int, ...], int]:
        """A block's quantum, its slack at each quantum from its own up, its raw slack."""
        hit = self._infos.get((x, y))
        if hit is None:
            q = self._amounts(x, y)[0]
            levels = tuple(self._slack_at(x, y, lv) for lv in self.levels if lv >= q)
            raw = sum(self.S[j] for j in _bits(y)) - sum(self.D[i] for i in _bits(x))
            hit = self._infos[(x, y)] = (q, levels, raw)
        return hit

    def _slack_at(self, x: int, y: int, q: int) -> int:
        return sum(_round_down(self.S[j], q) for j in _bits(y)) - sum(
            _round_up(self.D[i], q) for i in _bits(x)
        )

    def _leaf(self, groups: tuple[Group, ...], extra: int) -> None:
        if not self.tie:
            self.best = groups
            return
        if self.budget is not None:  # pricing a plan costs flows: count them as work
            self.budget -= 4 * sum((g not in self._plans) for g in groups)
            if self.budget < 0:
                raise _OutOfWork
        cost = self._plan_cost(groups)
        assert self.best is not None
        if (extra, cost) < (self._excess(self.best), self.best_cost):
            self.best, self.best_cost = groups, cost

    def _options(
        self, i: int, unused: int, groups: tuple[Group, ...], allowance: int
    ) -> list[tuple[int, int, tuple[Group, ...]]]:
        bit = 1 << i
        out: list[tuple[int, int, int, tuple[Group, ...]]] = []
        for g, (gx, gy) in enumerate(groups):
            x = gx | bit
            rest = groups[:g] + groups[g + 1 :]
            if self._feasible(x, gy):
                slack = self._slack(x, gy)
                out.append((0, slack, unused, tuple(sorted((*rest, (x, gy))))))
            elif allowance >= 1:
                reach = 0
                for d in _bits(x):
                    reach |= self.nbr[d]
                need = sum(self.D[d] for d in _bits(x)) - sum(self.S[j] for j in _bits(gy))
                ok = functools.partial(self._feasible_with, x, gy)
                for add in self._minimal(unused & reach, need, allowance, ok):
                    y = gy | add
                    out.append(
                        (
                            add.bit_count(),
                            self._slack(x, y),
                            unused & ~add,
                            tuple(sorted((*rest, (x, y)))),
                        )
                    )
        for ys in self._minimal(
            unused & self.nbr[i], self.D[i], allowance + 1, lambda y: self._feasible(bit, y)
        ):
            out.append(
                (
                    ys.bit_count() - 1,
                    self._slack(bit, ys),
                    unused & ~ys,
                    tuple(sorted((*groups, (bit, ys)))),
                )
            )
        out.sort(key=lambda o: (o[0], o[1]))
        if self.uniform and not self.tie and out and out[0][:2] == (0, 0):
            # An exact fit (a block's slack or one unused source equal to the deficit) is
            # always part of some optimal plan (exchange argument): take it alone.
            out = out[:1]
        return [(c, u, gs) for c, _, u, gs in out]

    def _minimal(
        self, cand: int, need: int, max_size: int, ok: Callable[[int], bool]
    ) -> Iterator[int]:
        """Source sets within `cand` of at most `max_size` members that satisfy `ok` (a
        monotone test) and have no proper subset that does. Depth-first over the sources
        largest first, cut when even all the rest cannot reach `need` (the unrounded amount
        still missing, a necessary condition); alike sources (same class) tried once."""
        order = sorted(_bits(cand), key=lambda j: (-self.S[j], self.klass[j]))
        rest = [0] * (len(order) + 1)
        for n in range(len(order) - 1, -1, -1):
            rest[n] = rest[n + 1] + self.S[order[n]]
        simple = self.uniform  # then dropping the last (smallest) member is the test

        def rec(start: int, mask: int, total: int, size: int) -> Iterator[int]:
            for n in range(start, len(order)):
                j = order[n]
                if n > start and self.klass[j] == self.klass[order[n - 1]]:
                    continue
                if total + rest[n] < need:
                    return
                grown = mask | 1 << j
                if ok(grown):
                    if simple or not any(ok(grown ^ 1 << k) for k in _bits(mask)):
                        yield grown
                    continue
                if size + 1 < max_size:
                    yield from rec(n + 1, grown, total + self.S[j], size + 1)

        if max_size > 0:
            yield from rec(0, 0, 0, 0)

    def _lb(self, i: int, unused: int, groups: tuple[Group, ...]) -> int:
        """Lower bound on the excess still to pay from this state (self.k if infeasible)."""
        rem = self.suffix[i]
        if rem == 0:
            return 0
        left = [self._info(gx, gy)[2] for gx, gy in groups]
        free = sum(x for x in left if x > 0)
        us = sorted((self.S[j] for j in _bits(unused)), reverse=True)
        need, n_new = rem - free, 0
        while need > 0 and n_new < len(us):
            need -= us[n_new]
            n_new += 1
        if need > 0:
            return self.k
        if self.all_routes:
            biggest = max([0, *left, *us[:1]])
            big = sum(1 for d in self.D[i:] if d > biggest)
        else:  # what each deficit can reach with one leg: an open block it has a route
            big = 0  # into, or one unused source it has a route from (largest first)
            for d in range(i, self.m):
                reach = unused & self.nbr[d]
                cap = self.S[(reach & -reach).bit_length() - 1] if reach else 0
                for (_, gy), room in zip(groups, left, strict=True):
                    if self.nbr[d] & gy and room > cap:
                        cap = room
                if cap == 0:
                    return self.k
                big += self.D[d] > cap
        return max(n_new - (self.m - i), big, 0)

    # ------------------------------------------------------------------ blocks

    def _amounts(self, x: int, y: int) -> tuple[int, dict[int, int], dict[int, int]]:
        """The block's quantum and its deficits (rounded up) and sources (down) in it."""
        xs, ys = _bits(x), _bits(y)
        q = max([self.dq[i] for i in xs] + [self.sq[j] for j in ys])
        return (
            q,
            {i: _round_up(self.D[i], q) for i in xs},
            {j: _round_down(self.S[j], q) for j in ys},
        )

    def _slack(self, x: int, y: int) -> int:
        return self._info(x, y)[1][0]

    def _feasible_with(self, x: int, y: int, more: int) -> bool:
        return self._feasible(x, y | more)

    def _charge(self) -> None:
        if self.budget is not None:
            self.budget -= 1
            if self.budget < 0:
                raise _OutOfWork

    def _feasible(self, x: int, y: int) -> bool:
        self._charge()
        hit = self._feas.get((x, y))
        if hit is None:
            hit = self._feas[(x, y)] = self._check(x, y)
        return hit

    def _check(self, x: int, y: int) -> bool:
        if self._check_coarse(x, y):
            return True
        return self._mixed(x, y) and self._plan(x, y) is not None

    def _mixed(self, x: int, y: int) -> bool:
        return len({self.dq[i] for i in _bits(x)} | {self.sq[j] for j in _bits(y)}) > 1

    def _check_coarse(self, x: int, y: int) -> bool:
        """A flow in the block's coarsest quantum exists (Hall over the allowed routes)."""
        _, d, s = self._amounts(x, y)
        if sum(s.values()) < sum(d.values()):
            return False
        if self.all_routes or all(self.nbr[i] & y == y for i in d):
            return True
        if min(len(d), len(s)) <= _HALL_SIDE:
            return _hall(d, s, self.nbr, y)
        return self._flow_plan(x, y) is not None

    def _plan(self, x: int, y: int) -> tuple[int, list[tuple[int, int, int]]] | None:
        """How a block is served: its flow in the block's coarsest quantum, cut to a forest
        (cheapest per unit moved), else, in a block that mixes decimals, a tree built leg by
        leg with each leg rounded by its own two ends (`_leg_sweeps`); None if neither works.
        With route costs (per leg), the cheapest of those, the plain flow and the sweeps."""
        if (x, y) in self._plans:
            return self._plans[(x, y)]
        options = [self._flow_plan(x, y)]
        if self.priced:
            options += [self._flow_plan(x, y, priced=False), self._leg_sweeps(x, y)]
        elif options[0] is None and self._mixed(x, y):
            options.append(self._leg_sweeps(x, y))
        found = [o for o in options if o is not None]
        result = min(found, key=lambda o: o[0]) if found else None
        self._plans[(x, y)] = result
        return result

    def _flow_plan(
        self, x: int, y: int, priced: bool = True
    ) -> tuple[int, list[tuple[int, int, int]]] | None:
        q, d, s = self._amounts(x, y)
        arcs = {
            (j, i): self.cost[(j, i)] if priced else 0 for i in d for j in s if (j, i) in self.cost
        }
        flow, got = _min_cost_flow(
            {j: v // q for j, v in s.items()}, {i: v // q for i, v in d.items()}, arcs
        )
        if not all(got[i] * q == d[i] for i in d):
            return None
        _to_forest(flow, arcs)
        legs = [(j, i, f * q) for (j, i), f in sorted(flow.items()) if f > 0]
        return (sum(self.cost[(j, i)] for j, i, _ in legs), legs)

    def _leg_sweeps(self, x: int, y: int) -> tuple[int, list[tuple[int, int, int]]] | None:
        """Fill-in-order sweeps of a block where each leg is rounded by its own ends (an
        18-decimal residue moves only on 18-to-18 legs). Every order for small blocks
        (`_SWEEP_ORDERS`), 18-decimal parties first otherwise; the cheapest that works."""
        xs, ys = _bits(x), _bits(y)
        if len(xs) > 7 or len(ys) > 7:
            return None
        if _factorial(len(xs)) * _factorial(len(ys)) <= _SWEEP_ORDERS:
            orders: Iterable[tuple[Sequence[int], Sequence[int]]] = itertools.product(
                itertools.permutations(xs), itertools.permutations(ys)
            )
        else:
            fine_d = sorted(xs, key=lambda i: (self.dq[i], -self.D[i]))
            fine_s = sorted(ys, key=lambda j: (self.sq[j], -self.S[j]))
            orders = [(fine_d, fine_s), (xs, ys)]
        best = None
        for d_order, s_order in orders:
            legs = self._sweep_legs(d_order, s_order)
            if legs is not None:
                cost = sum(self.cost[(j, i)] for j, i, _ in legs)
                if best is None or cost < best[0]:
                    best = (cost, legs)
        return best

    def _sweep_legs(
        self, d_order: Sequence[int], s_order: Sequence[int]
    ) -> list[tuple[int, int, int]] | None:
        legs: list[tuple[int, int, int]] = []
        left = {j: self.S[j] for j in s_order}
        pos = 0
        for i in d_order:
            need = self.D[i]
            while need > 0:
                if pos == len(s_order):
                    return None
                j = s_order[pos]
                q = max(self.dq[i], self.sq[j])
                if need % q == 0 or _round_up(need, q) <= left[j]:
                    amount = min(_round_up(need, q), _round_down(left[j], q))
                else:
                    amount = _round_down(left[j], q)
                if amount > 0:
                    if (j, i) not in self.cost:
                        return None
                    legs.append((j, i, amount))
                    left[j] -= amount
                    need -= amount
                if need > 0 or left[j] < q:  # this source cannot give this deficit more
                    pos += 1
        return legs

    def _plan_cost(self, groups: tuple[Group, ...]) -> int:
        total = 0
        for g in groups:
            p = self._plan(*g)
            assert p is not None
            total += p[0]
        return total

    def _transfers(self, groups: tuple[Group, ...]) -> list[Transfer]:
        legs = []
        for g in groups:
            p = self._plan(*g)
            assert p is not None
            legs += p[1]
        legs.sort(key=lambda leg: (leg[1], leg[0]))  # by deficit (largest first), source
        return [Transfer(self.sn[j], self.dn[i], self.asset, a) for j, i, a in legs]


def _min_cost_flow(
    sup: Mapping[int, int], dem: Mapping[int, int], arcs: Mapping[tuple[int, int], int]
) -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    """Successive shortest paths (Bellman-Ford) on a bipartite graph with uncapacitated arcs
    source j -> deficit i of the given costs: (flow per arc, amount each deficit got)."""
    flow: dict[tuple[int, int], int] = defaultdict(int)
    sent = dict.fromkeys(sup, 0)
    got = dict.fromkeys(dem, 0)
    while True:
        inf = float("inf")
        dist: dict[tuple[str, int], float] = {
            ("s", j): (0 if sent[j] < sup[j] else inf) for j in sup
        }
        dist.update({("d", i): inf for i in dem})
        prev: dict[tuple[str, int], tuple[str, int]] = {}
        for _ in range(len(sup) + len(dem)):
            changed = False
            for (j, i), c in arcs.items():
                if dist[("s", j)] + c < dist[("d", i)]:
                    dist[("d", i)] = dist[("s", j)] + c
                    prev[("d", i)] = ("s", j)
                    changed = True
                if flow[(j, i)] > 0 and dist[("d", i)] - c < dist[("s", j)]:
                    dist[("s", j)] = dist[("d", i)] - c
                    prev[("s", j)] = ("d", i)
                    changed = True
            if not changed:
                break
        open_d = [i for i in dem if got[i] < dem[i] and dist[("d", i)] < inf]
        if not open_d:
            return dict(flow), got
        end = min(open_d, key=lambda i: (dist[("d", i)], i))
        path = []
        node = ("d", end)
        while node in prev:
            path.append((prev[node], node))
            node = prev[node]
        start = node[1]
        delta = min(sup[start] - sent[start], dem[end] - got[end])
        for a, b in path:
            if a[0] == "d":  # backward: undo flow on (b, a)
                delta = min(delta, flow[(b[1], a[1])])
        for a, b in path:
            if a[0] == "s":
                flow[(a[1], b[1])] += delta
            else:
                flow[(b[1], a[1])] -= delta
        sent[start] += delta
        got[end] += delta


def _to_forest(flow: dict[tuple[int, int], int], arcs: Mapping[tuple[int, int], int]) -> None:
    """Cancel cycles of the flow's support (in place) until it is a forest, each time in the
    direction that does not raise the cost (a cheapest flow has only zero-cost cycles)."""
    while True:
        cycle = _find_cycle([e for e, f in flow.items() if f > 0])
        if cycle is None:
            return
        plus, minus = cycle[0::2], cycle[1::2]
        if sum(arcs[e] for e in plus) > sum(arcs[e] for e in minus):
            plus, minus = minus, plus
        delta = min(flow[e] for e in minus)
        for e in plus:
            flow[e] += delta
        for e in minus:
            flow[e] -= delta


def _find_cycle(edges: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
    """A cycle of bipartite edges (source, deficit) as its edges in order, or None."""
    adj: dict[tuple[str, int], list[tuple[tuple[str, int], tuple[int, int]]]] = defaultdict(list)
    for j, i in edges:
        adj[("s", j)].append((("d", i), (j, i)))
        adj[("d", i)].append((("s", j), (j, i)))
    seen: dict[tuple[str, int], tuple[tuple[str, int], tuple[int, int]] | None] = {}
    for root in adj:
        if root in seen:
            continue
        seen[root] = None
        stack = [root]
        while stack:
            node = stack.pop()
            via = seen[node]
            for nxt, e in adj[node]:
                if via is not None and e == via[1]:
                    continue
                if nxt in seen:  # closes a cycle: walk both ends up to their meeting point
                    return _cycle_edges(seen, node, nxt, e)
                seen[nxt] = (node, e)
                stack.append(nxt)
    return None


def _cycle_edges(seen, a, b, closing) -> list[tuple[int, int]]:
    def up(n):
        path = [n]
        while seen[n] is not None:
            n = seen[n][0]
            path.append(n)
        return path

    pa, pb = up(a), up(b)
    common = next(n for n in pa if n in set(pb))
    edges_a, n = [], a
    while n != common:
        edges_a.append(seen[n][1])
        n = seen[n][0]
    edges_b, n = [], b
    while n != common:
        edges_b.append(seen[n][1])
        n = seen[n][0]
    # common -> ... -> a, closing edge a-b, b -> ... -> common
    return list(reversed(edges_a)) + [closing] + edges_b


# --------------------------------------------------------------------------- entry point


def table_route_cost(table: Mapping[tuple[str, str, str], int]) -> RouteCost:
    """Route cost from a table keyed by (asset, source, dest); missing pairs have no route."""
    return lambda asset, source, dest: table.get((asset, source, dest))


def plan_rebalance(
    holdings: Sequence[Holding],
    p: Decimal,
    in_flight: Iterable[InFlightMove] = (),
    route_cost: RouteCost | None = None,
    exact: bool = True,
    limit: int = EXACT_PARTY_LIMIT,
) -> Plan:
    """Plan every asset's transfers, or raise: one asset short means no plan at all."""
    keys = [(h.chain, h.asset) for h in holdings]
    if len(set(keys)) != len(keys):
        raise ValueError("each (chain, asset) may appear once in holdings")
    pos = positions(holdings, p, in_flight)
    for ap in pos:  # all checks first: no partial plan
        if exact:
            _check_sufficient(ap.asset, ap.deficits, ap.surpluses)
        else:
            _check_sufficient(ap.asset, *_coarse(ap))
    per_asset: list[list[Transfer]] = []
    for ap in pos:
        if exact:
            per_asset.append(
                exact_match(ap.asset, ap.deficits, ap.surpluses, route_cost, limit, ap.decimals)
            )
        else:
            plan = greedy_match(ap.asset, *_coarse(ap))
            _require_routes(ap.asset, plan, route_cost)
            per_asset.append(plan)
    transfers = [t for plan in per_asset for t in plan]
    cost = 0
    if route_cost is not None:
        cost = sum(route_cost(t.asset, t.source, t.dest) or 0 for t in transfers)
    return Plan(tuple(transfers), tuple(pos), cost)


def _coarse(ap: AssetPosition) -> tuple[dict[str, int], dict[str, int]]:
    """Deficits (up) and surpluses (down) in the asset's coarsest quantum: the rulebook's
    greedy matching has no blocks, so every leg must be representable on every chain."""
    return (
        {c: _round_up(x, ap.quantum) for c, x in ap.deficits.items()},
        {c: s for c, x in ap.surpluses.items() if (s := _round_down(x, ap.quantum)) > 0},
    )
