"""The template miner every caller uses: one Drain tree per service, the masks, the state.

`add` mines (it may create or generalise templates), `match` only looks. `save`/`load`
write one JSON document that restores the miner exactly: the same trees, templates, counts
and IDs, so mining on after a reload assigns every line the group it would have joined
without the restart (tested line by line).

`parameters` recovers a line's variable values against its group's FINAL template (after
the whole input generalised it), as the log-parsing literature's structured output does.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from aiops.logs.drain import Cluster, DrainConfig, ServiceDrain
from aiops.logs.masking import WILDCARD, Masker
from aiops.pii import mask_pii

FORMAT = "aiops-drain/1"


class TemplateMiner:
    """Drain per service; configuration in `DrainConfig`."""

    def __init__(self, config: DrainConfig | None = None) -> None:
        self.config = config or DrainConfig()
        self.masker = Masker(self.config.masks)
        self._mask = functools.partial(self.masker.regex.sub, WILDCARD)  # one call per line
        self.drains: dict[str, ServiceDrain] = {}
        self.first_ms: dict[str, int] = {}  # per service, the first line mined
        self._regex_cache: dict[str, re.Pattern[str]] = {}

    def __repr__(self) -> str:
        n = sum(len(d.clusters) for d in self.drains.values())
        return f"TemplateMiner({len(self.drains)} services, {n} templates)"

    def add(
        self, service: str, message: str, level: str = "", timestamp_ms: int | None = None
    ) -> Cluster:
        drain = self.drains.get(service)
        if drain is None:
            drain = self.drains[service] = ServiceDrain(service, self.config, mask_pii)
        if timestamp_ms is not None and (
            service not in self.first_ms or timestamp_ms < self.first_ms[service]
        ):
            self.first_ms[service] = timestamp_ms
        return drain.add(self._mask(message), message, level, timestamp_ms)

    def match(self, service: str, message: str) -> Cluster | None:
        drain = self.drains.get(service)
        return None if drain is None else drain.match(self.masker.mask(message))

    def clusters(self, service: str | None = None) -> list[Cluster]:
        """Templates in creation order (of one service, or of all, by service)."""
        names = [service] if service is not None else sorted(self.drains)
        return [
            c for name in names if name in self.drains for c in self.drains[name].clusters.values()
        ]

    def cluster(self, service: str, cluster_id: str) -> Cluster | None:
        drain = self.drains.get(service)
        return None if drain is None else drain.clusters.get(cluster_id)

    def parameters(self, template: str, message: str) -> list[str]:
        """The values in `message` where `template` has `<*>` (empty if it does not fit)."""
        regex = self._regex_cache.get(template)
        if regex is None:
            parts = [
                r"(.*?)".join(re.escape(piece) for piece in token.split(WILDCARD))
                for token in template.split()
            ]
            regex = self._regex_cache[template] = re.compile(r"^\s*" + r"\s+".join(parts) + r"\s*$")
        m = regex.match(message)
        return list(m.groups()) if m else []

    # --- persistence --------------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "config": asdict(self.config),
            "first_ms": dict(sorted(self.first_ms.items())),
            "services": {name: self.drains[name].to_json() for name in sorted(self.drains)},
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def from_json(cls, data: dict, source: str = "state") -> TemplateMiner:
        if data.get("format") != FORMAT:
            raise ValueError(
                f"{source}: not a template-miner state (format {data.get('format')!r})"
            )
        raw = dict(data["config"])
        raw["masks"] = tuple(raw["masks"])
        miner = cls(DrainConfig(**raw))
        miner.first_ms = {str(k): int(v) for k, v in data["first_ms"].items()}
        for name, item in data["services"].items():
            try:
                miner.drains[name] = ServiceDrain.from_json(name, miner.config, item, mask_pii)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{source}: service {name}: broken template state: {exc}") from exc
        return miner

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TemplateMiner:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the template-miner state: {exc}") from exc
        return cls.from_json(data, str(path))


def mine(miner: TemplateMiner, lines: Iterable[tuple[str, str]]) -> list[Cluster]:
    """Mine (service, message) pairs in order; the cluster of each, for batch callers."""
    return [miner.add(service, message) for service, message in lines]
