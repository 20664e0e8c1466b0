"""The exact minimum-transfer search of the cross-chain planner (keepers.crosschain.planning's
module doc describes the method: blocks, the search over open blocks, the layered search and
the work budgets). Pure: no I/O. Split from planning.py, which keeps the rules and the entry
point; the search is still one class (`ExactSearch`, about 630 lines) because its phases share one
memo and one work budget; its combinatorial bounds (max_groups, Hall's condition) are in
keepers.crosschain.search_bounds."""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from keepers.crosschain.flow import (
    min_cost_flow,
    to_forest,
)
from keepers.crosschain.plan_types import (
    LAST_RESORT_CAP,
    LAST_RESORT_PARTIES,
    LAST_RESORT_WORK,
    LATE_CHAIN_CAP,
    SEARCH_FIRST_WORK,
    SWEEP_ORDERS,
    TIE_WORK,
    InsufficientSurplusError,
    NoRouteError,
    RouteCost,
    Transfer,
    by_amount_desc,
    quantum_of,  # noqa: F401
    round_down,
    round_up,
)
from keepers.crosschain.relaxation import (
    Layers,
    ListedLayers,
    layers_for,
    max_groups_exact,
)
from keepers.crosschain.search_bounds import (  # noqa: F401  (planning re-exports them)
    CHAIN_CAP,
    HALL_SIDE,
    PARTITION_LIMIT,
    factorial,
    hall,
    mask_bits,
    max_groups,
    stirling2,
)


class OutOfWork(Exception):
    """The search has spent its work budget (block tests)."""


Group = tuple[int, int]  # (deficit bitmask, source bitmask)


