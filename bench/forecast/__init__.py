"""Helpers of bench/bench_forecast.py: the data it forecasts and the hold-out protocol."""
