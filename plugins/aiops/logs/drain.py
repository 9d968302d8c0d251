"""A Drain log-template miner (He et al., ICWS 2017): a fixed-depth parse tree and a
similarity threshold, one tree per service.

How a line finds its group: mask the variables (`aiops.logs.masking`), split on whitespace,
descend the tree by token count and then by the first `depth - 2` tokens (a token holding a
digit, or one past `max_children` siblings, takes the `<*>` branch), and in the leaf pick
the group whose template shares the most tokens, position by position. If that share
reaches `sim_threshold` the line joins the group and every position where they differ
becomes `<*>`; otherwise the line starts a group of its own.

Why not drain3: it pins cachetools==4.2.1, which Airflow 3.3 cannot live with, and its
per-line cost (a regex pass per mask, an LRU per lookup) is most of a batch's time. Here the
masks are one regex, and a line whose masked text was seen before skips the tree: the cache
entry remembers the leaf's version and the tree's shape, and is used only while neither
changed, so the cache never changes which group a line joins (a test mines with and without
it and compares).

The default depth is 3 (drain3 and the paper use 4): with a token layer, lines whose FIRST
token is a variable from a small set (`GET`/`POST ...`, a level word) split into one group
per value, which on the demo world's labelled logs costs 30% of the grouping accuracy
(bench/bench_logs.py measures both depths for both miners).

Group IDs are `E` + 8 hex digits of a hash of the service and the group's FIRST template, so
they do not depend on the order groups were created in, survive `save`/`load`, and stay put
while the template generalises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aiops.logs.masking import WILDCARD, Masker

#: Severity order, for the level a template is shown with when its lines disagree.
_SEVERITY = {"": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class DrainConfig:
    """Drain's knobs; the defaults are drain3's and the paper's for most Loghub datasets."""

    depth: int = 3  # of the leaves, counting the root and the token-count layer (see below)
    sim_threshold: float = 0.4
    max_children: int = 100
    samples: int = 3  # raw lines kept per template, as evidence
    route_cache: bool = True  # speed only: the groups are the same either way (tested)
    masks: tuple[str, ...] = Masker().names

    def __post_init__(self) -> None:
        if self.depth < 3:
            raise ValueError(f"DrainConfig.depth: must be >= 3, got {self.depth}")
        if not 0 < self.sim_threshold <= 1:
            raise ValueError(
                f"DrainConfig.sim_threshold: must be in (0, 1], got {self.sim_threshold}"
            )
        if self.max_children < 2:
            raise ValueError(f"DrainConfig.max_children: must be >= 2, got {self.max_children}")
        if self.samples < 0:
            raise ValueError(f"DrainConfig.samples: must be >= 0, got {self.samples}")
        Masker(self.masks)  # validates the names


@dataclass
class Cluster:
    """One template: the tokens with `<*>` where lines differ, and what it has seen."""

    id: str
    tokens: list[str]
    size: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    levels: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    @property
    def template(self) -> str:
        return " ".join(self.tokens)

    @property
    def level(self) -> str:
        """The most common level of its lines (the more severe on a tie)."""
        if not self.levels:
            return ""
        return max(self.levels.items(), key=lambda kv: (kv[1], _SEVERITY.get(kv[0], 0)))[0]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "tokens": self.tokens,
            "size": self.size,
            "first_ms": self.first_ms,
            "last_ms": self.last_ms,
            "levels": dict(sorted(self.levels.items())),
            "samples": self.samples,
        }

    @classmethod
    def from_json(cls, data: dict) -> Cluster:
        return cls(
            id=data["id"],
            tokens=list(data["tokens"]),
            size=int(data["size"]),
            first_ms=data["first_ms"],
            last_ms=data["last_ms"],
            levels={str(k): int(v) for k, v in data["levels"].items()},
            samples=list(data["samples"]),
        )


class _Node:
    """An inner node (children by token) or a leaf (clusters); `version` counts a leaf's
    changes, for the cache."""

    __slots__ = ("children", "clusters", "version")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.clusters: list[Cluster] = []
        self.version = 0


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


def _similarity(template: list[str], tokens: list[str]) -> tuple[float, int]:
    """(share of positions where the template has exactly the line's token, wildcards).

    A masked value (`<*>` in the line itself) under a template's `<*>` counts as the same
    token: both say "a variable here", and masking exists to make such lines alike."""
    same = wild = 0
    for t, s in zip(template, tokens, strict=True):
        if t == s:
            same += 1
        elif t == WILDCARD:
            wild += 1
    return (same / len(tokens) if tokens else 1.0), wild


