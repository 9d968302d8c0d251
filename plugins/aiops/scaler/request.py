"""Trigger metadata (or HTTP query parameters) to a validated scaling query.

KEDA passes a ScaledObject trigger's whole ``metadata`` map with every call. A mistake there
(a misspelt service, ``leadTime: 10 minutes``) must come back as an error naming the key and
the value, not as a silently wrong replica count. Validation uses only the catalog and the
configuration, never the forecast store, so GetMetricSpec can answer while the store is down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from aiops.catalog import Catalog
from aiops.predictive.scaling import desired_replicas
from aiops.scaler.config import ScalerConfig
from aiops.units import format_duration, parse_duration_seconds

# The keys this scaler reads; anything else in the map (scalerAddress, ...) is KEDA's own.
METADATA_KEYS = ("service", "metric", "leadTime", "targetValue", "activationValue", "metricName")


class MetadataError(ValueError):
    """Unusable trigger metadata. ``str()`` reads ``<where>.<key>: <reason>``."""

    def __init__(self, where: str, key: str, value: str | None, reason: str) -> None:
        super().__init__(f"{where}.{key}: {reason}")
        self.key = key
        self.value = value
        self.reason = reason


class UnknownServiceError(MetadataError):
    """The service is not in the catalog (HTTP answers 404 for this one, not 400)."""


@dataclass(frozen=True, slots=True)
class ScalingQuery:
    """One trigger's question: the load of ``service``'s ``metric`` at now + ``lead_seconds``."""

    service: str
    metric: str
    lead_seconds: float
    target: float  # per-replica target: the HPA's AverageValue
    activation: float
    metric_name: str
    min_replicas: int
    max_replicas: int
    safe_value: float  # what is served when there is nothing else: safe replicas x target

    def desired_replicas(self, value: float) -> int:
        """What the HPA makes of ``value`` (ceil of value / target), within the catalog's range;
        the same arithmetic the DAG uses for the predictions table."""
        return desired_replicas(value, self.target, self.min_replicas, self.max_replicas)


def default_metric_name(service: str, metric: str) -> str:
    """A stable HPA metric name, valid as a Kubernetes path segment (no underscores)."""
    return f"aiops-{service}-{metric.replace('_', '-')}"


def parse_query(
    metadata: Mapping[str, str], catalog: Catalog, config: ScalerConfig, where: str
) -> ScalingQuery:
    """Validate ``metadata`` against the catalog; ``where`` prefixes error keys
    (``scalerMetadata`` for gRPC, ``query`` for HTTP)."""
    service = metadata.get("service", "").strip()
    if not service:
        raise MetadataError(where, "service", None, "required: the catalog service to scale")
    svc = catalog.services.get(service)
    if svc is None:
        known = ", ".join(sorted(catalog.services))
        raise UnknownServiceError(
            where, "service", service, f"unknown service {service!r} (known: {known})"
        )
    scaling = svc.scaling
    if scaling is None:
        scalable = ", ".join(sorted(n for n, s in catalog.services.items() if s.scaling))
        raise MetadataError(
            where,
            "service",
            service,
            f"service {service!r} has no scaling section in the catalog (scalable: {scalable})",
        )

    metric = metadata.get("metric", "").strip() or scaling.metric
    known = metric_names(catalog, service)
    if metric not in known:
        raise MetadataError(
            where, "metric", metric, f"unknown metric {metric!r} (known: {', '.join(known)})"
        )

    lead = _lead_seconds(metadata.get("leadTime"), scaling.lead_time, config.horizon, where)

    raw_target = metadata.get("targetValue")
    if raw_target is None or not raw_target.strip():
        if metric != scaling.metric:
            raise MetadataError(
                where,
                "targetValue",
                None,
                f"required for metric {metric!r}: the catalog's capacity_per_replica is for "
                f"{service}'s scaling metric {scaling.metric!r}",
            )
        target = float(scaling.capacity_per_replica)
    else:
        target = _number(raw_target, "targetValue", where)
        if target <= 0:
            raise MetadataError(
                where, "targetValue", raw_target, f"must be > 0, got {raw_target!r}"
            )

    raw_activation = metadata.get("activationValue")
    activation = 0.0
    if raw_activation is not None and raw_activation.strip():
        activation = _number(raw_activation, "activationValue", where)

    metric_name = metadata.get("metricName", "").strip() or default_metric_name(service, metric)
    safe = config.safe_replicas.get(service, scaling.max_replicas)
    return ScalingQuery(
        service=service,
        metric=metric,
        lead_seconds=lead,
        target=target,
        activation=activation,
        metric_name=metric_name,
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        safe_value=safe * target,
    )


def metric_names(catalog: Catalog, service: str) -> tuple[str, ...]:
    """The signals of ``service`` a trigger may name: the one place the scaler lists them."""
    return tuple(catalog.signals_of(service))


def _lead_seconds(raw: str | None, default: float, horizon: float, where: str) -> float:
    if raw is None or not raw.strip():
        lead = float(default)
    else:
        try:
            lead = float(parse_duration_seconds(raw))
        except (TypeError, ValueError):
            raise MetadataError(
                where,
                "leadTime",
                raw,
                f"expected a duration such as 90s, 10m or 1h, got {raw!r}",
            ) from None
        if not math.isfinite(lead) or lead < 0:
            raise MetadataError(where, "leadTime", raw, f"must be >= 0, got {raw!r}")
    if lead > horizon:
        raise MetadataError(
            where,
            "leadTime",
            raw,
            f"{format_duration(lead)} is beyond the forecast horizon "
            f"({format_duration(horizon)}), got {raw!r}",
        )
    return lead


def _number(raw: str, key: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise MetadataError(where, key, raw, f"expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise MetadataError(where, key, raw, f"expected a finite number, got {raw!r}")
    return value
