"""aiops.dev.promserver: the real binaries, a real backfill, a real server on a loopback port."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from aiops.dev.promserver import (
    BackfillFailed,
    PrometheusServer,
    backfill,
    ensure_installed,
    stop_from_pidfile,
)
from aiops.sources.prometheus import PrometheusClient
from support.prometheus_marks import NEEDS_PROMETHEUS

pytestmark = NEEDS_PROMETHEUS

OLD = datetime(2024, 1, 1, tzinfo=UTC)
NEW = OLD + timedelta(days=60)  # far beyond Prometheus's default 15-day retention


def _openmetrics(path: Path, value: float = 1.0) -> Path:
    path.write_text(
        "# TYPE aiops_promserver_test gauge\n"
        f'aiops_promserver_test{{series="a"}} {value} {int(OLD.timestamp())}\n'
        f'aiops_promserver_test{{series="a"}} {value} {int(NEW.timestamp())}\n'
        "# EOF\n",
        encoding="utf-8",
    )
    return path


def _blocks(tsdb: Path) -> set[str]:
    return {p.name for p in tsdb.iterdir() if (p / "meta.json").is_file()}


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def tsdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("promserver")
    return backfill(_openmetrics(root / "two_months.om"), root / "tsdb")


def test_ensure_installed_finds_the_binaries() -> None:
    binaries = ensure_installed()
    assert binaries.prometheus.name == "prometheus" and binaries.prometheus.exists()
    assert binaries.promtool.name == "promtool" and binaries.promtool.exists()


def test_backfill_is_skipped_when_unchanged_and_rebuilt_when_changed(tmp_path: Path) -> None:
    source = _openmetrics(tmp_path / "m.om")
    tsdb = backfill(source, tmp_path / "tsdb")
    first = _blocks(tsdb)
    assert first  # promtool names each new block with a fresh ULID

    assert _blocks(backfill(source, tsdb)) == first  # stamp matches: nothing rebuilt

    _openmetrics(source, value=2.0)
    rebuilt = _blocks(backfill(source, tsdb))
    assert rebuilt and rebuilt.isdisjoint(first)  # old blocks wiped, new ones written


def test_backfill_refuses_to_wipe_a_directory_that_is_not_tsdb_data(tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")

    with pytest.raises(BackfillFailed, match="thesis.tex"):
        backfill(_openmetrics(tmp_path / "m.om"), precious)
    assert (precious / "thesis.tex").exists()


def test_backfill_failure_names_the_file_and_promtool_stderr(tmp_path: Path) -> None:
    broken = tmp_path / "broken.om"
    broken.write_text("# TYPE x gauge\nx{ 1 2\n# EOF\n")

    with pytest.raises(BackfillFailed) as caught:
        backfill(broken, tmp_path / "tsdb")
    assert str(broken) in str(caught.value) and "exit" in str(caught.value)


def test_server_keeps_backfilled_history_and_stops(tsdb: Path) -> None:
    server = PrometheusServer(tsdb)
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{server.url}/-/ready", timeout=5).status_code == 200
        assert int(server.pidfile.read_text()) == server.pid
        # Two months of history survive startup: retention is not the 15-day default.
        old = PrometheusClient(server.url).query_instant("aiops_promserver_test", OLD)
        assert [value for _, value in old] == [1.0]
        pid = server.pid

    assert pid is not None and not _pid_exists(pid)
    assert not server.pidfile.exists()
    server.stop()  # a second stop is harmless


def test_stop_from_pidfile_stops_a_server_started_elsewhere(tsdb: Path) -> None:
    server = PrometheusServer(tsdb, port=None).start()
    pid, pidfile = server.pid, server.pidfile
    try:
        assert stop_from_pidfile(pidfile) is True
        assert pid is not None and not _pid_exists(pid)
        assert not pidfile.exists()
        assert stop_from_pidfile(pidfile) is False  # nothing left to stop
    finally:
        server.stop()
