"""The data-quality suite for metric frames, run with great-expectations 1.x.

One (service, signal) series becomes a small frame (timestamp, value and derived columns:
the gap to the previous timestamp, the grid steps it skips, whether the value is finite) and
is validated against one expectation suite: timestamps unique and strictly increasing, no gap
longer than the tolerance, not too many missing steps, values finite and within the signal's
physical bounds, enough points for the stage. Per-series numbers (bounds, minimum points,
limits) are suite parameters, so the process builds the context and the suite once.

A frame that fails is neither dropped nor used: :func:`quarantine` writes it to the store's
``quarantine`` table with the validation report, keyed by interval, series and stage.

great-expectations takes seconds to import, so it is imported on first validation, not with
this module (DAG files stay quick to parse). Its context is ephemeral (in memory, nothing on
disk), with analytics and progress bars off in the context's own configuration.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from aiops.catalog import SignalSpec
    from aiops.store import Store

log = logging.getLogger(__name__)

SUITE_NAME = "metric_frame"
Stage = Literal["score", "train", "predict"]

# Points a frame needs per stage when FrameChecks.for_signal builds the checks.
TRAINING_SPAN = timedelta(days=14)
SCORING_MIN_POINTS = 30


@dataclass(frozen=True)
class FrameChecks:
    """What a metric frame must satisfy; ``lower``/``upper`` are physical bounds (None: open)."""

    step: timedelta = timedelta(minutes=1)
    max_gap: timedelta = timedelta(minutes=10)
    max_missing_fraction: float = 0.2
    min_points: int = SCORING_MIN_POINTS
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if self.step <= timedelta(0):
            raise ValueError(f"FrameChecks.step: must be > 0, got {self.step}")
        if self.max_gap < self.step:
            raise ValueError(
                f"FrameChecks.max_gap: must be >= step ({self.step}), got {self.max_gap}"
            )
        if not 0 <= self.max_missing_fraction <= 1:
            raise ValueError(
                f"FrameChecks.max_missing_fraction: must be in [0, 1], got {self.max_missing_fraction}"
            )
        if self.min_points < 0:
            raise ValueError(f"FrameChecks.min_points: must be >= 0, got {self.min_points}")
        if self.lower is not None and self.upper is not None and self.upper <= self.lower:
            raise ValueError(
                f"FrameChecks.upper: must be > lower ({self.lower:g}), got {self.upper:g}"
            )

    @classmethod
    def for_signal(
        cls, spec: SignalSpec, *, stage: Stage, step: timedelta, **overrides: Any
    ) -> FrameChecks:
        """Checks for a catalog signal: its bounds, and 14 days of points to train, 30 to score
        or to forecast from."""
        if stage == "train":
            min_points = int(TRAINING_SPAN / step)
        elif stage in ("score", "predict"):
            min_points = SCORING_MIN_POINTS
        else:
            raise ValueError(f"stage: expected 'score', 'predict' or 'train', got {stage!r}")
        values: dict[str, Any] = {
            "step": step,
            "max_gap": max(timedelta(minutes=10), step),
            "min_points": min_points,
            "lower": spec.min,
            "upper": spec.max,
        }
        return cls(**(values | overrides))


@dataclass(frozen=True)
class FrameVerdict:
    """The outcome of validating one series for one stage.

    ``reasons`` holds one plain sentence per failed expectation, naming the series and the
    offending value or timestamp; ``report`` is the great-expectations validation result as
    a JSON-able dict (see :func:`_stable_report` for what is normalised).
    """

    service: str
    signal: str
    stage: str
    ok: bool
    points: int
    reasons: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    suite: str = SUITE_NAME

    @property
    def series(self) -> str:
        return f"{self.service}/{self.signal}"

    def quarantine_row(self, interval_start: datetime, interval_end: datetime) -> dict[str, Any]:
        """This verdict as a row of the ``quarantine`` table for [interval_start, interval_end)."""
        return {
            "interval_start": interval_start,
            "interval_end": interval_end,
            "service": self.service,
            "signal": self.signal,
            "stage": self.stage,
            "suite": self.suite,
            "reason": "\n".join(self.reasons) or f"{self.series}: failed suite {self.suite}",
            "points": self.points,
            "report": self.report,
        }


def validate_frame(
    series: pd.Series, checks: FrameChecks, *, service: str, signal: str, stage: str
) -> FrameVerdict:
    """Validate one series (float values on a tz-aware DatetimeIndex) against the suite."""
    name = f"{service}/{signal}"
    frame = metric_frame(series, checks.step, name=name)
    gx = _gx()
    batch = gx.batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(gx.suite, expectation_parameters=_parameters(frame, checks))
    report = _stable_report(result.to_json_dict())
    reasons = [
        _reason(outcome, frame, checks, name, stage)
        for outcome in report["results"]
        if not outcome["success"]
    ]
    verdict = FrameVerdict(
        service=service,
        signal=signal,
        stage=stage,
        ok=bool(report["success"]),
        points=len(frame),
        reasons=reasons,
        report=report,
    )
    if not verdict.ok:
        log.warning("quality gate (%s) refused %s", stage, "; ".join(reasons))
    return verdict


def quarantine(
    store: Store,
    verdicts: Iterable[FrameVerdict],
    interval_start: datetime,
    interval_end: datetime,
) -> int:
    """Upsert every failed verdict into ``quarantine`` for the interval; return how many.

    Keyed by (interval, service, signal, stage) and the report carries no run-specific
    values, so rerunning the interval rewrites the very same rows.
    """
    rows = [v.quarantine_row(interval_start, interval_end) for v in verdicts if not v.ok]
    if rows:
        store.upsert("quarantine", rows)
    return len(rows)


def metric_frame(series: pd.Series, step: timedelta, *, name: str = "series") -> pd.DataFrame:
    """The frame the suite validates: one row per sample, in the order the samples came.

    Columns: ``timestamp``, ``value``, ``finite_value`` (NaN where the value is not finite,
    so bounds are judged on real numbers only), ``is_finite``, ``delta_seconds`` (gap to
    the previous timestamp; NaN on the first row) and ``missing_steps`` (grid steps that gap
    skips, never negative).
    """
    index = series.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise TypeError(
            f"{name}: expected a series on a tz-aware DatetimeIndex, got {type(index).__name__}"
            + ("" if not isinstance(index, pd.DatetimeIndex) else " without a timezone")
        )
    try:
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: values must be numeric: {exc}") from exc
    finite = np.isfinite(values)
    frame = pd.DataFrame(
        {
            "timestamp": index.tz_convert("UTC"),
            "value": values,
            "finite_value": np.where(finite, values, np.nan),
            "is_finite": finite,
        }
    )
    frame["delta_seconds"] = frame["timestamp"].diff().dt.total_seconds()
    skipped = (frame["delta_seconds"] / step.total_seconds()).round() - 1
    frame["missing_steps"] = skipped.clip(lower=0).fillna(0).astype("int64")
    return frame


# -- great-expectations wiring ---------------------------------------------------------------


@dataclass(frozen=True)
class _GxRuntime:
    context: Any
    batch_definition: Any
    suite: Any


@functools.cache
def _gx() -> _GxRuntime:
    """The process's ephemeral context, pandas batch definition and suite, built once."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("aiops").add_dataframe_asset("metric_frame")
    batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")

    def param(name: str) -> dict[str, str]:
        return {"$PARAMETER": name}

    suite = gx.ExpectationSuite(name=SUITE_NAME)
    for expectation in (
        gxe.ExpectTableRowCountToBeBetween(min_value=param("min_points")),
        gxe.ExpectColumnValuesToBeUnique(column="timestamp"),
        gxe.ExpectColumnValuesToBeIncreasing(column="timestamp", strictly=True),
        gxe.ExpectColumnValuesToBeBetween(column="delta_seconds", max_value=param("max_gap")),
        gxe.ExpectColumnSumToBeBetween(column="missing_steps", max_value=param("max_missing")),
        gxe.ExpectColumnValuesToBeInSet(column="is_finite", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(
            column="finite_value", min_value=param("lower"), max_value=param("upper"), mostly=1.0
        ),
    ):
        suite.add_expectation(expectation)
    suite = context.suites.add(suite)
    return _GxRuntime(context=context, batch_definition=batch_definition, suite=suite)


def _parameters(frame: pd.DataFrame, checks: FrameChecks) -> dict[str, Any]:
    return {
        "min_points": checks.min_points,
        "max_gap": checks.max_gap.total_seconds(),
        "max_missing": math.floor(checks.max_missing_fraction * _expected_steps(frame, checks)),
        # GE refuses a range open at both ends; a signal without bounds still gets -inf.
        "lower": -math.inf if checks.lower is None and checks.upper is None else checks.lower,
        "upper": checks.upper,
    }


def _expected_steps(frame: pd.DataFrame, checks: FrameChecks) -> int:
    """Grid steps from the first to the last timestamp, both included."""
    if frame.empty:
        return 0
    span = frame["timestamp"].max() - frame["timestamp"].min()
    return int(round(span / checks.step)) + 1


def _stable_report(doc: dict[str, Any]) -> dict[str, Any]:
    """The validation result without what changes from run to run, as strict JSON values.

    Expectation ids are random per process and ``ge_load_time`` is the wall clock; both are
    dropped so a rerun stores the same bytes. NaN and infinities (in unexpected-value lists)
    become the strings "NaN", "Infinity" and "-Infinity".
    """
    doc = _json_safe(doc)
    for outcome in doc.get("results", []):
        outcome.get("expectation_config", {}).pop("id", None)
    doc.get("meta", {}).get("batch_markers", {}).pop("ge_load_time", None)
    return doc


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


# -- reasons ---------------------------------------------------------------------------------


def _reason(
    outcome: Mapping[str, Any], frame: pd.DataFrame, checks: FrameChecks, name: str, stage: str
) -> str:
    """One sentence for one failed expectation, from GE's result and the frame's rows."""
    config = outcome["expectation_config"]
    kind, column = config["type"], config["kwargs"].get("column")
    result = outcome.get("result") or {}
    exception = outcome.get("exception_info") or {}
    if exception.get("raised_exception"):
        return f"{name}: {kind} on {column or 'the frame'} could not run: {exception.get('exception_message')}"
    count = result.get("unexpected_count")
    rows = result.get("partial_unexpected_index_list") or []
    first = min(rows) if rows else None

    def at(row: int | None) -> str:
        return "" if row is None else f" (first at {_iso(frame['timestamp'].iloc[row])})"

    if kind == "expect_table_row_count_to_be_between":
        return f"{name}: {len(frame)} points, fewer than the {checks.min_points} needed to {stage}"
    if kind == "expect_column_values_to_be_unique":
        return f"{name}: {_count(count, 'row')} sharing a timestamp with another row{at(first)}"
    if kind == "expect_column_values_to_be_increasing":
        return f"{name}: {_count(count, 'timestamp')} not after the one before{at(first)}"
    if kind == "expect_column_values_to_be_between" and column == "delta_seconds":
        longest = frame["delta_seconds"].max()
        return (
            f"{name}: {_count(count, 'gap')} longer than {_duration(checks.max_gap.total_seconds())}, "
            f"the longest {_duration(longest)}{at(first).replace('first at', 'first ending at')}"
        )
    if kind == "expect_column_sum_to_be_between":
        missing = int(frame["missing_steps"].sum())
        expected = _expected_steps(frame, checks)
        return (
            f"{name}: {missing} of {expected} expected steps missing "
            f"({missing / expected:.0%}, limit {checks.max_missing_fraction:.0%})"
        )
    if kind == "expect_column_values_to_be_in_set" and column == "is_finite":
        return f"{name}: {_count(count, 'non-finite value')}{at(first)}"
    if kind == "expect_column_values_to_be_between" and column == "finite_value":
        value = "" if first is None else f" {frame['value'].iloc[first]:g} at"
        where = "" if first is None else f" (first{value} {_iso(frame['timestamp'].iloc[first])})"
        return f"{name}: {_count(count, 'value')} outside {_bounds(checks)}{where}"
    return f"{name}: failed {kind}" + (f" on {column}" if column else "")


def _count(n: int | None, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: float) -> str:
    seconds = round(float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


def _bounds(checks: FrameChecks) -> str:
    low = "-inf" if checks.lower is None else f"{checks.lower:g}"
    high = "inf" if checks.upper is None else f"{checks.upper:g}"
    return f"[{low}, {high}]"
