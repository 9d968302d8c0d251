"""Errors of the forecast package."""

from __future__ import annotations


class ForecastError(ValueError):
    """Input a forecaster cannot use; the message names the series or the value that was wrong."""
