"""Every table of the results store, declared once on one ``MetaData``.

Result tables are keyed by the data interval (plus what the row is about), never by a run id
or the wall clock, so a rerun or backfill of an interval upserts the very same rows. For the
same reason they hold no "written at" columns: a rerun must write byte-identical rows.

To add a table: declare it here on ``metadata``; ``Store.open`` creates it in existing
databases too. Changing an existing table also needs a step in ``migrations.py``.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

from aiops.store.types import JSONList, UTCDateTime

logger = logging.getLogger(__name__)

# Stable constraint names, so migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

SCHEMA_VERSION_TABLE = "schema_version"

# One row per schema version this database reached; the highest is its current version.
schema_version = Table(
    SCHEMA_VERSION_TABLE,
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
)

# What one interval of one (service, signal) series looked like when it was pulled:
# completeness (points vs expected, gaps), finiteness and a few statistics. Quality checks and
# the run summary read it; a rerun of the interval replaces the row.
series_summary = Table(
    "series_summary",
    metadata,
    Column("interval_start", UTCDateTime, primary_key=True),
    Column("interval_end", UTCDateTime, primary_key=True),
    Column("service", String, primary_key=True),
    Column("signal", String, primary_key=True),
    Column("source", String, nullable=False),  # "prometheus" or a file source's name
    Column("query", Text, nullable=False),
    Column("step_seconds", Float, nullable=False),
    Column("points", Integer, nullable=False),
    Column("expected_points", Integer, nullable=False),
    Column("gaps", Integer, nullable=False),  # number of missing steps
    Column("max_gap_seconds", Float, nullable=False),
    Column("non_finite", Integer, nullable=False),
    Column("value_min", Float),
    Column("value_max", Float),
    Column("value_mean", Float),
    Column("value_last", Float),
    Column("first_ts", UTCDateTime),
    Column("last_ts", UTCDateTime),
    Column("warnings", JSONList),  # JSON list of strings; None is stored as []
)
