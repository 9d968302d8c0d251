"""Small catalogs for tests: the default signal templates once, the services per test."""

from __future__ import annotations

DEFAULTS = """version: 1
defaults:
  signals:
    request_rate: {query: 'sum(rate(http_requests_total{service="${service}"}[5m]))', unit: req/s}
    error_ratio: {query: 'sum(rate(errors_total{service="${service}"}[5m]))', unit: ratio, max: 1}
    latency_p95: {query: 'max(latency_seconds{service="${service}"})', unit: s}
    cpu: {query: 'sum(rate(cpu_seconds_total{service="${service}"}[5m]))', unit: cores}
    memory: {query: 'max(resident_memory_bytes{service="${service}"})', unit: bytes}
services:
"""


def catalog_yaml(services: str) -> str:
    """A whole catalog file: the default templates plus `services` (YAML indented by two)."""
    return DEFAULTS + services
