"""Every table of the results store, declared once on one ``MetaData``.

Result tables are keyed by the data interval (plus what the row is about), never by a run id
or the wall clock, so a rerun or backfill of an interval upserts the very same rows. For the
same reason they hold no "written at" columns: a rerun must write byte-identical rows.

To add a table: declare it here on ``metadata``; ``Store.open`` creates it in existing
databases too. Changing an existing table also needs a step in ``migrations.py``.
"""

from __future__ import annotations

import logging

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, Text

from aiops.store.types import JSONDoc, JSONList, UTCDateTime

logger = logging.getLogger(__name__)

# Stable constraint names, so migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

SCHEMA_VERSION_TABLE = "schema_version"

# One row per schema version this database reached; the highest is its current version.
schema_version = Table(
    SCHEMA_VERSION_TABLE,
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
)

# What one interval of one (service, signal) series looked like when it was pulled:
# completeness (points vs expected, gaps), finiteness and a few statistics. Quality checks and
# the run summary read it; a rerun of the interval replaces the row.
series_summary = Table(
    "series_summary",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("service", String, primary_key=True),
    Column("signal", String, primary_key=True),
    Column("source", String, nullable=False),  # "prometheus" or a file source's name
    Column("query", Text, nullable=False),
    Column("step_seconds", Float, nullable=False),
    Column("points", Integer, nullable=False),
    Column("expected_points", Integer, nullable=False),
    Column("gaps", Integer, nullable=False),  # number of missing steps
    Column("max_gap_seconds", Float, nullable=False),
    Column("non_finite", Integer, nullable=False),
    Column("value_min", Float),
    Column("value_max", Float),
    Column("value_mean", Float),
    Column("value_last", Float),
    Column("first_ts", UTCDateTime),
    Column("last_ts", UTCDateTime),
    Column("warnings", JSONList),  # JSON list of strings; None is stored as []
)

# A frame that failed its data-quality suite, kept with the validation report instead of being
# dropped or used. `stage` says which job refused it ("score" hourly, "train" nightly).
quarantine = Table(
    "quarantine",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("service", String, primary_key=True),
    Column("signal", String, primary_key=True),
    Column("stage", String, primary_key=True),
    Column("suite", String, nullable=False),
    Column("reason", Text, nullable=False),  # one line per failed expectation
    Column("points", Integer, nullable=False),
    Column("report", JSONDoc),  # the great-expectations validation result, as JSON
)


def _anomaly_event_columns() -> list[Column]:
    """What an anomaly event is, shared by the newest view and the per-run snapshots."""
    return [
        Column("service", String, primary_key=True),
        Column(
            "signal", String, primary_key=True
        ),  # a signal name, or "*" for the multivariate detector
        Column("kind", String, primary_key=True),  # "anomaly" | "no_data"
        Column("start", UTCDateTime, primary_key=True),
        Column("end", UTCDateTime, nullable=False),  # exclusive: first normal step after it
        Column("severity", String, nullable=False),  # "info" | "warning" | "critical"
        Column("confidence", Float, nullable=False),  # [0, 1]
        Column("direction", String, nullable=False),  # "above" | "below" | "none"
        Column("points", Integer, nullable=False),  # raw anomalous points condensed into it
        Column("peak_score", Float, nullable=False),  # calibrated peak, in sigma (metrics.events)
        Column("observed", Float),  # value at the peak
        Column("expected_low", Float),
        Column("expected_high", Float),
        Column("explanation", Text, nullable=False),
        Column("detector", String, nullable=False),
        Column("model_version", String, nullable=False),
        Column("context", JSONDoc),  # anything later stages attach (log anomalies)
        # the signal's kind (traffic, errors, latency, saturation, other): how root-cause
        # ranking lets it propagate; None for events stored before it was recorded
        Column("signal_kind", String),
    ]


