"""Trace analytics: parse Jaeger traces, map service dependencies, find bottlenecks.

`analyze_traces(raw_traces, window=...)` is the entry point; `aiops traces analyze` and the
nightly DAG are thin shells over it. The detectors it runs, with the kinds of finding each
emits, are registered in `aiops.traces.detectors`.
"""
