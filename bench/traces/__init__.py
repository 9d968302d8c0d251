"""Helpers of bench/bench_traces.py: the Jaeger JSON files it analyses."""