# One row per anomaly event: a debounced run of anomalous points (or a "no data" stretch) of
# one (service, signal), as the newest run that saw it left it. Keyed by its start, so the
# hourly run that sees a deviation continue extends the same row, and a rerun or backfill of
# an interval rewrites it unchanged. `as_of` is the end of the interval whose run wrote the
# row: a rerun of an older hour never shrinks what a newer hour extended
# (Store.upsert(..., newer="as_of")).
anomaly_events = Table(
    "anomaly_events",
    metadata,
    *_anomaly_event_columns(),
    Column("as_of", UTCDateTime, nullable=False),
)

# Each hourly run's view of the events it wrote: the row of `anomaly_events` as the run whose
# interval ends at `as_of` left it (replaced per service and run). Incident correlation reads
# the newest snapshot made by its interval's end, so rerunning an hour after later hours ran
# sees what the hour saw first: not an event a later hour first detected, nor its growth.
anomaly_event_snapshots = Table(
    "anomaly_event_snapshots",
    metadata,
    *_anomaly_event_columns(),
    Column("as_of", UTCDateTime, primary_key=True, index=True),  # read by run: as_of <= end
)

# The forecast of one (service, metric) at one target time, as the newest hourly run made it.
# The hourly run whose interval ends at `generated_at` writes the next `horizon` of target
# times; a later run overwrites the overlap, and an older run (a backfill) never replaces a
# newer row (Store.upsert(..., newer="generated_at")). The KEDA scaler serves these rows.
predictions = Table(
    "predictions",
    metadata,
    Column("service", String, primary_key=True),
    Column("metric", String, primary_key=True),  # a catalog signal name, e.g. "request_rate"
    Column("target_time", UTCDateTime, primary_key=True),
    Column("generated_at", UTCDateTime, nullable=False),  # end of the data interval it came from
    Column("value", Float, nullable=False),  # mean forecast
    Column("lower", Float),  # 80% interval
    Column("upper", Float),
    Column("scaling_value", Float),  # the value replicas follow: mean or the interval's upper end
    Column("desired_replicas", Integer),  # for the service's scaling metric only: at target + lead
    Column("observed", Float),  # last observed value before generated_at: the stale fallback
    Column("observed_at", UTCDateTime),
    Column("model", String, nullable=False),  # the chosen candidate, e.g. "prophet"
    Column("model_version", String, nullable=False),
)

