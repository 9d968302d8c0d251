"""A small client for the scaler, speaking the same gRPC KEDA speaks.

For the demo, scripts and tests: each call takes the trigger metadata as a plain dict and
returns plain Python values. gRPC errors surface as ``grpc.RpcError`` (``.code()``,
``.details()``), because the status code is the answer there (INVALID_ARGUMENT, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aiops.scaler.proto import load_stubs
from aiops.scaler.tls import channel_credentials

pb2, pb2_grpc = load_stubs()


class ScalerClient:
    """A channel to one scaler. ``ca_cert`` switches to TLS; ``client_cert``/``client_key``
    add a client certificate (mTLS). ``timeout`` bounds every unary call, in seconds."""

    def __init__(
        self,
        target: str,
        *,
        ca_cert: Path | bytes | None = None,
        client_cert: Path | bytes | None = None,
        client_key: Path | bytes | None = None,
        tls: bool | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.target = target
        self.timeout = timeout
        use_tls = tls if tls is not None else ca_cert is not None or client_cert is not None
        if use_tls:
            creds = channel_credentials(ca_cert, client_cert, client_key)
            self._channel = grpc.secure_channel(target, creds)
        else:
            self._channel = grpc.insecure_channel(target)
        self._stub = pb2_grpc.ExternalScalerStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def metric_spec(self, metadata: Mapping[str, Any]) -> dict[str, float]:
        """GetMetricSpec: ``{metricName: targetSizeFloat}``."""
        response = self._stub.GetMetricSpec(_ref(metadata), timeout=self.timeout)
        return {spec.metricName: spec.targetSizeFloat for spec in response.metricSpecs}

    def metrics(self, metadata: Mapping[str, Any], metric_name: str = "") -> float:
        """GetMetrics: the value KEDA would hand the HPA (the float field)."""
        request = pb2.GetMetricsRequest(scaledObjectRef=_ref(metadata), metricName=metric_name)
        response = self._stub.GetMetrics(request, timeout=self.timeout)
        return response.metricValues[0].metricValueFloat

    def is_active(self, metadata: Mapping[str, Any]) -> bool:
        """IsActive: whether the value is above the trigger's ``activationValue``."""
        return self._stub.IsActive(_ref(metadata), timeout=self.timeout).result

    def stream_is_active(
        self, metadata: Mapping[str, Any], timeout: float | None = None
    ) -> Iterator[bool]:
        """StreamIsActive: each pushed state; closing the iterator cancels the stream."""
        call = self._stub.StreamIsActive(_ref(metadata), timeout=timeout)
        try:
            for response in call:
                yield response.result
        finally:
            call.cancel()

    def stream_metric_spec(
        self, metadata: Mapping[str, Any], timeout: float | None = None
    ) -> Iterator[dict[str, float]]:
        """StreamMetricSpec: each pushed spec; closing the iterator cancels the stream."""
        call = self._stub.StreamMetricSpec(_ref(metadata), timeout=timeout)
        try:
            for response in call:
                yield {spec.metricName: spec.targetSizeFloat for spec in response.metricSpecs}
        finally:
            call.cancel()

    def health(self, service: str = "") -> str:
        """The gRPC health status name for ``service`` ("" is the whole server)."""
        request = health_pb2.HealthCheckRequest(service=service)
        response = self._health.Check(request, timeout=self.timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _ref(metadata: Mapping[str, Any], name: str = "aiops-client", namespace: str = "") -> Any:
    return pb2.ScaledObjectRef(
        name=name,
        namespace=namespace,
        scalerMetadata={str(k): str(v) for k, v in metadata.items()},
    )
