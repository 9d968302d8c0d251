"""Metric anomaly detection: each service's signals scored against its learned baselines.

- `frames`: fetch a service's signals for a window and pass them through the quality gate;
- `pipeline`: the nightly training and the hourly scoring of a shard of services;
- `events`: per-point scores condensed into debounced events a person should hear about;
- `event_store`: the events in the results store, as each hourly run saw them;
- `series_summary`: how much of each series arrived for an interval (the ingest DAG);
- `detect_csv`: `aiops detect`, the causal detector over a timestamp,value CSV.
"""
