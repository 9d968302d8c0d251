"""A signal's forecast picture redrawn from the results store: its newest forecast with the
band, the observations the store holds from the hours before, the anomalies flagged on it and
the SLO threshold it may cross (aiops.pictures ForecastPicture).

The hourly run draws the picture of an alert from memory (aiops.predictive.band_picture);
the AIOps page needs one for every signal of every service, at any time, from the store
alone. What the store keeps decides what the picture can show:

* the forecast is the newest run's (the rows with the greatest ``generated_at`` at or before
  ``at``). A later run overwrites the targets it forecasts again, so a forecast asked for
  long before the newest run has lost those targets: the picture shows what is left.
* the history is not the raw series: each prediction row carries the last observed value
  before its run (``observed`` at ``observed_at``), so the rows of a day's runs give one
  point per run (hourly, denser for a scaling metric the scaling refresh re-forecasts).
* an anomaly event stores its value at the peak but not the peak's time: its mark is drawn
  at the event's start (at the window's left edge for an event that began before it).

Nothing reads the wall clock; the same store and ``at`` give the same picture.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiops.pictures.model import BandPoint, ForecastPicture
from aiops.store import Store
from aiops.units import DEFAULT_UNITS

if TYPE_CHECKING:
    from aiops.catalog import Catalog

HISTORY = timedelta(days=1)


def forecast_picture(
    store: Store,
    service: str,
    signal: str,
    at: datetime,
    *,
    unit: str = "",
    threshold: float | None = None,
    history: timedelta = HISTORY,
    catalog: Catalog | None = None,
) -> ForecastPicture | None:
    """The picture of ``service``'s ``signal`` as the store knew it at ``at``: the newest
    forecast made at or before ``at``, the observations in ``(at - history, at]`` and the
    anomaly events of the signal overlapping that window; None when no forecast reaches
    past ``at - history``.

    ``unit`` and ``threshold`` default to the catalog's (the signal's unit, its SLO
    threshold, as the hourly run reads them) when ``catalog`` is given; without one the
    unit is the well-known signal's and no threshold is drawn.
    """
    if at.tzinfo is None:
        raise ValueError(
            f"forecast_picture {service}/{signal}: at must be timezone-aware, got {at!r}"
        )
    if history <= timedelta(0):
        raise ValueError(f"forecast_picture {service}/{signal}: history must be > 0, got {history}")
    since = at - history
    # every row made in the window or targeting it: a run made at g forecasts targets after g
    rows = store.read(
        "predictions",
        service=service,
        metric=signal,
        at_least={"target_time": since},
        at_most={"generated_at": at},
    )
    if not rows:
        return None
    origin = max(row["generated_at"] for row in rows)
    forecast = tuple(
        BandPoint(row["target_time"], float(row["value"]), row["lower"], row["upper"])
        for row in sorted(rows, key=lambda r: r["target_time"])
        if row["generated_at"] == origin and row["target_time"] > origin
    )
    if not forecast:
        return None
    return ForecastPicture(
        service=service,
        signal=signal,
        unit=unit or _catalog_unit(catalog, service, signal),
        now=origin,
        observed=observations(rows, since, at),
        forecast=forecast,
        threshold=threshold if threshold is not None else slo_threshold(catalog, service, signal),
        marks=anomaly_marks(store, service, signal, since, at),
    )


def observations(
    rows: list[dict], since: datetime, until: datetime
) -> tuple[tuple[datetime, float], ...]:
    """The distinct ``(observed_at, observed)`` points the prediction ``rows`` carry within
    ``(since, until]``, oldest first; where runs disagree on a time, the newest run's value."""
    points: dict[datetime, tuple[datetime, float]] = {}
    for row in rows:
        when, value = row.get("observed_at"), row.get("observed")
        if when is None or value is None or not since < when <= until:
            continue
        seen = points.get(when)
        if seen is None or row["generated_at"] > seen[0]:
            points[when] = (row["generated_at"], float(value))
    return tuple((when, points[when][1]) for when in sorted(points))


def anomaly_marks(
    store: Store, service: str, signal: str, since: datetime, until: datetime
) -> tuple[tuple[datetime, float], ...]:
    """One mark per anomaly event of the signal overlapping ``(since, until]``: its value at
    the peak, drawn at its start (or at ``since`` when it began before the window)."""
    events = store.read(
        "anomaly_events",
        service=service,
        signal=signal,
        kind="anomaly",
        at_least={"end": since},
        at_most={"start": until},
    )
    marks = {
        (max(event["start"], since), float(event["observed"]))
        for event in events
        if event["observed"] is not None and event["end"] > since
    }
    return tuple(sorted(marks))


def slo_threshold(catalog: Catalog | None, service: str, signal: str) -> float | None:
    """The signal's SLO threshold in the catalog (what predictive alerts are raised on);
    None without a catalog, for a service it does not list, or a signal without one."""
    if catalog is None or service not in catalog.services:
        return None
    return catalog.services[service].slo.thresholds().get(signal)


def _catalog_unit(catalog: Catalog | None, service: str, signal: str) -> str:
    if catalog is not None:
        try:
            return catalog.signal(service, signal).unit or ""
        except KeyError:
            pass
    return DEFAULT_UNITS.get(signal, "")
