"""Cross-chain USDC/USDT inventory planning (seed 003, the rebalancing rulebook). Pure: no I/O.

This module has the rules, the matchers and the entry point (`plan_rebalance`); the vocabulary
(amounts, errors, inputs/outputs, limits) is in keepers.crosschain.plan_types and re-exported
here, the exact search in keepers.crosschain.exact_search, its min-cost flow in
keepers.crosschain.flow, and the layered search's relaxation in keepers.crosschain.relaxation.

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
the search alone could not prove at 20 parties), or by `max_groups`, a chain DP over the
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
rest exhaustively (`ExactSearch._by_layers`: for each count of groups from the relaxation's down,
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
to `TIE_WORK` block tests (best-effort beyond; the count stays exact).

Mixed decimals: a block whose coarse-quantum flow falls short may still be served by a sweep
that rounds each leg by its own ends (an 18-decimal residue moves on 18-to-18 legs only); that
test is not monotone in the block's sources, so with wei residues in a mixed block the count is
best-effort. Blocks of one decimals, and any instance in whole micro-units, are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from keepers.crosschain.exact_search import (  # noqa: F401
    CHAIN_CAP,
    HALL_SIDE,
    PARTITION_LIMIT,
    ExactSearch,
    Group,
    OutOfWork,
    factorial,
    hall,
    mask_bits,
    max_groups,
    stirling2,
)
from keepers.crosschain.plan_types import (  # noqa: F401
    EXACT_PARTY_LIMIT,
    EXACT_WORK,
    LAST_RESORT_CAP,
    LAST_RESORT_PARTIES,
    LAST_RESORT_WORK,
    LATE_CHAIN_CAP,
    SCALE_DECIMALS,
    SEARCH_FIRST_WORK,
    SWEEP_ORDERS,
    TIE_WORK,
    AssetPosition,
    CrosschainPlanningError,
    Holding,
    InFlightMove,
    InsufficientSurplusError,
    NoRouteError,
    NotRepresentableError,
    Plan,
    Rounding,
    RouteCost,
    Transfer,
    by_amount_desc,
    check_decimals,
    from_scaled,
    quantum,
    quantum_of,
    round_down,
    round_up,
    to_scaled,
)

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
                deficits[h.chain] = round_up(h.base - cur, own)
            elif spendable[(h.chain, h.asset)] > h.base:
                s = round_down(spendable[(h.chain, h.asset)] - h.base, own)
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
    return _sweep(asset, by_amount_desc(deficits), by_amount_desc(surpluses))


# --------------------------------------------------------------------------- exact planner


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
        plan = ExactSearch(asset, deficits, surpluses, route_cost, dec, work).solve()
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
    for dest, d in by_amount_desc(deficits):
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
    q = max(quantum_of(decimals, c) for c in [*deficits, *surpluses])
    d_q = {c: round_up(x, q) for c, x in deficits.items()}
    s_q = {c: round_down(x, q) for c, x in surpluses.items()}
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
    search = ExactSearch(asset, deficits, surpluses, route_cost, decimals)
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
        {c: round_up(x, ap.quantum) for c, x in ap.deficits.items()},
        {c: s for c, x in ap.surpluses.items() if (s := round_down(x, ap.quantum)) > 0},
    )
