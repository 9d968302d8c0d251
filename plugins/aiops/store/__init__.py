"""The results store: result tables keyed by data interval, upserted so reruns are idempotent.

``Store.open()`` gives a SQLite file under ``$AIOPS_HOME`` by default, or the database named by
``$AIOPS_STORE_URL`` (PostgreSQL in production). Tables live in ``aiops.store.schema``.
"""

from aiops.store.engine import Store
from aiops.store.errors import StoreError, mask_url
from aiops.store.migrations import MIGRATIONS, SCHEMA_VERSION, Migration, add_column
from aiops.store.schema import metadata, schema_version, series_summary
from aiops.store.types import NaiveDatetimeError, UTCDateTime, to_utc

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "NaiveDatetimeError",
    "Store",
    "StoreError",
    "UTCDateTime",
    "add_column",
    "mask_url",
    "metadata",
    "schema_version",
    "series_summary",
    "to_utc",
]
