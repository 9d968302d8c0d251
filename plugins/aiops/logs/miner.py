"""The template miner every caller uses: the templates of each service, the masks, the state.

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

from aiops.logs.masking import WILDCARD, Masker
from aiops.logs.templates import Cluster, MinerConfig, ServiceTemplates
from aiops.logs.tokens import template_tokens
from aiops.pii import mask_pii

FORMAT = "aiops-templates/2"
#: Every ASCII digit read as 0: a message's "shape" (see `TemplateMiner.tokens`).
_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
SHAPE_CACHE = 100_000  # distinct shapes remembered


class StateFormatError(ValueError):
    """A saved state of another miner (or another version of it): it cannot be mined on."""


class TemplateMiner:
    """The templates of each service; configuration in `MinerConfig`."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self.masker = Masker(self.config.masks)
        self._mask = functools.partial(self.masker.regex.sub, WILDCARD)  # one call per line
        self.services: dict[str, ServiceTemplates] = {}
        self.first_ms: dict[str, int] = {}  # per service, the first line mined
        self._regex_cache: dict[str, re.Pattern[str]] = {}
        self._shapes: dict[str, tuple[list[str], str]] = {}

    def __repr__(self) -> str:
        n = sum(len(t.clusters) for t in self.services.values())
        return f"TemplateMiner({len(self.services)} services, {n} templates)"

    def tokens(self, message: str) -> list[str]:
        """The tokens `message` is grouped by (masked, then `template_tokens`)."""
        return self._tokens(message)[0]

    def _tokens(self, message: str) -> tuple[list[str], str]:
        r"""(tokens, the same joined by spaces), remembered per shape.

        Masking is most of a line's cost, and most lines differ from one seen before only
        in their digits. What masking and `template_tokens` make of a message depends on
        where its digits are, never on which digits they are (every mask reads a digit as
        `\d` or a hex digit, and a token holding one is a variable), so messages equal once
        each digit is read as 0 have the same tokens, and the second one skips the work.
        """
        shape = message.translate(_DIGITS_AS_ZERO)
        hit = self._shapes.get(shape)
        if hit is None:
            tokens = template_tokens(self._mask(message))
            if len(self._shapes) >= SHAPE_CACHE:
                self._shapes.clear()
            hit = self._shapes[shape] = (tokens, " ".join(tokens))
        return hit

    def add(
        self, service: str, message: str, level: str = "", timestamp_ms: int | None = None
    ) -> Cluster:
        templates = self.services.get(service)
        if templates is None:
            templates = self.services[service] = ServiceTemplates(service, self.config, mask_pii)
        if timestamp_ms is not None and (
            service not in self.first_ms or timestamp_ms < self.first_ms[service]
        ):
            self.first_ms[service] = timestamp_ms
        tokens, key = self._tokens(message)
        return templates.add(tokens, message, level, timestamp_ms, key)

    def match(self, service: str, message: str) -> Cluster | None:
        templates = self.services.get(service)
        return None if templates is None else templates.match(self.tokens(message))

    def clusters(self, service: str | None = None) -> list[Cluster]:
        """Live templates, least recently matched first (of one service, or of all, by
        service)."""
        names = [service] if service is not None else sorted(self.services)
        return [
            c for name in names if name in self.services
            for c in self.services[name].clusters.values()
        ]  # fmt: skip

    def cluster(self, service: str, cluster_id: str) -> Cluster | None:
        """The live template `cluster_id` is now (merged-away IDs resolve to their keeper)."""
        templates = self.services.get(service)
        if templates is None:
            return None
        live = templates.resolve(cluster_id)
        return None if live is None else templates.clusters[live]

    def resolve(self, service: str, cluster_id: str) -> str | None:
        """The live ID of `cluster_id` (see `ServiceTemplates.resolve`)."""
        templates = self.services.get(service)
        return None if templates is None else templates.resolve(cluster_id)

    def evicted(self) -> int:
        """Templates evicted so far over every service (`MinerConfig.max_templates`)."""
        return sum(t.evicted for t in self.services.values())

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
            "services": {name: self.services[name].to_json() for name in sorted(self.services)},
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
            raise StateFormatError(
                f"{source}: not a state of this template miner (format "
                f"{data.get('format')!r}, this miner reads {FORMAT!r})"
            )
        raw = dict(data["config"])
        raw["masks"] = tuple(raw["masks"])
        miner = cls(MinerConfig(**raw))
        miner.first_ms = {str(k): int(v) for k, v in data["first_ms"].items()}
        for name, item in data["services"].items():
            try:
                miner.services[name] = ServiceTemplates.from_json(
                    name, miner.config, item, mask_pii
                )
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
