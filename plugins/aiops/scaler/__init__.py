"""The KEDA external scaler: serves the hourly DAG's forecasts to KEDA over gRPC and HTTP.

``start_scaler(ScalerConfig(...))`` runs one in-process (the demo, tests); ``aiops scaler
serve`` runs one from the command line. docs/SCALER.md has the metadata keys, the staleness
rules and example ScaledObjects (include/keda/).

Names are imported on first use, so ``python -m aiops.scaler.proto`` (which generates the gRPC
stubs) does not import the stubs it is about to write.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiops.scaler.client import ScalerClient
    from aiops.scaler.config import ScalerConfig, ScalerConfigError, clock_from, wall_clock
    from aiops.scaler.lookup import Answer
    from aiops.scaler.request import MetadataError, ScalingQuery, default_metric_name
    from aiops.scaler.server import RunningScaler, ScalerError, start_scaler

_HOMES = {
    "Answer": "lookup",
    "MetadataError": "request",
    "RunningScaler": "server",
    "ScalerClient": "client",
    "ScalerConfig": "config",
    "ScalerConfigError": "config",
    "ScalerError": "server",
    "ScalingQuery": "request",
    "clock_from": "config",
    "default_metric_name": "request",
    "start_scaler": "server",
    "wall_clock": "config",
}

__all__ = [
    "Answer",
    "MetadataError",
    "RunningScaler",
    "ScalerClient",
    "ScalerConfig",
    "ScalerConfigError",
    "ScalerError",
    "ScalingQuery",
    "clock_from",
    "default_metric_name",
    "start_scaler",
    "wall_clock",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
