"""Leave-one-category-out selection: how well a config chosen on some series does on others.

The default detector's knobs were once chosen on the very files they were then scored on,
and the figure did not carry over to unseen series. Here the choice for each held-out
category is made on the other categories only (best mean score there), and the held-out
category's score of that choice is what gets reported; the spread of those held-out scores
is the honest range to expect on a new kind of series. Pure functions over a score table
(config -> category -> score), so the rule is tested without running any detector.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ScoreTable = Mapping[Hashable, Mapping[str, float]]


@dataclass(frozen=True)
class HeldOut:
    """One fold: the category left out, the config chosen without it, and how it did there."""

    category: str
    config: Hashable
    train_mean: float  # the chosen config's mean over the other categories
    score: float  # its score on the held-out category


def choose(table: ScoreTable, categories: Sequence[str]) -> Hashable:
    """The config with the best mean over `categories`; ties go to the first in table order."""
    if not categories:
        raise ValueError("choose: no category to choose on")
    if not table:
        raise ValueError(f"choose: empty score table for categories {list(categories)}")
    best_key, best_value = None, -np.inf
    for key, row in table.items():
        missing = [c for c in categories if c not in row]
        if missing:
            raise KeyError(f"choose: config {key!r} has no score for {missing}")
        value = float(np.mean([row[c] for c in categories]))
        if value > best_value:
            best_key, best_value = key, value
    return best_key


def leave_one_out(table: ScoreTable, categories: Sequence[str]) -> list[HeldOut]:
    """For each category in turn: choose on the others, score on it."""
    if len(categories) < 2:
        raise ValueError(f"leave_one_out: needs two categories or more, got {list(categories)}")
    folds = []
    for held in categories:
        others = [c for c in categories if c != held]
        key = choose(table, others)
        row = table[key]
        folds.append(HeldOut(held, key, float(np.mean([row[c] for c in others])), float(row[held])))
    return folds


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(min, mean, max)."""
    if not values:
        raise ValueError("spread: no values")
    return float(min(values)), float(np.mean(values)), float(max(values))
