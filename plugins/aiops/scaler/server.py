"""Start and stop a scaler: snapshot refresher, gRPC server (+ health), HTTP endpoint.

gRPC runs on grpc's thread-pool server, which keeps the handlers plain functions; on the
2-core reference machine it served unary calls at least as fast as grpc.aio did. The pool has
``workers`` threads for unary calls plus ``max_streams`` for the long-lived streams of
``external-push`` triggers (the servicer refuses streams beyond that), so open streams can
never starve GetMetrics.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from aiops.catalog import load_catalog
from aiops.scaler.config import ScalerConfig, ScalerConfigError
from aiops.scaler.core import ScalerCore
from aiops.scaler.http_api import ScalerHTTPServer
from aiops.scaler.metrics import ScalerMetrics
from aiops.scaler.servicer import SERVICE_NAME, ExternalScalerServicer, pb2_grpc
from aiops.scaler.snapshot import SnapshotRefresher
from aiops.scaler.tls import http_ssl_context, server_credentials
from aiops.settings import resolve_store_url

logger = logging.getLogger(__name__)


class ScalerError(RuntimeError):
    """The scaler could not start; the message names the address or setting."""


def host_port(host: str, port: int) -> str:
    """``host:port``, bracketing IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class RunningScaler:
    """A started scaler. ``grpc_target`` is what KEDA's ``scalerAddress`` would say;
    ``http_url`` is the HTTP endpoint's base URL (None without HTTP)."""

    config: ScalerConfig
    core: ScalerCore
    grpc_target: str
    grpc_port: int
    http_url: str | None
    http_port: int | None
    _server: grpc.Server
    _servicer: ExternalScalerServicer
    _health: health.HealthServicer
    _http: ScalerHTTPServer | None
    _http_thread: threading.Thread | None
    _pools: tuple[ThreadPoolExecutor, ...]
    _stopped: bool = field(default=False)

    @property
    def metrics(self) -> ScalerMetrics:
        return self.core.metrics

    def refresh(self) -> bool:
        """Re-read the store now instead of at the next refresh tick (the demo calls this
        after the DAG wrote predictions); True on success."""
        return self.core.refresher.refresh()

    def stop(self, grace: float = 1.0) -> None:
        """Report NOT_SERVING, end open streams, let unary calls finish (``grace`` s), stop."""
        if self._stopped:
            return
        self._stopped = True
        self._health.enter_graceful_shutdown()
        self._servicer.close()
        self._server.stop(grace).wait()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._http_thread is not None:
            self._http_thread.join(timeout=10)
        self.core.refresher.stop()
        for pool in self._pools:
            pool.shutdown(wait=False)
        logger.info("scaler: stopped (gRPC %s)", self.grpc_target)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the gRPC server terminates; True if it did within ``timeout``."""
        return self._server.wait_for_termination(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_scaler(config: ScalerConfig) -> RunningScaler:
    """Load the catalog, read the store once, start gRPC (and HTTP); return the handle.

    The store may be unreachable at start: the scaler still serves GetMetricSpec and safe
    values, and picks the predictions up at the next successful refresh.
    """
    catalog = config.catalog if config.catalog is not None else load_catalog()
    unknown = sorted(
        set(config.safe_replicas) - {n for n, s in catalog.services.items() if s.scaling}
    )
    if unknown:
        raise ScalerConfigError(
            f"safe_replicas: {', '.join(unknown)}: not a service with a scaling section "
            "in the catalog"
        )
    refresher = SnapshotRefresher(
        resolve_store_url(config.store_url),
        now=config.now,
        refresh=float(config.refresh),
        lookback=float(config.lookback),
        horizon=float(config.horizon),
    )
    scalable = [(name, s.scaling.metric) for name, s in catalog.services.items() if s.scaling]
    metrics = ScalerMetrics(
        snapshot=lambda: refresher.snapshot,
        now=config.now,
        max_age=float(config.max_age),
        expected=scalable,
        last_success=lambda: refresher.last_success,
    )
    refresher.on_refresh = metrics.on_refresh
    core = ScalerCore(config, catalog, refresher, metrics)
    refresher.start()

    servicer = ExternalScalerServicer(
        core, stream_interval=float(config.stream_interval), max_streams=config.max_streams
    )
    pools = (
        ThreadPoolExecutor(
            max_workers=config.workers + config.max_streams, thread_name_prefix="aiops-scaler"
        ),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiops-scaler-health"),
    )
    health_servicer = health.HealthServicer(
        experimental_non_blocking=True, experimental_thread_pool=pools[1]
    )
    server = grpc.server(
        pools[0],
        # without this, Linux lets a second server bind the same port and share its traffic
        options=[("grpc.so_reuseport", 0)],
    )
    pb2_grpc.add_ExternalScalerServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = host_port(config.host, config.port)
    credentials = server_credentials(config)
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        port = 0
        reason = str(exc)
    else:
        reason = "address in use or not available"
    if not port:
        refresher.stop()
        for pool in pools:
            pool.shutdown(wait=False)
        raise ScalerError(f"scaler: cannot listen for gRPC on {address}: {reason}")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    http_server: ScalerHTTPServer | None = None
    http_thread: threading.Thread | None = None
    http_url: str | None = None
    http_port: int | None = None
    if config.http_port is not None:
        try:
            http_server = ScalerHTTPServer(
                (config.host, config.http_port), core, http_ssl_context(config)
            )
        except OSError as exc:
            server.stop(None)
            refresher.stop()
            for pool in pools:
                pool.shutdown(wait=False)
            raise ScalerError(
                f"scaler: cannot listen for HTTP on {host_port(config.host, config.http_port)}: "
                f"{exc.strerror or exc}"
            ) from exc
        http_port = http_server.server_address[1]
        scheme = "https" if config.tls else "http"
        http_url = f"{scheme}://{host_port(config.host, http_port)}"
        http_thread = threading.Thread(
            target=http_server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="aiops-scaler-http",
            daemon=True,
        )
        http_thread.start()

    running = RunningScaler(
        config=config,
        core=core,
        grpc_target=host_port(config.host, port),
        grpc_port=port,
        http_url=http_url,
        http_port=http_port,
        _server=server,
        _servicer=servicer,
        _health=health_servicer,
        _http=http_server,
        _http_thread=http_thread,
        _pools=pools,
    )
    logger.info(
        "scaler: gRPC listening on %s (%s), HTTP %s; store %s, %d prediction rows",
        running.grpc_target,
        "mTLS" if config.tls_client_ca else "TLS" if config.tls else "plaintext",
        http_url or "off",
        refresher.store_name,
        refresher.snapshot.rows,
    )
    return running
