"""The default demo world's metrics, simulated once per session for the simulator's tests
(read-only: a test that needs to change them copies them)."""

from __future__ import annotations

import pytest

from aiops.dev.sim.metrics import FleetMetrics
from aiops.dev.sim.world import WorldConfig, simulate_metrics


@pytest.fixture(scope="session")
def config() -> WorldConfig:
    return WorldConfig()


@pytest.fixture(scope="session")
def fleet(config: WorldConfig) -> FleetMetrics:
    return simulate_metrics(config)