class ExactSearch:
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
        dl = by_amount_desc(deficits)
        sl = by_amount_desc(surpluses)
        self.dn, self.D = [n for n, _ in dl], [a for _, a in dl]
        self.sn, self.S = [n for n, _ in sl], [a for _, a in sl]
        self.dq = [quantum_of(decimals, n) for n in self.dn]
        self.sq = [quantum_of(decimals, n) for n in self.sn]
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
        chain = max_groups(self.D, self.S)  # cheap when few subsets are near-balanced
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
        except OutOfWork:
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
            except OutOfWork:
                try:
                    self._last_resort(values, known)
                except OutOfWork:
                    return None
            if self.best is not None:
                self.limit = self._excess(self.best)
        limit = self.limit
        if self.best is None:
            self.fail()
        assert self.best is not None
        self.proved = True
        if self.priced:  # cheapest plan among those of the optimal count, within a budget
            self.tie, self.budget = True, TIE_WORK
            self.best_cost = self._plan_cost(self.best)
            with contextlib.suppress(OutOfWork):
                self._dfs(0, full, (), 0, limit)
        return self._transfers(self.best)

    def _last_resort(self, values: list[int], known: tuple[Group, ...] | None) -> None:
        """Third phase, only for an instance the first two left unproved (so no instance they
        prove takes longer): up to LAST_RESORT_PARTIES parties, a fresh budget of
        LAST_RESORT_WORK block tests for the layered search over up to LAST_RESORT_CAP listed
        subsets, or, with more than that, for the search. Every excess below `self.limit` is
        already refuted. Raises OutOfWork when it cannot run or runs out."""
        if self.m + self.k > LAST_RESORT_PARTIES or self.work_budget is None:
            raise OutOfWork
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
            elif stirling2(self.k, self.k - self.limit) <= PARTITION_LIMIT:
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
        room = [sum(self.S[j] for j in mask_bits(y)) for y in ys]
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
                reach = [j for j in mask_bits(self.nbr[i]) if left[j] > 0]
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
        got = min_cost_flow(sup, dem, arcs)[1]
        return [self.dn[i] for i in range(self.m) if got[i] < dem[i]]

    def fail(self) -> None:
        """No plan: name the deficits that no flow over the allowed routes can fill."""
        unmet = self._unmet()
        if unmet:
            raise NoRouteError(self.asset, "<any source>", ", ".join(sorted(unmet)), unmet)
        # Routes suffice to the wei, whole micro-units of the mixed blocks do not.
        q = max(self.dq + self.sq)
        d_q = {self.dn[i]: round_up(self.D[i], q) for i in range(self.m)}
        raise InsufficientSurplusError(self.asset, d_q, sum(round_down(s, q) for s in self.S))

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
            raw = sum(self.S[j] for j in mask_bits(y)) - sum(self.D[i] for i in mask_bits(x))
            hit = self._infos[(x, y)] = (q, levels, raw)
        return hit

    def _slack_at(self, x: int, y: int, q: int) -> int:
        return sum(round_down(self.S[j], q) for j in mask_bits(y)) - sum(
            round_up(self.D[i], q) for i in mask_bits(x)
        )

    def _leaf(self, groups: tuple[Group, ...], extra: int) -> None:
        if not self.tie:
            self.best = groups
            return
        if self.budget is not None:  # pricing a plan costs flows: count them as work
            self.budget -= 4 * sum((g not in self._plans) for g in groups)
            if self.budget < 0:
                raise OutOfWork
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
                for d in mask_bits(x):
                    reach |= self.nbr[d]
                need = sum(self.D[d] for d in mask_bits(x)) - sum(self.S[j] for j in mask_bits(gy))
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
        order = sorted(mask_bits(cand), key=lambda j: (-self.S[j], self.klass[j]))
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
                    if simple or not any(ok(grown ^ 1 << k) for k in mask_bits(mask)):
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
        us = sorted((self.S[j] for j in mask_bits(unused)), reverse=True)
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
        xs, ys = mask_bits(x), mask_bits(y)
        q = max([self.dq[i] for i in xs] + [self.sq[j] for j in ys])
        return (
            q,
            {i: round_up(self.D[i], q) for i in xs},
            {j: round_down(self.S[j], q) for j in ys},
        )

    def _slack(self, x: int, y: int) -> int:
        return self._info(x, y)[1][0]

    def _feasible_with(self, x: int, y: int, more: int) -> bool:
        return self._feasible(x, y | more)

    def _charge(self) -> None:
        if self.budget is not None:
            self.budget -= 1
            if self.budget < 0:
                raise OutOfWork

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
        return len({self.dq[i] for i in mask_bits(x)} | {self.sq[j] for j in mask_bits(y)}) > 1

    def _check_coarse(self, x: int, y: int) -> bool:
        """A flow in the block's coarsest quantum exists (Hall over the allowed routes)."""
        _, d, s = self._amounts(x, y)
        if sum(s.values()) < sum(d.values()):
            return False
        if self.all_routes or all(self.nbr[i] & y == y for i in d):
            return True
        if min(len(d), len(s)) <= HALL_SIDE:
            return hall(d, s, self.nbr, y)
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
        flow, got = min_cost_flow(
            {j: v // q for j, v in s.items()}, {i: v // q for i, v in d.items()}, arcs
        )
        if not all(got[i] * q == d[i] for i in d):
            return None
        to_forest(flow, arcs)
        legs = [(j, i, f * q) for (j, i), f in sorted(flow.items()) if f > 0]
        return (sum(self.cost[(j, i)] for j, i, _ in legs), legs)

    def _leg_sweeps(self, x: int, y: int) -> tuple[int, list[tuple[int, int, int]]] | None:
        """Fill-in-order sweeps of a block where each leg is rounded by its own ends (an
        18-decimal residue moves only on 18-to-18 legs). Every order for small blocks
        (`SWEEP_ORDERS`), 18-decimal parties first otherwise; the cheapest that works."""
        xs, ys = mask_bits(x), mask_bits(y)
        if len(xs) > 7 or len(ys) > 7:
            return None
        if factorial(len(xs)) * factorial(len(ys)) <= SWEEP_ORDERS:
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
                if need % q == 0 or round_up(need, q) <= left[j]:
                    amount = min(round_up(need, q), round_down(left[j], q))
                else:
                    amount = round_down(left[j], q)
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
