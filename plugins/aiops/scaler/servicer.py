"""KEDA's ExternalScaler gRPC service: validate the trigger metadata, look up, answer.

Nothing here computes a forecast or touches the database; the hourly DAG decided the values
and :class:`~aiops.scaler.core.ScalerCore` reads them from memory. GetMetricSpec answers from
the catalog and the metadata alone, because KEDA's fallback does not cover a failing
GetMetricSpec (kedacore/keda#8056): it must not depend on the store being up.

StreamMetricSpec is implemented as KEDA main's proto asks: the spec is sent as soon as the
stream opens and the stream then stays open. The spec comes from configuration loaded at
start, so it never changes while the server runs and always equals GetMetricSpec's answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from time import perf_counter
from typing import Any, NoReturn

import grpc

from aiops.scaler.core import ScalerCore
from aiops.scaler.proto import load_stubs
from aiops.scaler.request import MetadataError, ScalingQuery

logger = logging.getLogger(__name__)

pb2, pb2_grpc = load_stubs()

SERVICE_NAME = "externalscaler.ExternalScaler"


def whole(value: float, *, at_least: int = 0) -> int:
    """The deprecated int64 fields: rounded, for KEDA releases that ignore the float field."""
    return max(at_least, int(round(value)))


class ExternalScalerServicer(pb2_grpc.ExternalScalerServicer):
    """The gRPC face of :class:`ScalerCore`. Streams poll the snapshot every
    ``stream_interval`` seconds and end at once when the client cancels or :meth:`close`."""

    def __init__(self, core: ScalerCore, *, stream_interval: float, max_streams: int) -> None:
        self._core = core
        self._metrics = core.metrics
        self._interval = stream_interval
        self._max_streams = max_streams
        self._stream_slots = threading.BoundedSemaphore(max_streams)
        self._closing = threading.Event()
        self._open_streams: set[threading.Event] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        """End every open stream cleanly (status OK): the server is stopping."""
        self._closing.set()
        with self._lock:
            for done in self._open_streams:
                done.set()

    # -- unary --------------------------------------------------------------------------

    def GetMetricSpec(self, request: Any, context: grpc.ServicerContext) -> Any:
        start = perf_counter()
        query = self._query(request, context, "GetMetricSpec", start)
        response = self._spec(query)
        self._metrics.observe("GetMetricSpec", "OK", perf_counter() - start)
        return response

    def GetMetrics(self, request: Any, context: grpc.ServicerContext) -> Any:
        start = perf_counter()
        query = self._query(request.scaledObjectRef, context, "GetMetrics", start)
        try:
            value = self._core.answer(query).value
        except Exception as exc:
            self._internal(context, "GetMetrics", start, exc)
        response = pb2.GetMetricsResponse(
            metricValues=[
                pb2.MetricValue(
                    metricName=request.metricName or query.metric_name,
                    metricValue=whole(value),
                    metricValueFloat=value,
                )
            ]
        )
        self._metrics.observe("GetMetrics", "OK", perf_counter() - start)
        return response

    def IsActive(self, request: Any, context: grpc.ServicerContext) -> Any:
        start = perf_counter()
        query = self._query(request, context, "IsActive", start)
        try:
            active = self._is_active(query)
        except Exception as exc:
            self._internal(context, "IsActive", start, exc)
        self._metrics.observe("IsActive", "OK", perf_counter() - start)
        return pb2.IsActiveResponse(result=active)

    # -- streams ------------------------------------------------------------------------

    def StreamIsActive(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        start = perf_counter()
        query = self._query(request, context, "StreamIsActive", start)
        with self._stream(context, "StreamIsActive", start) as done:
            last: bool | None = None
            while not done.is_set():
                active = self._is_active(query)
                if active != last:
                    if last is None:  # counted before the first message leaves
                        self._metrics.observe("StreamIsActive", "OK", perf_counter() - start)
                    last = active
                    yield pb2.IsActiveResponse(result=active)
                done.wait(self._interval)

    def StreamMetricSpec(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        start = perf_counter()
        query = self._query(request, context, "StreamMetricSpec", start)
        with self._stream(context, "StreamMetricSpec", start) as done:
            spec = self._spec(query)
            self._metrics.observe("StreamMetricSpec", "OK", perf_counter() - start)
            yield spec
            done.wait()  # the spec cannot change while this server runs

    # -- helpers ------------------------------------------------------------------------

    def _spec(self, query: ScalingQuery) -> Any:
        return pb2.GetMetricSpecResponse(
            metricSpecs=[
                pb2.MetricSpec(
                    metricName=query.metric_name,
                    targetSize=whole(query.target, at_least=1),
                    targetSizeFloat=query.target,
                )
            ]
        )

    def _is_active(self, query: ScalingQuery) -> bool:
        return self._core.answer(query).value > query.activation

    def _query(
        self, ref: Any, context: grpc.ServicerContext, rpc: str, start: float
    ) -> ScalingQuery:
        try:
            return self._core.query(dict(ref.scalerMetadata), "scalerMetadata")
        except MetadataError as exc:
            self._metrics.observe(rpc, "INVALID_ARGUMENT", perf_counter() - start)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # abort raises; this line only tells type checkers so

    def _internal(
        self, context: grpc.ServicerContext, rpc: str, start: float, exc: Exception
    ) -> NoReturn:
        logger.exception("scaler: %s failed", rpc)
        self._metrics.observe(rpc, "INTERNAL", perf_counter() - start)
        context.abort(grpc.StatusCode.INTERNAL, f"{rpc}: internal error: {exc}")
        raise exc

    def _stream(self, context: grpc.ServicerContext, rpc: str, start: float) -> _StreamSlot:
        if not self._stream_slots.acquire(blocking=False):
            self._metrics.observe(rpc, "RESOURCE_EXHAUSTED", None)
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{rpc}: {self._max_streams} streams already open (max_streams); "
                "raise it, or use the `external` trigger for some ScaledObjects",
            )
        return _StreamSlot(self, context)


class _StreamSlot:
    """One open stream: a stream slot held, and an event set when it must end."""

    def __init__(self, servicer: ExternalScalerServicer, context: grpc.ServicerContext) -> None:
        self._servicer = servicer
        self.done = threading.Event()
        context.add_callback(self.done.set)  # fires when the client cancels or the RPC ends

    def __enter__(self) -> threading.Event:
        servicer = self._servicer
        with servicer._lock:
            servicer._open_streams.add(self.done)
        if servicer._closing.is_set():
            self.done.set()
        return self.done

    def __exit__(self, *exc: object) -> None:
        servicer = self._servicer
        with servicer._lock:
            servicer._open_streams.discard(self.done)
        servicer._stream_slots.release()