class ServiceDrain:
    """The parse tree and templates of one service."""

    def __init__(
        self, service: str, config: DrainConfig, redact: Callable[[str], str] = str
    ) -> None:
        self.service = service
        self.config = config
        self.redact = redact  # applied to the sample lines kept as evidence
        self.root: dict[int, _Node] = {}
        self.clusters: dict[str, Cluster] = {}  # by id, in creation order
        self.shape = 0  # bumped when the tree gains a node: cached routes may be stale
        self._cache: dict[str, tuple[_Node, int, int, Cluster]] = {}

    # --- mining -------------------------------------------------------------------------

    def add(self, masked: str, message: str, level: str, timestamp_ms: int | None) -> Cluster:
        """Assign one line (already masked) to a group, creating or generalising one."""
        hit = self._cache.get(masked) if self.config.route_cache else None
        if hit is not None and hit[0].version == hit[1] and hit[2] == self.shape:
            cluster = hit[3]
        else:
            cluster = self._add_uncached(masked, message)
        cluster.size += 1
        cluster.levels[level] = cluster.levels.get(level, 0) + 1
        if timestamp_ms is not None:
            if cluster.first_ms is None or timestamp_ms < cluster.first_ms:
                cluster.first_ms = timestamp_ms
            if cluster.last_ms is None or timestamp_ms > cluster.last_ms:
                cluster.last_ms = timestamp_ms
        if len(cluster.samples) < self.config.samples:
            sample = self.redact(message)
            if sample not in cluster.samples:
                cluster.samples.append(sample)
        return cluster

    def _add_uncached(self, masked: str, message: str) -> Cluster:
        tokens = masked.split()
        leaf = self._leaf(tokens)
        cluster = None if leaf is None else self._best(leaf, tokens)
        if cluster is None:
            cluster = Cluster(id=self._new_id(tokens), tokens=tokens)
            self.clusters[cluster.id] = cluster
            leaf = self._insert(cluster)
            leaf.version += 1
        else:
            merged = [
                t if t == s else WILDCARD for t, s in zip(cluster.tokens, tokens, strict=True)
            ]
            if merged != cluster.tokens:
                cluster.tokens = merged
                leaf.version += 1
        # cache the route only if a fresh search on the leaf as it is now picks this cluster
        if self.config.route_cache and self._best(leaf, tokens) is cluster:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[masked] = (leaf, leaf.version, self.shape, cluster)
        return cluster

    def match(self, masked: str) -> Cluster | None:
        """The group a line would join, without changing anything (None: a new template)."""
        tokens = masked.split()
        leaf = self._leaf(tokens)
        return None if leaf is None else self._best(leaf, tokens)

    # --- the tree -----------------------------------------------------------------------

    def _leaf(self, tokens: list[str]) -> _Node | None:
        node = self.root.get(len(tokens))
        if node is None:
            return None
        inner = min(self.config.depth - 2, len(tokens))
        for token in tokens[: inner - 1] if inner > 1 else ():
            child = node.children.get(token) or node.children.get(WILDCARD)
            if child is None:
                return None
            node = child
        return node

    def _best(self, leaf: _Node, tokens: list[str]) -> Cluster | None:
        best, best_key = None, (-1.0, -1)
        for cluster in leaf.clusters:
            key = _similarity(cluster.tokens, tokens)
            if key > best_key:
                best, best_key = cluster, key
        if best is not None and best_key[0] >= self.config.sim_threshold:
            return best
        return None

    def _insert(self, cluster: Cluster) -> _Node:
        tokens, cfg = cluster.tokens, self.config
        node = self.root.get(len(tokens))
        if node is None:
            node = self.root[len(tokens)] = _Node()
            self.shape += 1
        inner = min(cfg.depth - 2, len(tokens))
        for token in tokens[: inner - 1] if inner > 1 else ():
            children = node.children
            if token in children:
                node = children[token]
                continue
            if _has_digit(token) or token == WILDCARD:
                key = WILDCARD
            elif WILDCARD in children:
                key = token if len(children) < cfg.max_children else WILDCARD
            else:
                key = token if len(children) + 1 < cfg.max_children else WILDCARD
            if key not in children:
                children[key] = _Node()
                self.shape += 1
            node = children[key]
        node.clusters.append(cluster)
        return node

    def _new_id(self, tokens: list[str]) -> str:
        digest = hashlib.sha1(f"{self.service}\x1f{' '.join(tokens)}".encode()).hexdigest()
        cid, n = f"E{digest[:8]}", 1
        while cid in self.clusters:  # the same first template in two leaves: rare, ordered
            n += 1
            cid = f"E{digest[:8]}-{n}"
        return cid

    # --- persistence --------------------------------------------------------------------

    def to_json(self) -> dict:
        def node_json(node: _Node) -> dict:
            if node.children:
                return {"children": {k: node_json(v) for k, v in sorted(node.children.items())}}
            return {"clusters": [c.id for c in node.clusters]}

        return {
            "clusters": [c.to_json() for c in self.clusters.values()],
            "tree": {str(n): node_json(node) for n, node in sorted(self.root.items())},
        }

    @classmethod
    def from_json(
        cls, service: str, config: DrainConfig, data: dict, redact: Callable[[str], str] = str
    ) -> ServiceDrain:
        drain = cls(service, config, redact)
        for item in data["clusters"]:
            cluster = Cluster.from_json(item)
            drain.clusters[cluster.id] = cluster

        def node_from(item: dict) -> _Node:
            node = _Node()
            for key, child in item.get("children", {}).items():
                node.children[key] = node_from(child)
            node.clusters = [drain.clusters[cid] for cid in item.get("clusters", [])]
            return node

        drain.root = {int(n): node_from(item) for n, item in data["tree"].items()}
        placed = sum(1 for _ in _leaf_clusters(drain.root))
        if placed != len(drain.clusters):
            raise ValueError(
                f"service {service}: the tree holds {placed} templates, the list "
                f"{len(drain.clusters)}"
            )
        return drain


def _leaf_clusters(root: dict[int, _Node]) -> Iterator[Cluster]:
    stack = list(root.values())
    while stack:
        node = stack.pop()
        yield from node.clusters
        stack.extend(node.children.values())
