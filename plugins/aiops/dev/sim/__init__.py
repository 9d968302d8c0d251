"""The demo world: a deterministic simulated fleet with planted incidents.

`build_world(WorldConfig(), out_dir)` writes per-minute metrics (OpenMetrics), Jaeger traces,
Loghub-style logs and a manifest of the incidents planted in them, so every detector in the
project can be run and checked end to end without a live cluster.
"""

from aiops.dev.sim.world import WorldConfig, build_world, load_manifest, simulate_metrics

__all__ = ["WorldConfig", "build_world", "load_manifest", "simulate_metrics"]
