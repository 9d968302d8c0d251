"""What a running scaler needs to know, in one frozen object.

Frozen, so the settings a server started with are the settings it keeps: the gRPC servicer,
the HTTP endpoint and the snapshot refresher all read the same values. Durations accept
seconds or the catalog's human form (``"2h"``, ``"15s"``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from aiops.catalog import Catalog
from aiops.store.types import to_utc
from aiops.units import parse_duration_seconds


class ScalerConfigError(ValueError):
    """A scaler setting that cannot work; the message names the setting and the value."""


def wall_clock() -> datetime:
    """The production clock: the scaler is a live server, so it answers for the real now."""
    return datetime.now(UTC)


def clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and advances in real time from there: a demo can
    serve a backfilled past interval as if it were live."""
    start = to_utc(start)
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


@dataclass(frozen=True)
class ScalerConfig:
    """Settings for :func:`aiops.scaler.start_scaler`.

    - ``store_url``: the results store with the ``predictions`` table (None: the project's
      default, :func:`aiops.settings.resolve_store_url`).
    - ``catalog``: the service catalog (None: :func:`aiops.catalog.load_catalog`).
    - ``host``/``port``: where gRPC listens; port 0 picks a free port. ``http_port`` likewise
      for the JSON/metrics endpoint; None serves no HTTP.
    - ``max_age``: a forecast whose data (the newest observed point it was made from) is
      older than this is stale and not served; the DAG runs hourly, so two hours means one
      missed run is tolerated.
    - ``refresh``: how often the in-memory snapshot is re-read from the store.
    - ``lookback``: how far before now the snapshot reads rows; an observed load older than
      this is not served either, the safe value is.
    - ``horizon``: the longest ``leadTime`` accepted (the DAG forecasts 6 hours ahead).
    - ``safe_replicas``: per service, the replica count the safe value stands for when there is
      nothing to serve at all; services not named get their catalog ``max_replicas``.
    - ``stream_interval``: how often StreamIsActive re-evaluates its answer.
    - ``tls_cert``/``tls_key``: serve TLS (gRPC and HTTP); ``tls_client_ca`` also requires
      client certificates signed by that CA (mTLS).
    - ``workers``/``max_streams``: threads for unary calls, and open streams allowed on top.
    - ``now``: the clock; tests and the demo pass a fixed or simulated one.
    """

    store_url: str | None = None
    catalog: Catalog | None = None
    host: str = "127.0.0.1"
    port: int = 0
    http_port: int | None = 0
    max_age: float | str = 7200.0
    refresh: float | str = 15.0
    lookback: float | str = 86400.0
    horizon: float | str = 21600.0
    safe_replicas: Mapping[str, int] = field(default_factory=dict)
    stream_interval: float | str = 5.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    workers: int = 16
    max_streams: int = 100
    now: Callable[[], datetime] = wall_clock

    def __post_init__(self) -> None:
        for name in ("max_age", "refresh", "lookback", "horizon", "stream_interval"):
            object.__setattr__(self, name, _seconds(name, getattr(self, name)))
        for name in ("port", "http_port"):
            port = getattr(self, name)
            if port is not None and not (isinstance(port, int) and 0 <= port <= 65535):
                raise ScalerConfigError(f"{name}: expected a port 0..65535, got {port!r}")
        for name in ("workers", "max_streams"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ScalerConfigError(
                    f"{name}: must be an integer >= 1, got {getattr(self, name)!r}"
                )
        for service, replicas in self.safe_replicas.items():
            # never 0: a late pipeline must not scale a service away
            if not isinstance(replicas, int) or replicas < 1:
                raise ScalerConfigError(
                    f"safe_replicas.{service}: must be an integer >= 1, got {replicas!r}"
                )
        object.__setattr__(self, "safe_replicas", MappingProxyType(dict(self.safe_replicas)))
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ScalerConfigError("tls_cert and tls_key: give both or neither")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ScalerConfigError("tls_client_ca: needs tls_cert and tls_key (mTLS is TLS first)")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def _seconds(name: str, value: float | str) -> float:
    try:
        seconds = float(parse_duration_seconds(value))
    except (TypeError, ValueError) as exc:
        raise ScalerConfigError(f"{name}: {exc}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ScalerConfigError(f"{name}: must be a positive duration, got {value!r}")
    return seconds
