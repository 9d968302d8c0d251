"""Per-minute metrics for the demo fleet, vectorised over time.

Load enters at the gateway with daily and weekly seasonality, trend and autocorrelated noise,
and flows down the call graph; latency and errors flow back up with a one-minute lag per hop,
so a failing backend shows first and its callers after it (what root-cause ranking relies on).
Counters are real counters: cumulative, reset to zero when a service restarts.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from aiops.dev.sim.incidents import Deploy, Incident
from aiops.dev.sim.topology import ServiceSpec, services_by_name, topological_order

SIGNALS = ("request_rate", "error_ratio", "latency_p95", "cpu", "memory")


@dataclass(frozen=True)
class ServiceMetrics:
    """One service's raw exposition (what Prometheus scrapes) and its ground-truth signals."""

    requests_ok_total: np.ndarray  # counter, resets on restart
    requests_err_total: np.ndarray  # counter, resets on restart
    cpu_seconds_total: np.ndarray  # counter, resets on restart
    latency_p50: np.ndarray  # seconds (summary quantiles)
    latency_p95: np.ndarray
    latency_p99: np.ndarray
    memory_bytes: np.ndarray  # gauge
    request_rate: np.ndarray  # ground truth: requests per second in each minute
    error_ratio: np.ndarray
    cpu_cores: np.ndarray


@dataclass(frozen=True)
class FleetMetrics:
    index: pd.DatetimeIndex
    services: dict[str, ServiceMetrics]
    leak_bytes_per_second: float
    expected_leak_breach: datetime

    def signals_frame(self) -> pd.DataFrame:
        """Wide ground-truth frame: one column per `service:signal`."""
        cols: dict[str, np.ndarray] = {}
        for name, m in self.services.items():
            cols[f"{name}:request_rate"] = m.request_rate
            cols[f"{name}:error_ratio"] = m.error_ratio
            cols[f"{name}:latency_p95"] = m.latency_p95
            cols[f"{name}:cpu"] = m.cpu_cores
            cols[f"{name}:memory"] = m.memory_bytes
        return pd.DataFrame(cols, index=self.index)


