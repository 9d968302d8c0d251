"""The one exception the results store raises, and the URL masking every message goes through."""

from __future__ import annotations

import logging
import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

logger = logging.getLogger(__name__)

# Fallback for strings SQLAlchemy cannot parse: hide everything from "user:" to the last "@".
_USERINFO_PASSWORD = re.compile(r"^(?P<head>(?:[^:/@]*://)?[^:/@]*:).*@")


class StoreError(Exception):
    """The results store could not do what was asked; the message names the store URL.

    Callers (DAG tasks, the CLI, the scaler) catch one type; the URL in the message has its
    password masked, so the error can go to Airflow logs and GitHub issues as it is.
    """


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USERINFO_PASSWORD.sub(r"\g<head>***@", url)
