"""Logs: one record type for every source, template mining, and log anomalies."""
