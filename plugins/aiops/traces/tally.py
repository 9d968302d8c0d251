"""Per-problem tallies across traces: how often, how costly, which traces show it worst.

A detector looks at one trace at a time and, when it sees a problem, adds one sample to the
problem's tally: which trace, how long the request took, how much of that the problem cost,
and how much a fix would save. At the end a tally turns into the impact numbers and the
example traces of a finding. Samples are a few floats per affected trace, so a day of traces
fits comfortably in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from aiops.findings.model import Impact

if TYPE_CHECKING:
    from aiops.traces.view import TraceView

EXAMPLES = 3


@dataclass
class Tally:
    trace_ids: list[str] = field(default_factory=list)
    trace_ms: list[float] = field(default_factory=list)
    cost_ms: list[float] = field(default_factory=list)
    saving_ms: list[float] = field(default_factory=list)
    weight: float = 0.0  # requests represented: each trace counts 1 / its sampling rate
    counts: list[float] = field(default_factory=list)  # a per-trace count (repeats, calls ...)

    def add(
        self,
        trace_id: str,
        trace_ms: float,
        cost_ms: float,
        saving_ms: float = 0.0,
        *,
        sampling_rate: float | None = None,
        count: float = 0.0,
    ) -> None:
        self.trace_ids.append(trace_id)
        self.trace_ms.append(trace_ms)
        self.cost_ms.append(cost_ms)
        self.saving_ms.append(saving_ms)
        self.counts.append(count)
        self.weight += 1.0 / sampling_rate if sampling_rate else 1.0

    def add_view(
        self, view: TraceView, cost_ms: float, saving_ms: float = 0.0, *, count: float = 0.0
    ) -> None:
        """One sample from the trace ``view`` is about: its ID, duration and sampling rate."""
        self.add(view.trace_id, view.trace_ms, cost_ms, saving_ms,
                 sampling_rate=view.trace.sampling_rate, count=count)  # fmt: skip

    def __len__(self) -> int:
        return len(self.trace_ids)

    def impact(self, per_day: float | None) -> Impact:
        """``per_day``: days per analysis window inverted (24 h of traces -> 1.0); None when
        the window is too short to scale to a day honestly."""
        return Impact(
            ms_per_request=float(np.mean(self.cost_ms)) if self.cost_ms else 0.0,
            requests_affected=len(self.trace_ids),
            p95_share=self.p95_share(),
            requests_per_day=None if per_day is None else self.weight * per_day,
        )

    def p95_share(self) -> float | None:
        """The problem's share of the time of the slowest 5% of the affected requests."""
        if not self.trace_ms:
            return None
        durations = np.asarray(self.trace_ms)
        slow = durations >= np.quantile(durations, 0.95)
        total = float(durations[slow].sum())
        return float(np.asarray(self.cost_ms)[slow].sum()) / total if total > 0 else None

    def mean_saving(self) -> float:
        return float(np.mean(self.saving_ms)) if self.saving_ms else 0.0

    def quantile(self, values: str, q: float) -> float:
        data = getattr(self, values)
        return float(np.quantile(np.asarray(data), q)) if data else 0.0

    def examples(self, n: int = EXAMPLES) -> tuple[str, ...]:
        """The traces where the problem cost most (ties by trace ID: stable across runs)."""
        ranked = sorted(zip(self.cost_ms, self.trace_ids, strict=True), key=lambda p: (-p[0], p[1]))
        out: list[str] = []
        for _, trace_id in ranked:
            if trace_id not in out:
                out.append(trace_id)
            if len(out) == n:
                break
        return tuple(out)
