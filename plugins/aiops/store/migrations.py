"""Schema versions: create a fresh store, refuse a newer one, upgrade an older one in order.

An Airflow deployment upgrades the package while its PostgreSQL store keeps last month's
results; opening the store must bring the schema forward exactly once, and an old worker
must not write into a schema it does not know.

Rules for a change:
- a new table: declare it in ``schema.py``; opening creates missing tables, no step needed;
- a change to an existing table: append a :class:`Migration` to ``MIGRATIONS`` with the next
  version. Steps run in order inside one transaction, before missing tables are created, so a
  step must tolerate its table not existing yet (:func:`add_column` does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Connection, func, inspect, select, text

from aiops.store.errors import StoreError
from aiops.store.schema import (
    SCHEMA_VERSION_TABLE,
    anomaly_event_snapshots,
    anomaly_events,
    issue_ledger,
    metadata,
    pipeline_runs,
    predictive_alerts,
    schema_version,
)

logger = logging.getLogger(__name__)

BASE_VERSION = 1
BASE_DESCRIPTION = "results store: series_summary"

# Any constant works; it only has to be the same for every process opening the store.
_PG_SCHEMA_LOCK_KEY = 0x410105


@dataclass(frozen=True)
class Migration:
    """One step from ``version - 1`` to ``version``; ``apply`` runs inside the open transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _anomaly_event_snapshots(conn: Connection) -> None:
    """v2: `anomaly_events.as_of` and `anomaly_event_snapshots`. Events stored before knew
    no run: each is dated by its own start and snapshotted once as it stands, which keeps
    what a rerun of their hours reads exactly as before the upgrade."""
    if not inspect(conn).has_table("anomaly_events"):
        return  # created whole, with both, after the steps
    add_column(conn, "anomaly_events", Column("as_of", anomaly_events.c.as_of.type))
    events = anomaly_events
    conn.execute(events.update().where(events.c.as_of.is_(None)).values(as_of=events.c.start))
    anomaly_event_snapshots.create(conn, checkfirst=True)
    # the columns the table has at this step: later steps add theirs after this copy
    present = {c["name"] for c in inspect(conn).get_columns("anomaly_events")}
    columns = [c for c in events.columns if c.name in present]
    conn.execute(
        anomaly_event_snapshots.insert().from_select([c.name for c in columns], select(*columns))
    )


def _runs_not_configured(conn: Connection) -> None:
    """v3: `pipeline_runs.not_configured`, the optional integrations a run went without
    (runs stored before say nothing: None)."""
    add_column(conn, "pipeline_runs", Column("not_configured", pipeline_runs.c.not_configured.type))


def _events_signal_kind(conn: Connection) -> None:
    """v4: `signal_kind` on anomaly events and their snapshots (events stored before say
    nothing: None, which ranking treats as a kind it does not know)."""
    for table in (anomaly_events, anomaly_event_snapshots):
        add_column(conn, table.name, Column("signal_kind", table.c.signal_kind.type))


def _ledger_last_told(conn: Connection) -> None:
    """v5: `issue_ledger.last_told`, the finding last written to the issue (entries filed
    before say nothing: their next comment is made as before, and it records one)."""
    add_column(conn, issue_ledger.name, Column("last_told", issue_ledger.c.last_told.type))


def _alert_picture(conn: Connection) -> None:
    """v6: `predictive_alerts.picture`, the last day and the forecast an alert was raised on
    (alerts stored before have none: their issues are filed without the chart)."""
    add_column(conn, predictive_alerts.name, Column("picture", predictive_alerts.c.picture.type))


# Ordered, oldest first; version 1 is the schema as first created.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "anomaly events: as_of and per-run snapshots", _anomaly_event_snapshots),
    Migration(3, "pipeline_runs: not_configured", _runs_not_configured),
    Migration(4, "anomaly events: signal_kind", _events_signal_kind),
    Migration(5, "issue_ledger: last_told", _ledger_last_told),
    Migration(6, "predictive_alerts: picture", _alert_picture),
)


def target_version(migrations: Sequence[Migration]) -> int:
    """The schema version this code writes: the last step's version, or the base version."""
    check_migrations(migrations)
    return migrations[-1].version if migrations else BASE_VERSION


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Refuse a step list with gaps or disorder: a skipped version would never be applied."""
    expected = BASE_VERSION + 1
    for step in migrations:
        if step.version != expected:
            raise ValueError(
                f"migration {step.description!r} has version {step.version}, expected {expected}: "
                "steps must be numbered consecutively from "
                f"{BASE_VERSION + 1}"
            )
        expected += 1


def add_column(conn: Connection, table_name: str, column: Column) -> None:
    """``ALTER TABLE ... ADD COLUMN`` unless the table is missing or already has the column.

    Safe to run on any database state, as a step must be (see the module docstring).
    """
    inspector = inspect(conn)
    if not inspector.has_table(table_name):
        return
    if column.name in {c["name"] for c in inspector.get_columns(table_name)}:
        return
    ddl_type = column.type.compile(dialect=conn.dialect)
    preparer = conn.dialect.identifier_preparer
    conn.exec_driver_sql(
        f"ALTER TABLE {preparer.quote(table_name)} "
        f"ADD COLUMN {preparer.quote(column.name)} {ddl_type}"
    )


def recorded_version(conn: Connection) -> int | None:
    """The highest version recorded in the database, or ``None`` for a database never opened."""
    if not inspect(conn).has_table(SCHEMA_VERSION_TABLE):
        return None
    return conn.execute(select(func.max(schema_version.c.version))).scalar()


def ensure_schema(
    conn: Connection, store_name: str, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring the database on ``conn`` to this code's version and return that version.

    ``store_name`` is the masked URL used in messages. Call inside a transaction; the caller
    commits. Concurrent openers (mapped Airflow tasks) are serialised by a lock.
    """
    target = target_version(migrations)
    _lock_schema(conn)
    current = recorded_version(conn)
    if current is None:
        metadata.create_all(conn)
        description = BASE_DESCRIPTION if target == BASE_VERSION else f"created at v{target}"
        conn.execute(schema_version.insert().values(version=target, description=description))
        logger.info("store %s: created schema version %d", store_name, target)
        return target
    if current > target:
        raise StoreError(
            f"store {store_name}: database schema is at version {current}, newer than this "
            f"code's version {target}; upgrade the aiops package or use another store URL"
        )
    for step in migrations:
        if step.version <= current:
            continue
        logger.info("store %s: migrating to v%d: %s", store_name, step.version, step.description)
        try:
            step.apply(conn)
        except Exception as exc:
            raise StoreError(
                f"store {store_name}: migration to version {step.version} "
                f"({step.description}) failed: {exc}"
            ) from exc
        conn.execute(
            schema_version.insert().values(version=step.version, description=step.description)
        )
    metadata.create_all(conn, checkfirst=True)
    return target


def _lock_schema(conn: Connection) -> None:
    """Hold the schema lock until the transaction ends, so two openers never both create."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # pysqlite defers BEGIN until the first write; take the write lock now instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


SCHEMA_VERSION = target_version(MIGRATIONS)
