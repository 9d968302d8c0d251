"""The trace detectors `analyze_traces` runs: one registered `DetectorSpec` per detector.

A detector is declared next to its class (aiops.traces.detect_calls, detect_paths,
detect_graph): the kinds of finding it emits, each with its label and why sentence, and the
settings it reads. This module lists the built-in ones in the order the analysis runs them,
which is the order their findings are in before ranking (so ties keep today's order and the
output stays byte-identical). Adding a detector is its class, kind and spec in a detect
module, and one line in `BUILT_IN`. Its suggestion text may go in aiops.traces.suggest: the
rule-based suggestions stay together there because they are read and edited as one voice
(the same register, the same way of naming statements and services), and the issue renderer
reuses `batched_statement` from it.

Registering a detector registers its kinds with the finding-kind registry
(aiops.findings.kinds), which is what every renderer reads; unregistering removes them again.
Another detector cannot take a kind a registered one emits, so a kind has one owner.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.findings.kinds import KINDS, KindRegistry
from aiops.traces.detect_calls import (
    CHATTY_PAIR_DETECTOR,
    FAN_OUT_DETECTOR,
    N_PLUS_ONE_DETECTOR,
    SEQUENTIAL_CALLS_DETECTOR,
)
from aiops.traces.detect_graph import DEPENDENCY_CYCLE_DETECTOR, SINGLE_POINT_OF_FAILURE_DETECTOR
from aiops.traces.detect_paths import CRITICAL_PATH_HOTSPOT_DETECTOR, ERROR_HOTSPOT_DETECTOR
from aiops.traces.view import AnalysisConfig, Detector, DetectorSpec

#: The built-in detectors in the order they run and list their findings.
BUILT_IN: tuple[DetectorSpec, ...] = (
    N_PLUS_ONE_DETECTOR,
    SEQUENTIAL_CALLS_DETECTOR,
    FAN_OUT_DETECTOR,
    CHATTY_PAIR_DETECTOR,
    CRITICAL_PATH_HOTSPOT_DETECTOR,
    ERROR_HOTSPOT_DETECTOR,
    SINGLE_POINT_OF_FAILURE_DETECTOR,
    DEPENDENCY_CYCLE_DETECTOR,
)


class DetectorRegistry:
    """Detectors by name, in registration order; their kinds go into ``kinds``."""

    def __init__(self, specs: Iterable[DetectorSpec] = (), kinds: KindRegistry = KINDS) -> None:
        self._kinds = kinds
        self._specs: dict[str, DetectorSpec] = {}
        for spec in specs:
            self._add(spec)

    def register(self, spec: DetectorSpec) -> DetectorSpec:
        """Add ``spec`` after the detectors already registered; returns it. Refused, with
        nothing registered, when its name is taken or a kind it declares is already another
        detector's or another source's (the log miner's, the incident report's)."""
        detectors = {k.name for s in self._specs.values() for k in s.kinds}
        for kind in getattr(spec, "kinds", ()):
            # a detector's kind is refused by _add, naming the detector; `in` imports the
            # other sources first, so their kinds are known
            if kind.name not in detectors and kind.name in self._kinds:
                raise ValueError(
                    f"detector {spec.name!r}: kind {kind.name!r} is already registered by "
                    f"another source ({self._kinds.get(kind.name)})"
                )
        return self._add(spec)

    def _add(self, spec: DetectorSpec) -> DetectorSpec:
        """`register` without importing the other sources: for the built-in detectors, which
        are registered while this module is imported."""
        if not isinstance(spec, DetectorSpec):
            raise TypeError(f"DetectorRegistry.register: expected a DetectorSpec, got {spec!r}")
        if spec.name in self._specs:
            raise ValueError(f"detector {spec.name!r} is already registered")
        owners = {k.name: s.name for s in self._specs.values() for k in s.kinds}
        for kind in spec.kinds:
            if (owner := owners.get(kind.name)) is not None:
                raise ValueError(
                    f"detector {spec.name!r}: kind {kind.name!r} is already emitted by "
                    f"detector {owner!r}"
                )
        added: list[str] = []
        try:
            for kind in spec.kinds:
                self._kinds.register(kind)
                added.append(kind.name)
        except Exception:
            for name in added:
                self._kinds.unregister(name)
            raise
        self._specs[spec.name] = spec
        return spec

    def unregister(self, name: str) -> None:
        """Remove the detector called ``name`` and its kinds."""
        spec = self._specs.pop(name, None)
        if spec is None:
            raise ValueError(
                f"detector {name!r} is not registered (registered: {', '.join(self._specs)})"
            )
        for kind in spec.kinds:
            self._kinds.unregister(kind.name)

    def specs(self) -> tuple[DetectorSpec, ...]:
        return tuple(self._specs.values())

    def build(self, config: AnalysisConfig) -> list[tuple[DetectorSpec, Detector]]:
        """A fresh detector of every registered spec for one analysis, in order."""
        return [(spec, spec.make(config)) for spec in self._specs.values()]


#: The registry `analyze_traces` reads.
DETECTORS = DetectorRegistry(BUILT_IN)
