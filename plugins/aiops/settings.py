"""Where the project keeps its files and its results database.

Every function reads the environment when it is called (never at import), so a test, the CLI
and an Airflow task that set ``AIOPS_HOME`` / ``AIOPS_STORE_URL`` differently each see their
own value.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from aiops.errors import PermanentError

logger = logging.getLogger(__name__)

AIOPS_HOME_ENV = "AIOPS_HOME"
STORE_URL_ENV = "AIOPS_STORE_URL"
STORE_FILENAME = "aiops.db"
# the Airflow pool every task that queries Prometheus runs in (created by `make demo`)
PROMETHEUS_POOL = "aiops_prometheus"
# ... and the pool of tasks that search Jaeger (created by `make demo`)
JAEGER_POOL = "aiops_jaeger"

# Airflow Connection URIs (and Heroku-style URLs) say ``postgres://``, which SQLAlchemy 2 no
# longer accepts; bare ``postgresql://`` would pick whatever driver SQLAlchemy defaults to.
# psycopg2 is the driver this project pins, so both are pinned to it.
_POSTGRES_PREFIXES = ("postgres://", "postgresql://")
_POSTGRES_DRIVER_PREFIX = "postgresql+psycopg2://"


def aiops_home() -> Path:
    """The folder for run outputs (the default SQLite store, reports): ``$AIOPS_HOME`` or ``out``.

    Relative paths stay relative to the current directory, as a user typing them expects.
    """
    return Path(os.environ.get(AIOPS_HOME_ENV) or "out")


def default_store_url() -> str:
    """A SQLite file under :func:`aiops_home`, as an absolute path.

    Absolute, so an Airflow task that runs in another working directory opens the same file.
    """
    path = (aiops_home() / STORE_FILENAME).resolve()
    return f"sqlite:///{path}"


def normalise_store_url(url: str) -> str:
    """Pin PostgreSQL URLs to the psycopg2 driver; leave every other URL unchanged."""
    for prefix in _POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return _POSTGRES_DRIVER_PREFIX + url[len(prefix) :]
    return url


def resolve_store_url(explicit: str | None = None) -> str:
    """The results store URL: ``explicit``, else ``$AIOPS_STORE_URL``, else the SQLite default.

    One function decides this so the CLI, the DAGs and the scaler cannot disagree on which
    database holds the results.
    """
    url = explicit or os.environ.get(STORE_URL_ENV) or default_store_url()
    return normalise_store_url(url.strip())


MODELS_ENV = "AIOPS_MODELS"
MODELS_DIRNAME = "models"


class ModelsRootError(PermanentError, ValueError):
    """``$AIOPS_MODELS`` names a local folder that does not exist; the message names both."""


def models_root() -> str:
    """Where the model registry lives: ``$AIOPS_MODELS`` (a folder or an fsspec URL such as
    ``s3://bucket/models``), else ``models`` under :func:`aiops_home`, made absolute.

    The default folder is created when first asked for (so a process that hands the path
    on, as the demo does to Airflow's tasks, hands on a folder that exists). A folder set
    explicitly is never created: it must exist, or :class:`ModelsRootError` is raised, since
    a mistyped path would otherwise train into a new empty folder while the hourly run finds
    no model and scores nothing, night after night, without an error. URLs are not checked
    (a bucket's "folder" exists once something is written under it).
    """
    root = (os.environ.get(MODELS_ENV) or "").strip()
    if not root:
        default = (aiops_home() / MODELS_DIRNAME).resolve()
        try:
            default.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only home: the registry's first write says more
            logger.debug("cannot create the default models folder %s: %s", default, exc)
        return str(default)
    if "://" in root:
        return root
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise ModelsRootError(
            f"{MODELS_ENV}={root}: {path} {what}; create it (mkdir -p {path}) or fix the "
            f"path, or unset {MODELS_ENV} to use {aiops_home() / MODELS_DIRNAME}"
        )
    return str(path)


FORECAST_CANDIDATES_ENV = "AIOPS_FORECAST_CANDIDATES"


def forecast_candidates(default: tuple[str, ...]) -> tuple[str, ...]:
    """The forecasters each series' backtest chooses from: ``$AIOPS_FORECAST_CANDIDATES``
    (comma-separated), else ``default``. Prophet costs seconds per series where the others
    cost milliseconds, so a fleet of thousands of series may leave it out."""
    listed = [c.strip() for c in os.environ.get(FORECAST_CANDIDATES_ENV, "").split(",")]
    return tuple(c for c in listed if c) or default


#: The AIOps page's "now" for staleness (ISO 8601 with a timezone); unset: the wall clock.
#: For a demo world or a backfill reviewed as of its end (aiops.airflow.page).
PAGE_NOW_ENV = "AIOPS_PAGE_NOW"
