"""What `aiops demo` prints about forecasts: predicted SLO breaches checked against what the
data did next, and the scaling values KEDA would read, next to reactive scaling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from aiops.catalog import Catalog
from aiops.predictive.scaling import desired_replicas
from aiops.store import Store
from aiops.units import format_value

Say = Callable[[str], None]


def ground_truth(world_dir: Path) -> pd.DataFrame:
    """The simulator's signals (what the metrics really did), to check forecasts against."""
    return pd.read_csv(world_dir / "signals.csv.gz", index_col=0, parse_dates=True)


def print_alerts(
    store: Store, catalog: Catalog, truth: pd.DataFrame, origin: datetime, say: Say
) -> list[dict]:
    """Each predicted breach from the run ending at `origin`, and when the data crossed."""
    alerts = store.read("predictive_alerts", generated_at=origin)
    say(f"      predictive alerts from the run ending {origin:%m-%d %H:%M}: {len(alerts)}")
    for alert in alerts:
        say(f"        [{alert['severity']}] {alert['message']}")
        key = f"{alert['service']}:{alert['signal']}"
        if key not in truth:
            continue
        after = truth.loc[truth.index >= origin, key]
        # the forecast is of 5-minute means (bins labelled by their end): compare like with like
        means = after.resample("5min", label="right", closed="left").mean()
        crossed = means[means >= alert["threshold"]]
        raw = after[after >= alert["threshold"]]
        if crossed.empty:
            say("          the data did not cross it before the demo world ends")
            continue
        at = crossed.index[0].to_pydatetime()
        lead = at - origin
        inside = alert["breach_earliest"] <= at <= (alert["breach_latest"] or at)
        say(
            f"          the data's 5-minute mean first crossed "
            f"{format_value(alert['signal'], alert['threshold'])} at {at:%m-%d %H:%M} "
            f"({'inside' if inside else 'outside'} the interval; single minutes from "
            f"{raw.index[0]:%H:%M}): warned {_hm(lead)} ahead"
            + (" (>= 1h: predicted in time)" if lead >= timedelta(hours=1) else "")
        )
    return alerts


def print_breach_issues(store: Store, out: Path, say: Say) -> None:
    """The predicted-breach issues the night after filed in the dry-run folder, with their
    chart (Mermaid in the markdown, the PNG beside it)."""
    from aiops.dev.demo.traces import shown
    from aiops.sinks.dry_run import DryRunSink

    folder = DryRunSink(out / "issues")
    ledger = {row["fingerprint"]: row for row in store.read("issue_ledger", sink=folder.sink)}
    for finding in store.read("findings", source="predictive"):
        row = ledger.get(finding["fingerprint"])
        if row is None:
            say(f"          {finding['title']}: not filed")
            continue
        path = folder.path_for(row["fingerprint"], row["repository"])
        say(f"          issue with its chart: {shown(path)} (+ .png)")


def print_scaling(
    catalog: Catalog,
    origin: datetime,
    served: dict[str, tuple[float, float]],
    observed: dict[str, float],
    say: Say,
) -> None:
    """KEDA's view: the value the scaler served (load at now + lead) and its target, giving
    ceil(value / target) replicas, next to what the current load alone would ask for."""
    say(f"      KEDA external scaler (gRPC on loopback), now = {origin:%m-%d %H:%M}:")
    say(
        f"        {'service':<15} {'lead':>5} {'predicted':>11} {'replicas':>8}   "
        f"{'current load':>12} {'replicas':>8}"
    )
    for service, (value, target) in served.items():
        scaling = catalog.services[service].scaling
        low, high = scaling.min_replicas, scaling.max_replicas
        now = observed.get(service, float("nan"))
        say(
            f"        {service:<15} {_hm(timedelta(seconds=scaling.lead_time)):>5} "
            f"{value:>7.1f} r/s {desired_replicas(value, target, low, high):>8}   "
            f"{now:>8.1f} r/s {desired_replicas(now, target, low, high):>8}"
        )


def print_ramp(
    store: Store, catalog: Catalog, truth: pd.DataFrame, service: str, origin: datetime, say: Say
) -> None:
    """When predictive scaling asks for each extra replica, against when the load needed it."""
    scaling = catalog.services[service].scaling
    metric = scaling.metric
    rows = [
        r
        for r in store.read("predictions", service=service, metric=metric)
        if r["generated_at"] == origin and r["desired_replicas"] is not None
    ]
    if not rows:
        say(f"      {service}: no predictions from the run ending {origin:%m-%d %H:%M}")
        return
    plan = pd.Series(
        [r["desired_replicas"] for r in rows],
        index=pd.DatetimeIndex([r["target_time"] for r in rows]),
    )
    actual = truth.loc[
        (truth.index >= origin) & (truth.index <= plan.index[-1]), f"{service}:{metric}"
    ]
    needed = (
        actual.rolling("5min")
        .mean()
        .map(
            lambda v: desired_replicas(
                v, scaling.capacity_per_replica, scaling.min_replicas, scaling.max_replicas
            )
        )
    )
    say(
        f"      {service} traffic ramp, forecast from {origin:%m-%d %H:%M} "
        f"({scaling.capacity_per_replica:g} r/s per replica, lead {_hm(timedelta(seconds=scaling.lead_time))}):"
    )
    start = int(needed.iloc[0]) if len(needed) else scaling.min_replicas
    for n in range(start + 1, int(max(plan.max(), needed.max())) + 1):
        asked = plan[plan >= n]
        need = needed[needed >= n]
        asked_at = f"{asked.index[0]:%H:%M}" if len(asked) else "  -  "
        need_at = f"{need.index[0]:%H:%M}" if len(need) else "  -  "
        ahead = (
            f", {_hm(need.index[0] - asked.index[0])} before the load"
            if len(asked) and len(need) and asked.index[0] <= need.index[0]
            else ""
        )
        say(
            f"        {n} replicas: predictive scaling at {asked_at}, load needed it at {need_at}{ahead}"
        )


def _hm(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    sign = "-" if minutes < 0 else ""
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours}h{minutes:02d}m" if hours else f"{sign}{minutes}m"
