"""Grouping one service's log lines into templates, as they stream in.

A line becomes tokens (`aiops.logs.masking`, then `aiops.logs.tokens`): variables that show
by their shape are `<*>` already. The line joins the most specific template it fits (every
constant of the template is the line's token at that position; fewest `<*>` wins, then the
oldest), else it starts a template of its own.

What a shape cannot tell is whether a plain word is a constant (`VM Started`, `VM Paused`:
two events) or a value (`acls to: yarn`, `acls to: hdfs`: one event). Frequency can: when
`variable_after` templates differ from each other at exactly ONE position and agree on every
other token, that position is a variable and they merge into one template with `<*>` there
(the oldest keeps its ID; the others become its aliases). A closed set of alternatives (a
state machine's states, an HTTP method, a level word) stays apart; a user name, a package or
a file name merges as soon as enough distinct ones are seen. A merge never leaves a template
without a constant. This is the idea of Brain (Yu et al., IEEE TSC 2023: the constants of a
group are its most frequent words), made incremental. The thresholds were chosen by
leave-one-system-out on the Loghub dev systems (bench/bench_loghub.py).

Why not Drain's similarity threshold (He et al., ICWS 2017, what this module did before):
a share of equal positions cannot tell `VM Started (Lifecycle Event)` from
`VM Paused (Lifecycle Event)`, and one threshold for every system either merges those or
splits lines whose values are long. On Loghub's real logs it grouped 0.66 of the lines
right against 0.99 for this (docs/BENCHMARKS.md).

Bounded state: at most `max_templates` per service; past it the least recently matched
template is evicted (as drain3's `max_clusters`) and counted, so one unmasked
high-cardinality token cannot grow the state without bound.

Stable IDs: `E` + 8 hex digits of a hash of the service and the template's FIRST tokens, so
they do not depend on the order templates were created in and survive `save`/`load`. A
merged-away ID resolves to the template that absorbed it (`resolve`). A route cache skips
the search for a masked line seen before; it is used only while no template of that length
changed since, so it never changes which template a line joins (a test mines with and
without it and compares).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from aiops.logs.masking import DEFAULT_MASKS, WILDCARD, Masker

#: Severity order, for the level a template is shown with when its lines disagree.
_SEVERITY = {"": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
CACHE_LIMIT = 200_000
#: A template's first lines offered as samples: redacting each line of a template whose
#: lines are all alike, looking for a second distinct one, would cost more than mining it.
SAMPLE_TRIES = 20


@dataclass(frozen=True)
class MinerConfig:
    """The template miner's knobs; the defaults are the frozen ones bench_loghub.py reports."""

    #: distinct words at one position (the rest of the template equal) that make it a variable
    variable_after: int = 6
    max_templates: int = 5_000  # per service; the least recently matched is evicted past it
    samples: int = 3  # raw lines kept per template, as evidence
    route_cache: bool = True  # speed only: the groups are the same either way (tested)
    masks: tuple[str, ...] = DEFAULT_MASKS

    def __post_init__(self) -> None:
        if self.variable_after < 2:
            raise ValueError(f"MinerConfig.variable_after: must be >= 2, got {self.variable_after}")
        if self.max_templates < 1:
            raise ValueError(f"MinerConfig.max_templates: must be >= 1, got {self.max_templates}")
        if self.samples < 0:
            raise ValueError(f"MinerConfig.samples: must be >= 0, got {self.samples}")
        Masker(self.masks)  # validates the names


@dataclass
class Cluster:
    """One template: its tokens with `<*>` for the variables, and what it has seen."""

    id: str
    tokens: list[str]
    seq: int = 0  # creation order within its service: the tie-break between equal matches
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

    def fits(self, tokens: list[str]) -> bool:
        """Whether a line of these tokens belongs here: each constant is the line's token."""
        return _covers(self.tokens, tokens)

    def absorb(self, other: Cluster, samples: int) -> None:
        """Take `other`'s lines: counts, levels, time span and sample lines."""
        self.size += other.size
        for level, n in other.levels.items():
            self.levels[level] = self.levels.get(level, 0) + n
        for mine, theirs, pick in ((self.first_ms, other.first_ms, min),
                                   (self.last_ms, other.last_ms, max)):  # fmt: skip
            if theirs is not None:
                value = theirs if mine is None else pick(mine, theirs)
                if pick is min:
                    self.first_ms = value
                else:
                    self.last_ms = value
        for sample in other.samples:
            if len(self.samples) < samples and sample not in self.samples:
                self.samples.append(sample)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "tokens": self.tokens,
            "seq": self.seq,
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
            seq=int(data["seq"]),
            size=int(data["size"]),
            first_ms=data["first_ms"],
            last_ms=data["last_ms"],
            levels={str(k): int(v) for k, v in data["levels"].items()},
            samples=list(data["samples"]),
        )


