"""The results store: open a database, upsert result rows by key, read them back.

SQLAlchemy Core over SQLite (one machine, the default) or PostgreSQL (shared by Airflow
workers). Every write is an upsert on the table's primary key, which for result tables starts
with the data interval, so rerunning or backfilling an interval rewrites the same rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError, StatementError
from sqlalchemy.sql.dml import Insert

from aiops.settings import resolve_store_url
from aiops.store.errors import StoreError, mask_url
from aiops.store.migrations import MIGRATIONS, Migration, ensure_schema, recorded_version
from aiops.store.schema import metadata
from aiops.store.types import JSONList, UTCDateTime, to_utc

logger = logging.getLogger(__name__)

# Bound parameters per execute call (rows x columns). However the driver batches a chunk
# (row by row, psycopg2 pages, or a multi-row VALUES), it stays under SQLite's limit (999
# before 3.32, 32,766 since) and PostgreSQL's 65,535, and memory per call stays bounded.
_MAX_PARAMS = {"sqlite": 999, "postgresql": 32_000}

_INSERT_BY_DIALECT: dict[str, Callable[[Table], Insert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


class Store:
    """A results database; build it with :meth:`Store.open`, use it as a context manager."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The URL with its password masked: safe in messages, logs and reprs.
        self.name = engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        create: bool = True,
    ) -> Store:
        """Connect, create missing tables and bring the schema to this code's version.

        ``url`` defaults to :func:`aiops.settings.resolve_store_url`. ``migrations`` is the
        ordered step list; tests pass their own to exercise upgrades. ``create=False`` is for
        readers: a store that was never created (no SQLite file, or a database without this
        project's schema) raises :class:`StoreError` instead of being created empty, so a
        mistyped URL is an error, not a store with nothing in it.
        """
        resolved = resolve_store_url(url)
        name = mask_url(resolved)
        if not create:
            _require_sqlite_file(resolved, name)
        engine = _create_engine(resolved, name)
        store = cls(engine)
        try:
            if not create:
                with engine.connect() as conn:
                    if recorded_version(conn) is None:
                        raise StoreError(
                            f"store {name}: no aiops results store there (the database has "
                            "no aiops tables); check the URL"
                        )
            with engine.begin() as conn:
                version = ensure_schema(conn, name, migrations)
        except StoreError:
            engine.dispose()
            raise
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"store {name}: cannot open: {_reason(exc)}") from exc
        logger.debug("opened store %s at schema version %d", name, version)
        return store

    def close(self) -> None:
        """Release pooled connections (SQLite file handles, PostgreSQL sessions)."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.name!r})"

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._connect() as conn:
            version = recorded_version(conn)
        if version is None:
            raise StoreError(f"store {self.name}: no schema version recorded")
        return version

    def table(self, table_name: str) -> Table:
        """The declared table called ``table_name``; unknown names raise with the known ones."""
        try:
            return metadata.tables[table_name]
        except KeyError:
            known = ", ".join(sorted(metadata.tables))
            raise StoreError(
                f"store {self.name}: unknown table {table_name!r}; known tables: {known}"
            ) from None

    def upsert(
        self, table_name: str, rows: Iterable[Mapping[str, Any]], *, newer: str | None = None
    ) -> int:
        """Insert ``rows``, replacing any row with the same primary key; return rows written.

        With ``newer="generated_at"`` a stored row is replaced only by a row whose
        ``generated_at`` is the same or later: a backfill of an old interval then never
        overwrites what a newer run wrote, while a rerun of the same interval still does.

        Each row replaces the whole stored row: a column it leaves out is written as NULL, so
        the result never depends on what an earlier run wrote. Rows repeating a key within
        the batch collapse to the last one. numpy scalars, NaN and NaT (as from
        ``DataFrame.to_dict("records")``) become plain values and NULL. All or nothing: one
        transaction per call.
        """
        table = self.table(table_name)
        batch = _prepared_rows(table, rows, self.name)
        if not batch:
            return 0
        if newer is not None and newer not in table.c:
            raise StoreError(f"store {self.name}: {table_name} has no column {newer!r} (newer=)")
        statement = self._upsert_statement(table, newer)
        chunk_size = max(1, _MAX_PARAMS[self.engine.dialect.name] // len(table.columns))
        try:
            with self.engine.begin() as conn:
                for chunk in _chunks(batch, chunk_size):
                    conn.execute(statement, chunk)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"store {self.name}: upsert into {table_name} failed: {_reason(exc)}"
            ) from exc
        logger.debug("store %s: upserted %d rows into %s", self.name, len(batch), table_name)
        return len(batch)

    def replace(self, table_name: str, rows: Iterable[Mapping[str, Any]], **scope: Any) -> int:
        """Make the rows matching ``scope`` (column = value) exactly ``rows``: delete them and
        insert the new ones in one transaction; return rows written.

        For results that are a set per interval (a day's findings, a day's dependency edges):
        a rerun that no longer finds something must not leave yesterday's row behind, which
        an upsert would. Every row must match ``scope``.
        """
        table = self.table(table_name)
        unknown = sorted(set(scope) - set(table.c.keys()))
        if not scope or unknown:
            raise StoreError(
                f"store {self.name}: replace into {table_name} needs a scope of its columns, "
                f"got {sorted(scope)}"
            )
        batch = _prepared_rows(table, rows, self.name)
        plain = {column: _plain(value) for column, value in scope.items()}
        for row in batch:
            stray = {c: row.get(c) for c in plain if _plain(row.get(c)) != plain[c]}
            if stray:
                raise StoreError(
                    f"store {self.name}: replace into {table_name}: a row outside the scope "
                    f"{plain}: {stray}"
                )
        where = [table.c[column] == value for column, value in plain.items()]
        chunk_size = max(1, _MAX_PARAMS[self.engine.dialect.name] // len(table.columns))
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(table).where(*where))
                for chunk in _chunks(batch, chunk_size):
                    conn.execute(insert(table), chunk)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"store {self.name}: replace into {table_name} failed: {_reason(exc)}"
            ) from exc
        return len(batch)

    def read(
        self,
        table_name: str,
        *,
        at_least: Mapping[str, Any] | None = None,
        at_most: Mapping[str, Any] | None = None,
        **equals: Any,
    ) -> list[dict[str, Any]]:
        """Rows of ``table_name`` whose columns equal ``equals``, are >= ``at_least`` and
        <= ``at_most`` (e.g. events still running after a time, forecasts made by a time),
        ordered by primary key. The bounds go into the query, so a caller on an hourly path
        or a serving path never reads a table's whole history."""
        table = self.table(table_name)
        at_least, at_most = dict(at_least or {}), dict(at_most or {})
        unknown = sorted((set(equals) | set(at_least) | set(at_most)) - set(table.c.keys()))
        if unknown:
            raise StoreError(
                f"store {self.name}: {table_name} has no column(s) {', '.join(unknown)}; "
                f"columns: {', '.join(table.c.keys())}"
            )
        query = select(table).order_by(*table.primary_key.columns)
        for column, value in equals.items():
            query = query.where(table.c[column] == _plain(value))
        for column, value in at_least.items():
            query = query.where(table.c[column] >= _plain(value))
        for column, value in at_most.items():
            query = query.where(table.c[column] <= _plain(value))
        try:
            with self._connect() as conn:
                return [dict(row) for row in conn.execute(query).mappings()]
        except SQLAlchemyError as exc:
            raise StoreError(
                f"store {self.name}: read from {table_name} failed: {_reason(exc)}"
            ) from exc

    def read_frame(self, table_name: str, **equals: Any) -> pd.DataFrame:
        """:meth:`read` as a DataFrame whose columns and dtypes follow the table, not the data.

        An empty result or an all-NULL column still has the declared dtype (float64,
        datetime64[us, UTC], ...), so frame code downstream needs no special cases.
        """
        table = self.table(table_name)
        rows = self.read(table_name, **equals)
        frame = pd.DataFrame.from_records(rows, columns=list(table.c.keys()))
        return frame.astype({c.name: _frame_dtype(c) for c in table.columns})

    def count(self, table_name: str) -> int:
        """Number of rows in ``table_name``."""
        table = self.table(table_name)
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"store {self.name}: cannot connect: {_reason(exc)}") from exc

    def _upsert_statement(self, table: Table, newer: str | None = None) -> Insert:
        dialect = self.engine.dialect.name
        make_insert = _INSERT_BY_DIALECT.get(dialect)
        if make_insert is None:
            raise StoreError(
                f"store {self.name}: upsert is not supported on dialect {dialect!r}; "
                f"use one of: {', '.join(sorted(_INSERT_BY_DIALECT))}"
            )
        statement = make_insert(table)
        keys = [column.name for column in table.primary_key.columns]
        updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
        if not updates:
            return statement.on_conflict_do_nothing(index_elements=keys)
        where = None if newer is None else statement.excluded[newer] >= table.c[newer]
        return statement.on_conflict_do_update(index_elements=keys, set_=updates, where=where)


