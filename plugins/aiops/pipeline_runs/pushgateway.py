"""Push a run's summary to a Prometheus Pushgateway, so operators see the pipeline's own health.

Batch runs are not scraped while they run; each DAG run pushes its figures once, at its end,
to a Pushgateway that Prometheus scrapes (``honor_labels: true``, as the Pushgateway's own
documentation asks, so ``job`` and ``dag`` stay as pushed). Alert rules for the pipeline
itself are in ``include/prometheus/aiops-alerts.yml``.

Where to push: ``$AIOPS_PUSHGATEWAY_URL`` (:func:`pushgateway_url`), e.g.
``http://pushgateway:9091``; unset or empty means "do not push". ``user:password@`` in the URL
is sent as basic auth and masked in every message.

Groups. Every push is a PUT of the whole group ``{job="aiops", dag=<dag_id>}`` (Pushgateway
``/metrics/job/aiops/dag/<dag_id>``; ``prometheus_client.push_to_gateway`` uses PUT), so
each DAG's newest run replaces everything its previous run pushed: no series of an earlier
run survive with other labels, and each DAG's group is left alone by the others. Pass
``backfill=True`` for runs that are not the newest interval (Airflow backfills, a cleared
old run): they go to ``{job="aiops", dag=<dag_id>, run_type="backfill"}`` instead, so a
backfill never makes the live figures look old. The alert rules select ``run_type=""``.

Time. The run's figures and ``aiops_run_interval_*_timestamp_seconds`` and
``aiops_predictions_*`` are data time (the Airflow data interval). Two gauges are wall clock,
because they are operational facts, not results: ``aiops_run_last_success_timestamp_seconds``
(``clock()`` when the push is made, which is what "no successful run for 3 hours" compares
``time()`` against) and ``aiops_run_duration_seconds`` (from ``started_at``, when given).

Metrics (gauges: each is one run's count, not a counter that only grows, hence no
``_total``); every one carries ``job``, ``dag`` (and ``run_type`` for backfills):

=====================================================  ============  ===========================
``aiops_run_interval_start_timestamp_seconds``                       data interval start
``aiops_run_interval_end_timestamp_seconds``                         data interval end
``aiops_run_last_success_timestamp_seconds``                         wall clock of the push
``aiops_run_duration_seconds``                                       wall clock, with started_at
``aiops_run_series``                                                 series summarised
``aiops_run_points`` / ``aiops_run_expected_points``                 samples that arrived / due
``aiops_run_quarantined``                              ``kind``      frames, traces, log_lines,
                                                                     training_frames
``aiops_run_quarantined_series``                                     (service, signal) pairs
``aiops_run_events``                                   ``kind``      anomaly, no_data
``aiops_run_events_started``                                         anomaly events begun in it
``aiops_run_predictive_alerts``                                      predicted SLO breaches
``aiops_run_predictions`` / ``..._predicted_series``                 forecast rows / series
``aiops_predictions_newest_timestamp_seconds``                       newest generated_at <= end
``aiops_predictions_staleness_seconds``                              end minus that
``aiops_run_incidents`` / ``aiops_run_open_incidents``               incidents of the interval
``aiops_run_findings``                                               findings of the interval
``aiops_run_issues_filed``                                           issues first filed for it
``aiops_llm_calls`` / ``aiops_llm_skipped_calls``                    the data day's, all runs
``aiops_llm_tokens``                                   ``direction`` input, output
``aiops_llm_cost_usd`` / ``aiops_llm_budget_usd``                    spent on the day / budget
=====================================================  ============  ===========================

A figure the DAG's summary does not count (None) is not pushed at all.

Failure. Each push has a timeout and bounded retries with backoff (:mod:`aiops.retry`), and
:func:`push_run` never raises: a failed push must not fail the run whose results are already
stored. It returns a :class:`PushOutcome` whose ``line()`` the caller logs; a failure names
the Pushgateway URL and what went wrong.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import requests
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from aiops.retry import RetriesExhausted, RetryPolicy, excerpt, redact_url, send_with_retry

logger = logging.getLogger(__name__)

PUSHGATEWAY_URL_ENV = "AIOPS_PUSHGATEWAY_URL"
JOB = "aiops"
BACKFILL = "backfill"
#: Seconds one HTTP attempt may take (connect and read).
DEFAULT_TIMEOUT = 10.0
#: Three attempts, 1 s then 2 s apart: a Pushgateway restarting gets a few seconds, a run
#: never waits long for its metrics.
DEFAULT_POLICY = RetryPolicy(attempts=3, backoff=1.0, multiplier=2.0, max_backoff=10.0)

# (metric, help, label name or None, {label value or None: summary column})
_RUN_GAUGES: tuple[tuple[str, str, str | None, dict[str | None, str]], ...] = (
    ("aiops_run_series", "Series summarised for the run's interval.", None, {None: "series"}),
    ("aiops_run_points", "Samples that arrived for the interval's series.", None,
     {None: "points"}),
    ("aiops_run_expected_points", "Samples the interval's series should have had.", None,
     {None: "expected_points"}),
    ("aiops_run_quarantined", "Items the run's interval quarantined, by kind.", "kind", {
        "frames": "quarantined_frames",
        "traces": "quarantined_traces",
        "log_lines": "quarantined_log_lines",
        "training_frames": "quarantined_training_frames",
    }),
    ("aiops_run_quarantined_series", "(service, signal) pairs with a quarantined frame.", None,
     {None: "quarantined_series"}),
    ("aiops_run_events", "Anomaly events overlapping the interval, by kind.", "kind",
     {"anomaly": "events", "no_data": "no_data_events"}),
    ("aiops_run_events_started", "Anomaly events that began inside the interval.", None,
     {None: "events_started"}),
    ("aiops_run_predictive_alerts", "Predicted SLO breaches made at the interval end.", None,
     {None: "predictive_alerts"}),
    ("aiops_run_predictions", "Forecast rows still stored from the interval end.", None,
     {None: "predictions"}),
    ("aiops_run_predicted_series", "(service, metric) pairs forecast at the interval end.",
     None, {None: "predicted_series"}),
    ("aiops_predictions_staleness_seconds",
     "Interval end minus the newest forecast's generated_at at or before it (data time).",
     None, {None: "prediction_staleness_seconds"}),
    ("aiops_run_incidents", "Incidents of the interval.", None, {None: "incidents"}),
    ("aiops_run_open_incidents", "Incidents of the interval still open at its end.", None,
     {None: "open_incidents"}),
    ("aiops_run_findings", "Findings of the interval.", None, {None: "findings"}),
    ("aiops_run_issues_filed", "Issues first filed for the interval.", None,
     {None: "issues_filed"}),
    ("aiops_llm_calls", "Language-model calls charged to the interval's data day.", None,
     {None: "llm_calls"}),
    ("aiops_llm_skipped_calls", "Language-model calls skipped for the data day's budget.", None,
     {None: "llm_over_budget"}),
    ("aiops_llm_tokens", "Language-model tokens charged to the data day, by direction.",
     "direction", {"input": "llm_input_tokens", "output": "llm_output_tokens"}),
    ("aiops_llm_cost_usd", "Language-model spending charged to the data day, in USD.", None,
     {None: "llm_cost_usd"}),
)  # fmt: skip


def pushgateway_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The Pushgateway to push to: ``$AIOPS_PUSHGATEWAY_URL`` (e.g. ``http://pushgateway:9091``),
    or None when it is unset or empty, which means "do not push"."""
    value = (os.environ if environ is None else environ).get(PUSHGATEWAY_URL_ENV, "")
    return value.strip() or None


