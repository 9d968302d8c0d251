"""The listing reader and the `aiops catalog` actions on canned Prometheus API answers from a
loopback server (the real server is tests/integration/test_catalog_live.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from aiops.cli.main import main
from aiops.discovery.server_api import PrometheusApi
from aiops.sources.prometheus import PrometheusError, PrometheusQueryError
from fakes.loopback import JsonHandler, LoopbackHTTP

T = 1767225600.0  # 2026-01-01T00:00:00Z


@dataclass
class CannedPrometheus:
    """Answers by path (and, for queries, by PromQL); records what was asked."""

    series: list[dict[str, str]]
    instant: dict[str, list] = field(default_factory=dict)  # query -> result vector
    asked: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def answer(self, path: str, params: dict[str, list[str]]) -> tuple[int, dict]:
        self.asked.append((path, params))
        if path == "/api/v1/label/__name__/values":
            return 200, _ok(sorted({s["__name__"] for s in self.series}))
        if path == "/api/v1/series":
            name = params["match[]"][0].split("{")[0]
            if not name.isidentifier():
                return 400, {"status": "error", "errorType": "bad_data",
                             "error": f"1:1: parse error: unexpected {name!r}"}  # fmt: skip
            return 200, _ok([s for s in self.series if s["__name__"] == name])
        if path == "/api/v1/metadata":
            return 200, _ok({"up": [{"type": "gauge", "help": "", "unit": ""}]})
        if path == "/api/v1/query":
            vector = self.instant.get(params["query"][0], [])
            return 200, _ok({"resultType": "vector", "result": vector})
        return 404, {"status": "error", "error": "not found"}


def _ok(data: object) -> dict:
    return {"status": "success", "data": data}


class _Handler(JsonHandler):
    fake: CannedPrometheus

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        status, body = self.fake.answer(parts.path, parse_qs(parts.query))
        self.reply_json(status, body)


def _serve(fake: CannedPrometheus) -> Iterator[str]:
    server = LoopbackHTTP(_Handler, fake)
    server.start()
    try:
        yield server.base_url("canned prometheus")
    finally:
        server.stop()


NEWEST = "max(max_over_time(timestamp(up)[1d:1m]))"
SERIES = [
    {"__name__": "up", "job": "batch", "instance": "b:9000"},
    {"__name__": "up", "job": "node", "instance": "web:9100"},
    {"__name__": "node_cpu_seconds_total", "job": "node", "instance": "web:9100", "cpu": "0",
     "mode": "user"},
]  # fmt: skip


@pytest.fixture
def canned() -> Iterator[tuple[CannedPrometheus, str]]:
    fake = CannedPrometheus(SERIES, instant={NEWEST: [{"metric": {}, "value": [T + 30, str(T)]}]})
    for url in _serve(fake):
        yield fake, url


def test_window_ends_at_the_newest_up_sample_not_at_this_machines_clock(canned) -> None:
    fake, url = canned
    with PrometheusApi(url) as api:
        assert api.newest_sample_time() == datetime.fromtimestamp(T, UTC)
    # first within the lookback of the server's now, then a day back; never a local time
    assert [p["query"][0] for path, p in fake.asked] == ["max(timestamp(up))", NEWEST]
    assert all("time" not in p for _, p in fake.asked)


def test_no_recent_up_names_the_server_and_suggests_at(canned) -> None:
    fake, url = canned
    fake.instant = {"time()": [{"metric": {}, "value": [T, str(T)]}]}
    with PrometheusApi(url) as api, pytest.raises(PrometheusError, match="pass --at") as caught:
        api.newest_sample_time()
    assert url in str(caught.value)


def test_series_and_names_are_read_for_the_window(canned) -> None:
    fake, url = canned
    start, end = datetime.fromtimestamp(T - 3600, UTC), datetime.fromtimestamp(T, UTC)
    with PrometheusApi(url) as api:
        assert api.metric_names(start, end) == ["node_cpu_seconds_total", "up"]
        assert [s["job"] for s in api.series("up", start, end)] == ["batch", "node"]
        assert api.metric_types() == {"up": "gauge"}
        with pytest.raises(PrometheusQueryError, match="parse error"):
            api.series("1up", start, end)
    assert fake.asked[1][1]["start"] == [f"{T - 3600:.3f}"]


def test_discover_writes_a_catalog_and_a_summary(canned, tmp_path: Path, capsys) -> None:
    _, url = canned
    out = tmp_path / "catalog.yaml"
    assert main(["catalog", "discover", "--prometheus", url, "--out", str(out),
                 "--owner", "acme"]) == 0  # fmt: skip
    text = out.read_text()
    assert "  web:\n    owner: acme/web  # set owner/team" in text
    assert "  batch:\n    owner: acme/batch" in text
    assert "node:" not in text  # the node job is covered by its host
    printed = capsys.readouterr().out
    assert "1 service(s): node_exporter hosts" in printed
    assert "1 service(s): scrape jobs (up)" in printed


def test_discover_never_overwrites_without_force(canned, tmp_path: Path, capsys) -> None:
    _, url = canned
    out = tmp_path / "catalog.yaml"
    out.write_text("mine\n")
    assert main(["catalog", "discover", "--prometheus", url, "--out", str(out)]) == 2
    assert out.read_text() == "mine\n"
    assert f"{out} exists; pass --force" in capsys.readouterr().err
    assert main(["catalog", "discover", "--prometheus", url, "--out", str(out), "--force"]) == 0
    assert out.read_text().startswith("# Written by `aiops catalog discover`")


def test_check_against_an_unreachable_server_exits_2_naming_it(tmp_path: Path, capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        code = main(["catalog", "check", "--prometheus", url, "--at", "2026-01-01T00:00Z"])
    assert code == 2
    assert url in capsys.readouterr().err
