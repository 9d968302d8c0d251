"""The demo world's logs: Loghub-style lines that parse, and the incidents they show."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aiops.dev.sim import WorldConfig, simulate_metrics
from aiops.dev.sim.incidents import Incident, planted_incidents, rollouts
from aiops.dev.sim.logs import ACCESS_LOG, LOG_FORMAT, write_logs
from aiops.dev.sim.topology import callers_of

CONFIG = WorldConfig(days=14, trace_hours=3, traces_per_hour=20, log_hours=3)
SPIKE = re.compile(
    r"charge failed for order [0-9a-f-]{36}: upstream psp-gateway returned 502 "
    r"after \d+ms"
)
CASCADE = re.compile(r"timeout after \d+ms talking to redis:6379 \(pool exhausted (\d+)/\1\)")


def _format_regex(log_format: str) -> re.Pattern[str]:
    """Loghub's recipe: each <Header> becomes a named group, the text between them literal."""
    pattern = ""
    for i, part in enumerate(re.split(r"(<[^<>]+>)", log_format)):
        if i % 2 == 0:
            pattern += re.sub(r"\\? +", r"\\s+", re.escape(part))
        else:
            name = part.strip("<>")
            pattern += f"(?P<{name}>.*)" if name == "Content" else f"(?P<{name}>.*?)"
    return re.compile(f"^{pattern}$")


LINE = _format_regex(LOG_FORMAT)


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    incidents = planted_incidents(CONFIG.start, CONFIG.end)
    deploys = rollouts(CONFIG.start, CONFIG.end, [s.name for s in CONFIG.services], incidents)
    return {
        "fleet": simulate_metrics(CONFIG),
        "incidents": incidents,
        "deploys": deploys,
        "by_kind": {i.kind: i for i in incidents},
    }


def _write(world: dict[str, Any], start: datetime, end: datetime, out: Path) -> list[Path]:
    """Logs for [start, end): the config's end moves, the metrics and incidents stay."""
    config = replace(CONFIG, end=end)
    return write_logs(config, world["incidents"], world["deploys"], world["fleet"], start, out)