def grouping_key(dag_id: str, *, backfill: bool = False) -> dict[str, str]:
    """The Pushgateway group of a DAG's runs (``job`` comes on top): the newest live run of
    each DAG, or its newest backfilled run."""
    key = {"dag": dag_id}
    if backfill:
        key["run_type"] = BACKFILL
    return key


def run_registry(
    summary: Mapping[str, Any],
    *,
    finished_at: float,
    started_at: float | None = None,
    llm_budget_usd: float | None = None,
) -> CollectorRegistry:
    """A fresh registry holding one run's gauges (see the module docstring).

    ``summary`` is a :func:`aiops.pipeline_runs.summary.run_summary` row; ``finished_at`` and
    ``started_at`` are wall-clock Unix times; ``llm_budget_usd`` is the catalog's daily
    budget (``catalog.llm.daily_budget_usd``), pushed only with the LLM figures.
    """
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, documentation: str, value: float, **labels: str) -> None:
        metric = Gauge(name, documentation, list(labels), registry=registry)
        (metric.labels(**labels) if labels else metric).set(value)

    gauge("aiops_run_interval_start_timestamp_seconds", "Start of the run's data interval.",
          summary["interval_start"].timestamp())  # fmt: skip
    gauge("aiops_run_interval_end_timestamp_seconds", "End of the run's data interval.",
          summary["interval_end"].timestamp())  # fmt: skip
    gauge(
        "aiops_run_last_success_timestamp_seconds",
        "Wall-clock time the run's last successful push was made.",
        finished_at,
    )
    if started_at is not None:
        gauge(
            "aiops_run_duration_seconds",
            "Wall-clock seconds from the run's start to its push.",
            max(0.0, finished_at - started_at),
        )
    newest = summary.get("prediction_newest_at")
    if newest is not None:
        gauge(
            "aiops_predictions_newest_timestamp_seconds",
            "generated_at of the newest forecast at or before the interval end (data time).",
            newest.timestamp(),
        )
    for name, documentation, label, columns in _RUN_GAUGES:
        values = {key: summary.get(column) for key, column in columns.items()}
        values = {key: value for key, value in values.items() if value is not None}
        if not values:
            continue
        metric = Gauge(name, documentation, [label] if label else [], registry=registry)
        for key, value in values.items():
            (metric.labels(key) if label else metric).set(float(value))
    if llm_budget_usd is not None and summary.get("llm_cost_usd") is not None:
        gauge("aiops_llm_budget_usd", "The daily language-model budget, in USD.", llm_budget_usd)
    return registry


