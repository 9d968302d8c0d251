"""CPU and memory requests from usage history: the recommender.

CPU request, by default: the fit's containers together under one risk budget
(`risk_budget`; aiops.rightsizing.allocation says why a fleet and not each container).
The per-container rule below (`risk_budget=None`) is the seasonal peak.

CPU request, per container. Why not the window's p95 (what KRR's simple strategy takes): a container whose
busiest hours are two hours of a Monday morning spends 1% of the week there, so a window
quantile ignores them, and the request is short exactly when the traffic is highest. Here the
usage is bucketed by hour of week (168 buckets; by hour of day, 24, when the history spans
less than `weekly_min_days`, since one sample of each weekly hour is not a distribution), the
`cpu_quantile` of each bucket is taken, and the busiest bucket decides. With less than two
weeks the hour-of-day fallback still catches a weekly peak that the window holds once: it is
a tenth of that hour's samples in a 10-day window, which a 0.95 quantile does not ignore.

Growth. Daily peaks (the day's `cpu_quantile` of CPU, the day's maximum of memory) get a
Theil-Sen slope, the median of pairwise slopes: robust to a minority of odd days (an
incident, a quiet holiday). With a weekly profile only pairs of days a whole number of weeks
apart are used, so a Monday-to-Sunday pair cannot pass the weekly cycle off as a trend. The
growth factor is the trend line at (end of window + `growth_horizon_days`) over the trend
line at the middle of the window (where the window's peak estimate sits), clipped to
[1, `max_growth`]: the request is never lowered for a shrinking trend (that is the next
run's job, on data that shows it) and a runaway slope (a leak) is capped, not extrapolated.
Fewer than `trend_min_days` daily peaks: no trend, growth 1, stated in the evidence.

Memory (aiops.rightsizing.memory). Request = limit = a level x (1 + a headroom): the peak
(at least the old limit after an OOM kill) or the daily peaks' trend a week ahead, plus a
headroom sized by how far the daily peaks stray above that trend (`memory_spread`, at least
`memory_min_headroom`), or a fixed `memory_headroom` with `memory_spread=None`; x
`oom_bump` once when the window holds OOM kills.

CPU limit. When a `throttled` series is given and the container spends more than
`throttle_min_share` of its samples throttled above `throttle_threshold` while using at
least `near_limit_ratio` of its limit, the advice is to remove the limit (or raise it by
`cpu_limit_raise`, per `cpu_limit_policy`), with those numbers as evidence. A new request
above the current limit is also advised (Kubernetes rejects request > limit).

Risk. `risk` is the in-sample share of observed samples whose CPU exceeds the recommended
request: the risk the recommendation accepts, measured, not assumed. `memory_risk` is the
same for memory against the limit (0 unless growth is negative, which is clipped away).

Bad input: a frame without `cpu`/`memory`, a naive or non-increasing index, repeated
timestamps, an irregular step, negative or infinite usage, throttled ratios outside [0, 1]
raise `RightsizingError` naming the container and the first offending timestamp. Missing
samples (NaN, or rows absent from the grid) are not used in any quantile or peak; they are
counted in the evidence, and a container observed on less than `min_coverage` of its window,
or with a gap longer than `max_gap_hours` (a peak could hide in it), raises instead.

Money. `saving_per_month` uses `price_core_hour` and `price_gib_hour` (defaults: GKE
Autopilot-like on-demand list prices, us-central1, 0.031611 $/vCPU-hour and 0.004237
$/GiB-hour; check your own) over 730 hours.

`save(path)` writes one JSON file (configuration and the fitted state of every container);
`load(path)` restores it exactly (floats are written with repr, which round-trips).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from aiops.rightsizing.allocation import CPU_TOLERANCE, allocate, request_curve
from aiops.rightsizing.memory import MemoryRule, size_memory
from aiops.rightsizing.profile import (
    bucket_label,
    bucket_quantiles,
    ceil_millicores,
    daily_peaks,
    hour_buckets,
    theil_sen_growth,
)
from aiops.rightsizing.usage import (
    GIB,
    MIB,
    ContainerUsage,
    RightsizingError,
    UsageArrays,
    longest_run,
    usage_arrays,
)

FORMAT_VERSION = 1
KIND = "rightsizing-recommender"
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class RightsizingConfig:
    """Every knob of the recommender (defaults: see docs/RIGHTSIZING.md for how chosen)."""

    cpu_quantile: float = 0.8  # quantile of CPU within each hour bucket; the busiest decides
    weekly_min_days: float = 14.0  # history needed for hour-of-week buckets (else hour-of-day)
    min_bucket_samples: int = 6  # buckets with fewer observed samples are not used
    growth_horizon_days: float = 0.0  # the request must hold this long past the window
    trend_min_days: int = 7  # daily peaks needed to fit a trend (else growth = 1)
    max_growth: float = 2.0  # cap on the growth factor (a leak is capped, not extrapolated)
    cpu_floor_cores: float = 0.01  # minimum CPU request (10m)
    # CPU requests across the fleet (aiops.rightsizing.allocation): the fewest cores whose
    # mean predicted share of minutes above the request is at most this; None: each
    # container on its own seasonal peak (`cpu_quantile` of its busiest hour bucket)
    risk_budget: float | None = 0.05
    max_container_risk: float = 0.15  # no container is given more risk than this
    memory_headroom: float = 0.3  # fixed rule: memory = peak x growth x (1 + headroom)
    # memory headroom sized per container: None, the fixed `memory_headroom` above; k, the
    # level (window peak, or the daily-peak trend at `memory_horizon_days` past the window)
    # + k x the highest daily peak's excursion above that trend, at least
    # `memory_min_headroom`; fewer than `memory_spread_min_days` daily peaks: fixed headroom
    memory_spread: float | None = 2.0
    memory_min_headroom: float = 0.03
    memory_horizon_days: float = 7.0
    memory_spread_min_days: int = 3
    memory_floor_bytes: float = 100e6  # 100 MB, KRR's minimum
    oom_bump: float = 1.2  # memory factor per OOM kill in the window (the VPA's OOM bump)
    max_oom_bumps: int = 1  # bumps per fit: kills at one limit say one thing
    min_history_hours: float = 12.0
    min_coverage: float = 0.8  # share of the window's samples that must be observed
    max_gap_hours: float = 6.0  # longest run of missing samples allowed
    throttle_threshold: float = 0.05  # throttled-periods ratio that counts as throttled
    near_limit_ratio: float = 0.9  # usage >= this x limit counts as "near the limit"
    throttle_min_share: float = 0.01  # share of samples throttled near the limit to advise
    cpu_limit_policy: Literal["remove", "raise"] = "remove"
    cpu_limit_raise: float = 2.0  # new limit = max(limit, request) x this, when raising
    price_core_hour: float = 0.031611  # $ per vCPU-hour (GKE Autopilot-like, us-central1)
    price_gib_hour: float = 0.004237  # $ per GiB-hour

    def __post_init__(self) -> None:
        def check(name: str, ok: bool, rule: str) -> None:
            if not ok:
                raise RightsizingError(f"{name}: {rule}, got {getattr(self, name)!r}")

        check("cpu_quantile", 0.5 <= self.cpu_quantile <= 1, "must be in [0.5, 1]")
        check("weekly_min_days", self.weekly_min_days >= 7, "must be >= 7")
        check("min_bucket_samples", self.min_bucket_samples >= 1, "must be >= 1")
        check("growth_horizon_days", self.growth_horizon_days >= 0, "must be >= 0")
        check("trend_min_days", self.trend_min_days >= 2, "must be >= 2")
        check("max_growth", self.max_growth >= 1, "must be >= 1")
        check("cpu_floor_cores", self.cpu_floor_cores >= 0.001, "must be >= 0.001 (1m)")
        check(
            "risk_budget",
            self.risk_budget is None or 0 < self.risk_budget < 0.5,
            "must be None or in (0, 0.5)",
        )
        check("max_container_risk", 0 < self.max_container_risk < 1, "must be in (0, 1)")
        check("memory_headroom", 0 <= self.memory_headroom <= 10, "must be in [0, 10]")
        check(
            "memory_spread",
            self.memory_spread is None or 0 <= self.memory_spread <= 100,
            "must be None or in [0, 100]",
        )
        check("memory_min_headroom", 0 <= self.memory_min_headroom <= 10, "must be in [0, 10]")
        check("memory_horizon_days", self.memory_horizon_days >= 0, "must be >= 0")
        check("memory_spread_min_days", self.memory_spread_min_days >= 2, "must be >= 2")
        check("memory_floor_bytes", self.memory_floor_bytes >= MIB, "must be >= 1 MiB")
        check("oom_bump", self.oom_bump >= 1, "must be >= 1")
        check("max_oom_bumps", self.max_oom_bumps >= 0, "must be >= 0")
        check("min_history_hours", self.min_history_hours > 0, "must be > 0")
        check("min_coverage", 0 <= self.min_coverage <= 1, "must be in [0, 1]")
        check("max_gap_hours", self.max_gap_hours > 0, "must be > 0")
        check("throttle_threshold", 0 < self.throttle_threshold < 1, "must be in (0, 1)")
        check("near_limit_ratio", 0 < self.near_limit_ratio <= 1, "must be in (0, 1]")
        check("throttle_min_share", 0 <= self.throttle_min_share <= 1, "must be in [0, 1]")
        check(
            "cpu_limit_policy",
            self.cpu_limit_policy in ("remove", "raise"),
            "expected 'remove' or 'raise'",
        )
        check("cpu_limit_raise", self.cpu_limit_raise > 1, "must be > 1")
        check("price_core_hour", self.price_core_hour >= 0, "must be >= 0")
        check("price_gib_hour", self.price_gib_hour >= 0, "must be >= 0")

    def memory_rule(self) -> MemoryRule:
        """The memory knobs, for aiops.rightsizing.memory."""
        return MemoryRule(
            headroom=self.memory_headroom,
            spread=self.memory_spread,
            min_headroom=self.memory_min_headroom,
            horizon_days=self.memory_horizon_days,
            spread_min_days=self.memory_spread_min_days,
            floor_bytes=self.memory_floor_bytes,
            oom_bump=self.oom_bump,
            max_oom_bumps=self.max_oom_bumps,
            max_growth=self.max_growth,
            growth_horizon_days=self.growth_horizon_days,
            trend_min_days=self.trend_min_days,
        )


@dataclass(frozen=True)
class Requests:
    """What a right-sizer would set: CPU request (cores) and memory request = limit (bytes)."""

    cpu_cores: float | None
    memory_bytes: float | None


class Rightsizer(Protocol):
    """The protocol the recommender and its peers share, so one bench replays them all."""

    def fit(self, containers: Iterable[ContainerUsage]) -> Rightsizer: ...

    def requests(self) -> dict[str, Requests]: ...


@dataclass(frozen=True)
class CpuLimitAdvice:
    action: Literal["remove", "raise"]
    current_limit_cores: float | None
    suggested_limit_cores: float | None  # None: no limit
    throttled_share: float  # share of samples throttled above the threshold near the limit
    near_limit_share: float  # share of samples using >= near_limit_ratio x the limit
    reason: str


@dataclass(frozen=True)
class Evidence:
    window_start: str  # ISO timestamps (UTC)
    window_end: str
    days: float
    step_seconds: float
    samples: int
    missing_share: float  # share of the grid's samples missing (cpu or memory)
    longest_gap_minutes: float
    bucketing: Literal["hour_of_week", "hour_of_day"]
    peak_bucket: str  # e.g. "Mon 09:00" or "09:00"
    peak_quantile_cores: float  # the cpu_quantile of the busiest bucket
    cpu_p50_cores: float
    cpu_p95_cores: float
    cpu_max_cores: float
    cpu_growth: float
    cpu_trend_days: int  # daily peaks the trend was fitted on (0: no trend)
    memory_peak_bytes: float
    memory_growth: float
    oom_kills: int
    cpu_rule: str = "seasonal peak"  # or "fleet risk budget 3%"
    cpu_predicted_risk: float | None = None  # the allocation's share of minutes above, grown
    memory_rule: str = "fixed headroom"  # or "spread of daily peaks"
    memory_headroom: float | None = None  # the headroom applied over the memory level
    memory_excursion_bytes: float | None = None  # highest daily peak above its trend


@dataclass(frozen=True)
class Recommendation:
    key: str
    cpu_request_cores: float
    memory_request_bytes: float
    memory_limit_bytes: float
    current_cpu_request_cores: float | None
    current_memory_request_bytes: float | None
    cpu_change_cores: float | None  # new - current (negative: a saving)
    memory_change_gib: float | None
    saving_cores: float | None  # current - new
    saving_gib: float | None
    saving_per_month: float | None  # money, at the configured prices, over 730 h
    risk: float  # in-sample share of samples with CPU above the request
    memory_risk: float  # in-sample share of samples with memory above the limit
    cpu_limit_advice: CpuLimitAdvice | None
    evidence: Evidence


# --- the recommender ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fitted:
    """One container's fitted state: everything `recommend()` needs, JSON-friendly."""

    key: str
    cpu_request_cores: float
    memory_bytes: float
    risk: float
    memory_risk: float
    current_cpu_request: float | None
    current_cpu_limit: float | None
    current_memory_request: float | None
    current_memory_limit: float | None
    bucket_quantiles: tuple[float | None, ...]
    cpu_limit_advice: CpuLimitAdvice | None
    evidence: Evidence


