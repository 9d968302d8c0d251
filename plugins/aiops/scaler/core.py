"""What the gRPC servicer and the HTTP endpoint share: parse a query, answer it, report it.

Both front ends are thin shells over :class:`ScalerCore`, so KEDA's ``external`` trigger and
its ``metrics-api`` trigger always see the same value for the same question.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from aiops.catalog import Catalog
from aiops.scaler.config import ScalerConfig
from aiops.scaler.lookup import Answer, answer_for
from aiops.scaler.metrics import ScalerMetrics
from aiops.scaler.request import METADATA_KEYS, ScalingQuery, parse_query
from aiops.scaler.snapshot import SnapshotRefresher
from aiops.units import format_duration

logger = logging.getLogger(__name__)

# Keys KEDA itself puts in a trigger's metadata; the scaler ignores them without a warning.
_KEDA_KEYS = frozenset({"scalerAddress", "enableTLS", "unsafeSsl", "tlsCertFile"})
_EXPECTED_KEYS = _KEDA_KEYS | frozenset(METADATA_KEYS)


class ScalerCore:
    """Validated queries in, answers out; logs a staleness episode once, counts fallbacks."""

    def __init__(
        self,
        config: ScalerConfig,
        catalog: Catalog,
        refresher: SnapshotRefresher,
        metrics: ScalerMetrics,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.refresher = refresher
        self.metrics = metrics
        self._stale: set[tuple[str, str]] = set()
        self._ignored: set[str] = set()
        self._lock = threading.Lock()

    def query(self, metadata: Mapping[str, str], where: str) -> ScalingQuery:
        """Validate trigger metadata; raises :class:`~aiops.scaler.request.MetadataError`."""
        query = parse_query(metadata, self.catalog, self.config, where)
        if not metadata.keys() <= _EXPECTED_KEYS:
            self._warn_unknown_keys(metadata, where)
        return query

    def now(self) -> float:
        return self.config.now().timestamp()

    def answer(self, query: ScalingQuery, now: float | None = None) -> Answer:
        """The value to serve now for ``query``, from the in-memory snapshot only."""
        now = self.now() if now is None else now
        answer = answer_for(self.refresher.snapshot, query, now, self.config.max_age)
        key = (query.service, query.metric)
        if answer.stale:
            self.metrics.fallbacks.labels(query.service, query.metric, answer.source).inc()
            if key not in self._stale:
                self._start_episode(key, answer)
        elif key in self._stale:
            self._end_episode(key, answer)
        return answer

    def _start_episode(self, key: tuple[str, str], answer: Answer) -> None:
        with self._lock:
            if key in self._stale:
                return
            self._stale.add(key)
        age = "no data" if answer.age_seconds is None else format_duration(answer.age_seconds)
        logger.warning(
            "scaler: %s/%s: no fresh forecast (%s; newest data age: %s); serving %s %.6g "
            "until fresh predictions arrive",
            *key,
            answer.reason,
            age,
            answer.source,
            answer.value,
        )

    def _end_episode(self, key: tuple[str, str], answer: Answer) -> None:
        with self._lock:
            if key not in self._stale:
                return
            self._stale.discard(key)
        logger.info(
            "scaler: %s/%s: fresh forecast again (age %s)",
            *key,
            format_duration(answer.age_seconds or 0.0),
        )

    def _warn_unknown_keys(self, metadata: Mapping[str, str], where: str) -> None:
        unknown = set(metadata) - _EXPECTED_KEYS - self._ignored
        if not unknown:
            return
        with self._lock:
            self._ignored |= unknown
        logger.warning(
            "scaler: ignoring unknown %s key(s) %s (known: %s)",
            where,
            ", ".join(sorted(unknown)),
            ", ".join(METADATA_KEYS),
        )
