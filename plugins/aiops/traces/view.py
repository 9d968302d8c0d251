"""What every detector needs from one trace, computed once, the settings they share, and how a
detector declares itself (`DetectorSpec`) to the registry `analyze_traces` reads
(aiops.traces.detectors)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Protocol

from aiops.findings.kinds import FindingKind
from aiops.findings.model import Finding
from aiops.traces.calls import Call, calls_of
from aiops.traces.critical_path import critical_path
from aiops.traces.dependencies import DependencyMap
from aiops.traces.model import CLIENT_KINDS, Edge, Span, Trace


@dataclass(frozen=True)
class AnalysisConfig:
    """Thresholds of the bottleneck detectors. The defaults are meant to be quiet on a healthy
    fleet: each names a pattern worth an engineer's hour, not every deviation."""

    n_plus_one_min: int = 5  # repeats of one statement / operation under one parent
    sequential_min_saving_ms: float = 5.0  # sum - max of the sequential calls
    sequential_min_share: float = 0.05  # ... and at least this share of the calling span
    fan_out_min_services: int = 8  # distinct services called from one span
    chatty_min_calls: int = 10  # calls between two services in one request
    hotspot_min_share: float = 0.5  # one operation's share of the slowest 5%'s critical path
    spof_min_dependents: int = 3  # distinct services calling one service
    error_min_share: float = 0.2  # share of failed requests whose error starts in one place
    min_traces: int = 3  # a per-request pattern seen in fewer traces is not reported
    hotspot_min_traces: int = 20  # requests of an entry operation before judging its p95

    def __post_init__(self) -> None:
        for name in ("n_plus_one_min", "fan_out_min_services", "chatty_min_calls"):
            if getattr(self, name) < 2:
                raise ValueError(f"AnalysisConfig.{name}: must be >= 2, got {getattr(self, name)}")
        for name in ("min_traces", "hotspot_min_traces", "spof_min_dependents"):
            if getattr(self, name) < 1:
                raise ValueError(f"AnalysisConfig.{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("hotspot_min_share", "error_min_share", "sequential_min_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"AnalysisConfig.{name}: must be in [0, 1], got {getattr(self, name)}"
                )


@dataclass
class TraceView:
    trace: Trace
    entry: Span
    entry_index: int
    path: dict[int, int]  # microseconds on the critical path, per span index
    calls: list[tuple[int, list[Call]]]  # (span index, its calls) for spans that make calls

    @property
    def trace_id(self) -> str:
        return self.trace.trace_id

    @property
    def trace_ms(self) -> float:
        return self.entry.duration / 1000.0

    @classmethod
    def of(cls, trace: Trace) -> TraceView:
        entry = trace.root()
        index = trace.spans.index(entry)
        calls = []
        for i, span in enumerate(trace.spans):
            # a client span's callee is already its caller's call
            if span.children and span.kind not in CLIENT_KINDS:
                made = calls_of(trace, i)
                if made:
                    calls.append((i, made))
        return cls(trace, entry, index, critical_path(trace, index), calls)


@dataclass(frozen=True)
class FindingContext:
    config: AnalysisConfig
    per_day: float | None  # multiply a window's count by this to get a daily figure
    edges: list[Edge] = field(default_factory=list)
    link: Callable[[str], str] | None = None  # trace ID -> Jaeger UI URL
    traces: int = 0  # traces analysed
    dependencies: DependencyMap | None = None  # the window's map, for detectors over it

    def links(self, trace_ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.link(t) for t in trace_ids) if self.link else ()


class Detector(Protocol):
    def add(self, view: TraceView) -> None: ...

    def findings(self, ctx: FindingContext) -> list[Finding]: ...


@dataclass(frozen=True)
class DetectorSpec:
    """A detector as `analyze_traces` runs it, declared next to its class: how to make one from
    the settings, the kinds of finding it emits (each with its label and why sentence, so
    what an issue says about a kind lives beside the code that finds it), and the settings it
    reads. The analysis refuses a finding of a kind its detector did not declare, so no kind
    reaches a renderer without its words."""

    name: str  # unique among the registered detectors, e.g. "n_plus_one"
    make: Callable[[AnalysisConfig], Detector]  # usually the class
    kinds: tuple[FindingKind, ...]
    knobs: tuple[str, ...] = ()  # the AnalysisConfig settings it reads

    def __post_init__(self) -> None:
        if isinstance(self.kinds, FindingKind | str) or not self.kinds:
            raise ValueError(
                f"DetectorSpec {self.name!r}: kinds must be a non-empty tuple of "
                f"FindingKind(name, label, why), got {self.kinds!r}"
            )
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "knobs", tuple(self.knobs))
        for kind in self.kinds:
            if not isinstance(kind, FindingKind):
                raise TypeError(
                    f"DetectorSpec {self.name!r}: each kind must be FindingKind(name, label, "
                    f"why), got {kind!r}"
                )
        settings = [f.name for f in fields(AnalysisConfig)]
        for knob in self.knobs:
            if knob not in settings:
                raise ValueError(
                    f"DetectorSpec {self.name!r}: knob {knob!r} is not an AnalysisConfig "
                    f"setting ({', '.join(settings)})"
                )

    def checked(self, findings: list[Finding]) -> list[Finding]:
        """``findings`` as the detector made them, after checking each is of a declared kind."""
        declared = [k.name for k in self.kinds]
        for finding in findings:
            if finding.kind not in declared:
                raise ValueError(
                    f"detector {self.name!r} emitted a finding of kind {finding.kind!r}, which "
                    f"its DetectorSpec does not declare (declared: {', '.join(declared)})"
                )
        return findings


def ms(microseconds: float) -> float:
    return microseconds / 1000.0


def fmt_ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def fmt_share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"
