"""The data-quality suite for metric frames, run with great-expectations 1.x.

One (service, signal) series becomes a small frame (timestamp, value and derived columns:
whether a value was observed, the gap to the previous observed value, the grid steps it
skips, whether the value is infinite) and is validated against one expectation suite:
timestamps unique and strictly increasing, enough observed values for the stage, no gap
longer than the tolerance and not too many missing steps (scoring and forecasting only),
no infinite value, values within the signal's physical bounds and, on a side the catalog
leaves open, within a robust plausibility range. Per-series numbers (bounds, minimum points,
limits) are suite parameters, so the process builds the context and the suite once.

NaN is "no value at that step", not a bad value: Prometheus answers 0/0 (an error ratio at
zero traffic) with NaN. A NaN step counts like a missing one: in the verdict's counts, in the
gap and missing-step checks, and not towards the points a stage needs. Training needs enough
points, not contiguous ones, so its checks ask for two days of values anywhere in the window.

An implausible value (infinite, beyond a catalog bound, or farther than
``outlier_factor`` x the robust spread from the median where no bound is set) refuses the
whole frame: a scrape that returned 1e308 says the exporter or the query is broken, so the
frame's other values are not trusted either, and the callers keep only whole series. The
reason names the rule, how many values broke it, which values and where the first one is.

A frame that fails is neither dropped nor used: :func:`quarantine` writes it to the store's
``quarantine`` table with the validation report, keyed by interval, series and stage; a rerun
of the interval replaces the rows of the services it validated again.

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

# Points a frame needs per stage when FrameChecks.for_signal builds the checks. Training
# needs two days of values: the shortest history a nightly baseline tier learns from (the
# hour-of-day profile); each model refuses, naming why, what is too short for it.
TRAINING_SPAN = timedelta(days=2)
SCORING_MIN_POINTS = 30

# The plausibility rule where the catalog sets no bound: a value farther than this many
# robust spreads from the frame's median is not a measurement. Large on purpose: a real
# 20x spike passes, 1e308 never does.
OUTLIER_FACTOR = 1e3


@dataclass(frozen=True)
class FrameChecks:
    """What a metric frame must satisfy.

    - ``min_points``: observed values (not NaN) the stage needs;
    - ``max_gap``: the longest time between two observed values (None: not checked, as for
      training, which needs enough points rather than contiguous ones);
    - ``max_missing_fraction``: steps without a value (absent or NaN) allowed between the
      first and the last observed value;
    - ``lower``/``upper``: physical bounds (None: open on that side);
    - ``outlier_factor``/``spread_floor``: on an open side, a value farther than
      ``outlier_factor`` x the robust spread from the median is implausible; the spread is
      the largest of 1.4826 x MAD, the inter-decile range / 2.563, 10% of |median| and
      ``spread_floor`` (in the signal's unit), so a flat or mostly-zero series still allows
      real spikes.
    """

    step: timedelta = timedelta(minutes=1)
    max_gap: timedelta | None = timedelta(minutes=10)
    max_missing_fraction: float = 0.2
    min_points: int = SCORING_MIN_POINTS
    lower: float | None = None
    upper: float | None = None
    outlier_factor: float = OUTLIER_FACTOR
    spread_floor: float = 1.0

    def __post_init__(self) -> None:
        if self.step <= timedelta(0):
            raise ValueError(f"FrameChecks.step: must be > 0, got {self.step}")
        if self.max_gap is not None and self.max_gap < self.step:
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
        if not (math.isfinite(self.outlier_factor) and self.outlier_factor > 0):
            raise ValueError(
                f"FrameChecks.outlier_factor: must be a finite number > 0, got {self.outlier_factor}"
            )
        if not (math.isfinite(self.spread_floor) and self.spread_floor > 0):
            raise ValueError(
                f"FrameChecks.spread_floor: must be a finite number > 0, got {self.spread_floor}"
            )

    @classmethod
    def for_signal(
        cls, spec: SignalSpec, *, stage: Stage, step: timedelta, **overrides: Any
    ) -> FrameChecks:
        """Checks for a catalog signal: its bounds; to train, two days of values anywhere in
        the window (gaps allowed); to score or forecast from, 30 values, no gap over 10
        minutes and at most 20% of the steps missing."""
        values: dict[str, Any] = {"step": step, "lower": spec.min, "upper": spec.max}
        if stage == "train":
            values |= {
                "min_points": int(TRAINING_SPAN / step),
                "max_gap": None,
                "max_missing_fraction": 1.0,
            }
        elif stage in ("score", "predict"):
            values |= {
                "min_points": SCORING_MIN_POINTS,
                "max_gap": max(timedelta(minutes=10), step),
            }
        else:
            raise ValueError(f"stage: expected 'score', 'predict' or 'train', got {stage!r}")
        return cls(**(values | overrides))


@dataclass(frozen=True)
class FrameVerdict:
    """The outcome of validating one series for one stage.

    ``points`` counts the rows received (NaN included); ``observed`` those with a value,
    ``nan_points`` the NaN ones (no traffic, or no data at that step), ``missing_steps`` the
    grid steps between the first and last value that have none (absent or NaN) and
    ``implausible`` the values refused as impossible. ``reasons`` holds one plain sentence per
    failed expectation, naming the series and the offending value or timestamp; ``report``
    is the great-expectations validation result as a JSON-able dict, with the counts under
    ``"counts"`` (see :func:`_stable_report` for what is normalised).
    """

    service: str
    signal: str
    stage: str
    ok: bool
    points: int
    reasons: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    suite: str = SUITE_NAME
    observed: int = 0
    nan_points: int = 0
    missing_steps: int = 0
    implausible: int = 0

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
    robust = _robust_range(frame, checks)
    gx = _gx()
    batch = gx.batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(gx.suite, expectation_parameters=_parameters(frame, checks, robust))
    report = _stable_report(result.to_json_dict())
    counts = _counts(frame, checks, robust)
    report["counts"] = counts
    reasons = [
        _reason(outcome, frame, checks, robust, name, stage)
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
        observed=counts["observed"],
        nan_points=counts["nan"],
        missing_steps=counts["missing_steps"],
        implausible=counts["implausible"],
    )
    if not verdict.ok:
        log.warning("quality gate (%s) refused %s", stage, "; ".join(reasons))
    elif verdict.nan_points or verdict.missing_steps:
        log.info(
            "quality gate (%s): %s passed with %d NaN and %d missing steps of %d rows",
            stage,
            name,
            verdict.nan_points,
            verdict.missing_steps,
            verdict.points,
        )
    return verdict


def quarantine(
    store: Store,
    verdicts: Iterable[FrameVerdict],
    interval_start: datetime,
    interval_end: datetime,
) -> int:
    """Make the interval's quarantine rows of the validated services exactly their failed
    verdicts; return how many failed.

    Pass every verdict of the services validated, passed ones included: for each (service,
    stage) among them, the interval's rows are replaced, so a rerun never leaves a row a
    verdict no longer earns (a series that passes now, or a signal no longer checked), and
    the report carries no run-specific values, so an unchanged rerun writes the same bytes.
    A service with no verdict here keeps its rows.
    """
    by_scope: dict[tuple[str, str], list[FrameVerdict]] = {}
    for verdict in verdicts:
        by_scope.setdefault((verdict.service, verdict.stage), []).append(verdict)
    failed = 0
    for (service, stage), group in sorted(by_scope.items()):
        rows = [v.quarantine_row(interval_start, interval_end) for v in group if not v.ok]
        store.replace(
            "quarantine",
            rows,
            interval_start=interval_start,
            interval_end=interval_end,
            service=service,
            stage=stage,
        )
        failed += len(rows)
    return failed


def metric_frame(series: pd.Series, step: timedelta, *, name: str = "series") -> pd.DataFrame:
    """The frame the suite validates: one row per sample, in the order the samples came.

    Columns: ``timestamp``, ``value``, ``observed`` (1 unless the value is NaN),
    ``finite_value`` and ``plausible_value`` (NaN where the value is not finite, so bounds
    and plausibility are judged on real numbers only; two columns for two rules),
    ``not_infinite``, ``gap_seconds`` (on an observed row: time since the previous observed
    row, NaN on the first; NaN on NaN rows) and ``missing_steps`` (grid steps that gap skips,
    NaN steps included, never negative).
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
    observed = ~np.isnan(values)
    frame = pd.DataFrame(
        {
            "timestamp": index.tz_convert("UTC"),
            "value": values,
            "observed": observed.astype("int64"),
            "finite_value": np.where(finite, values, np.nan),
            "plausible_value": np.where(finite, values, np.nan),
            "not_infinite": ~np.isinf(values),
        }
    )
    gaps = frame["timestamp"][observed].diff().dt.total_seconds()
    frame["gap_seconds"] = gaps.reindex(frame.index)
    skipped = (frame["gap_seconds"] / step.total_seconds()).round() - 1
    frame["missing_steps"] = skipped.clip(lower=0).fillna(0).astype("int64")
    return frame


@dataclass(frozen=True)
class _Robust:
    """The plausible range of a frame's values on the sides the catalog leaves open."""

    median: float
    spread: float
    low: float  # -inf where the catalog sets a lower bound
    high: float  # inf where it sets an upper one


# Beyond this magnitude no signal of any unit is a measurement; bounds the plausible range
# even where the robust spread cannot (a series that is 1e308 throughout has no spread).
MAGNITUDE_LIMIT = 1e21


def _robust_range(frame: pd.DataFrame, checks: FrameChecks) -> _Robust | None:
    """Median +- outlier_factor x the robust spread (see FrameChecks), within +-1e21;
    None when the frame has no finite value."""
    values = frame["finite_value"].dropna().to_numpy()
    if values.size == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        median = float(np.median(values))
        mad = 1.4826 * float(np.median(np.abs(values - median)))
        p10, p90 = np.percentile(values, [10, 90])
        candidates = [mad, float(p90 - p10) / 2.5631, 0.1 * abs(median), checks.spread_floor]
        spread = max(c for c in candidates if math.isfinite(c))
        reach = checks.outlier_factor * spread
        low = max(median - reach, -MAGNITUDE_LIMIT) if checks.lower is None else -math.inf
        high = min(median + reach, MAGNITUDE_LIMIT) if checks.upper is None else math.inf
    return _Robust(median=median, spread=spread, low=low, high=high)


def _outside_bounds(frame: pd.DataFrame, checks: FrameChecks) -> np.ndarray:
    values = frame["finite_value"].to_numpy()
    low = -math.inf if checks.lower is None else checks.lower
    high = math.inf if checks.upper is None else checks.upper
    with np.errstate(invalid="ignore"):
        return (values < low) | (values > high)


def _implausible(frame: pd.DataFrame, robust: _Robust | None) -> np.ndarray:
    values = frame["plausible_value"].to_numpy()
    if robust is None:
        return np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        return (values < robust.low) | (values > robust.high)


def _counts(frame: pd.DataFrame, checks: FrameChecks, robust: _Robust | None) -> dict[str, int]:
    """What the verdict reports whether or not the frame passed."""
    refused = ~frame["not_infinite"].to_numpy()
    refused = refused | _outside_bounds(frame, checks) | _implausible(frame, robust)
    observed = int(frame["observed"].sum())
    return {
        "rows": len(frame),
        "observed": observed,
        "nan": len(frame) - observed,
        "missing_steps": int(frame["missing_steps"].sum()),
        "implausible": int(refused.sum()),
    }


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
        gxe.ExpectColumnSumToBeBetween(column="observed", min_value=param("min_points")),
        gxe.ExpectColumnValuesToBeUnique(column="timestamp"),
        gxe.ExpectColumnValuesToBeIncreasing(column="timestamp", strictly=True),
        gxe.ExpectColumnValuesToBeBetween(column="gap_seconds", max_value=param("max_gap")),
        gxe.ExpectColumnSumToBeBetween(column="missing_steps", max_value=param("max_missing")),
        gxe.ExpectColumnValuesToBeInSet(column="not_infinite", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(
            column="finite_value", min_value=param("lower"), max_value=param("upper"), mostly=1.0
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="plausible_value",
            min_value=param("plausible_low"),
            max_value=param("plausible_high"),
            mostly=1.0,
        ),
    ):
        suite.add_expectation(expectation)
    suite = context.suites.add(suite)
    return _GxRuntime(context=context, batch_definition=batch_definition, suite=suite)


def _parameters(frame: pd.DataFrame, checks: FrameChecks, robust: _Robust | None) -> dict[str, Any]:
    return {
        "min_points": checks.min_points,
        "max_gap": math.inf if checks.max_gap is None else checks.max_gap.total_seconds(),
        "max_missing": math.floor(checks.max_missing_fraction * _expected_steps(frame, checks)),
        # GE refuses a range open at both ends; a signal without bounds still gets -inf.
        "lower": -math.inf if checks.lower is None and checks.upper is None else checks.lower,
        "upper": checks.upper,
        "plausible_low": -math.inf if robust is None else robust.low,
        "plausible_high": math.inf if robust is None else robust.high,
    }


def _expected_steps(frame: pd.DataFrame, checks: FrameChecks) -> int:
    """Grid steps from the first to the last observed value, both included."""
    stamps = frame["timestamp"][frame["observed"] == 1]
    if stamps.empty:
        return 0
    span = stamps.max() - stamps.min()
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
    outcome: Mapping[str, Any],
    frame: pd.DataFrame,
    checks: FrameChecks,
    robust: _Robust | None,
    name: str,
    stage: str,
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
    nan = len(frame) - int(frame["observed"].sum())

    def at(row: int | None) -> str:
        return "" if row is None else f" (first at {_iso(frame['timestamp'].iloc[row])})"

    if kind == "expect_column_sum_to_be_between" and column == "observed":
        observed = len(frame) - nan
        also = f" ({nan} more were NaN: no traffic or no data)" if nan else ""
        return (
            f"{name}: {observed} points, fewer than the {checks.min_points} needed to {stage}{also}"
        )
    if kind == "expect_column_values_to_be_unique":
        return f"{name}: {_count(count, 'row')} sharing a timestamp with another row{at(first)}"
    if kind == "expect_column_values_to_be_increasing":
        return f"{name}: {_count(count, 'timestamp')} not after the one before{at(first)}"
    if kind == "expect_column_values_to_be_between" and column == "gap_seconds":
        longest = frame["gap_seconds"].max()
        limit = math.inf if checks.max_gap is None else checks.max_gap.total_seconds()
        return (
            f"{name}: {_count(count, 'gap')} longer than {_duration(limit)}, "
            f"the longest {_duration(longest)}{at(first).replace('first at', 'first ending at')}"
        )
    if kind == "expect_column_sum_to_be_between" and column == "missing_steps":
        missing = int(frame["missing_steps"].sum())
        expected = _expected_steps(frame, checks)
        also = f"; {nan} of the steps NaN" if nan else ""
        return (
            f"{name}: {missing} of {expected} expected steps missing "
            f"({missing / expected:.0%}, limit {checks.max_missing_fraction:.0%}{also})"
        )
    if kind == "expect_column_values_to_be_in_set" and column == "not_infinite":
        n, which = _rejected(frame, ~frame["not_infinite"].to_numpy())
        return f"{name}: {_count(n, 'infinite value')}: {which}"
    if kind == "expect_column_values_to_be_between" and column == "finite_value":
        n, which = _rejected(frame, _outside_bounds(frame, checks))
        return (
            f"{name}: {_count(n, 'value')} outside the signal's bounds {_bounds(checks)}: {which}"
        )
    if kind == "expect_column_values_to_be_between" and column == "plausible_value" and robust:
        n, which = _rejected(frame, _implausible(frame, robust))
        return (
            f"{name}: {_count(n, 'implausible value')}: {which}; allowed where the catalog "
            f"sets no bound: [{robust.low:.6g}, {robust.high:.6g}], the median "
            f"{robust.median:.6g} +- {checks.outlier_factor:g} x the robust spread "
            f"{robust.spread:.3g}, within +-{MAGNITUDE_LIMIT:g}"
        )
    return f"{name}: failed {kind}" + (f" on {column}" if column else "")


def _rejected(frame: pd.DataFrame, bad: np.ndarray) -> tuple[int, str]:
    """How many rows ``bad`` marks, and '1e+308, 3e+300 (first at ...)': which values
    (the range when more than three distinct) and where the first is."""
    values = frame["value"].to_numpy()[bad]
    distinct = sorted(set(values.tolist()))
    shown = (
        ", ".join(f"{v:g}" for v in distinct)
        if len(distinct) <= 3
        else f"{distinct[0]:g} to {distinct[-1]:g}"
    )
    rows = np.flatnonzero(bad)
    where = f" (first at {_iso(frame['timestamp'].iloc[rows[0]])})" if len(rows) else ""
    return len(values), shown + where


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