def _constants(tokens: list[str]) -> int:
    return sum(t != WILDCARD for t in tokens)


class ServiceTemplates:
    """The templates of one service (see the module docstring for how lines are grouped)."""

    def __init__(
        self, service: str, config: MinerConfig, redact: Callable[[str], str] = str
    ) -> None:
        self.service = service
        self.config = config
        self.redact = redact  # applied to the sample lines kept as evidence
        #: live templates, least recently matched first (the eviction order)
        self.clusters: dict[str, Cluster] = {}
        self.aliases: dict[str, str] = {}  # merged-away ID -> the ID that absorbed it
        self.evicted = 0
        self.merges = 0
        self._next_seq = 0
        self._by_length: dict[int, list[Cluster]] = {}  # by seq
        self._versions: dict[int, int] = {}  # per token count, bumped on every change
        self._cache: dict[str, tuple[Cluster, int]] = {}

    # --- grouping -----------------------------------------------------------------------

    def add(
        self,
        tokens: list[str],
        message: str,
        level: str,
        timestamp_ms: int | None,
        key: str | None = None,
    ) -> Cluster:
        """Assign one line (its `template_tokens`; `key` the same joined by spaces, when the
        caller has it) to a template, creating or merging some."""
        cluster = self._route(tokens, key)
        if cluster is None:
            cluster = self._create(tokens)
        else:
            self._touch(cluster)
        cluster.size += 1
        cluster.levels[level] = cluster.levels.get(level, 0) + 1
        if timestamp_ms is not None:
            if cluster.first_ms is None or timestamp_ms < cluster.first_ms:
                cluster.first_ms = timestamp_ms
            if cluster.last_ms is None or timestamp_ms > cluster.last_ms:
                cluster.last_ms = timestamp_ms
        if len(cluster.samples) < self.config.samples and cluster.size <= SAMPLE_TRIES:
            sample = self.redact(message)
            if sample not in cluster.samples:
                cluster.samples.append(sample)
        return cluster

    def match(self, tokens: list[str]) -> Cluster | None:
        """The template a line would join, without changing anything (None: a new one)."""
        return self._best(tokens)

    def resolve(self, cluster_id: str) -> str | None:
        """The live ID that `cluster_id` is now (itself, or what absorbed it); None when it
        was evicted or never existed."""
        cluster_id = self.aliases.get(cluster_id, cluster_id)  # aliases point at live IDs
        return cluster_id if cluster_id in self.clusters else None

    def _route(self, tokens: list[str], key: str | None) -> Cluster | None:
        if not self.config.route_cache:
            return self._best(tokens)
        key = " ".join(tokens) if key is None else key
        n = len(tokens)
        hit = self._cache.get(key)
        if hit is not None and hit[1] == self._versions.get(n, 0):
            return hit[0]
        best = self._best(tokens)
        if best is not None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = (best, self._versions.get(n, 0))
        return best

    def _best(self, tokens: list[str]) -> Cluster | None:
        best, fewest = None, len(tokens) + 1
        for cluster in self._by_length.get(len(tokens), ()):
            if cluster.fits(tokens):
                wild = len(cluster.tokens) - _constants(cluster.tokens)
                if wild < fewest:  # by seq: the oldest wins a tie
                    best, fewest = cluster, wild
        return best

    def _create(self, tokens: list[str]) -> Cluster:
        cluster = Cluster(id=self._new_id(tokens), tokens=list(tokens), seq=self._next_seq)
        self._next_seq += 1
        self._place(cluster)
        cluster = self._merge_siblings(cluster)
        self._touch(cluster)
        while len(self.clusters) > self.config.max_templates:
            self._remove(next(iter(self.clusters.values())))  # the least recently matched
            self.evicted += 1
        return cluster

    def _merge_siblings(self, new: Cluster) -> Cluster:
        """Merge `new` with the templates that differ from it at one position only, while
        `variable_after` of them (with it) have distinct words there."""
        while True:
            siblings: dict[int, list[Cluster]] = {}
            for other in self._by_length[len(new.tokens)]:
                if other is not new:
                    position = _only_difference(other.tokens, new.tokens)
                    if position is not None:
                        siblings.setdefault(position, []).append(other)
            ready = [
                (position, group) for position, group in sorted(siblings.items())
                if len(group) + 1 >= self.config.variable_after
                and _constants(new.tokens) > 1
            ]  # fmt: skip
            if not ready:
                return new
            position, group = max(ready, key=lambda pg: len(pg[1]))  # first on a tie
            tokens = list(new.tokens)
            tokens[position] = WILDCARD
            members = sorted([*group, new], key=lambda c: c.seq)
            keeper = members[0]
            covered = [
                c for c in self._by_length[len(tokens)]
                if c not in members and _covers(tokens, c.tokens)
            ]  # fmt: skip
            for other in [*members[1:], *covered]:
                keeper.absorb(other, self.config.samples)
                self._remove(other, into=keeper.id)
            keeper.tokens = tokens
            self.merges += 1
            self._bump(len(tokens))
            new = keeper

    # --- bookkeeping --------------------------------------------------------------------

    def _place(self, cluster: Cluster) -> None:
        """Add `cluster` to the live templates (most recently matched) and its length list."""
        self.clusters[cluster.id] = cluster
        same = self._by_length.setdefault(len(cluster.tokens), [])
        same.append(cluster)
        if len(same) > 1 and same[-2].seq > cluster.seq:
            same.sort(key=lambda c: c.seq)
        self._bump(len(cluster.tokens))

    def _touch(self, cluster: Cluster) -> None:
        """Make `cluster` the most recently matched (the last to be evicted)."""
        del self.clusters[cluster.id]
        self.clusters[cluster.id] = cluster

    def _remove(self, cluster: Cluster, into: str | None = None) -> None:
        """Take `cluster` out: merged `into` another (its aliases follow it there), or
        evicted (`into` None: its aliases go too; their lines are counted under IDs that no
        longer resolve)."""
        del self.clusters[cluster.id]
        self._by_length[len(cluster.tokens)].remove(cluster)
        self._bump(len(cluster.tokens))
        for alias in [a for a, target in self.aliases.items() if target == cluster.id]:
            if into is None:
                del self.aliases[alias]
            else:
                self.aliases[alias] = into
        if into is not None:
            self.aliases[cluster.id] = into

    def _bump(self, length: int) -> None:
        self._versions[length] = self._versions.get(length, 0) + 1

    def _new_id(self, tokens: list[str]) -> str:
        digest = hashlib.sha1(f"{self.service}\x1f{' '.join(tokens)}".encode()).hexdigest()
        cid, n = f"E{digest[:8]}", 1
        while cid in self.clusters or cid in self.aliases:  # the same first tokens again
            n += 1
            cid = f"E{digest[:8]}-{n}"
        return cid

    # --- persistence --------------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "clusters": [c.to_json() for c in self.clusters.values()],  # eviction order
            "aliases": dict(sorted(self.aliases.items())),
            "next_seq": self._next_seq,
            "evicted": self.evicted,
            "merges": self.merges,
        }

    @classmethod
    def from_json(
        cls, service: str, config: MinerConfig, data: dict, redact: Callable[[str], str] = str
    ) -> ServiceTemplates:
        templates = cls(service, config, redact)
        for item in data["clusters"]:
            templates._place(Cluster.from_json(item))
        templates.aliases = {str(k): str(v) for k, v in data["aliases"].items()}
        templates._next_seq = int(data["next_seq"])
        templates.evicted = int(data["evicted"])
        templates.merges = int(data["merges"])
        templates._versions = {}
        seqs = [c.seq for c in templates.clusters.values()]
        if len(set(seqs)) != len(seqs) or any(s >= templates._next_seq for s in seqs):
            raise ValueError(f"service {service}: template sequence numbers are not unique "
                             f"and below next_seq {templates._next_seq}")  # fmt: skip
        return templates


def _covers(template: list[str], tokens: list[str]) -> bool:
    """Whether every constant of `template` is the token at its position in `tokens`."""
    return all(t in (s, WILDCARD) for t, s in zip(template, tokens, strict=True))


def _only_difference(a: list[str], b: list[str]) -> int | None:
    """The one position where `a` and `b` differ, both with a word there; None otherwise."""
    found = None
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            if found is not None or x == WILDCARD or y == WILDCARD:
                return None
            found = i
    return found
