"""Predictive alerts and scaling values from forecasts: what the hourly run adds to anomaly
scoring. `breach` finds when a forecast crosses an SLO threshold, `scaling` turns predicted
load into replicas, `pipeline` trains forecasters nightly and predicts hourly per service."""
