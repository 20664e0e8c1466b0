"""Cross-chain USDC/USDT inventory planning (seed 003, the rebalancing rulebook). Pure: no I/O.

Amounts
-------
Every amount here is an ``int`` at a common 18-decimal scale (1 USD = 10**18), never a float.
`to_scaled` / `from_scaled` convert to and from a token's base units. From a token with
<= 18 decimals the conversion is exact; back to such a token an amount is exact only if it is
a multiple of ``10**(18 - decimals)``. The planner guarantees that for every amount it plans
(see *Quantum* below), and `from_scaled` refuses or rounds in an explicit direction otherwise:
``DOWN`` for what a source sends (the source can never drop below its base because of
rounding), ``UP`` only where over-delivery is the safe side.

Quantum: per asset, q = 10**(18 - min decimals of that asset over all chains), e.g. 10**12 when
any chain has 6-decimal USDT. Before matching, deficits are rounded **up** to a multiple of q
and surpluses **down** to a multiple of q. Every planned amount is then a sum/difference of
multiples of q, so it converts exactly to every chain's base units, a destination receives at
least its deficit (at most q - 1 extra, i.e. less than one unit of the coarsest token) and a
source never sends more than its true surplus. The price: a surplus short of the deficit by
less than q is reported as insufficient (the safe direction).

Rules (rulebook sections 2-5)
-----------------------------
* Trigger per (chain, asset): ``current <= base * (1 - p)``, only that chain and that asset.
  "current" is the effective balance: on-chain + inbound in flight - outbound not yet
  debited (`InFlightMove`), so a move already under way is never planned twice.
* Deficit ``base - current`` on triggered pairs; surplus ``spendable - base`` on any pair
  above base, where spendable = on-chain - outbound not yet debited (inbound money still in
  flight is not sent on before it lands). A source never ends below its base. Same-asset transfers only.
* Total surplus short of the total triggered deficit of an asset -> `InsufficientSurplusError`
  and no plan at all (no partial rebalance).
* `greedy_match` is the rulebook's greedy matching, kept as the reference.
* `exact_match` minimises the number of transfers exactly (formulation below) for up to
  `EXACT_PARTY_LIMIT` parties; above that it takes the better of greedy and the best-fit
  heuristic (`best_fit_match`), so it never plans more transfers than greedy.

Exact formulation
-----------------
Parties: deficits D_i > 0 and sources with surplus S_j > 0 (of one asset). A plan is a set of
transfers (edges source -> deficit) with positive amounts; every deficit receives exactly D_i
and every source sends at most S_j. Take a plan with the fewest edges: it has no cycle (a cycle
can be cancelled around until one edge is zero), so it is a forest, and each connected
component with k parties has exactly k - 1 edges. A component containing deficits is a *block*
whose sources can cover its deficits: ``sum S >= sum D`` (sources need not be drained: they only
send the chosen portion that the deficits need). Sources that send nothing are components of
their own. Hence

    min transfers = (number of parties) - (max number of blocks),

maximised over partitions of all parties into blocks of non-negative net (sum S - sum D >= 0);
a source-only block is a single unused source. Conversely every such block with k parties can
be served with k - 1 transfers by the north-west-corner sweep (each transfer exhausts a deficit
or a source), so the bound is attained. We solve it by dynamic programming over subsets: the
block holding the lowest-numbered remaining deficit is enumerated over the subsets of the
remaining parties, O(3^n). Only *minimal* blocks are kept (every source needed:
``net < min source``): a block with a spare source is never better than the same block minus
that source plus the source alone. Ties in the number of transfers are broken by the total
route cost (sum of per-leg costs from a table; a pair with no route is not usable); within a
block the sweep order is searched exhaustively for small blocks (`_EXHAUSTIVE_ORDERS`) and by
cheapest-first orders above that, so the cost tie-break is exact among sweep plans of small
blocks and best-effort otherwise. The transfer count is always exact below the limit.

Greedy's plan is itself such a partition (its components), so the exact planner never plans
more transfers than greedy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from keepers.core.errors import DomainError

SCALE_DECIMALS = 18
EXACT_PARTY_LIMIT = 12
"""Above this many parties (deficits + sources) of one asset the planner is heuristic."""

_EXHAUSTIVE_ORDERS = 144
"""Search every sweep order of a block while (#sources)! * (#deficits)! stays within this."""

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
    """A transfer the plan needs has no route between its two chains for that asset."""

    def __init__(self, asset: str, source: str, dest: str) -> None:
        self.asset, self.source, self.dest = asset, source, dest
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
    amount: int  # 18-decimal scale, a multiple of the asset's quantum

    def units(self, decimals: int) -> int:
        """Amount in a token's base units; exact by construction (see module doc)."""
        return from_scaled(self.amount, decimals, Rounding.EXACT)


@dataclass(frozen=True)
class AssetPosition:
    asset: str
    triggered: tuple[str, ...]
    deficits: dict[str, int]  # quantised up
    surpluses: dict[str, int]  # quantised down
    quantum: int


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
    """Triggered deficits and all surpluses per asset (rulebook 2-4), quantised safely."""
    in_flight = tuple(in_flight)
    eff = effective_balances(holdings, in_flight)
    spendable = effective_balances(holdings, in_flight, inbound=False)
    out = []
    for asset in sorted({h.asset for h in holdings}):
        rows = [h for h in holdings if h.asset == asset]
        q = quantum(h.decimals for h in rows)
        triggered, deficits, surpluses = [], {}, {}
        for h in rows:
            cur = eff[(h.chain, h.asset)]
            if is_triggered(cur, h.base, p) and cur < h.base:
                triggered.append(h.chain)
                deficits[h.chain] = _round_up(h.base - cur, q)
            elif spendable[(h.chain, h.asset)] > h.base:
                s = _round_down(spendable[(h.chain, h.asset)] - h.base, q)
                if s > 0:
                    surpluses[h.chain] = s
        out.append(AssetPosition(asset, tuple(triggered), deficits, surpluses, q))
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


def exact_match(
    asset: str,
    deficits: Mapping[str, int],
    surpluses: Mapping[str, int],
    route_cost: RouteCost | None = None,
    limit: int = EXACT_PARTY_LIMIT,
) -> list[Transfer]:
    """Fewest transfers (exact up to `limit` parties, else the better of greedy and best-fit);
    ties -> cheapest routes."""
    _check_sufficient(asset, deficits, surpluses)
    if not deficits:
        return []
    dl = sorted(deficits.items())
    sl = sorted(surpluses.items())
    if len(dl) + len(sl) > limit:
        return _large_instance(asset, deficits, surpluses, route_cost)
    return _ExactSolver(asset, dl, sl, route_cost).solve()


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
) -> list[Transfer]:
    """Above the exact limit: the better of greedy and best-fit (fewest legs, then cost), so
    never more transfers than greedy; only plans whose every leg has a route qualify."""
    candidates = [
        greedy_match(asset, deficits, surpluses),
        best_fit_match(asset, deficits, surpluses),
    ]
    scored = []
    for plan in candidates:
        cost = 0
        if route_cost is not None:
            legs = [route_cost(asset, t.source, t.dest) for t in plan]
            if any(c is None for c in legs):
                continue
            cost = sum(c for c in legs if c is not None)
        scored.append((len(plan), cost, plan))
    if not scored:
        _require_routes(asset, candidates[0], route_cost)  # raises NoRouteError
    return min(scored, key=lambda x: x[:2])[2]