class Recommender:
    """Fit on containers' usage, then `recommend()` (full records) or `requests()` (numbers)."""

    def __init__(self, config: RightsizingConfig | None = None) -> None:
        self.config = config or RightsizingConfig()

    def __repr__(self) -> str:
        fitted = f", {len(self.fitted_)} containers" if hasattr(self, "fitted_") else ""
        return f"Recommender({self.config!r}{fitted})"

    def fit(self, containers: Iterable[ContainerUsage]) -> Recommender:
        """Learn every container's requests; raises `RightsizingError` on the first bad one."""
        fitted: dict[str, Fitted] = {}
        inputs: dict[str, tuple[ContainerUsage, UsageArrays]] = {}
        for container in containers:
            if container.key in fitted:
                raise RightsizingError(f"fit: container {container.key!r} given twice")
            fitted[container.key], u = self._fit_one(container)
            inputs[container.key] = (container, u)
        if not fitted:
            raise RightsizingError("fit: no containers given")
        if self.config.risk_budget is not None:
            fitted = self._allocate(fitted, inputs, self.config.risk_budget)
        self.fitted_ = fitted
        return self

    def _allocate(
        self,
        fitted: dict[str, Fitted],
        inputs: dict[str, tuple[ContainerUsage, UsageArrays]],
        budget: float,
    ) -> dict[str, Fitted]:
        """The CPU requests of the whole fit chosen together (aiops.rightsizing.allocation)."""
        cfg = self.config
        curves = [
            request_curve(inputs[k][1].cpu, f.evidence.cpu_growth, cfg.cpu_floor_cores, 0.001)
            for k, f in fitted.items()
        ]
        chosen = allocate(curves, budget, cfg.max_container_risk)
        out = {}
        for (key, f), curve, i in zip(fitted.items(), curves, chosen, strict=True):
            container, u = inputs[key]
            request, advice = self._cpu_request_and_advice(container, u, float(curve.requests[i]))
            cpu_obs = u.cpu[~np.isnan(u.cpu)]
            evidence = replace(
                f.evidence,
                cpu_rule=f"fleet risk budget {budget:.1%}",
                cpu_predicted_risk=float(curve.risks[i]),
            )
            out[key] = replace(
                f,
                cpu_request_cores=request,
                risk=float((cpu_obs > request + CPU_TOLERANCE).mean()),
                cpu_limit_advice=advice,
                evidence=evidence,
            )
        return out

    def _fit_one(self, c: ContainerUsage) -> tuple[Fitted, UsageArrays]:
        cfg = self.config
        u = usage_arrays(c, cfg.min_coverage, cfg.max_gap_hours)
        if u.hours < cfg.min_history_hours:
            raise RightsizingError(
                f"{c.key}: only {u.hours:.1f} h of history "
                f"(min_history_hours={cfg.min_history_hours:g})"
            )
        days = u.hours / 24.0
        weekly = days >= cfg.weekly_min_days
        n_buckets = 168 if weekly else 24
        buckets = hour_buckets(u.t_ns, weekly)
        per_bucket = bucket_quantiles(
            u.cpu, buckets, n_buckets, cfg.cpu_quantile, cfg.min_bucket_samples
        )
        cpu_obs = u.cpu[~np.isnan(u.cpu)]
        if np.isnan(per_bucket).all():  # very sparse: the window's quantile stands in
            peak_bucket, peak_q = -1, float(np.quantile(cpu_obs, cfg.cpu_quantile))
        else:
            peak_bucket = int(np.nanargmax(per_bucket))
            peak_q = float(per_bucket[peak_bucket])

        cpu_peaks = daily_peaks(u.t_ns, u.cpu, u.step_ns, cfg.cpu_quantile)
        cpu_growth = self._clip_growth(
            theil_sen_growth(cpu_peaks, weekly, cfg.growth_horizon_days, cfg.trend_min_days)
        )
        trend_days = int((~np.isnan(cpu_peaks)).sum())
        trend_days = trend_days if trend_days >= cfg.trend_min_days else 0
        cpu_request = ceil_millicores(max(cfg.cpu_floor_cores, peak_q * cpu_growth))
        cpu_request, advice = self._cpu_request_and_advice(c, u, cpu_request)

        start_ns, end_ns = int(u.t_ns[0]), int(u.t_ns[-1]) + u.step_ns
        ooms = [pd.Timestamp(t) for t in c.oom_kills]
        if any(t.tzinfo is None for t in ooms):
            raise RightsizingError(f"{c.key}: oom_kills must be tz-aware timestamps")
        n_oom = sum(start_ns <= t.value < end_ns for t in ooms)
        mem = size_memory(cfg.memory_rule(), u, weekly, n_oom, c.memory_limit)

        evidence = Evidence(
            window_start=pd.Timestamp(start_ns, tz="UTC").isoformat(),
            window_end=pd.Timestamp(end_ns, tz="UTC").isoformat(),
            days=days,
            step_seconds=u.step_ns / 1e9,
            samples=len(u.t_ns),
            missing_share=float((np.isnan(u.cpu) | np.isnan(u.memory)).mean()),
            longest_gap_minutes=longest_run(np.isnan(u.cpu) | np.isnan(u.memory))
            * u.step_ns
            / 6e10,
            bucketing="hour_of_week" if weekly else "hour_of_day",
            peak_bucket="window" if peak_bucket < 0 else bucket_label(peak_bucket, weekly),
            peak_quantile_cores=peak_q,
            cpu_p50_cores=float(np.quantile(cpu_obs, 0.5)),
            cpu_p95_cores=float(np.quantile(cpu_obs, 0.95)),
            cpu_max_cores=float(cpu_obs.max()),
            cpu_growth=cpu_growth,
            cpu_trend_days=trend_days,
            memory_peak_bytes=mem.peak_bytes,
            memory_growth=mem.growth,
            oom_kills=n_oom,
            memory_rule=mem.rule,
            memory_headroom=mem.headroom,
            memory_excursion_bytes=mem.excursion_bytes,
        )
        fitted = Fitted(
            key=c.key,
            cpu_request_cores=cpu_request,
            memory_bytes=mem.bytes,
            risk=float((cpu_obs > cpu_request + CPU_TOLERANCE).mean()),
            memory_risk=float((u.memory[~np.isnan(u.memory)] > mem.bytes).mean()),
            current_cpu_request=_opt_float(c.cpu_request),
            current_cpu_limit=_opt_float(c.cpu_limit),
            current_memory_request=_opt_float(c.memory_request),
            current_memory_limit=_opt_float(c.memory_limit),
            bucket_quantiles=tuple(None if math.isnan(v) else float(v) for v in per_bucket),
            cpu_limit_advice=advice,
            evidence=evidence,
        )
        return fitted, u

    def _cpu_request_and_advice(
        self, c: ContainerUsage, u: UsageArrays, request: float
    ) -> tuple[float, CpuLimitAdvice | None]:
        """The request and the CPU-limit advice. A container throttled at its limit used all
        it was allowed, so its usage there is a floor of its demand, not the demand: the
        request is at least the old limit (what it was seen to need), and the nights after
        the limit is gone show how much more it takes."""
        advice = self._limit_advice(c, u, request)
        throttled = advice is not None and advice.throttled_share > self.config.throttle_min_share
        if throttled and c.cpu_limit is not None:
            request = max(request, ceil_millicores(c.cpu_limit))
        return request, advice

    def _clip_growth(self, growth: float) -> float:
        return float(min(max(growth, 1.0), self.config.max_growth))

    def _limit_advice(
        self, c: ContainerUsage, u: UsageArrays, cpu_request: float
    ) -> CpuLimitAdvice | None:
        cfg = self.config
        limit = c.cpu_limit
        near_share = throttled_share = 0.0
        reasons = []
        if u.throttled is not None:
            ok = ~np.isnan(u.cpu) & ~np.isnan(u.throttled)
            near = u.cpu >= cfg.near_limit_ratio * limit if limit is not None else ok
            throttled = ok & near & (u.throttled > cfg.throttle_threshold)
            near_share = float((ok & near).sum() / max(ok.sum(), 1))
            throttled_share = float(throttled.sum() / max(ok.sum(), 1))
            if throttled_share > cfg.throttle_min_share:
                where = "near its limit" if limit is not None else "(limit unknown)"
                reasons.append(
                    f"throttled above {cfg.throttle_threshold:.0%} of periods in "
                    f"{throttled_share:.1%} of samples {where}"
                )
        if limit is not None and cpu_request > limit:
            reasons.append(f"the new request {cpu_request:g} exceeds the limit {limit:g}")
        if not reasons:
            return None
        action = cfg.cpu_limit_policy
        suggested = None
        if action == "raise":
            suggested = ceil_millicores(max(limit or 0.0, cpu_request) * cfg.cpu_limit_raise)
        return CpuLimitAdvice(
            action=action,
            current_limit_cores=_opt_float(limit),
            suggested_limit_cores=suggested,
            throttled_share=throttled_share,
            near_limit_share=near_share,
            reason="; ".join(reasons),
        )

    # --- use ----------------------------------------------------------------------------

    def recommend(self) -> list[Recommendation]:
        """One record per fitted container, in fit order, with changes, savings and evidence."""
        self._check_fitted()
        cfg = self.config
        out = []
        for f in self.fitted_.values():
            cur_cpu = f.current_cpu_request
            cur_mem = f.current_memory_request
            if cur_mem is None:
                cur_mem = f.current_memory_limit
            cpu_change = None if cur_cpu is None else f.cpu_request_cores - cur_cpu
            mem_change = None if cur_mem is None else (f.memory_bytes - cur_mem) / GIB
            money = None
            if cpu_change is not None or mem_change is not None:
                money = -HOURS_PER_MONTH * (
                    (cpu_change or 0.0) * cfg.price_core_hour
                    + (mem_change or 0.0) * cfg.price_gib_hour
                )
            out.append(
                Recommendation(
                    key=f.key,
                    cpu_request_cores=f.cpu_request_cores,
                    memory_request_bytes=f.memory_bytes,
                    memory_limit_bytes=f.memory_bytes,
                    current_cpu_request_cores=cur_cpu,
                    current_memory_request_bytes=cur_mem,
                    cpu_change_cores=cpu_change,
                    memory_change_gib=mem_change,
                    saving_cores=None if cpu_change is None else -cpu_change,
                    saving_gib=None if mem_change is None else -mem_change,
                    saving_per_month=money,
                    risk=f.risk,
                    memory_risk=f.memory_risk,
                    cpu_limit_advice=f.cpu_limit_advice,
                    evidence=f.evidence,
                )
            )
        return out

    def requests(self) -> dict[str, Requests]:
        self._check_fitted()
        return {k: Requests(f.cpu_request_cores, f.memory_bytes) for k, f in self.fitted_.items()}

    # --- persistence --------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write configuration and fitted state as one JSON file; returns the path."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": FORMAT_VERSION,
            "kind": KIND,
            "config": asdict(self.config),
            "containers": [asdict(f) for f in self.fitted_.values()],
        }
        path.write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recommender:
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RightsizingError(f"{path}: cannot read a saved recommender: {exc}") from exc
        if doc.get("kind") != KIND or doc.get("format") != FORMAT_VERSION:
            raise RightsizingError(
                f"{path}: expected kind {KIND!r} format {FORMAT_VERSION}, "
                f"got {doc.get('kind')!r} format {doc.get('format')!r}"
            )
        known = {f.name for f in fields(RightsizingConfig)}
        unknown = sorted(set(doc["config"]) - known)
        if unknown:
            raise RightsizingError(f"{path}: config: unknown fields {unknown}")
        model = cls(RightsizingConfig(**doc["config"]))
        model.fitted_ = {}
        for raw in doc["containers"]:
            advice = raw["cpu_limit_advice"]
            fitted = Fitted(
                **{
                    **raw,
                    "bucket_quantiles": tuple(raw["bucket_quantiles"]),
                    "cpu_limit_advice": None if advice is None else CpuLimitAdvice(**advice),
                    "evidence": Evidence(**raw["evidence"]),
                }
            )
            model.fitted_[fitted.key] = fitted
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "fitted_"):
            raise RightsizingError("Recommender is not fitted: call fit(containers) or load(path)")


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
