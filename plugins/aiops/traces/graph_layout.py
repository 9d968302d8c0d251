"""Where each service goes in the dependency picture: layers from the callers on the left
to the uninstrumented dependencies on the right, each layer ordered to cross fewer edges.

Pure functions over edges (no matplotlib): the drawing in `graph.py` places what this returns.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from aiops.traces.model import Edge

_SWEEPS = 4  # down-and-up barycentre sweeps; the ordering with the fewest crossings is kept
_XY = tuple[float, float]


def layout(edges: Sequence[Edge]) -> dict[str, tuple[float, float]]:
    """Each service's (x, y): x its layer (0 for services nobody calls, callees to the right,
    uninstrumented dependencies last), y its height in rows, upward. Cycles are broken where a
    depth-first search in name order meets a back edge; barycentre sweeps order each layer to
    cross fewer edges (ties by name), then each service moves toward its neighbours' rows."""
    pos = arrange(sorted_edges(edges))[0] if edges else {}
    return {key: xy for key, xy in pos.items() if key[0] != "\0"}


def sorted_edges(edges: Sequence[Edge]) -> list[Edge]:
    """The edges by (parent, child); a repeated pair is an error (merge edges before drawing)."""
    out = sorted(edges, key=lambda e: (e.parent, e.child))
    for a, b in itertools.pairwise(out):
        if (a.parent, a.child) == (b.parent, b.child):
            raise ValueError(f"duplicate edge {a.parent} -> {a.child}: merge them before drawing")
    return out


def arrange(edges: list[Edge]) -> tuple[dict[str, _XY], list[list[str]], frozenset[str]]:
    """(layer, row) of every service and of the bend points ("\\0..." keys) of edges that span
    layers; per edge, the keys it passes from parent to child; the uninstrumented services."""
    nodes = sorted({e.parent for e in edges} | {e.child for e in edges})
    succ: dict[str, set[str]] = {n: set() for n in nodes}
    for e in edges:
        if e.parent != e.child:
            succ[e.parent].add(e.child)
    back = _back_edges(nodes, succ)
    dag = [(v, u) if (u, v) in back else (u, v) for u in nodes for v in succ[u]]
    layer = _longest_path(nodes, dag)
    external = frozenset(
        {e.child for e in edges if not e.instrumented}
        - {e.child for e in edges if e.instrumented}
        - {e.parent for e in edges}
    )
    if external:
        layer.update(dict.fromkeys(external, 1 + max(layer[n] for n in nodes if n not in external)))
    levels: dict[int, list[str]] = defaultdict(list)
    for n in nodes:
        levels[layer[n]].append(n)
    routes, up, down = [], defaultdict(list), defaultdict(list)
    for i, e in enumerate(edges):
        reverse = (e.parent, e.child) in back
        a, b = (e.child, e.parent) if reverse else (e.parent, e.child)
        chain = [a, *(f"\0{i:05d}.{k:03d}" for k in range(layer[a] + 1, layer[b])), b]
        for k, key in enumerate(chain[1:-1], start=layer[a] + 1):
            levels[k].append(key)
        for s, t in itertools.pairwise(chain if a != b else []):
            down[s].append(t)
            up[t].append(s)
        routes.append(chain[::-1] if reverse else chain if a != b else [a])
    order = _fewer_crossings([sorted(levels[k]) for k in range(max(levels) + 1)], up, down)
    rows = _rows(order, up, down)
    pos = {key: (float(k), rows[key]) for k, keys in enumerate(order) for key in keys}
    return pos, routes, external


def _back_edges(nodes: list[str], succ: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Edges to a service still on the stack of a depth-first search that starts from the
    services nobody calls, then from any service a cycle left unvisited, all in name order."""
    called = {v for u in nodes for v in succ[u]}
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[tuple[str, str]] = set()
    for start in [n for n in nodes if n not in called] + nodes:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(sorted(succ[start])))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(sorted(succ[child]))))
                    break
                if state[child] == 1:
                    back.add((node, child))
            else:
                state[node] = 2
                stack.pop()
    return back


def _longest_path(nodes: list[str], dag: list[tuple[str, str]]) -> dict[str, int]:
    indegree, succ = dict.fromkeys(nodes, 0), defaultdict(set)
    for u, v in set(dag):
        indegree[v] += 1
        succ[u].add(v)
    ready, layer = [n for n in nodes if not indegree[n]], dict.fromkeys(nodes, 0)
    while ready:
        u = ready.pop()
        for v in succ[u]:
            layer[v], indegree[v] = max(layer[v], layer[u] + 1), indegree[v] - 1
            if not indegree[v]:
                ready.append(v)
    return layer


def _fewer_crossings(order: list[list[str]], up: dict, down: dict) -> list[list[str]]:
    def centred(keys: list[str]) -> dict[str, float]:
        return {key: i - (len(keys) - 1) / 2 for i, key in enumerate(keys)}

    def by_barycentre(keys: list[str], fixed: list[str], neighbours: dict) -> None:
        ref, now = centred(fixed), centred(keys)
        means = {k: np.mean([ref[m] for m in neighbours.get(k, ())] or [now[k]]) for k in keys}
        keys.sort(key=lambda k: (means[k], k))

    best, fewest = [list(keys) for keys in order], _crossings(order, down)
    for _ in range(_SWEEPS):
        for k in range(1, len(order)):
            by_barycentre(order[k], order[k - 1], up)
        for k in range(len(order) - 2, -1, -1):
            by_barycentre(order[k], order[k + 1], down)
        if (crossings := _crossings(order, down)) < fewest:
            best, fewest = [list(keys) for keys in order], crossings
    return best


def _crossings(order: list[list[str]], down: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(order):
        at = {key: i for i, key in enumerate(lower)}
        ends = [j for key in upper for j in sorted(at[t] for t in down.get(key, ()))]
        total += sum(a > b for i, a in enumerate(ends) for b in ends[i + 1 :])
    return total


def _rows(order: list[list[str]], up: dict, down: dict) -> dict[str, float]:
    """Rows, upward: each layer centred, then sweeps pull every key toward the mean row of its
    neighbours (straightening edges), keeping the layer's order and a row between services
    (less between bend points): per layer, pool adjacent violators of rows + drop."""
    drop: dict[str, float] = {}  # how far below the layer's first key a key must at least be
    for keys in order:
        gaps = [
            0.4 + 0.3 * (a[0] != "\0") + 0.3 * (b[0] != "\0") for a, b in itertools.pairwise(keys)
        ]
        below = np.cumsum([0.0, *gaps])
        drop.update(zip(keys, (below - below[-1] / 2).tolist(), strict=True))
    rows = {key: -drop[key] for key in drop}
    for _ in range(2 * _SWEEPS):
        for keys in order:
            blocks: list[tuple[float, int]] = []  # (mean, count), means must not increase
            for k in keys:
                near = [rows[m] for m in (*up.get(k, ()), *down.get(k, ()))] or [rows[k]]
                blocks.append((float(np.mean(near)) + drop[k], 1))
                while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
                    (m2, c2), (m1, c1) = blocks.pop(), blocks.pop()
                    blocks.append(((m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2))
            fitted = [mean for mean, count in blocks for _ in range(count)]
            rows.update({k: round(v - drop[k], 6) for k, v in zip(keys, fitted, strict=True)})
        order = order[::-1]
    return rows
