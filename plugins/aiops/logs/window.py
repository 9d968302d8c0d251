"""Mining one data interval: the template state before it, the lines up to its end, the
counts the scorer compares, and the state after it.

Why runs chain: a template's ID and whether it is "new" depend on everything mined before.
A run loads the newest state saved at or before its interval's START (the registry's
`latest_good(as_of=start)`, exactly as a backfill of the metrics baselines does), mines
what that state has not seen yet (the catch-up, bounded by `max_catchup_hours`) and then
its interval, and saves the state under its interval's END. Mining is sequential and the
lines of every hour come in one fixed order, so state(a -> c) = state(a -> b -> c): a rerun,
a backfill, or an hourly run after a nightly one all mine the same lines into the same
templates, and the counts a catch-up writes for earlier hours are the ones those hours'
own runs wrote.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.catalog import LogSettings
from aiops.logs.miner import StateFormatError, TemplateMiner
from aiops.logs.records import LogRecord, LogSource, Quarantined
from aiops.logs.templates import Cluster, MinerConfig
from aiops.model_registry import ModelMeta, ModelRegistry, version_for
from aiops.pii import mask_pii

log = logging.getLogger(__name__)

STATE_NAME = "log-templates"
STATE_FILE = "templates.json"
HOUR = timedelta(hours=1)
READ_SPAN = timedelta(hours=24)


@dataclass
class MinedWindow:
    """What mining [mined_from, end) produced; `new` only for the interval itself."""

    miner: TemplateMiner
    mined_from: datetime
    state_version: str | None  # the state it started from (None: a fresh miner)
    volume: list[dict[str, Any]] = field(default_factory=list)  # log_volume rows
    counts: list[dict[str, Any]] = field(default_factory=list)  # log_template_counts rows
    quarantined: list[Quarantined] = field(default_factory=list)
    new: list[tuple[str, Cluster]] = field(default_factory=list)  # (service, template)
    lines: int = 0

    def totals(self) -> dict[str, Any]:
        return {
            "mined_from": self.mined_from.isoformat(),
            "lines": self.lines,
            "quarantined": len(self.quarantined),
            "templates": sum(len(t.clusters) for t in self.miner.services.values()),
            "new_templates": len(self.new),
            "evicted_templates": self.miner.evicted(),
        }


def miner_config(settings: LogSettings) -> MinerConfig:
    return MinerConfig(variable_after=settings.variable_after, max_templates=settings.max_templates)


def load_state(
    registry: ModelRegistry, start: datetime, settings: LogSettings
) -> tuple[TemplateMiner, datetime, str | None]:
    """(miner, what it has mined up to, its version) for an interval starting at `start`."""
    found = registry.latest_good(STATE_NAME, as_of=start)
    earliest = start - timedelta(hours=settings.max_catchup_hours)
    if found is None:
        since = start - timedelta(hours=settings.warmup_hours)
        log.info("no template state at or before %s: mining from %s", start, since)
        return TemplateMiner(miner_config(settings)), since, None
    path, meta = found
    with tempfile.TemporaryDirectory(prefix="aiops-logs-") as tmp:
        try:
            miner = TemplateMiner.load(registry.local_copy(path, Path(tmp)) / STATE_FILE)
        except StateFormatError as exc:  # written by an earlier miner: its IDs mean nothing now
            since = start - timedelta(hours=settings.warmup_hours)
            log.warning("%s; mining afresh from %s (template IDs change once)", exc, since)
            return TemplateMiner(miner_config(settings)), since, None
    since = meta.data_end_dt
    if since < earliest:
        log.warning(
            "template state %s ends %s, more than max_catchup_hours (%g) before %s: the lines "
            "in between are not mined",
            meta.version, since, settings.max_catchup_hours, start,
        )  # fmt: skip
        since = earliest
    return miner, since, meta.version


def mine_window(
    source: LogSource,
    miner: TemplateMiner,
    since: datetime,
    start: datetime,
    end: datetime,
    services: Sequence[str],
    settings: LogSettings,
    state_version: str | None = None,
) -> MinedWindow:
    """Mine [since, end), reading at most a day per call; templates first seen in [start,
    end) are `new` when their service had been mined for `min_history_hours` before them."""
    out = MinedWindow(miner=miner, mined_from=since, state_version=state_version)
    bucket_ms = settings.bucket_minutes * 60_000
    start_ms = _ms(start)
    min_history_ms = round(settings.min_history_hours * 3_600_000)
    before = {s: set(t.clusters) for s, t in miner.services.items()}
    t = since
    while t < end:
        # one read per day at most (a file source scans its files per read), mined in order:
        # per service, (timestamp, origin) order is the same whatever the chunking
        chunk_end = min(end, _next_hour(t) + READ_SPAN - HOUR)
        records, bad = _read_sorted(source, t, chunk_end)
        out.quarantined += bad
        counts: Counter[tuple[str, str, int]] = Counter()
        volume: dict[tuple[str, int], list[int]] = {}
        for rec in records:
            cluster = miner.add(rec.service, rec.message, rec.level, rec.timestamp_ms)
            bucket = rec.timestamp_ms - rec.timestamp_ms % bucket_ms
            counts[(rec.service, cluster.id, bucket)] += 1
            v = volume.setdefault((rec.service, bucket), [0, 0, 0, 0, 0])
            v[0] += 1
            v[1] += rec.is_error
            v[2] += rec.level == "WARN"
            v[3] += "unmatched" in rec.fields
        for q in bad:  # counted in the chunk's first bucket: a bad line has no usable time
            v = volume.setdefault((q.service or "unknown", _ms(t) - _ms(t) % bucket_ms), [0] * 5)
            v[4] += 1
        out.lines += len(records)
        out.counts += _live_counts(miner, counts)
        seen = set(services) | {s for s, _ in volume}
        for s in sorted(seen):
            for b in range(_ms(t) - _ms(t) % bucket_ms, _ms(chunk_end), bucket_ms):
                lines, errors, warns, unmatched, quarantined = volume.get((s, b), [0] * 5)
                out.volume.append({
                    "service": s, "bucket_start": _dt(b), "lines": lines, "errors": errors,
                    "warnings": warns, "unmatched": unmatched, "quarantined": quarantined,
                })  # fmt: skip
        t = chunk_end
    for service, templates in sorted(miner.services.items()):
        first = miner.first_ms.get(service)
        for cid, cluster in templates.clusters.items():
            if cid in before.get(service, ()) or cluster.first_ms is None:
                continue
            old_enough = first is not None and cluster.first_ms - first >= min_history_ms
            if cluster.first_ms >= start_ms and old_enough:
                out.new.append((service, cluster))
    return out


def save_state(
    registry: ModelRegistry, mined: MinedWindow, end: datetime, trained_on: datetime
) -> str:
    """Store the miner as the version for `end`; returns the version."""
    miner = mined.miner
    meta = ModelMeta(
        name=STATE_NAME,
        version=version_for(end),
        kind="log-templates",
        data_start=mined.mined_from.isoformat(),
        data_end=end.astimezone(UTC).isoformat(),
        trained_at=trained_on.astimezone(UTC).isoformat(),
        points=mined.lines,
        series=sum(len(t.clusters) for t in miner.services.values()),
        quality={
            "quarantined": len(mined.quarantined),
            "from_version": mined.state_version,
            "evicted_templates": miner.evicted(),
        },  # fmt: skip
    )
    registry.save(meta, lambda folder: miner.save(folder / STATE_FILE))
    return meta.version


def quarantine_rows(items: Iterable[Quarantined], start: datetime, end: datetime) -> list[dict]:
    """Rows for the log quarantine, raw text PII-masked (it is stored and shown)."""
    return [
        {"interval_start": start, "interval_end": end, "origin": q.origin,
         "service": q.service, "reason": q.reason, "raw": mask_pii(q.raw)[:500]}
        for q in items
    ]  # fmt: skip


def _live_counts(
    miner: TemplateMiner, counts: Counter[tuple[str, str, int]]
) -> list[dict[str, Any]]:
    """log_template_counts rows under the IDs the templates have at the end of the chunk: a
    template merged while the chunk was mined counts its earlier lines under its keeper.
    Lines of an evicted template keep its ID (nothing resolves it any more)."""
    live: Counter[tuple[str, str, int]] = Counter()
    for (service, cid, bucket), n in counts.items():
        live[(service, miner.resolve(service, cid) or cid, bucket)] += n
    return [
        {"service": s, "template_id": cid, "bucket_start": _dt(b), "count": n}
        for (s, cid, b), n in sorted(live.items())
    ]


def _read_sorted(
    source: LogSource, start: datetime, end: datetime
) -> tuple[list[LogRecord], list[Quarantined]]:
    records: list[LogRecord] = []
    bad: list[Quarantined] = []
    for item in source.read(start, end):
        (records if isinstance(item, LogRecord) else bad).append(item)
    records.sort(key=lambda r: (r.service, r.timestamp_ms, r.origin))
    bad.sort(key=lambda q: q.origin)
    return records, bad


def _next_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0) + HOUR


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
