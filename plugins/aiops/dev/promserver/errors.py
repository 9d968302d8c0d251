"""Errors of the local-Prometheus helpers."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class PromServerError(Exception):
    """Installing, backfilling, starting or stopping the local Prometheus failed."""


class PrometheusNotInstalled(PromServerError):
    """The prometheus / promtool binaries are not on PATH and could not be installed."""


class BackfillFailed(PromServerError):
    """promtool could not turn the OpenMetrics file into TSDB blocks."""


class ServerStartFailed(PromServerError):
    """Prometheus exited or did not become ready in time."""


def output_tail(text: str, lines: int = 20) -> str:
    """The last ``lines`` lines of a command's output, for an error message."""
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"
