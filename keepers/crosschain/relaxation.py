"""The cross-chain planner's all-routes relaxation, exact, by a dynamic programme over all
subsets held as bitsets (Python ints: bit `mask` stands for the subset `mask`). Pure.

Problem: parties with net amounts (a source's surplus positive, a deficit negative), total
T >= 0. The most groups of net >= 0 that partition the parties. Order the groups of a
partition; the unions C_1 of the first, C_2 of the first two, ... have nondecreasing nets in
[0, T]. Conversely a chain of subsets empty = C_0 < C_1 < ... < C_g = all with nondecreasing
nets cut the parties into g groups of net >= 0. So the answer is the longest such chain.

Layers: R_b = the subsets with net in [0, T] at the end of a chain of b steps (R_0 = the empty
set). R_b is R_{b-1}'s members C that have a proper subset C' in R_{b-1} with net(C') <=
net(C) (a chain of b - 1 steps to C' and one more to C; and conversely). With the amounts in
units of their greatest common divisor and T small (`SLACK_UNITS`), the nets in [0, T] take
T + 1 values v, and for each v the subsets of net v that have a proper subset in a set X of
net <= v are found by a superset transform of X (n shift-and-or steps over a 2^n-bit int).
The answer is the last b whose R_b holds every party; the partition is read back through the
layers (for C in R_b, any proper subset in R_{b-1} of net <= net(C)).

Reduction first: a deficit equal to a source form a group of their own in some optimal
partition (exchange: if d sits in G1 and s in G2, {d, s} and G1 + G2 - {d, s} are groups of net
>= 0 as many as before), so such pairs are set aside and the DP runs on the rest (with every
route open only: with route gaps the merged group may have no flow).

Route-aware use (`partition_where`): a partition into exactly `count` groups each passing a
test of its own (the planner's: the block can be served over its routes and quanta), found
exhaustively. Every such group has net >= 0, so what is left after the first groups must lie
in the layer for the groups still to come: that prunes the search. `ListedLayers` is the same
over the listed subsets (net in [0, T], by meet in the middle) for amounts of any size (to the
wei), with bitsets over the list instead of over all 2^n subsets.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TypeVar

SLACK_UNITS = 12
"""The DP runs while T, in units of the amounts' greatest common divisor, is at most this
(T + 1 net values to sweep per layer); larger slack is left to the chain over listed subsets."""

BITSET_PARTIES = 20
"""Most parties (after the equal pairs are set aside) the DP runs on: 2^n-bit sets."""


@functools.lru_cache(maxsize=32)
def _without(n: int) -> tuple[int, ...]:
    """For each party i, the bitset of subsets (of n parties) that do not hold i."""
    size = 1 << n
    out = []
    for i in range(n):
        pattern, width = (1 << (1 << i)) - 1, 1 << (i + 1)
        while width < size:
            pattern |= pattern << width
            width <<= 1
        out.append(pattern & (1 << size) - 1)
    return tuple(out)


_NONZERO = re.compile(b"[^\x00]")
_BITS = [tuple(b for b in range(8) if v >> b & 1) for v in range(256)]


def _members(x: int) -> Iterator[int]:
    """The positions of x's set bits, ascending (a regex finds the non-zero bytes, so a sparse
    2^20-bit set costs a C-speed scan, not a Python loop per bit)."""
    data = x.to_bytes((x.bit_length() + 7) // 8, "little")
    for hit in _NONZERO.finditer(data):
        at = hit.start()
        for b in _BITS[data[at]]:
            yield at * 8 + b


def _up(x: int, without: Sequence[int]) -> int:
    """Every superset of a member of x."""
    for i, z in enumerate(without):
        x |= (x & z) << (1 << i)
    return x


def _step(x: int, without: Sequence[int]) -> int:
    """Every member of x with one party more."""
    out = 0
    for i, z in enumerate(without):
        out |= (x & z) << (1 << i)
    return out


def _by_net(units: Sequence[int], slack: int) -> list[int]:
    """Bitsets of the subsets of net exactly v, for v in 0..slack (meet in the middle: low
    half of the parties within a row, high half picks the row)."""
    n = len(units)
    low = n if n < 6 else n // 2
    row_bytes = max(1, (1 << low) // 8)
    lows: dict[int, int] = defaultdict(int)
    net = [0]
    for v in units[:low]:
        net += [x + v for x in net]
    for mask, x in enumerate(net):
        lows[x] |= 1 << mask
    high = [0]
    for v in units[low:]:
        high += [x + v for x in high]
    zero = bytes(row_bytes)
    rows = {x: b.to_bytes(row_bytes, "little") for x, b in lows.items()}
    return [
        int.from_bytes(b"".join(rows.get(v - h, zero) for h in high), "little")
        for v in range(slack + 1)
    ]


Node = TypeVar("Node", bound=Hashable)  # a search state of _partition_where


def _partition_where(
    count: int,
    most: int,
    root: Node,
    mask_of: Callable[[Node], int],
    below: Callable[[Node, int, int], Iterable[tuple[int, Node]]],
    ok: Callable[[int], bool],
    tick: Callable[[], None],
) -> list[int] | None:
    """The exhaustive search of both layer kinds' `partition_where`: from the state `root` (all
    parties), the group that holds the lowest party `low` of what is left is chosen first among
    `below(state, b, low)` (each such group, with the state of what is left after it, a
    partition into b - 1 groups being possible from there); a state found to fail at b is not
    tried again. `tick` is called per state (a work budget may stop the search by raising)."""
    if not 1 <= count <= most:
        return None
    failed: set[tuple[Node, int]] = set()

    def rec(node: Node, b: int) -> list[int] | None:
        mask = mask_of(node)
        if b == 1:
            return [mask] if ok(mask) else None
        if (node, b) in failed:
            return None
        tick()
        low = (mask & -mask).bit_length() - 1
        for g, rest_node in below(node, b, low):
            if ok(g):
                rest = rec(rest_node, b - 1)
                if rest is not None:
                    return [g, *rest]
        failed.add((node, b))
        return None

    return rec(root, count)


class Layers:
    """The DP's layers R_0, R_1, ... for parties with integer `units` summing to `slack`."""

    def __init__(self, units: Sequence[int], slack: int) -> None:
        self.units, self.slack, self.n = list(units), slack, len(units)
        n = self.n
        self.without = without = _without(n)
        eq = _by_net(units, slack)
        self.full = (1 << n) - 1
        self.layers = [1]  # R_0: the empty set
        self.at_most: list[int] = []  # at_most[v]: the subsets of net in [0, v]
        acc = 0
        for e in eq:
            acc |= e
            self.at_most.append(acc)
        current = acc & ~1  # R_1: every non-empty subset of net in [0, T]
        while current >> self.full & 1:
            self.layers.append(current)
            below, nxt = 0, 0  # below: supersets of the members of net < v (v ascending)
            for e in eq:
                x = current & e
                if x:
                    up = _up(x, without)
                    nxt |= (below | _step(up, without)) & x
                    below |= up
            current = nxt

    @property
    def most(self) -> int:
        """The most groups of net >= 0 all the parties can be cut into."""
        return len(self.layers) - 1

    def net(self, mask: int) -> int:
        return sum(u for i, u in enumerate(self.units) if mask >> i & 1)

    def _before(self, c: int, b: int, net_c: int, skip: int) -> int:
        """The proper subsets of c in R_b of net <= net(c) that do not hold party `skip`."""
        subsets = (1 << (1 << self.n)) - 1
        for i in range(self.n):
            if not c >> i & 1 or i == skip:
                subsets &= self.without[i]
        return self.layers[b] & subsets & self.at_most[net_c] & ~(1 << c)

    def partition(self) -> list[int]:
        """A partition into `most` groups, read back down the layers."""
        groups, c, net_c = [], self.full, self.slack
        for b in range(self.most - 1, -1, -1):
            cand = self._before(c, b, net_c, -1)
            prev = (cand & -cand).bit_length() - 1
            groups.append(c ^ prev)
            net_c -= self.net(c ^ prev)
            c = prev
        assert c == 0
        return groups

    def partition_where(
        self, count: int, ok: Callable[[int], bool], tick: Callable[[], None]
    ) -> list[int] | None:
        """A partition into exactly `count` groups each passing `ok` (a group's own test,
        such as its routes), or None if there is none. Exhaustive: the group that holds the
        lowest party of what is left is chosen first, and what is left after it must be in
        R_(count - 1) (a partition into groups that pass `ok` is one of net >= 0). `tick` is
        called per state (a work budget may stop the search by raising)."""

        def below(node: tuple[int, int], b: int, low: int) -> Iterator[tuple[int, tuple[int, int]]]:
            c, net_c = node
            for at in _members(self._before(c, b - 1, net_c, low)):
                g = c ^ at
                yield g, (at, net_c - self.net(g))

        return _partition_where(
            count, self.most, (self.full, self.slack), lambda node: node[0], below, ok, tick
        )