def _rng(seed: int, *names: str) -> np.random.Generator:
    """An independent stream per (seed, name), stable whatever order services are simulated in."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def _ar1_noise(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    return lfilter([1.0], [1.0, -phi], rng.normal(0.0, sigma, n))


def _window(index: pd.DatetimeIndex, start: datetime, end: datetime | None) -> np.ndarray:
    mask = index >= start
    if end is not None:
        mask &= index < end
    return np.asarray(mask)


def _ramp(
    index: pd.DatetimeIndex,
    start: datetime,
    minutes_up: float,
    minutes_down: float,
    end: datetime | None,
) -> np.ndarray:
    """0..1 envelope: rises over minutes_up after start, falls over minutes_down after end."""
    t = (index - start).total_seconds().to_numpy() / 60.0
    up = np.clip(t / max(minutes_up, 1e-9), 0.0, 1.0)
    if end is None:
        return up
    t_end = (index - end).total_seconds().to_numpy() / 60.0
    down = np.clip(1.0 - t_end / max(minutes_down, 1e-9), 0.0, 1.0)
    return np.where(t_end >= 0, down * (t >= 0), up)


def _entry_shape(index: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60.0

    def bump(center: float, width: float) -> np.ndarray:
        d = np.abs(hours - center)
        d = np.minimum(d, 24.0 - d)
        return np.exp(-((d / width) ** 2))

    daily = 0.25 + 0.55 * bump(11.0, 3.5) + 0.65 * bump(20.0, 2.8)
    weekend = np.isin(index.day_of_week.to_numpy(), (5, 6))
    weekly = np.where(weekend, 0.72, 1.0)
    trend = 1.0 + 0.12 * np.linspace(0.0, 1.0, len(index))
    noise = np.exp(_ar1_noise(rng, len(index), 0.97, 0.012) + rng.normal(0, 0.03, len(index)))
    return daily * weekly * trend * noise


def _counter(increments: np.ndarray, restarts: np.ndarray) -> np.ndarray:
    """Cumulative sum that restarts from zero at each restart index (counter semantics)."""
    total = np.cumsum(increments)
    if restarts.size:
        base = np.zeros_like(total)
        for r in restarts:
            if r > 0:
                base[r:] = total[r - 1]
        total = total - base
    return total


def _lag(x: np.ndarray, minutes: int = 1) -> np.ndarray:
    return np.concatenate([np.repeat(x[:1], minutes), x[:-minutes]]) if minutes else x


def simulate_fleet(
    services: tuple[ServiceSpec, ...],
    index: pd.DatetimeIndex,
    incidents: list[Incident],
    deploys: list[Deploy],
    seed: int,
    end: datetime,
) -> FleetMetrics:
    by_name = services_by_name(services)
    order = topological_order(services)  # callers first
    n = len(index)
    step_s = (index[1] - index[0]).total_seconds()
    inc = {(i.kind, i.service): i for i in incidents}

    # --- load flows down the call graph --------------------------------------------------
    rps = {name: np.zeros(n) for name in order}
    shape = _entry_shape(index, _rng(seed, "entry"))
    for name in order:
        spec = by_name[name]
        rps[name] = rps[name] + spec.entry_rps * shape
        ramp = inc.get(("traffic_ramp", name))
        if ramp is not None:
            envelope = _ramp(index, ramp.start, (end - ramp.start).total_seconds() / 60, 1, None)
            rps[name] = rps[name] * (1.0 + (ramp.details["factor"] - 1.0) * envelope)
        for call in spec.calls:
            jitter = np.exp(_rng(seed, "calls", name, call.callee).normal(0, 0.02, n))
            rps[call.callee] = rps[call.callee] + rps[name] * call.per_request * jitter

    restarts: dict[str, np.ndarray] = {}
    for name in order:
        times = pd.DatetimeIndex([d.at for d in deploys if d.service == name])
        restarts[name] = np.unique(index.searchsorted(times)) if len(times) else np.array([], int)

    # --- latency and errors flow back up, one minute per hop ----------------------------
    p50: dict[str, np.ndarray] = {}
    p95: dict[str, np.ndarray] = {}
    err: dict[str, np.ndarray] = {}
    out: dict[str, ServiceMetrics] = {}
    leak_rate = 0.0
    leak_breach = end
    for name in reversed(order):  # callees first
        spec = by_name[name]
        rng = _rng(seed, "service", name)
        util = rps[name] / (spec.replicas * spec.capacity_rps_per_replica)
        load_mult = 1.0 + 0.5 * np.minimum(util, 1.6) ** 4
        own = spec.base_latency_s * load_mult * np.exp(_ar1_noise(rng, n, 0.9, 0.03))
        reg = inc.get(("latency_regression", name))
        if reg is not None:
            own = own * np.where(
                _window(index, reg.start, reg.end), reg.details["latency_factor"], 1.0
            )
        own_err = spec.base_error_ratio * np.exp(rng.normal(0, 0.35, n))
        spike = inc.get(("error_spike", name))
        if spike is not None:
            env = _ramp(index, spike.start, 2, 3, spike.end)
            own_err = np.maximum(
                own_err, spike.details["error_ratio"] * env * np.exp(rng.normal(0, 0.1, n))
            )
        cascade = inc.get(("cascading_failure", name))
        if cascade is not None:
            env = _ramp(index, cascade.start, 3, 5, cascade.end)
            own = own * (1.0 + (cascade.details["latency_factor"] - 1.0) * env)
            own_err = np.maximum(own_err, cascade.details["error_ratio"] * env)

        lat50 = own.copy()
        lat95 = own * 2.2
        e = own_err.copy()
        for call in spec.calls:
            if call.mode != "sync":
                continue
            lat50 = lat50 + call.per_request * _lag(p50[call.callee])
            lat95 = lat95 + call.per_request * 0.8 * _lag(p95[call.callee])
            e = e + call.per_request * 0.6 * _lag(err[call.callee])
        e = np.clip(e, 0.0, 1.0)
        p50[name], p95[name], err[name] = lat50, lat95, e
        lat99 = lat95 * 1.6 * np.exp(rng.normal(0, 0.05, n))

        count = rng.poisson(rps[name] * step_s).astype(np.float64)
        errors = rng.binomial(count.astype(np.int64), e).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            observed_err = np.where(count > 0, errors / np.maximum(count, 1), 0.0)

        cores = spec.idle_cores + rps[name] * spec.cpu_s_per_request * np.exp(
            rng.normal(0, 0.04, n)
        )
        cpu_increments = np.round(cores * step_s, 3)

        memory = _memory(spec, index, rps[name], restarts[name], rng)
        leak = inc.get(("memory_leak", name))
        if leak is not None:
            breach_at = end + timedelta(days=2)
            level = float(np.median(memory[-1440:]))
            leak_rate = (spec.memory_limit_bytes - level) / (breach_at - leak.start).total_seconds()
            since = np.clip((index - leak.start).total_seconds().to_numpy(), 0.0, None)
            memory = memory + leak_rate * since
            leak_breach = breach_at
        memory = np.round(memory)

        out[name] = ServiceMetrics(
            requests_ok_total=_counter(count - errors, restarts[name]),
            requests_err_total=_counter(errors, restarts[name]),
            cpu_seconds_total=np.round(_counter(cpu_increments, restarts[name]), 3),
            latency_p50=lat50,
            latency_p95=lat95,
            latency_p99=lat99,
            memory_bytes=memory,
            request_rate=count / step_s,
            error_ratio=observed_err,
            cpu_cores=cpu_increments / step_s,
        )
    ordered = {s.name: out[s.name] for s in services}
    return FleetMetrics(index, ordered, leak_rate, leak_breach)


def _memory(
    spec: ServiceSpec,
    index: pd.DatetimeIndex,
    rps: np.ndarray,
    restarts: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Working set grows a little with load, saws with GC, and warms up after each restart."""
    n = len(index)
    minute = np.arange(n)
    load = rps / max(float(np.mean(rps)), 1e-9)
    gc_saw = 0.03 * ((minute % 17) / 17.0)
    mem = spec.memory_base_bytes * (1.0 + 0.06 * (load - 1.0) + gc_saw)
    mem = mem * np.exp(rng.normal(0, 0.004, n))
    if restarts.size:
        since = np.full(n, 10_000.0)
        for r in restarts:
            since[r:] = minute[r:] - r
        mem = mem * (1.0 - 0.15 * np.exp(-since / 30.0))
    return mem
