"""A real Prometheus on loopback for the demo and the tests: install, backfill, run, stop.

Two traps this module exists to avoid:

* ``promtool tsdb create-blocks-from openmetrics`` without ``--max-block-duration`` writes
  2-hour blocks and takes minutes on a month of data; :func:`backfill` always passes it.
* Prometheus's default 15-day retention is measured against the newest block, not the wall
  clock, so it silently deletes most of a backfilled history at startup;
  :class:`PrometheusServer` always passes ``--storage.tsdb.retention.time`` (100 years).
"""

from aiops.dev.promserver.backfill import STAMP_NAME, backfill
from aiops.dev.promserver.errors import (
    BackfillFailed,
    PrometheusNotInstalled,
    PromServerError,
    ServerStartFailed,
)
from aiops.dev.promserver.install import APT_INSTALL, PrometheusBinaries, ensure_installed
from aiops.dev.promserver.process import free_port, pidfile_for, stop_from_pidfile
from aiops.dev.promserver.server import PrometheusServer

__all__ = [
    "APT_INSTALL",
    "STAMP_NAME",
    "BackfillFailed",
    "PrometheusBinaries",
    "PrometheusNotInstalled",
    "PrometheusServer",
    "PromServerError",
    "ServerStartFailed",
    "backfill",
    "ensure_installed",
    "free_port",
    "pidfile_for",
    "stop_from_pidfile",
]
