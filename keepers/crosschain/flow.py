"""Minimum-cost flow on the planner's bipartite graphs (sources -> deficits, uncapacitated
arcs) and the forest/cycle helpers that turn a flow into a plan with no cycle of legs; used by
the exact search (keepers.crosschain.exact_search). Pure: no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping


def min_cost_flow(
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


def to_forest(flow: dict[tuple[int, int], int], arcs: Mapping[tuple[int, int], int]) -> None:
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
