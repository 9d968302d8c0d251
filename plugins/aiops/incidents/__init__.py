"""Incidents: metric, log and predictive events grouped into one problem each, with its
likely root cause ranked on the trace-derived dependency map.

`pipeline.correlate_window(store, start, end, settings)` is the hourly entry point;
`report.incident_finding` and `report.alert_volume` are what the night makes of a day.
"""
