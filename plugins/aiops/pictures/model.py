"""What a picture shows, as data: the forecast band of a signal, an incident's chain, the part
of the dependency map around a service.

A picture is made where the numbers are (the hourly prediction, the incident ranking, the
nightly trace analysis), stored with the finding it explains (``Evidence.picture``) and drawn
later, the same way every time: as a Mermaid block in a GitHub issue (aiops.pictures.mermaid),
as PNG or SVG for the dry-run folder, the CLI and the Airflow page (aiops.pictures.draw), both
showing what aiops.pictures.parts decides to show. Keeping the data and not the drawing means
the stored record stays small, one rerun of an interval makes the same picture byte for
byte, and a better drawing later redraws every stored finding.

Each kind of picture is a frozen dataclass with ``to_json`` and ``from_json`` that
round-trip exactly; `PICTURES` maps the ``type`` a document carries to its class, and
`picture_from_json` refuses a type nobody registered rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, Self


class Picture(Protocol):
    """A picture's data: a ``type`` name and an exact JSON round trip."""

    type: ClassVar[str]
    heading: ClassVar[str]  # what the picture answers, as an issue's section heading

    def to_json(self) -> dict[str, Any]: ...

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Self: ...


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"picture times must be timezone-aware, got {value!r}")
    return value.isoformat()


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class BandPoint:
    """One forecast step: the mean and its interval (None where the model gives none)."""

    time: datetime
    mean: float
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class ForecastPicture:
    """A signal's recent history, its forecast with the band, and the threshold it may cross.

    ``now`` is where history ends and the forecast begins (the end of the data interval that
    made the forecast); ``marks`` are observed points flagged as anomalous."""

    type: ClassVar[str] = "forecast"
    heading: ClassVar[str] = "The last day and the forecast"
    service: str
    signal: str
    unit: str  # "req/s", "ms", "" when the signal has none
    now: datetime
    observed: tuple[tuple[datetime, float], ...]
    forecast: tuple[BandPoint, ...]
    threshold: float | None = None
    marks: tuple[tuple[datetime, float], ...] = ()

    def __post_init__(self) -> None:
        times = [t for t, _ in self.observed] + [p.time for p in self.forecast]
        for t in (self.now, *times, *(t for t, _ in self.marks)):
            _time(t)
        if any(b <= a for a, b in zip(times, times[1:], strict=False)):
            raise ValueError(
                f"ForecastPicture {self.service}/{self.signal}: times must increase, history "
                "before forecast"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "service": self.service,
            "signal": self.signal,
            "unit": self.unit,
            "now": _time(self.now),
            "observed": [[_time(t), float(v)] for t, v in self.observed],
            "forecast": [
                [_time(p.time), float(p.mean), _float(p.lower), _float(p.upper)]
                for p in self.forecast
            ],
            "threshold": _float(self.threshold),
            "marks": [[_time(t), float(v)] for t, v in self.marks],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Self:
        return cls(
            service=doc["service"],
            signal=doc["signal"],
            unit=doc.get("unit", ""),
            now=datetime.fromisoformat(doc["now"]),
            observed=tuple((datetime.fromisoformat(t), v) for t, v in doc["observed"]),
            forecast=tuple(
                BandPoint(datetime.fromisoformat(t), m, lo, hi) for t, m, lo, hi in doc["forecast"]
            ),
            threshold=doc.get("threshold"),
            marks=tuple((datetime.fromisoformat(t), v) for t, v in doc.get("marks", ())),
        )


@dataclass(frozen=True)
class ChainStep:
    """One service in an incident's chain: where it was reached from and how much later."""

    service: str
    signal: str
    lag_seconds: float | None  # after the root's onset; None for the root or when unknown
    via: tuple[str, ...] = ()  # the call path from the root to this service, both included


@dataclass(frozen=True)
class ChainPicture:
    """An incident's chain, root first: each later service is drawn along its call path from
    the root (``via``), or straight from the root when no path is known, its lag on the
    arrow."""

    type: ClassVar[str] = "chain"
    heading: ClassVar[str] = "The chain, root first"
    incident_id: str
    steps: tuple[ChainStep, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"ChainPicture {self.incident_id}: a chain needs its root")

    @property
    def root(self) -> ChainStep:
        return self.steps[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "incident_id": self.incident_id,
            "steps": [
                [s.service, s.signal, _float(s.lag_seconds), list(s.via)] for s in self.steps
            ],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Self:
        return cls(
            incident_id=doc["incident_id"],
            steps=tuple(
                ChainStep(service, signal, lag, tuple(via))
                for service, signal, lag, via in doc["steps"]
            ),
        )


@dataclass(frozen=True)
class MapEdge:
    """A caller -> callee edge of the dependency map, with what a reader weighs it by."""

    parent: str
    child: str
    calls: int
    error_rate: float
    p95_ms: float


@dataclass(frozen=True)
class NeighbourhoodPicture:
    """The part of a window's dependency map around ``focus``: its callers and callees (the
    busiest first, a bounded number of them), ``marked`` services drawn as having findings.

    ``omitted_callers`` and ``omitted_callees`` count the callers and callees the map had but
    the picture's maker left out of ``edges`` to keep it small, so a drawing's "+N more
    callers" tells the whole map, not only what reached the picture. Documents stored before
    these counts existed read as 0."""

    type: ClassVar[str] = "neighbourhood"
    heading: ClassVar[str] = "Where it sits in the dependency map"
    focus: str
    edges: tuple[MapEdge, ...]
    marked: tuple[str, ...] = ()
    omitted_callers: int = 0
    omitted_callees: int = 0

    def __post_init__(self) -> None:
        for name in ("omitted_callers", "omitted_callees"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"NeighbourhoodPicture {self.focus}: {name} must be a count >= 0, got {value!r}"
                )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "focus": self.focus,
            "edges": [
                [e.parent, e.child, int(e.calls), float(e.error_rate), float(e.p95_ms)]
                for e in self.edges
            ],
            "marked": list(self.marked),
            "omitted_callers": self.omitted_callers,
            "omitted_callees": self.omitted_callees,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Self:
        return cls(
            focus=doc["focus"],
            edges=tuple(MapEdge(*edge) for edge in doc["edges"]),
            marked=tuple(doc.get("marked", ())),
            omitted_callers=doc.get("omitted_callers", 0),
            omitted_callees=doc.get("omitted_callees", 0),
        )


#: Every kind of picture by its ``type``.
PICTURES: dict[str, type[Picture]] = {
    cls.type: cls for cls in (ForecastPicture, ChainPicture, NeighbourhoodPicture)
}


class UnknownPictureError(ValueError):
    """A stored picture of a type no module registered."""


def picture_from_json(doc: dict[str, Any]) -> Picture:
    """The picture a `to_json` document describes; `UnknownPictureError` for an unknown type."""
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind not in PICTURES:
        raise UnknownPictureError(
            f"picture type {kind!r} is not known (known: {', '.join(sorted(PICTURES))})"
        )
    return PICTURES[kind].from_json(doc)