def _require_routes(asset: str, plan: Sequence[Transfer], route_cost: RouteCost | None) -> None:
    if route_cost is None:
        return
    for t in plan:
        if route_cost(asset, t.source, t.dest) is None:
            raise NoRouteError(asset, t.source, t.dest)


_INFEASIBLE = (-1, 0)


class _ExactSolver:
    """Subset DP; parties 0..nd-1 are deficits, nd..n-1 sources (see module doc)."""

    def __init__(
        self,
        asset: str,
        deficits: list[tuple[str, int]],
        sources: list[tuple[str, int]],
        route_cost: RouteCost | None,
    ) -> None:
        self.asset = asset
        self.parties = deficits + sources
        self.nd = len(deficits)
        self.n = len(self.parties)
        self.route_cost = route_cost
        n = self.n
        net = [0] * (1 << n)
        min_src = [math.inf] * (1 << n)
        for mask in range(1, 1 << n):
            low = mask & -mask
            i = low.bit_length() - 1
            rest = mask ^ low
            amount = self.parties[i][1]
            if i < self.nd:
                net[mask] = net[rest] - amount
                min_src[mask] = min_src[rest]
            else:
                net[mask] = net[rest] + amount
                min_src[mask] = min(min_src[rest], amount)
        self.net = net
        self.min_src = min_src
        self.deficit_bits = (1 << self.nd) - 1
        self._block_cache: dict[int, tuple[int, list[Transfer]] | None] = {}
        self._memo: dict[int, tuple[int, int, int]] = {}
        # Keep only minimal blocks (every source needed) when every source can reach every
        # deficit: then dropping a spare source from a block keeps it routable. With gaps in
        # the route table a spare source may be what makes a block routable, so keep all.
        self.prune = route_cost is None or all(
            route_cost(asset, s, d) is not None for d, _ in deficits for s, _ in sources
        )

    def solve(self) -> list[Transfer]:
        best = self._best_cached
        full = (1 << self.n) - 1
        value = best(full)
        if value[0] < 0:
            # No partition of the parties into routable blocks exists.
            self._raise_no_route()
        plan: list[Transfer] = []
        mask = full
        while mask & self.deficit_bits:
            _, _, block = best(mask)
            cost_plan = self._block(block)
            assert cost_plan is not None
            plan.extend(cost_plan[1])
            mask ^= block
        return plan

    def _best(self, mask: int) -> tuple[int, int, int]:
        """(max blocks, -cost, first block) over partitions of `mask`; blocks < 0: none."""
        dmask = mask & self.deficit_bits
        if not dmask:
            return (mask.bit_count(), 0, 0)
        dbit = dmask & -dmask
        rest = mask ^ dbit
        net, min_src, prune = self.net, self.min_src, self.prune
        best: tuple[int, int, int] = (-1, 0, 0)
        sub = rest
        while True:
            block = sub | dbit
            nb = net[block]
            if nb >= 0 and (nb < min_src[block] or not prune) and net[mask ^ block] >= 0:
                blocks, neg_cost, _ = self._best_cached(mask ^ block)
                # The count decides first: price a block only if it can tie or win.
                if blocks >= 0 and blocks + 1 >= best[0]:
                    priced = self._block(block)
                    if priced is not None:
                        cand = (blocks + 1, neg_cost - priced[0], block)
                        if cand[:2] > best[:2]:
                            best = cand
            if sub == 0:
                break
            sub = (sub - 1) & rest
        return best

    def _best_cached(self, mask: int) -> tuple[int, int, int]:
        hit = self._memo.get(mask)
        if hit is None:
            hit = self._memo[mask] = self._best(mask)
        return hit

    def _block(self, block: int) -> tuple[int, list[Transfer]] | None:
        """Cheapest sweep plan (cost, transfers) for a block, None if no order is routable."""
        if block in self._block_cache:
            return self._block_cache[block]
        members = [self.parties[i] for i in range(self.n) if block >> i & 1]
        idx = [i for i in range(self.n) if block >> i & 1]
        ds = [m for m, i in zip(members, idx, strict=True) if i < self.nd]
        ss = [m for m, i in zip(members, idx, strict=True) if i >= self.nd]
        result: tuple[int, list[Transfer]] | None = None
        if self.route_cost is None:
            result = (0, _sweep(self.asset, _desc(ds), _desc(ss)))
        else:
            for d_order, s_order in self._orders(ds, ss):
                plan = _sweep(self.asset, d_order, s_order)
                cost = self._cost(plan)
                if cost is not None and (result is None or cost < result[0]):
                    result = (cost, plan)
        self._block_cache[block] = result
        return result

    def _orders(self, ds: list[tuple[str, int]], ss: list[tuple[str, int]]):
        if math.factorial(len(ds)) * math.factorial(len(ss)) <= _EXHAUSTIVE_ORDERS:
            yield from itertools.product(itertools.permutations(ds), itertools.permutations(ss))
            return
        assert self.route_cost is not None
        rc = self.route_cost
        yield _desc(ds), _desc(ss)

        # Cheapest-first: sources ordered by their cheapest leg into this block's deficits.
        def leg(s: tuple[str, int]) -> float:
            costs = [rc(self.asset, s[0], d[0]) for d in ds]
            return min((c for c in costs if c is not None), default=math.inf)

        yield _desc(ds), sorted(ss, key=lambda s: (leg(s), -s[1], s[0]))

    def _cost(self, plan: Sequence[Transfer]) -> int | None:
        assert self.route_cost is not None
        total = 0
        for t in plan:
            c = self.route_cost(self.asset, t.source, t.dest)
            if c is None:
                return None
            total += c
        return total

    def _raise_no_route(self) -> None:
        assert self.route_cost is not None
        for d, _ in self.parties[: self.nd]:
            if all(self.route_cost(self.asset, s, d) is None for s, _ in self.parties[self.nd :]):
                raise NoRouteError(self.asset, "<any source>", d)
        raise NoRouteError(self.asset, "<some source>", "<some destination>")


def _desc(items: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(items, key=lambda kv: (-kv[1], kv[0]))


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
        _check_sufficient(ap.asset, ap.deficits, ap.surpluses)
    transfers: list[Transfer] = []
    for ap in pos:
        if exact:
            transfers += exact_match(ap.asset, ap.deficits, ap.surpluses, route_cost, limit)
        else:
            plan = greedy_match(ap.asset, ap.deficits, ap.surpluses)
            _require_routes(ap.asset, plan, route_cost)
            transfers += plan
    cost = 0
    if route_cost is not None:
        cost = sum(route_cost(t.asset, t.source, t.dest) or 0 for t in transfers)
    return Plan(tuple(transfers), tuple(pos), cost)
