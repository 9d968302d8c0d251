"""The HTTP face of the scaler: JSON for KEDA's ``metrics-api`` trigger, metrics, health.

- ``GET /api/v1/scaling/<service>?metric=&leadTime=&targetValue=&activationValue=``: the same
  answer GetMetrics gives, with where it came from and how old it is. KEDA's metrics-api
  trigger reads ``valueLocation: value``. 400 names the bad query key, 404 an unknown service.
- ``GET /metrics``: the scaler's Prometheus metrics. ``GET /healthz``: liveness, as JSON.

Stdlib ``ThreadingHTTPServer``: a few requests a second from KEDA and Prometheus need no
framework. With TLS configured it serves HTTPS with the gRPC server's certificate.
"""

from __future__ import annotations

import json
import logging
import ssl
import sys
import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from aiops.scaler.core import ScalerCore
from aiops.scaler.request import MetadataError, UnknownServiceError

logger = logging.getLogger(__name__)

SCALING_PREFIX = "/api/v1/scaling/"


class ScalerHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows the scaler core it answers for."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        core: ScalerCore,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.core = core
        if ssl_context is not None:
            # handshake in the request thread, so a stalled client never blocks accept()
            self.socket = ssl_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line instead of socketserver's traceback on stderr: a client refused by
        mTLS or a dropped connection is routine; anything else keeps its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ssl.SSLError | ConnectionError | TimeoutError):
            logger.info("scaler http: connection from %s ended: %s", client_address[0], exc)
        else:
            logger.warning("scaler http: error serving %s", client_address[0], exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: ScalerHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        parts = urlsplit(self.path)
        if parts.path.startswith(SCALING_PREFIX):
            service = unquote(parts.path[len(SCALING_PREFIX) :])
            self._scaling(service, parse_qs(parts.query))
        elif parts.path == "/metrics":
            body = self.server.core.metrics.exposition()
            self._send(HTTPStatus.OK, body, CONTENT_TYPE_LATEST, "metrics")
        elif parts.path == "/healthz":
            self._json(HTTPStatus.OK, self._health(), "healthz")
        else:
            self._json(
                HTTPStatus.NOT_FOUND,
                {"error": f"no such endpoint {parts.path!r}; try {SCALING_PREFIX}<service>"},
                "other",
            )

    def _scaling(self, service: str, params: dict[str, list[str]]) -> None:
        core = self.server.core
        metadata = {key: values[-1] for key, values in params.items()}
        metadata["service"] = service
        try:
            query = core.query(metadata, "query")
        except UnknownServiceError as exc:
            self._json(HTTPStatus.NOT_FOUND, _error(exc), "scaling")
            return
        except MetadataError as exc:
            self._json(HTTPStatus.BAD_REQUEST, _error(exc), "scaling")
            return
        now = core.now()
        answer = core.answer(query, now)
        body = {
            "service": query.service,
            "metric": query.metric,
            "metric_name": query.metric_name,
            "value": answer.value,
            "target": query.target,
            "desired_replicas": query.desired_replicas(answer.value),
            "min_replicas": query.min_replicas,
            "max_replicas": query.max_replicas,
            "active": answer.value > query.activation,
            "source": answer.source,
            "stale": answer.stale,
            "reason": answer.reason,
            "now": _iso(now),
            "lead_time_seconds": query.lead_seconds,
            "target_time": _iso(answer.target_time),
            "generated_at": None if answer.generated_at is None else _iso(answer.generated_at),
            "observed_until": (
                None if answer.observed_until is None else _iso(answer.observed_until)
            ),
            "age_seconds": answer.age_seconds,
            "max_age_seconds": core.config.max_age,
        }
        self._json(HTTPStatus.OK, body, "scaling")

    def _health(self) -> dict[str, Any]:
        refresher = self.server.core.refresher
        snapshot = refresher.snapshot
        last = refresher.last_success
        return {
            "status": "ok",
            "store": refresher.store_name,
            "snapshot_rows": snapshot.rows,
            "snapshot_as_of": None if snapshot.as_of is None else snapshot.as_of.isoformat(),
            "seconds_since_refresh": None if last is None else time.monotonic() - last,
        }

    def _json(self, status: HTTPStatus, body: dict[str, Any], endpoint: str) -> None:
        data = (json.dumps(body, sort_keys=True) + "\n").encode()
        self._send(status, data, "application/json", endpoint)

    def _send(self, status: HTTPStatus, data: bytes, content_type: str, endpoint: str) -> None:
        # counted before the body leaves, so a client reading /metrics next already sees it
        self.server.core.metrics.http_requests.labels(endpoint, str(int(status))).inc()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug("scaler http %s: " + format, self.address_string(), *args)


def _error(exc: MetadataError) -> dict[str, Any]:
    return {"error": str(exc), "key": exc.key, "value": exc.value}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
