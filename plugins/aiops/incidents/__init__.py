"""Incidents: metric, log and predictive events grouped into one problem each, with its
likely root cause ranked on the trace-derived dependency map.

`pipeline.record_incidents(store, settings, start, end)` is the hourly step (correlate the
interval, store its incidents); `pipeline.record_day` is what the night makes of a day (its
incidents as findings for the issue sink, and the alert-volume figure).
"""
