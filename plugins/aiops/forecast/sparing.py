"""Costly candidates only where they pay: which series a sparing candidate (Prophet, by
default) is backtested on tonight.

Prophet costs about twenty times the other candidates per series (on hourly bins) and
wins few of them, so backtesting it on every series every night is most of a nightly's
time for little. A sparing candidate is backtested on a series (`due_keys`) when:

- there is no earlier night for the series (nothing says how it does there);
- the series' re-check comes round: every `recheck_days`, on a day fixed by the series'
  name (so a fleet's re-checks spread over the week instead of landing on one night), or
  when its last check is that long ago (a missed night does not skip a check).

Between re-checks, where it is the series' current choice its backtest is carried
(`carried_keys`): last check's scores and interval offsets are reused and the candidate is
only refitted on the new data, one fit instead of one per backtest day; the cheap
candidates are backtested as every night and must beat the carried score to take over.
Elsewhere its backtest is left out, so it cannot be chosen, and the night costs what the
cheap candidates cost. The day of each candidate's last backtest is kept in the series'
choice (`checked`), carried from night to night.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import numpy as np


def recheck_slot(key: str, recheck_days: int) -> int:
    """The day of the `recheck_days` cycle on which `key` is re-checked."""
    return zlib.crc32(key.encode()) % recheck_days


def due_keys(
    candidate: str,
    keys: Iterable[str],
    previous: Mapping[str, Mapping[str, Any]] | None,
    day: date,
    recheck_days: int,
) -> list[str]:
    """The keys `candidate` is backtested on for a night ending on `day`, given the previous
    night's choices (`ForecastSet.choices_`; None: no previous night)."""
    out = []
    for key in keys:
        before = None if previous is None else previous.get(key)
        last = None if before is None else before.get("checked", {}).get(candidate)
        if (
            before is None
            or last is None
            or (day - date.fromisoformat(last)).days >= recheck_days
            or day.toordinal() % recheck_days == recheck_slot(key, recheck_days)
        ):
            out.append(key)
    return out


def carried_keys(
    candidate: str,
    keys: Iterable[str],
    previous: Mapping[str, Mapping[str, Any]] | None,
    due: Iterable[str],
) -> list[str]:
    """The keys whose backtest of `candidate` is carried from the previous night: those it
    was chosen for, scored, and not due tonight."""
    if previous is None:
        return []
    skip = set(due)
    return [
        key
        for key in keys
        if key not in skip
        and previous.get(key, {}).get("model") == candidate
        and (previous[key].get("scores", {}).get(candidate) or {}).get("mase") is not None
    ]


def carried_checks(
    key: str,
    previous: Mapping[str, Mapping[str, Any]] | None,
    backtested: Mapping[str, set[str]],
    day: date,
) -> dict[str, str]:
    """The `checked` entry of a series' choice: tonight's day for the candidates backtested
    on it tonight, the previous night's for the others."""
    before = {} if previous is None else dict(previous.get(key, {}).get("checked", {}))
    for candidate, keys in backtested.items():
        if key in keys:
            before[candidate] = day.isoformat()
    return dict(sorted(before.items()))


def carry_plan(
    only: dict[str, list[str]],
    eligible: list[str],
    previous: Mapping[str, Mapping[str, Any]] | None,
    held: Mapping[str, Mapping[str, Any]],
) -> dict[str, list[str]]:
    """Per spared candidate in `only` (candidate -> keys due tonight), the keys whose
    backtest is carried: `carried_keys` whose previous interval offsets are in `held`
    (candidate -> key -> offsets; empty when the configuration changed). A series that
    cannot carry is backtested tonight instead (added to `only`, in place), so it does not
    lose its choice."""
    if previous is None:
        return {}
    out: dict[str, list[str]] = {}
    for name, due in only.items():
        keys = carried_keys(name, eligible, previous, due)
        offsets = held.get(name, {})
        out[name] = [k for k in keys if k in offsets]
        due.extend(k for k in keys if k not in offsets)
    return out


def carry_scores(
    scores: dict[str, dict[str, np.ndarray]],
    carried: Mapping[str, list[str]],
    eligible: list[str],
    previous: Mapping[str, Mapping[str, Any]] | None,
) -> None:
    """Write the carried candidates' previous scores (`previous` choices) into tonight's
    score arrays (aiops.forecast.backtest.score_backtest's), in place."""
    position = {k: j for j, k in enumerate(eligible)}
    for name, keys in carried.items():
        for key in keys:
            old = previous[key]["scores"][name]  # type: ignore[index]
            j = position[key]
            scores[name]["mase"][j] = old["mase"]
            scores[name]["smape"][j] = np.nan if old["smape"] is None else old["smape"]
            scores[name]["origins"][j] = old["origins"]