def _parse(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        m = LINE.match(line)
        assert m, line
        row = m.groupdict()
        row["at"] = datetime.strptime(f"{row['Date']} {row['Time']}", "%Y-%m-%d %H:%M:%S,%f")
        row["at"] = row["at"].replace(tzinfo=UTC)
        out.append(row)
    return out


@pytest.fixture(scope="module")
def spike_window(
    world, tmp_path_factory
) -> tuple[dict[str, list[dict[str, Any]]], datetime, datetime]:
    """From five hours before payment's error spike (two rollouts fall in it) to an hour after."""
    spike = world["by_kind"]["error_spike"]
    start, end = spike.start - timedelta(hours=5, seconds=30), spike.end + timedelta(hours=1)
    paths = _write(world, start, end, tmp_path_factory.mktemp("spike"))
    return {p.name: _parse(p) for p in paths if p.suffix == ".log"}, start, end


def test_same_config_writes_the_same_bytes(world, tmp_path):
    start = CONFIG.end - timedelta(hours=CONFIG.log_hours)
    a = write_logs(
        CONFIG, world["incidents"], world["deploys"], world["fleet"], start, tmp_path / "a"
    )
    b = write_logs(
        CONFIG, world["incidents"], world["deploys"], world["fleet"], start, tmp_path / "b"
    )
    assert [p.name for p in a] == sorted([f"{s.name}.log" for s in CONFIG.services] + [ACCESS_LOG])
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    total = sum(p.stat().st_size for p in a)
    assert 100_000 < total < 30e6 / 8  # 3 of 24 hours, well under the daily budget


def test_every_line_parses_in_order_inside_the_window(spike_window):
    files, start, end = spike_window
    for name, rows in files.items():
        assert rows, name
        assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
        assert start <= rows[0]["at"] and rows[-1]["at"] < end
        assert {r["Level"] for r in rows} <= {"DEBUG", "INFO", "WARN", "ERROR"}
        assert all(re.fullmatch(r"[a-z-]+\.[a-z]+", r["Component"]) for r in rows)
        assert all(r["Component"].startswith(name.removesuffix(".log") + ".") for r in rows)


def test_lines_carry_variable_parts_for_a_miner_to_mask(spike_window):
    text = "\n".join(r["Content"] for rows in spike_window[0].values() for r in rows)
    for pattern in (
        r"\b\d+ms\b",
        r"\b10(\.\d{1,3}){3}\b",
        r"[0-9a-f]{8}-[0-9a-f]{4}-4",
        r"\b[0-9a-f]{16}\b",
        r"/products/\d+",
        r"[\w.]+@[\w.]+\.\w+",
    ):
        assert re.search(pattern, text), pattern


def test_payment_error_template_appears_only_during_the_spike(world, spike_window):
    spike = world["by_kind"]["error_spike"]
    files = spike_window[0]
    hits = [r for r in files["payment.log"] if SPIKE.fullmatch(r["Content"])]
    assert len(hits) >= 5
    assert all(r["Level"] == "ERROR" and spike.start <= r["at"] < spike.end for r in hits)
    others = [r for name, rows in files.items() if name != "payment.log" for r in rows]
    assert not any(SPIKE.search(r["Content"]) for r in others)
    window = (spike.end - spike.start) / (spike_window[2] - spike_window[1])
    errors = [r for r in files["payment.log"] if r["Level"] == "ERROR"]
    inside = sum(spike.start <= r["at"] < spike.end for r in errors)
    assert inside / window > 5 * (len(errors) - inside) / (1 - window)  # per-minute error lines


def test_rollouts_log_a_start_line_at_the_deploy_time(world, tmp_path):
    last_two = world["deploys"][-2:]
    start = last_two[0].at - timedelta(minutes=30)
    end = last_two[-1].at + timedelta(minutes=30)
    paths = _write(world, start, end, tmp_path)
    files = {p.name: _parse(p) for p in paths if p.suffix == ".log"}
    deploys = [d for d in world["deploys"] if start < d.at < end]
    assert len(deploys) >= 2
    for d in deploys:
        lines = [
            r
            for r in files[f"{d.service}.log"]
            if re.fullmatch(
                rf"starting {d.service} version {re.escape(d.version)} \(pid \d+\)", r["Content"]
            )
        ]
        assert len(lines) == 1 and d.at <= lines[0]["at"] < d.at + timedelta(minutes=1)


def test_redis_callers_time_out_during_the_cascade(world, tmp_path):
    inc = world["by_kind"]["cascading_failure"]
    paths = _write(
        world, inc.start - timedelta(minutes=30), inc.end + timedelta(minutes=30), tmp_path
    )
    hits: dict[str, int] = {}
    for p in paths:
        if p.suffix == ".log":
            for r in _parse(p):
                if CASCADE.fullmatch(r["Content"]):
                    assert r["Level"] == "ERROR" and inc.start <= r["at"] < inc.end
                    hits[p.stem] = hits.get(p.stem, 0) + 1
    assert set(hits) <= set(callers_of("redis")) and len(hits) >= 3
    assert sum(hits.values()) >= 20


def test_catalog_cache_warming_goes_silent_after_the_regression_rollout(world, tmp_path):
    reg: Incident = world["by_kind"]["latency_regression"]
    paths = _write(world, reg.start - timedelta(hours=2), reg.start + timedelta(hours=2), tmp_path)
    rows = _parse(next(p for p in paths if p.name == "catalog.log"))
    warmed = [r["at"] for r in rows if r["Content"].startswith("warmed ")]
    assert len(warmed) > 30 and max(warmed) < reg.start
    assert any(r["Content"].startswith("starting catalog version 2.0.0 (pid ") for r in rows)


def test_gc_pressure_warnings_grow_with_cart_memory(world, tmp_path):
    leak = world["by_kind"]["memory_leak"]

    def gc_lines(start: datetime, name: str) -> int:
        paths = _write(world, start, start + timedelta(hours=3), tmp_path / name)
        cart = _parse(next(p for p in paths if p.name == "cart.log"))
        return sum(r["Component"] == "cart.gc" for r in cart)

    early = gc_lines(leak.start + timedelta(days=2), "early")
    late = gc_lines(CONFIG.end - timedelta(hours=3), "late")
    assert late > 3 * max(early, 1)


def test_gateway_access_log_is_json_lines(world, tmp_path):
    start = CONFIG.end - timedelta(hours=1)
    paths = _write(world, start, CONFIG.end, tmp_path)
    lines = (tmp_path / ACCESS_LOG).read_text().splitlines()
    assert tmp_path / ACCESS_LOG in paths and len(lines) > 100
    entries = [json.loads(line) for line in lines]
    stamps = [datetime.fromisoformat(e["@timestamp"]) for e in entries]
    assert stamps == sorted(stamps) and start <= stamps[0] and stamps[-1] < CONFIG.end
    for e in entries:
        assert list(e)[:4] == ["@timestamp", "service", "level", "message"]
        assert e["service"] == "gateway" and e["level"] in ("INFO", "ERROR")
        assert (e["level"] == "ERROR") == (e["status"] >= 500)
