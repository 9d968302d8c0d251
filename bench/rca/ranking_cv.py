"""The ranking's weights chosen across the two days: choose on one, score on the other.

A small grid over `RankingConfig` (how much the walk, the onset order and the strength
count, and how readily the walker steps back to a caller) and the post-mortem's
`lingering_weight` (the strength kept by an event going on before the window), each choice
scored on the events the replay already produced (scoring is the slow part; ranking takes
milliseconds; a lingering event's strength is rescaled from the replay's weight).
For each day in turn the config with the best mean Avg@5 on the other day is chosen (ties:
AC@1, then grid order) and its figures on the held-out day reported, as the issue asks:
weights chosen by cross-validation across the days, not on all faults at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from aiops.incidents.graph import DependencyGraph
from aiops.incidents.incident_event import IncidentEvent
from aiops.incidents.postmortem import PostmortemConfig
from aiops.incidents.ranking import RankingConfig, rank_root_causes
from bench.rca import scoring
from bench.rca.replay import Replay

REPLAYED = PostmortemConfig().lingering_weight  # the weight the replay's events carry
LINGERING = (1.0, 0.5, 0.25, 0.1, 0.03)


@dataclass(frozen=True)
class Choice:
    ranking: RankingConfig
    lingering: float  # the post-mortem's lingering_weight


DEFAULT = Choice(RankingConfig(), REPLAYED)
#: (walk, onset, strength) weights, each summing to 1; the current default is the first.
WEIGHTS = ((0.6, 0.3, 0.1), (0.4, 0.3, 0.3), (0.3, 0.2, 0.5), (0.2, 0.1, 0.7), (0.5, 0.0, 0.5))
BACKWARD = (0.3, 0.6)


def grid() -> list[Choice]:
    """The choices, the current default first."""
    out = [DEFAULT]
    for (w, o, s), b, lingering in itertools.product(WEIGHTS, BACKWARD, LINGERING):
        ranking = replace(
            DEFAULT.ranking, walk_weight=w, onset_weight=o, strength_weight=s, backward=b
        )
        if Choice(ranking, lingering) != DEFAULT:
            out.append(Choice(ranking, lingering))
    return out


def describe(choice: Choice) -> str:
    config = choice.ranking
    return (
        f"walk {config.walk_weight:g}, onset {config.onset_weight:g}, strength "
        f"{config.strength_weight:g}, backward {config.backward:g}, lingering {choice.lingering:g}"
    )


def rescaled(events: Sequence[IncidentEvent], lingering: float) -> list[IncidentEvent]:
    """The replay's events as a post-mortem with `lingering` would have weighed them."""
    factor = lingering / REPLAYED
    return [e if e.onset_known else replace(e, strength=e.strength * factor) for e in events]


@dataclass(frozen=True)
class Fold:
    held_out: str
    config: Choice
    chosen_on: tuple[float, float]  # (Avg@5, AC@1) on the other day
    held: tuple[float, float, float]  # AC@1, AC@3, Avg@5 on the held-out day


def hits_of(
    choice: Choice, replays: Sequence[Replay], graphs: dict[str, DependencyGraph]
) -> list[tuple[float, ...]]:
    out = []
    for r in replays:
        events = rescaled(r.events, choice.lingering)
        ranked = (
            [c.service for c in
             rank_root_causes(events, graphs[r.fault.day], choice.ranking).candidates]
            if events
            else []
        )  # fmt: skip
        out.append(scoring.hits(ranked, r.fault.service))
    return out


def per_day(
    replays: Sequence[Replay], graphs: dict[str, DependencyGraph]
) -> dict[Choice, dict[str, tuple[float, float]]]:
    """Every config's (AC@1, Avg@5) per day, to see the whole grid beside the choice."""
    days = sorted({r.fault.day for r in replays})
    out = {}
    for config in grid():
        hits = hits_of(config, replays, graphs)
        out[config] = {
            d: (
                scoring.ac_at(
                    [h for h, r in zip(hits, replays, strict=True) if r.fault.day == d], 1
                )
                or 0.0,
                scoring.avg_at_5(
                    [h for h, r in zip(hits, replays, strict=True) if r.fault.day == d]
                )
                or 0.0,
            )
            for d in days
        }
    return out


def cross_validate(
    replays: Sequence[Replay], graphs: dict[str, DependencyGraph]
) -> tuple[list[Fold], Choice]:
    """Per held-out day: the config chosen on the other days and how it does; and the config
    the same rule picks on all days."""
    configs = grid()
    days = sorted({r.fault.day for r in replays})
    table = {c: hits_of(c, replays, graphs) for c in configs}

    def summary(config: Choice, chosen_days: Sequence[str]) -> tuple[float, float]:
        rows = [
            h for h, r in zip(table[config], replays, strict=True) if r.fault.day in chosen_days
        ]
        return scoring.avg_at_5(rows) or 0.0, scoring.ac_at(rows, 1) or 0.0

    def best(chosen_days: Sequence[str]) -> Choice:
        return max(configs, key=lambda c: (*summary(c, chosen_days), -configs.index(c)))

    folds = []
    for held in days:
        others = [d for d in days if d != held]
        config = best(others)
        rows = [h for h, r in zip(table[config], replays, strict=True) if r.fault.day == held]
        folds.append(
            Fold(held, config, summary(config, others),
                 (scoring.ac_at(rows, 1) or 0.0, scoring.ac_at(rows, 3) or 0.0,
                  scoring.avg_at_5(rows) or 0.0))
        )  # fmt: skip
    return folds, best(days)