# A predicted SLO breach: when the forecast of a signal crosses its catalog threshold within
# the horizon. One row per (service, signal, run); a run that sees no crossing writes none.
predictive_alerts = Table(
    "predictive_alerts",
    metadata,
    Column("service", String, primary_key=True),
    Column("signal", String, primary_key=True),
    Column("generated_at", UTCDateTime, primary_key=True),  # end of the data interval
    Column("severity", String, nullable=False),  # "warning" (mean crosses) | "info" (upper only)
    Column("threshold", Float, nullable=False),
    Column("observed", Float),  # last observed value before generated_at
    Column("breach_at", UTCDateTime),  # the mean forecast's first crossing (None: upper only)
    Column("breach_earliest", UTCDateTime),  # the interval's upper end crosses first
    Column("breach_latest", UTCDateTime),  # the lower end's crossing (None: not within horizon)
    Column("horizon_seconds", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("model", String, nullable=False),
    Column("model_version", String, nullable=False),
    # the last day and the forecast as the run saw them (aiops.pictures ForecastPicture):
    # drawn in the alert's issue; kept here because later runs overwrite the predictions
    Column("picture", JSONDoc),
)

# One row per trace-analysis window (a day for the nightly run): what was read, what was
# repaired or dropped and why, and where the time went.
trace_runs = Table(
    "trace_runs",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("source", String, nullable=False),  # the Jaeger endpoint or the files read
    Column("traces", Integer, nullable=False),
    Column("spans", Integer, nullable=False),
    Column("dropped", Integer, nullable=False),  # traces quarantined in trace_quarantine
    Column("issues", JSONDoc, nullable=False),  # repairs and drops by reason
    Column("operations", JSONList, nullable=False),  # top operations by critical-path time
    Column("edge_diff", JSONDoc),  # against the previous window's map (None: no previous)
)

# The dependency map of a window: one row per caller -> callee.
dependency_edges = Table(
    "dependency_edges",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("parent", String, primary_key=True),
    Column("child", String, primary_key=True),
    Column("call_count", Integer, nullable=False),
    Column("error_count", Integer, nullable=False),
    Column("error_rate", Float, nullable=False),
    Column("p50_ms", Float, nullable=False),
    Column("p95_ms", Float, nullable=False),
    Column("p99_ms", Float, nullable=False),
    Column("operations", JSONList, nullable=False),
    Column("instrumented", Boolean, nullable=False),
    Column("asynchronous", Boolean, nullable=False),
)

# Findings of every analysis, one row per problem (fingerprint) and window. The columns are
# what dashboards sort and filter on; `finding` is the whole record (aiops.findings.Finding).
findings = Table(
    "findings",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("source", String, primary_key=True),  # "traces", "logs", ...
    Column("fingerprint", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("service", String, nullable=False),
    Column("operation", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("ms_per_request", Float, nullable=False),
    Column("requests_affected", Integer, nullable=False),
    Column("requests_per_day", Float),
    Column("p95_share", Float),
    Column("expected_saving_ms", Float),
    Column("safety", String, nullable=False),
    Column("effort", String, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("finding", JSONDoc, nullable=False),
)

# Traces that could not be analysed, kept whole with the reason, never silently dropped.
trace_quarantine = Table(
    "trace_quarantine",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("origin", String, primary_key=True),  # "file.json: data[3]" or "<endpoint> #n"
    Column("trace_id", String, nullable=False),
    Column("reason", String, nullable=False),
    Column("detail", Text, nullable=False),
    Column("raw", JSONDoc),  # the trace as received ({"value": ...} when not an object)
)

# What the issue sink filed: one row per problem (fingerprint) and repository per sink (a
# GitHub API base URL, or the dry-run folder). Intervals, not the wall clock, say what was
# written when: a run whose interval ends at or before `last_interval_end` writes nothing, so
# a rerun or a backfill of a filed interval makes no write call.
issue_ledger = Table(
    "issue_ledger",
    metadata,
    Column("sink", String, primary_key=True),  # "https://api.github.com", "file:///.../issues"
    Column("repository", String, primary_key=True),  # "owner/repo"
    Column("fingerprint", String, primary_key=True),
    Column("number", Integer),  # None in the dry-run sink
    Column("url", Text, nullable=False),  # the issue's page, or its file
    Column("state", String, nullable=False),  # "open" | "closed", as last seen
    Column("state_reason", String),  # GitHub's: "completed", "not_planned", "duplicate", ...
    Column("kind", String, nullable=False),
    Column("service", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("first_interval_end", UTCDateTime, nullable=False),  # the interval it was filed for
    Column("last_interval_end", UTCDateTime, nullable=False),  # the newest interval considered
    Column("last_write_day", String, nullable=False),  # UTC day of the newest written evidence
    Column("comments", Integer, nullable=False),  # evidence comments added
    # the finding (Finding.to_json()) last written to the issue: created, commented, reopened;
    # what a kind's worth_telling compares today's against. NULL (read as {}): rows from before v5
    Column("last_told", JSONDoc),
)

# Log lines per service and time bucket (5 minutes), zeros included for every bucket mined:
# what the template counts are compared against, and how a quiet service is told from one
# whose logs were never read. Written by whichever run mined the bucket (a catch-up writes
# the hours before its interval), always with the same values.
log_volume = Table(
    "log_volume",
    metadata,
    Column("service", String, primary_key=True),
    Column("bucket_start", UTCDateTime, primary_key=True),
    Column("lines", Integer, nullable=False),
    Column("errors", Integer, nullable=False),  # ERROR and FATAL lines
    Column("warnings", Integer, nullable=False),
    Column("unmatched", Integer, nullable=False),  # continuation lines kept whole
    Column("quarantined", Integer, nullable=False),
)

# Lines per template per bucket (only buckets where the template occurred).
log_template_counts = Table(
    "log_template_counts",
    metadata,
    Column("service", String, primary_key=True),
    Column("template_id", String, primary_key=True),
    Column("bucket_start", UTCDateTime, primary_key=True),
    Column("count", Integer, nullable=False),
)

# What the logs said about one service in one interval: a template's spike, drop or
# silence against its baseline, a template never seen before, the error ratio. Replaced per
# interval; the hourly scorer copies the rows into the context of the service's events.
log_anomalies = Table(
    "log_anomalies",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("service", String, primary_key=True),
    Column("kind", String, primary_key=True),  # spike|drop|silence|new_template|error_ratio
    Column("template_id", String, primary_key=True),  # "" for the error ratio
    Column("template", Text, nullable=False),
    Column("level", String, nullable=False),
    Column("observed", Float, nullable=False),
    Column("expected", Float),
    Column("score", Float, nullable=False),  # robust z (new templates: their line count)
    Column("detail", JSONDoc, nullable=False),  # samples (PII-masked), first seen, baseline
)

# Log lines and documents that could not be read (no timestamp, bad JSON, no message), kept
# with the reason and where they are, the text PII-masked.
log_quarantine = Table(
    "log_quarantine",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("origin", String, primary_key=True),  # "payment.log:1234", "logs-x/<_id>"
    Column("service", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
)

# One incident as the hourly run of an interval saw it: the events that are one problem
# (grouped by time and the dependency map), its ranked root-cause candidates, the causal
# chain and the events themselves. A row per (interval, incident), so a rerun of an hour
# rewrites that hour's view and the next hour's view of the same incident (same ID) is kept
# beside it; the newest row is the incident's current state.
incidents = Table(
    "incidents",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("incident_id", String, primary_key=True),  # stable across the hours it spans
    Column("start", UTCDateTime, nullable=False),
    Column("end", UTCDateTime, nullable=False),
    Column("status", String, nullable=False),  # "open" | "resolved"
    Column("severity", String, nullable=False),
    Column("root_service", String, nullable=False),  # the first-ranked candidate
    Column("root_signal", String, nullable=False),
    Column("root_score", Float, nullable=False),
    Column("method", String, nullable=False),  # random_walk | onset_order | single_service
    Column("confidence", Float, nullable=False),
    Column("services", JSONList, nullable=False),
    Column("metric_events", Integer, nullable=False),
    Column("log_events", Integer, nullable=False),
    Column("predictive_events", Integer, nullable=False),
    Column("points", Integer, nullable=False),  # raw anomalous points behind its events
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("graph_window", String, nullable=False),  # the trace map used ("" without one)
    Column("ranking", JSONDoc, nullable=False),  # candidates with score parts, chain, note
    Column("events", JSONList, nullable=False),  # the member events (IncidentEvent JSON)
)

# How much correlation saved people from reading, per day (the nightly interval): raw
# anomalous points -> events -> incidents.
alert_volume = Table(
    "alert_volume",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("points", Integer, nullable=False),
    Column("metric_events", Integer, nullable=False),
    Column("log_events", Integer, nullable=False),
    Column("predictive_events", Integer, nullable=False),
    Column("events", Integer, nullable=False),
    Column("incidents", Integer, nullable=False),
    Column("multi_service_incidents", Integer, nullable=False),
)

# What the language model wrote for one finding of an interval, or why it did not (no key,
# over budget, an API error, invalid output twice): the issue renders it next to the
# evidence. Replaced per interval, so a rerun (answered from the cache) writes the same rows.
narratives = Table(
    "narratives",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("fingerprint", String, primary_key=True),
    Column("use", String, nullable=False),  # "explain" (trace findings) | "narrate" (incidents)
    Column("status", String, nullable=False),  # "generated" | "rule_based"
    Column("reason", Text, nullable=False),  # why rule-based ("" when generated)
    Column("model", String, nullable=False),  # "" when rule-based
    Column("content", JSONDoc, nullable=False),  # the validated structured answer
    Column("prompt_hash", String, nullable=False),
)

# Answers reused while fresh: keyed by the model and the hash of exactly what was sent for
# one item (system prompt, tool schema, the item's masked text), so an unchanged finding
# costs nothing the next night. `created_at` is the data-interval end of the run that paid
# for it; freshness is measured against the asking run's interval end, not the wall clock.
llm_cache = Table(
    "llm_cache",
    metadata,
    Column("model", String, primary_key=True),
    Column("prompt_hash", String, primary_key=True),
    Column("task", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("content", JSONDoc, nullable=False),
)

# Every Messages API call made (and every call skipped for the budget): an audit of real
# spending, appended, never replaced (a rerun that pays again must count against the day).
# `day` is the data interval's UTC day the budget is charged to; `run` names the task and
# interval; `seq` orders the run's calls.
llm_usage = Table(
    "llm_usage",
    metadata,
    Column("day", String, primary_key=True),  # "2026-10-30"
    Column("run", String, primary_key=True),  # "narrate [2026-10-30T00:00:00Z, ...)"
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("task", String, nullable=False),
    Column("model", String, nullable=False),
    Column("outcome", String, nullable=False),  # ok | invalid | error | over_budget
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("detail", Text, nullable=False),
)

# The pipeline's own health, one row per DAG run's data interval (aiops.pipeline_runs.summary): what
# the run left in the store, counted back from the tables above. Counts only, all from data
# time, so a rerun of the interval upserts the same key with the same values when the store
# holds the same results. When the run finished and how long it took are wall-clock facts:
# they go to the Pushgateway (aiops.pipeline_runs.pushgateway), never into this table. A column is
# NULL when the DAG's summary does not count that part (aiops.pipeline_runs.summary.DAG_PARTS).
pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("dag_id", String, primary_key=True),
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("parts", JSONList, nullable=False),  # what was counted, e.g. ["events", "series"]
    Column("series", Integer),  # (service, signal) pairs in series_summary of the interval
    Column("points", Integer),  # samples those series had ...
    Column("expected_points", Integer),  # ... of the samples their grid expected
    Column("quarantined_frames", Integer),  # quarantine rows of the interval (every stage)
    Column("quarantined_series", Integer),  # distinct (service, signal) among them
    Column("quarantined_traces", Integer),  # trace_quarantine rows of the interval
    Column("quarantined_log_lines", Integer),  # log_quarantine rows of the interval
    Column("quarantined_training_frames", Integer),  # stage "train", window ending at the end
    Column("events", Integer),  # anomaly events overlapping the interval
    Column("events_started", Integer),  # ... of which started inside it
    Column("no_data_events", Integer),  # "no data" events overlapping the interval
    Column("predictive_alerts", Integer),  # predictive_alerts generated at the interval end
    Column(
        "predictions", Integer
    ),  # forecasts made at the interval end for targets up to end + (end - start)
    Column("predicted_series", Integer),  # distinct (service, metric) among them
    Column("prediction_newest_at", UTCDateTime),  # newest generated_at at or before the end
    Column("prediction_staleness_seconds", Float),  # end - prediction_newest_at
    Column("not_configured", JSONList),  # optional integrations the run went without, e.g. ["logs"]
    Column("incidents", Integer),  # incident rows of the interval
    Column("open_incidents", Integer),
    Column("findings", Integer),  # findings rows of the interval (every source)
    Column("issues_filed", Integer),  # issue_ledger rows first filed for the interval
    Column("llm_day", String),  # the data day the LLM figures are for: "2026-10-30"
    Column("llm_calls", Integer),  # Messages API calls charged to that day (all runs)
    Column("llm_over_budget", Integer),  # calls skipped for the day's budget
    Column("llm_input_tokens", Integer),
    Column("llm_output_tokens", Integer),
    Column("llm_cost_usd", Float),
)
