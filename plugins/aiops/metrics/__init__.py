"""Metric anomaly detection: each service's signals scored against its learned baselines.

- `frames`: fetch a service's signals for a window and pass them through the quality gate;
- `pipeline`: the nightly training and the hourly scoring of a shard of services;
- `events`: per-point scores condensed into debounced events a person should hear about;
- `event_store`: the events in the results store, as each hourly run saw them;
- `series_summary`: how much of each series arrived for an interval (the ingest DAG);
- `status`: every catalog signal's model, history and newest point (`aiops status`);
- `offline`: `score_frame`, the hourly scoring on data in hand (`aiops score`);
- `series_csv`: a real-world two-column CSV made into a regular series, with a report of
  what was done;
- `detect_csv`: `aiops detect`, the causal detector over a timestamp,value CSV.
"""

from aiops.metrics.offline import score_frame

__all__ = ["score_frame"]
