"""The newest predictions, held in memory and refreshed from the store in the background.

KEDA polls every ScaledObject every few seconds; the request path must not wait on a
database (or fail with it). A background thread re-reads the ``predictions`` rows around now
every ``refresh`` seconds and swaps in a new immutable :class:`Snapshot`; a request reads the
current reference and never blocks. A failed refresh keeps the previous snapshot: serving a
slightly older forecast beats serving nothing, and the age gauge says how old it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiops.store import Store, StoreError, mask_url
from aiops.store.types import to_utc

logger = logging.getLogger(__name__)

# How far past now + horizon rows are read: a refresh must cover every lead time until the
# next refresh, and the DAG's rows end at generated_at + horizon.
_LOOKAHEAD_MARGIN = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Series:
    """One (service, metric): forecast rows ordered by target time, times as epoch seconds.

    ``observed_until`` is, per row, the newest observed point of the data its forecast was
    made from (the row's ``observed_at``): what a forecast's age is measured from. A row
    written before rows carried it falls back to its ``generated_at``.
    """

    targets: tuple[float, ...]
    values: tuple[float, ...]  # scaling_value where the row has one, else the mean forecast
    generated: tuple[float, ...]
    observed_until: tuple[float, ...]
    newest_generated: float
    newest_observed: float  # the freshest data behind any row
    observed: float | None  # the newest generation's last observed value: the stale fallback
    observed_at: float | None


@dataclass(frozen=True)
class Snapshot:
    """Every series read by one refresh; immutable, so readers need no lock."""

    series: Mapping[tuple[str, str], Series] = field(default_factory=dict)
    rows: int = 0
    as_of: datetime | None = None  # the clock time the rows were selected for; None: never read

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], as_of: datetime) -> Snapshot:
        """Group store rows into series. Rows need service, metric, target_time,
        generated_at, value, scaling_value, observed, observed_at."""
        grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        count = 0
        for row in rows:
            grouped.setdefault((row["service"], row["metric"]), []).append(row)
            count += 1
        series = {key: _series(key_rows) for key, key_rows in grouped.items()}
        return cls(series=series, rows=count, as_of=as_of)


def _series(rows: list[Mapping[str, Any]]) -> Series:
    rows = sorted(rows, key=lambda r: r["target_time"])
    with_observed = [r for r in rows if r["observed"] is not None]
    observed_row = (
        max(with_observed, key=lambda r: (r["generated_at"], r["target_time"]))
        if with_observed
        else None
    )
    observed_until = tuple(data_end(r) for r in rows)
    return Series(
        targets=tuple(r["target_time"].timestamp() for r in rows),
        values=tuple(
            float(r["scaling_value"] if r["scaling_value"] is not None else r["value"])
            for r in rows
        ),
        generated=tuple(r["generated_at"].timestamp() for r in rows),
        observed_until=observed_until,
        newest_generated=max(r["generated_at"] for r in rows).timestamp(),
        newest_observed=max(observed_until),
        observed=None if observed_row is None else float(observed_row["observed"]),
        observed_at=(
            None
            if observed_row is None or observed_row["observed_at"] is None
            else observed_row["observed_at"].timestamp()
        ),
    )


def data_end(row: Mapping[str, Any]) -> float:
    """Epoch seconds of the newest observed point behind a prediction row: its
    ``observed_at``, or its ``generated_at`` for a row stored before rows carried one."""
    stamp = row["observed_at"] if row.get("observed_at") is not None else row["generated_at"]
    return stamp.timestamp()


def read_prediction_rows(
    store: Store, since: datetime, until: datetime, as_of: datetime
) -> list[dict[str, Any]]:
    """Prediction rows with ``since <= target_time <= until`` generated at or before ``as_of``.

    Bounded on both sides in SQL: a demo serving a past interval must not read a month of
    later forecasts, nor use one made after its now.
    """
    return store.read(
        "predictions",
        at_least={"target_time": since},
        at_most={"target_time": until, "generated_at": as_of},
    )


class SnapshotRefresher:
    """Owns the store connection and the current snapshot; refreshes it on a thread.

    The store is opened lazily and re-opened after a failure, so a scaler started before its
    database is reachable still serves (from configuration and safe values) and catches up.
    """

    def __init__(
        self,
        store_url: str,
        *,
        now: Callable[[], datetime],
        refresh: float,
        lookback: float,
        horizon: float,
        on_refresh: Callable[[bool, Snapshot], None] | None = None,
    ) -> None:
        self._store_url = store_url
        self._now = now
        self._interval = refresh
        self._lookback = timedelta(seconds=lookback)
        self._lookahead = timedelta(seconds=horizon) + _LOOKAHEAD_MARGIN
        self.on_refresh = on_refresh
        self._snapshot = Snapshot()
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.last_success: float | None = None  # time.monotonic() of the last good refresh

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def store_name(self) -> str:
        return mask_url(self._store_url)

    def refresh(self) -> bool:
        """Re-read the store now; True on success. A failure keeps the previous snapshot."""
        with self._lock:
            as_of = to_utc(self._now())
            try:
                if self._store is None:
                    self._store = Store.open(self._store_url)
                rows = read_prediction_rows(
                    self._store, as_of - self._lookback, as_of + self._lookahead, as_of
                )
            except StoreError as exc:
                self._close_store()
                if not self._failing:
                    logger.warning(
                        "scaler: snapshot refresh failed, keeping the previous snapshot "
                        "(%d rows): %s",
                        self._snapshot.rows,
                        exc,
                    )
                else:
                    logger.debug("scaler: snapshot refresh failed again: %s", exc)
                self._failing = True
                self._notify(False)
                return False
            self._snapshot = Snapshot.from_rows(rows, as_of)
            self.last_success = time.monotonic()
            if self._failing:
                logger.info("scaler: snapshot refresh works again (%d rows)", len(rows))
            self._failing = False
            logger.debug("scaler: snapshot refreshed: %d rows as of %s", len(rows), as_of)
            self._notify(True)
            return True

    def start(self) -> None:
        """Refresh once now, then every ``refresh`` seconds on a daemon thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="aiops-scaler-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            self._close_store()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:  # the thread must survive anything a refresh throws
                logger.exception("scaler: unexpected error in snapshot refresh")

    def _notify(self, ok: bool) -> None:
        if self.on_refresh is not None:
            self.on_refresh(ok, self._snapshot)

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