def _require_sqlite_file(url: str, name: str) -> None:
    """Raise unless ``url`` names a SQLite file that exists (other URLs pass: connecting to
    them creates nothing). Checked before connecting, as connecting creates the file."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # _create_engine reports it
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if database.startswith("file:"):
        return  # a URI filename: SQLite's own options decide (mode=ro fails by itself)
    if not Path(database).is_file():
        raise StoreError(f"store {name}: no such file {database}; check the URL")


def _create_engine(url: str, name: str) -> Engine:
    """An engine for ``url`` after checking the dialect; creates a SQLite file's folder."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store {name}: not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend not in _INSERT_BY_DIALECT:
        raise StoreError(
            f"store {name}: unsupported database {backend!r}; "
            f"use one of: {', '.join(sorted(_INSERT_BY_DIALECT))}"
        )
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if backend == "sqlite":
        connect_args["timeout"] = 30  # seconds to wait for another writer (mapped tasks)
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {name}: cannot create its folder: {exc}") from exc
    if parsed.get_driver_name() == "psycopg2":
        connect_args["connect_timeout"] = 10
        # SQLAlchemy does not batch ON CONFLICT inserts itself; without this every row is a
        # round trip (seconds per thousand rows). psycopg2's execute_batch sends pages.
        options |= {"executemany_mode": "values_plus_batch", "executemany_batch_page_size": 500}
    try:
        return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, **options)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"store {name}: cannot create engine: {_reason(exc)}") from exc