def layers_for_range(deficits: Sequence[int], sources: Sequence[int]) -> bool:
    """Whether `layers_for` runs on these parties (few enough, slack small enough)."""
    vals = [-d for d in deficits] + list(sources)
    total = sum(vals)
    return (
        0 < len(vals) <= BITSET_PARTIES and total >= 0 and total // math.gcd(*vals) <= SLACK_UNITS
    )


def layers_for(deficits: Sequence[int], sources: Sequence[int]) -> Layers | None:
    """The DP for these parties (masks: deficits, then sources), None out of range."""
    if not layers_for_range(deficits, sources):
        return None
    vals = [-d for d in deficits] + list(sources)
    unit = math.gcd(*vals)
    return Layers([v // unit for v in vals], sum(vals) // unit)


def max_groups_exact(deficits: Sequence[int], sources: Sequence[int]) -> list[int] | None:
    """A partition of the parties (bit masks: deficits 0..m-1, then sources) into the most
    groups of net >= 0, exactly; None when out of this method's range (slack above
    `SLACK_UNITS` units, or more than `BITSET_PARTIES` parties left after the equal pairs)."""
    vals = [-d for d in deficits] + list(sources)
    total = sum(vals)
    if total < 0 or not vals:
        return None
    unit = math.gcd(*vals)
    slack = total // unit
    if slack > SLACK_UNITS:
        return None
    m = len(deficits)
    free: dict[int, list[int]] = defaultdict(list)
    for j, s in enumerate(sources):
        free[s].append(m + j)
    groups, rest = [], []
    for i, d in enumerate(deficits):
        if free[d]:
            groups.append(1 << i | 1 << free[d].pop())
        else:
            rest.append(i)
    paired = set()
    for g in groups:
        paired.add(g.bit_length() - 1)
    rest += [p for p in range(m, len(vals)) if p not in paired]
    if len(rest) > BITSET_PARTIES:
        return None
    for g in Layers([vals[p] // unit for p in rest], slack).partition() if rest else []:
        mask = 0
        for b, p in enumerate(rest):
            if g >> b & 1:
                mask |= 1 << p
        groups.append(mask)
    return groups


def near_balanced(vals: Sequence[int], cap: int) -> list[tuple[int, int]] | None:
    """The subsets of the parties (net values `vals`: sources positive, deficits negative)
    whose net lies in [0, total], as sorted (net, mask) pairs, listed by meet-in-the-middle
    (two halves of 2^(n/2) sums each, one sorted and searched); None when the total is
    negative or there would be more than `cap` of them."""
    total, n = sum(vals), len(vals)
    if total < 0:
        return None
    half = n // 2

    def sums(vs: Sequence[int], shift: int) -> list[tuple[int, int]]:
        out = [(0, 0)]
        for b, v in enumerate(vs):
            out += [(x + v, mask | 1 << (b + shift)) for x, mask in out]
        return out

    low, high = sums(vals[:half], 0), sorted(sums(vals[half:], half))
    keys = [x for x, _ in high]
    listed: list[tuple[int, int]] = []
    for x, mask in low:
        lo, hi = bisect.bisect_left(keys, -x), bisect.bisect_right(keys, total - x)
        if len(listed) + hi - lo > cap:
            return None
        listed += [(x + y, mask | other) for y, other in high[lo:hi]]
    listed.sort()
    return listed


class ListedLayers:
    """The same layers over the listed subsets only (net in [0, T], found by meet in the
    middle), for amounts of any size (to the wei): each listed subset's longest chain h, by
    bitsets over the list (sorted by net, so "net <= net(C)" is a prefix). Built only while
    at most `cap` subsets are listed (`ListedLayers.build` returns None beyond)."""

    def __init__(self, vals: Sequence[int], listed: list[tuple[int, int]]) -> None:
        self.vals, self.n = list(vals), len(vals)
        n = self.n
        self.nets = [x for x, _ in listed]
        self.masks = [mask for _, mask in listed]
        count = len(listed)
        self.lacks = [  # bit c set: listed subset c does not hold party p
            int("".join("0" if mask >> p & 1 else "1" for mask in reversed(self.masks)), 2)
            for p in range(n)
        ]
        self.index = {mask: c for c, mask in enumerate(self.masks)}
        level: list[int] = []  # level[b]: the listed subsets whose longest chain is b
        for c in sorted(range(count), key=lambda c: self.masks[c].bit_count()):
            cand = self._below(c)
            b = 0
            if self.masks[c]:
                b = next((b for b in range(len(level), 0, -1) if level[b - 1] & cand), 0)
                if b == 0:
                    continue
            while len(level) <= b:
                level.append(0)
            level[b] |= 1 << c
        self.at_least = list(level)  # at_least[b]: longest chain >= b
        for b in range(len(level) - 2, -1, -1):
            self.at_least[b] |= self.at_least[b + 1]
        self.full = self.index[(1 << n) - 1]
        self.most = next(b for b in range(len(level) - 1, -1, -1) if level[b] >> self.full & 1)

    @classmethod
    def build(cls, vals: Sequence[int], cap: int) -> ListedLayers | None:
        if not vals:
            return None
        listed = near_balanced(vals, cap)
        return None if listed is None else cls(vals, listed)

    def _below(self, c: int, skip: int = -1) -> int:
        """Listed proper subsets of subset c of net <= net(c), without party `skip`."""
        mask = self.masks[c]
        cand = (1 << bisect.bisect_right(self.nets, self.nets[c])) - 1 & ~(1 << c)
        for p in range(self.n):
            if not mask >> p & 1 or p == skip:
                cand &= self.lacks[p]
        return cand

    def partition_where(
        self, count: int, ok: Callable[[int], bool], tick: Callable[[], None]
    ) -> list[int] | None:
        """As `Layers.partition_where`."""

        def below(c: int, b: int, low: int) -> Iterator[tuple[int, int]]:
            for at in _members(self._below(c, low) & self.at_least[b - 1]):
                yield self.masks[c] ^ self.masks[at], at

        return _partition_where(
            count, self.most, self.full, self.masks.__getitem__, below, ok, tick
        )