@dataclass(frozen=True)
class PushOutcome:
    """What became of one push: ``status`` is ``pushed``, ``failed`` or ``skipped``."""

    status: Literal["pushed", "failed", "skipped"]
    url: str  # the group's URL, any password masked ("" when skipped)
    grouping_key: Mapping[str, str] = field(default_factory=dict)
    samples: int = 0
    attempts: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True unless a push was attempted and failed (skipping is not a failure)."""
        return self.status != "failed"

    def line(self) -> str:
        """One line for the task log."""
        if self.status == "pushed":
            return f"pushed {self.samples} samples to {self.url} ({self.attempts} attempt(s))"
        if self.status == "skipped":
            return f"metrics not pushed: {self.detail}"
        return f"metrics push failed after {self.attempts} attempt(s): {self.detail}"


class PushRejected(Exception):
    """The Pushgateway answered, but not with success."""


def push_run(
    url: str | None,
    summary: Mapping[str, Any],
    *,
    clock: Callable[[], float] = time.time,
    started_at: datetime | float | None = None,
    backfill: bool = False,
    llm_budget_usd: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> PushOutcome:
    """Push one run's summary to the Pushgateway at ``url`` (None: skip); never raises.

    ``clock`` gives the wall-clock finish time (``aiops_run_last_success_timestamp_seconds``);
    call this only once the run's results are stored and the run succeeded, because the push
    replaces the DAG's group. ``started_at`` (a datetime or Unix time: Airflow's
    ``dag_run.start_date``) adds ``aiops_run_duration_seconds``. ``timeout`` bounds each
    attempt; ``policy`` bounds the attempts and the backoff (by default at most 3 attempts
    of 10 s and 3 s of waiting: a push never holds a run up for more than about 35 s);
    ``sleep`` is for tests.
    """
    key = grouping_key(summary["dag_id"], backfill=backfill)
    if not url:
        return PushOutcome(
            "skipped",
            "",
            key,
            detail=f"no Pushgateway configured (${PUSHGATEWAY_URL_ENV} is empty)",
        )
    shown = redact_url(url)
    try:
        finished = float(clock())
        began = started_at.timestamp() if isinstance(started_at, datetime) else started_at
        registry = run_registry(
            summary, finished_at=finished, started_at=began, llm_budget_usd=llm_budget_usd
        )
        samples = sum(len(family.samples) for family in registry.collect())
    except Exception as exc:  # a summary that cannot be turned into metrics
        logger.exception("metrics for %s not built", summary.get("dag_id"))
        return PushOutcome("failed", shown, key, detail=f"Pushgateway {shown}: {exc}")
    sent = _Sender(policy, sleep, timeout)
    try:
        push_to_gateway(
            url, job=JOB, registry=registry, grouping_key=key, timeout=timeout, handler=sent
        )
    except RetriesExhausted as exc:
        outcome = PushOutcome(
            "failed", sent.shown or shown, key, samples, exc.attempts,
            f"Pushgateway {sent.shown or shown}: {exc}",
        )  # fmt: skip
    except Exception as exc:  # never fail the run for its metrics
        outcome = PushOutcome(
            "failed", sent.shown or shown, key, samples, max(sent.attempts, 1),
            f"Pushgateway {sent.shown or shown}: {type(exc).__name__}: {excerpt(str(exc), 300)}",
        )  # fmt: skip
    else:
        outcome = PushOutcome("pushed", sent.shown, key, samples, sent.attempts)
    log = logger.info if outcome.status == "pushed" else logger.warning
    log("%s", outcome.line())
    return outcome


class _Sender:
    """A ``push_to_gateway`` handler that sends with ``requests`` under the project's retry
    policy, and remembers the group URL and the attempts it took."""

    def __init__(self, policy: RetryPolicy, sleep: Callable[[float], None], timeout: float):
        self.policy, self.sleep, self.timeout = policy, sleep, timeout
        self.shown = ""
        self.attempts = 0

    def __call__(
        self,
        url: str,
        method: str,
        timeout: float | None,
        headers: list[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        self.shown = redact_url(url)

        def send() -> None:
            retried = send_with_retry(
                lambda: requests.request(
                    method, url, data=data, headers=dict(headers), timeout=self.timeout
                ),
                self.policy,
                sleep=self.sleep,
                what=f"push to Pushgateway {self.shown}",
            )
            self.attempts = retried.attempts
            response = retried.value
            if not 200 <= response.status_code < 300:
                raise PushRejected(f"HTTP {response.status_code}: {excerpt(response.text)}")

        return send