def _prepared_rows(
    table: Table, rows: Iterable[Mapping[str, Any]], name: str
) -> list[dict[str, Any]]:
    """Rows with every column filled, plain Python values, validated, last-per-key."""
    columns = list(table.c.keys())
    known = set(columns)
    keys = [column.name for column in table.primary_key.columns]
    required = [c.name for c in table.columns if not c.nullable]
    utc_columns = [c.name for c in table.columns if isinstance(c.type, UTCDateTime)]
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for index, row in enumerate(rows):
        unknown = sorted(set(row) - known)
        if unknown:
            raise StoreError(
                f"store {name}: {table.name} row {index}: unknown column(s) {', '.join(unknown)}"
            )
        values = {column: _plain(row.get(column)) for column in columns}
        missing = [column for column in required if values[column] is None]
        if missing:
            raise StoreError(
                f"store {name}: {table.name} row {index}: missing value(s) for {', '.join(missing)}"
            )
        for column in utc_columns:
            if values[column] is not None:
                try:
                    values[column] = to_utc(values[column])
                except (TypeError, ValueError) as exc:
                    raise StoreError(
                        f"store {name}: {table.name} row {index} column {column}: {exc}"
                    ) from exc
        key = tuple(values[k] for k in keys)
        by_key.pop(key, None)  # keep the last occurrence, in its own position
        by_key[key] = values
    return list(by_key.values())


def _frame_dtype(column: Column) -> str:
    """The pandas dtype for a column: missing values become NaN / NaT / <NA>, never None."""
    if isinstance(column.type, UTCDateTime):
        return "datetime64[us, UTC]"
    if isinstance(column.type, JSONList):
        return "object"
    python_type = column.type.python_type
    if python_type is float:
        return "float64"
    if python_type is int:
        return "int64" if not column.nullable else "Int64"
    if python_type is str:
        return "str"
    return "object"


def _plain(value: Any) -> Any:
    """numpy scalars as Python values; NaN, NaT and pandas.NA as None."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _reason(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's SQL echo and parameter dump."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {exc.orig}".strip()
    return f"{type(exc).__name__}: {exc}".strip()
