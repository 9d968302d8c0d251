"""The run summary: what one DAG run left in the results store, counted back from it.

:func:`run_summary` counts, for a DAG run's data interval, the rows the pipeline stored
(series summarised, frames / traces / log lines quarantined, anomaly events, predictions and
their staleness, incidents, findings, issues filed, the data day's LLM spending);
:func:`store_run_summary` upserts those counts into ``pipeline_runs`` keyed by
``(dag_id, interval_start, interval_end)``.

Everything here is data time. The counts are read back from result tables keyed by the
interval, so a rerun of the interval upserts the same key with the same values as long as
the store holds the same results. Wall-clock facts (when the run finished, how long it took)
are not in the row: they are pushed as metrics only (:mod:`aiops.pipeline_runs.pushgateway`), and
Airflow's own metadata database already records each run's start and end.

Which parts a DAG's summary counts (:data:`DAG_PARTS`) follows what the DAG writes, so the
pushed figures of one DAG never show another DAG's work; a part not counted is ``None``
(NULL in the table, no metric pushed).

A late rerun of an hour leaves its summary as it was, although the store keeps only the
newest state of some rows:

* ``events`` are read from the snapshots the run itself stored (``anomaly_event_snapshots``
  ``as_of`` its end), so a later hour extending an event changes nothing here;
* ``predictions`` / ``predicted_series`` count the forecasts made at ``end`` for targets up
  to ``end + (end - start)``: the next hourly run forecasts from there on and replaces every
  later target (``upsert(newer="generated_at")``), and a rerun of the hour cannot put those
  back. Counting every row generated at ``end`` gave the whole horizon on the first run and
  only its first hour on a rerun after the next hour had run.

Counts other runs can still change: ``llm_*`` are the whole data day's figures (every run
charged to that day), and ``llm_usage`` is an audit that only grows.

``not_configured`` lists the optional integrations (traces, logs, github, llm) the run went
without: the DAG passes them in (``aiops.airflow.hooks`` decides), they are not counted.

Every count is an aggregate query bounded by the interval (``COUNT``, ``SUM``, ``MAX`` with
the interval's filters in the ``WHERE``): an hourly summary never reads a table's history
into memory, however many predictions or events it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func, select
from sqlalchemy.exc import SQLAlchemyError

from aiops.store import Store, StoreError, to_utc

logger = logging.getLogger(__name__)

TABLE = "pipeline_runs"

#: Everything a summary can count, in the order the row lists them.
PARTS: tuple[str, ...] = (
    "series",  # series_summary of the interval (written by aiops_ingest)
    "quarantine",  # quarantine, trace_quarantine, log_quarantine rows of the interval
    "training",  # frames the nightly training refused (its window ends at the interval end)
    "events",  # anomaly events overlapping the interval
    "predictions",  # predictions and predictive alerts made at the interval end, staleness
    "incidents",  # incident rows of the interval
    "findings",  # findings of the interval
    "issues",  # issues first filed for the interval
    "llm",  # the data day's LLM calls, tokens and cost
)

#: What each DAG's summary counts. The hourly run also counts the hour's series summary
#: (the ingest DAG's rows), the denominator of "share of series quarantined"; a DAG not
#: listed here counts every part.
DAG_PARTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "aiops_ingest": ("series",),
        "aiops_hourly": ("series", "quarantine", "events", "predictions", "incidents"),
        "aiops_nightly": ("quarantine", "training", "findings", "issues", "llm"),
    }
)

#: The columns each part fills (the rest of the row stays None).
PART_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "series": ("series", "points", "expected_points"),
        "quarantine": (
            "quarantined_frames",
            "quarantined_series",
            "quarantined_traces",
            "quarantined_log_lines",
        ),
        "training": ("quarantined_training_frames",),
        "events": ("events", "events_started", "no_data_events"),
        "predictions": (
            "predictive_alerts",
            "predictions",
            "predicted_series",
            "prediction_newest_at",
            "prediction_staleness_seconds",
        ),
        "incidents": ("incidents", "open_incidents"),
        "findings": ("findings",),
        "issues": ("issues_filed",),
        "llm": (
            "llm_day",
            "llm_calls",
            "llm_over_budget",
            "llm_input_tokens",
            "llm_output_tokens",
            "llm_cost_usd",
        ),
    }
)

#: The column listing the optional integrations a run went without (a JSON list of names).
NOT_CONFIGURED = "not_configured"

#: LLM cost is a float sum; rounded so the summation order cannot change a rerun's row.
COST_DECIMALS = 6


def parts_for(dag_id: str, parts: Iterable[str] | None = None) -> tuple[str, ...]:
    """The parts a summary of ``dag_id`` counts: ``parts`` if given (checked), else
    :data:`DAG_PARTS` for the DAG, else all of :data:`PARTS`; in :data:`PARTS` order."""
    chosen = set(DAG_PARTS.get(dag_id, PARTS) if parts is None else parts)
    unknown = sorted(chosen - set(PARTS))
    if unknown:
        raise ValueError(
            f"run summary of {dag_id}: unknown part(s) {', '.join(unknown)}; "
            f"known parts: {', '.join(PARTS)}"
        )
    return tuple(p for p in PARTS if p in chosen)


def run_summary(
    store: Store,
    dag_id: str,
    start: datetime,
    end: datetime,
    *,
    parts: Iterable[str] | None = None,
    not_configured: Iterable[str] = (),
) -> dict[str, Any]:
    """The ``pipeline_runs`` row of ``dag_id``'s run over ``[start, end)``, counted from the
    store (nothing is written). ``start`` / ``end`` are the Airflow data interval (aware
    datetimes). Columns of parts not counted are None; ``not_configured`` names the optional
    integrations the run went without (sorted). See the module docstring."""
    start, end = _interval(dag_id, start, end)
    chosen = parts_for(dag_id, parts)
    row: dict[str, Any] = {
        "dag_id": dag_id,
        "interval_start": start,
        "interval_end": end,
        "parts": list(chosen),
        NOT_CONFIGURED: sorted(set(not_configured)),
    }
    row |= {column: None for part in PARTS for column in PART_COLUMNS[part]}
    counter = _Counter(store, f"run summary of {dag_id} [{_iso(start)}, {_iso(end)})")
    with counter:
        for part in chosen:
            row |= _PART_COUNTERS[part](counter, start, end)
    return row


def store_run_summary(
    store: Store,
    dag_id: str,
    start: datetime,
    end: datetime,
    *,
    parts: Iterable[str] | None = None,
    not_configured: Iterable[str] = (),
) -> dict[str, Any]:
    """:func:`run_summary`, upserted into ``pipeline_runs`` (a rerun of the interval replaces
    its row); returns the row as stored, with the optional integrations it went without."""
    row = run_summary(store, dag_id, start, end, parts=parts, not_configured=not_configured)
    logger.info("%s", summary_line(row))
    store.upsert(TABLE, [row])
    return row


def summary_line(row: Mapping[str, Any]) -> str:
    """One line for a task log: the DAG, the interval, every counted figure, and the optional
    integrations the run went without (``not configured: logs, traces``), when any."""
    figures = [
        f"{column}={_shown(row[column])}"
        for part in row["parts"]
        for column in PART_COLUMNS[part]
        if column in row
    ]
    interval = f"[{_iso(row['interval_start'])}, {_iso(row['interval_end'])})"
    line = f"{row['dag_id']} {interval}: " + (", ".join(figures) or "nothing counted")
    missing = row.get(NOT_CONFIGURED) or []
    return line + (f"; not configured: {', '.join(missing)}" if missing else "")


# --- the parts ----------------------------------------------------------------------------


def _series(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    t = counter.table("series_summary")
    where = _of_interval(t, start, end)
    return {
        "series": counter.count(t, *where),
        "points": counter.total(t, "points", *where),
        "expected_points": counter.total(t, "expected_points", *where),
    }


def _quarantine(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    frames = counter.table("quarantine")
    traces = counter.table("trace_quarantine")
    lines = counter.table("log_quarantine")
    return {
        "quarantined_frames": counter.count(frames, *_of_interval(frames, start, end)),
        "quarantined_series": counter.count(
            frames, *_of_interval(frames, start, end), distinct=("service", "signal")
        ),
        "quarantined_traces": counter.count(traces, *_of_interval(traces, start, end)),
        "quarantined_log_lines": counter.count(lines, *_of_interval(lines, start, end)),
    }


def _training(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    # The nightly training validates the weeks before the interval's end and quarantines
    # under that window: (end - training_days, end), stage "train".
    t = counter.table("quarantine")
    where = (t.c.interval_end == end, t.c.interval_start < start, t.c.stage == "train")
    return {"quarantined_training_frames": counter.count(t, *where)}


def _events(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    # What the run wrote, as it wrote it: a later hour's extension or a rerun of an earlier
    # hour does not change this hour's counts. An event's end is exclusive: one ending at
    # `start` does not overlap [start, end).
    t = counter.table("anomaly_event_snapshots")
    overlapping = (t.c.as_of == end, t.c.end > start, t.c.start < end)
    return {
        "events": counter.count(t, *overlapping, t.c.kind == "anomaly"),
        "events_started": counter.count(t, *overlapping, t.c.kind == "anomaly", t.c.start >= start),
        "no_data_events": counter.count(t, *overlapping, t.c.kind == "no_data"),
    }


def _predictions(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    alerts = counter.table("predictive_alerts")
    predictions = counter.table("predictions")
    # Only the targets no later run replaces (see the module docstring): up to where the
    # next hourly run, whose origin is end + (end - start), takes over.
    made_at_end = (
        predictions.c.generated_at == end,
        predictions.c.target_time <= end + (end - start),
    )
    newest = counter.newest(predictions, "generated_at", predictions.c.generated_at <= end)
    return {
        "predictive_alerts": counter.count(alerts, alerts.c.generated_at == end),
        "predictions": counter.count(predictions, *made_at_end),
        "predicted_series": counter.count(
            predictions, *made_at_end, distinct=("service", "metric")
        ),
        "prediction_newest_at": newest,
        # data time: how old the newest forecast was when this interval ended; it grows
        # run after run while runs produce none
        "prediction_staleness_seconds": (
            None if newest is None else (end - newest).total_seconds()
        ),
    }


def _incidents(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    t = counter.table("incidents")
    where = _of_interval(t, start, end)
    return {
        "incidents": counter.count(t, *where),
        "open_incidents": counter.count(t, *where, t.c.status == "open"),
    }


def _findings(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    t = counter.table("findings")
    return {"findings": counter.count(t, *_of_interval(t, start, end))}


def _issues(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    # first_interval_end is the interval an issue was filed (or adopted) for and never
    # changes; last_interval_end moves on with every later run that sees the finding, so
    # counting by it would make an old night's figure shrink after the next night.
    t = counter.table("issue_ledger")
    return {"issues_filed": counter.count(t, t.c.first_interval_end == end)}


def _llm(counter: _Counter, start: datetime, end: datetime) -> dict[str, Any]:
    # The budget is charged to the data day of the interval's start (aiops.llm.usage).
    day = start.astimezone(UTC).date().isoformat()
    t = counter.table("llm_usage")
    of_day = t.c.day == day
    return {
        "llm_day": day,
        "llm_calls": counter.count(t, of_day, t.c.outcome != "over_budget"),
        "llm_over_budget": counter.count(t, of_day, t.c.outcome == "over_budget"),
        "llm_input_tokens": counter.total(t, "input_tokens", of_day),
        "llm_output_tokens": counter.total(t, "output_tokens", of_day),
        "llm_cost_usd": round(float(counter.total(t, "cost_usd", of_day)), COST_DECIMALS),
    }


_PART_COUNTERS = {
    "series": _series,
    "quarantine": _quarantine,
    "training": _training,
    "events": _events,
    "predictions": _predictions,
    "incidents": _incidents,
    "findings": _findings,
    "issues": _issues,
    "llm": _llm,
}


# --- aggregate queries ----------------------------------------------------------------------


class _Counter:
    """Aggregate queries on one connection; a failure names the store, the table and what
    was being counted."""

    def __init__(self, store: Store, what: str) -> None:
        self.store, self.what = store, what
        self._conn: Connection | None = None

    def __enter__(self) -> _Counter:
        try:
            self._conn = self.store.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"store {self.store.name}: {self.what}: cannot connect: {_reason(exc)}"
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def table(self, name: str) -> Table:
        return self.store.table(name)

    def count(self, table: Table, *where: ColumnElement[bool], distinct: Sequence[str] = ()) -> int:
        """Rows of ``table`` matching ``where``; with ``distinct``, distinct value tuples."""
        if distinct:
            inner = select(*(table.c[c] for c in distinct)).where(*where).distinct().subquery()
            query = select(func.count()).select_from(inner)
        else:
            query = select(func.count()).select_from(table).where(*where)
        return int(self._scalar(table, query) or 0)

    def total(self, table: Table, column: str, *where: ColumnElement[bool]) -> int | float:
        """The sum of ``column`` over matching rows (0 when none match)."""
        query = select(func.coalesce(func.sum(table.c[column]), 0)).where(*where)
        return self._scalar(table, query)

    def newest(self, table: Table, column: str, *where: ColumnElement[bool]) -> Any:
        """The largest ``column`` among matching rows, or None (typed as the column)."""
        query = select(func.max(table.c[column]).label(column)).where(*where)
        return self._scalar(table, query)

    def _scalar(self, table: Table, query) -> Any:
        assert self._conn is not None, "use _Counter as a context manager"
        try:
            return self._conn.execute(query).scalar_one()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"store {self.store.name}: {self.what}: counting {table.name} failed: "
                f"{_reason(exc)}"
            ) from exc


def _of_interval(table: Table, start: datetime, end: datetime) -> tuple[ColumnElement[bool], ...]:
    """Rows keyed by exactly this interval."""
    return table.c.interval_start == start, table.c.interval_end == end


def _interval(dag_id: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = _plain_utc(start), _plain_utc(end)
    if not start < end:
        raise ValueError(
            f"run summary of {dag_id}: the interval must end after it starts, got "
            f"[{_iso(start)}, {_iso(end)})"
        )
    return start, end


def _plain_utc(when: datetime) -> datetime:
    """A stdlib UTC datetime (Airflow passes pendulum ones, whose arithmetic differs); naive
    datetimes raise, naming the fix."""
    utc = to_utc(when)
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    shown = orig if orig is not None else exc
    return f"{type(shown).__name__}: {shown}".strip()
