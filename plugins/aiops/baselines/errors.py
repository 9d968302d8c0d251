"""Errors of the baselines package."""

from __future__ import annotations


class BaselineError(ValueError):
    """Input a baseline cannot use; the message names the series or the value that was wrong."""


class InsufficientHistoryError(BaselineError):
    """No series had `min_days` of data to learn from."""
