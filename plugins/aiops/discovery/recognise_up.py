"""The fallback: every scrape job no other convention covered becomes a service with one
signal, `up`, the share of its targets that answer (bad when it goes down)."""

from __future__ import annotations

from dataclasses import dataclass

from aiops.discovery.conventions import (
    DraftSignal,
    FoundService,
    Inventory,
    label_values,
    service_matcher,
    service_name,
)


@dataclass(frozen=True)
class UpConvention:
    name: str = "up"
    title: str = "scrape jobs (up)"

    def recognise(self, inventory: Inventory, claimed_jobs: frozenset[str]) -> list[FoundService]:
        if "up" not in inventory.metric_names():
            return []
        found = []
        for raw in label_values(inventory.series("up"), "job"):
            name = service_name(raw)
            if raw in claimed_jobs or name is None:
                continue
            up = DraftSignal(
                f"avg(up{{{service_matcher('job', raw, name)}}})",
                "ratio",
                "other",
                "down",
                0.0,
                1.0,
            )
            found.append(
                FoundService(name, self.name, f'up job="{raw}"', {"up": up}, frozenset({raw}))
            )
        return found


UP = UpConvention()

__all__ = ["UP", "UpConvention"]
