"""The combinatorial bounds the exact cross-chain search prunes with (keepers.crosschain.exact_search):
the most groups a partition of the parties can have (`max_groups`, a relaxation that ignores
routes and rounding), Hall's condition for a block with uncapacitated routes (`hall`), and the
counting helpers both use. Pure: no I/O. Split from exact_search.py (issue 64: no module over
800 lines), whose search class keeps its phases (driver, search, blocks) that share one memo
and one work budget."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping, Sequence

from keepers.crosschain.relaxation import near_balanced


def factorial(n: int) -> int:
    out = 1
    for k in range(2, n + 1):
        out *= k
    return out


@functools.lru_cache(maxsize=1 << 16)
def mask_bits(mask: int) -> tuple[int, ...]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return tuple(out)


CHAIN_CAP = 1_024
"""Most near-balanced sub-multisets `max_groups` chains over before it gives up."""


def max_groups(
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
through them (`ExactSearch._by_source_partition`), not by the deficit-driven search: few
sources and many deficits is where the latter is slow."""


@functools.lru_cache(maxsize=1024)
def stirling2(n: int, k: int) -> int:
    """Partitions of n labelled items into exactly k non-empty parts."""
    if n == k:
        return 1
    if k == 0 or k > n:
        return 0
    return k * stirling2(n - 1, k) + stirling2(n - 1, k - 1)


HALL_SIDE = 10
"""Hall's condition is checked by enumeration while one side of a block has at most this
many parties (2^side subsets); a max flow decides larger blocks."""


def hall(d: Mapping[int, int], s: Mapping[int, int], nbr: Sequence[int], y: int) -> bool:
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
            if need[mask] > sum(s[j] for j in mask_bits(reach[mask])):
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
        for b in mask_bits(mask):
            z |= 1 << js[b]
        if sum(amount for reach, amount in inside if reach & ~z == 0) > held[mask]:
            return False
    return True
