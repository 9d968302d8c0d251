"""Replaying scaling decisions on a load series: what each strategy would have asked for,
how often it was short of the load, and what it cost. `aiops scaler plan` replays a
service's last days with its own models; bench/bench_scaling.py replays real load series.

Bins are labelled by their end, as forecasts are. A bin running over [t - step, t) gets the
replicas decided at d = t - step - lead, from data up to d only: the forecast made at the
newest hour at or before d, and the load of the bins complete by d. Strategies:

- `ours`: `scaling_values` on that forecast with the load observed at d as its floor (what
  the refresh task serves), for each policy given;
- `point`: the point forecast for the bin (what was served before the decision rule);
- `reactive`: the load of the last bin observed by d (an HPA on the current metric);
- `predictkube`: max(the forecast for the bin, the last observed load), PredictKube's rule;
- `upper80`: the forecast interval's upper end for the bin (its point without an interval);
- `perfect`: the bin's own load.

A bin is short when replicas x capacity is below its load; cost is replica-hours against
perfect foresight's. A value that cannot be known (no forecast) asks for `max_replicas`,
as the scaler's safe value does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from aiops.catalog import Scaling
from aiops.forecast import ForecastSet
from aiops.predictive.scaling import desired_replicas, scaling_values

PEERS = ("point", "reactive", "predictkube", "upper80", "perfect")
#: The model a decision at an hour uses: the newest one trained by then, or None.
ModelAt = Callable[[pd.Timestamp], ForecastSet | None]


@dataclass
class Tally:
    """Per strategy: bins short of the load, replicas asked, perfect foresight's, bins."""

    short: int = 0
    replicas: float = 0.0
    perfect: float = 0.0
    bins: int = 0

    def add(self, other: Tally) -> None:
        self.short += other.short
        self.replicas += other.replicas
        self.perfect += other.perfect
        self.bins += other.bins

    @property
    def short_share(self) -> float:
        return self.short / self.bins if self.bins else float("nan")

    @property
    def cost(self) -> float:
        """Replica-hours relative to perfect foresight's."""
        return self.replicas / self.perfect if self.perfect else float("nan")


@dataclass
class Replay:
    """Every scored bin's load and each strategy's replicas, and their tallies."""

    step: pd.Timedelta
    times: list[pd.Timestamp] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    replicas: dict[str, list[int]] = field(default_factory=dict)
    tallies: dict[str, Tally] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """One row per bin: the load and each strategy's replicas."""
        return pd.DataFrame({"load": self.loads, **self.replicas},
                            index=pd.DatetimeIndex(self.times, name="time"))  # fmt: skip


def replay_scaling(
    load: pd.Series,
    key: str,
    model_at: ModelAt,
    policies: Mapping[str, Scaling],
    start: pd.Timestamp,
    end: pd.Timestamp | None = None,
) -> Replay:
    """Replay the bins of `load` (regular, labelled by bin end) in (start, end]: `key` is
    the forecast key of the series in the models `model_at` gives; `policies` name each
    `ours` variant. Capacity and replica bounds are the first policy's."""
    step = pd.Timedelta(load.index.freq or load.index.to_series().diff().median())
    end = end if end is not None else load.index[-1]
    first = next(iter(policies.values()))
    out = Replay(step)
    names = [*policies, *PEERS]
    out.replicas = {name: [] for name in names}
    out.tallies = {name: Tally() for name in names}
    frame = load.to_frame(key)
    lead = pd.Timedelta(seconds=first.lead_time)
    hour = (start - lead - step).floor("1h")
    while hour <= end:
        model = model_at(hour)
        path = None
        if model is not None:
            path = model.predict(frame[frame.index <= hour], hour).get(key)
        if path is not None and not path.empty:
            _score_hour(out, load, path, hour, lead, first, policies, model, key, (start, end))
        hour += pd.Timedelta(hours=1)
    return out


def _score_hour(
    out: Replay,
    load: pd.Series,
    path: pd.DataFrame,
    hour: pd.Timestamp,
    lead: pd.Timedelta,
    first: Scaling,
    policies: Mapping[str, Scaling],
    model: ForecastSet,
    key: str,
    span: tuple[pd.Timestamp, pd.Timestamp],
) -> None:
    step = out.step
    decided_at = load.index - step - lead
    bins = load.index[(decided_at >= hour) & (decided_at < hour + pd.Timedelta(hours=1))]
    bins = bins[(bins > span[0]) & (bins <= span[1])]
    if len(bins) == 0:
        return
    level, log_scale = model.config.level, model.is_log(key)
    targets = path.index.as_unit("ns").asi8
    columns = {"point": path["mean"].to_numpy(float), "upper": path["upper"].to_numpy(float)}
    for name, policy in policies.items():
        decided = scaling_values(path, policy, level=level, log_scale=log_scale)
        columns[name] = decided.to_numpy(float)
    seen = load.dropna()
    seen_t, seen_v = seen.index.as_unit("ns").asi8, seen.to_numpy(float)
    capacity, low, high = first.capacity_per_replica, first.min_replicas, first.max_replicas
    for t in bins:
        actual = load.get(t)
        if actual is None or not np.isfinite(actual):
            continue
        # the last bin complete by the decision, and the forecast rows for the bin
        observed = _last(seen_t, seen_v, (t - step - lead).value)
        at = {name: _last(targets, values, t.value) for name, values in columns.items()}
        point, upper = at.pop("point"), at.pop("upper")
        values = {
            "point": point,
            "reactive": observed,
            "predictkube": _floored(point, observed),
            "upper80": upper if np.isfinite(upper) else point,
            "perfect": float(actual),
        }
        values.update({name: _floored(value, observed) for name, value in at.items()})
        perfect = desired_replicas(float(actual), capacity, low, high)
        out.times.append(t)
        out.loads.append(float(actual))
        for name, value in values.items():
            replicas = desired_replicas(value, capacity, low, high) if np.isfinite(value) else high
            out.replicas[name].append(replicas)
            tally = out.tallies[name]
            tally.bins += 1
            tally.short += replicas * capacity < actual - 1e-9
            tally.replicas += replicas
            tally.perfect += perfect


def _floored(value: float, observed: float) -> float:
    if not np.isfinite(observed):
        return value
    return max(value, observed) if np.isfinite(value) else observed


def _last(times_ns: np.ndarray, values: np.ndarray, when_ns: int) -> float:
    """The value at the last time at or before `when_ns`; NaN when there is none (a value
    from later would be one the decision could not have known)."""
    i = int(np.searchsorted(times_ns, when_ns, side="right")) - 1
    return float(values[i]) if i >= 0 else float("nan")


def hours_of(replay: Replay, name: str) -> float:
    """Replica-hours a strategy asked for over the replay."""
    return sum(replay.replicas[name]) * replay.step / timedelta(hours=1)
