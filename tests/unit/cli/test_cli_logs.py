"""`aiops logs parse|templates` as users run them: a log file in, Loghub's structured CSV and
templates file out, every line accounted for."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from aiops.cli.main import main
from aiops.dev.sim import WorldConfig, simulate_metrics
from aiops.dev.sim.incidents import planted_incidents, rollouts
from aiops.dev.sim.logs import write_logs

CONFIG = WorldConfig(days=14, log_hours=2)
#: what `--format auto` makes of the demo world's `2026-10-31 14:00:03,123 INFO comp: ...`
HEADER = ["LineId", "Timestamp", "Level", "Component", "Content",
          "EventId", "EventTemplate", "ParameterList"]  # fmt: skip
SYSLOG = r"<Month> <Date> <Time> <Component>(\[<PID>\])?: <Content>"


@pytest.fixture(scope="module")
def sim_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours of the demo world's logs: one file per service and the gateway's JSON lines."""
    incidents = planted_incidents(CONFIG.start, CONFIG.end)
    deploys = rollouts(CONFIG.start, CONFIG.end, [s.name for s in CONFIG.services], incidents)
    out = tmp_path_factory.mktemp("logs")
    start = CONFIG.end - timedelta(hours=2)
    write_logs(CONFIG, incidents, deploys, simulate_metrics(CONFIG), start, out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def _substituted(template: str, params: list[str]) -> str:
    """The template with its values put back where its `<*>` are."""
    pieces = template.split("<*>")
    assert len(pieces) == len(params) + 1, (template, params)
    return "".join(p + v for p, v in zip(pieces, [*params, ""], strict=True))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _parse(*args: str | Path) -> int:
    return main(["logs", "parse", *(str(a) for a in args)])


def test_parse_writes_the_loghub_structured_csv_and_templates(
    sim_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, out, templates = sim_logs / "auth.log", tmp_path / "s.csv", tmp_path / "t.csv"
    n_lines = len(log.read_text().splitlines())

    assert _parse("--input", log, "--output", out, "--templates", templates) == 0

    printed = capsys.readouterr().out
    assert f"{n_lines:,} lines, {n_lines:,} matched, 0 unmatched" in printed
    assert str(out) in printed and str(templates) in printed
    assert _header(out) == HEADER
    rows = _rows(out)
    assert [int(r["LineId"]) for r in rows] == list(range(1, n_lines + 1))
    for row in rows:
        params = json.loads(row["ParameterList"])
        assert _squash(_substituted(row["EventTemplate"], params)) == _squash(row["Content"])
        assert row["Level"] in ("DEBUG", "INFO", "WARN", "ERROR") and row["EventId"]
    # the template is the group's final one: every line of a group shows the same text
    by_id: dict[str, set[str]] = {}
    for row in rows:
        by_id.setdefault(row["EventId"], set()).add(row["EventTemplate"])
    assert all(len(texts) == 1 for texts in by_id.values())

    assert _header(templates) == ["EventId", "EventTemplate", "Occurrences", "Level"]
    table = _rows(templates)
    counts = [int(t["Occurrences"]) for t in table]
    assert counts == sorted(counts, reverse=True) and sum(counts) == n_lines
    assert {t["EventId"]: t["EventTemplate"] for t in table} == {
        k: v.pop() for k, v in by_id.items()
    }


def test_unmatched_lines_are_kept_mined_and_counted(
    sim_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (sim_logs / "cart.log").read_text().splitlines()[:40]
    odd = {
        3: "garbage ### 42",
        11: "java.lang.IllegalStateException: cart 77 is closed",
        12: "\tat com.shop.cart.Cart.add(Cart.java:42)",
        13: "\tat com.shop.cart.Api.post(Api.java:118)",
    }
    for number in sorted(odd):
        lines.insert(number - 1, odd[number])
    log = tmp_path / "cart.log"
    log.write_text("\n".join(lines) + "\n")

    assert _parse("--input", log, "--output", tmp_path / "s.csv") == 0

    printed = capsys.readouterr().out
    assert "44 lines, 40 matched, 4 unmatched" in printed
    assert f"{log}:3, {log}:11, {log}:12, {log}:13" in printed
    rows = {int(r["LineId"]): r for r in _rows(tmp_path / "s.csv")}
    assert sorted(rows) == list(range(1, 45))
    for number, text in odd.items():
        row = rows[number]
        assert (row["Timestamp"], row["Level"], row["Component"]) == ("", "", "")
        assert row["Content"] == text and row["EventId"]
        params = json.loads(row["ParameterList"])
        assert _squash(_substituted(row["EventTemplate"], params)) == _squash(text)
    # the two `at ...` frames are one template
    assert rows[12]["EventId"] == rows[13]["EventId"]
    assert rows[12]["EventTemplate"] == "at <*>"


def test_a_syslog_file_in_its_own_format(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text(
        "Oct 31 14:00:03 sshd[1234]: Accepted password for bob from 10.0.0.1 port 52211 ssh2\n"
        "Oct 31 14:00:09 sshd[1250]: Accepted password for bob from 10.0.0.7 port 40022 ssh2\n"
        "Oct 31 14:01:00 CRON: (root) CMD (run-parts /etc/cron.hourly)\n"
    )
    out = tmp_path / "s.csv"

    assert _parse("--input", log, "--format", SYSLOG, "--output", out) == 0

    assert _header(out) == ["LineId", "Month", "Date", "Time", "Component", "PID", "Content",
                            "EventId", "EventTemplate", "ParameterList"]  # fmt: skip
    rows = _rows(out)
    assert [(r["Component"], r["PID"]) for r in rows] == [
        ("sshd", "1234"),
        ("sshd", "1250"),
        ("CRON", ""),
    ]
    assert rows[0]["EventId"] == rows[1]["EventId"] != rows[2]["EventId"]
    assert rows[0]["EventTemplate"] == "Accepted password for bob from <*> port <*>"
    assert json.loads(rows[1]["ParameterList"]) == ["10.0.0.7", "40022 ssh2"]


def test_json_lines_plain_and_gzipped(
    sim_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = sim_logs / "gateway.access.jsonl"
    docs = [json.loads(line) for line in source.read_text().splitlines()]
    zipped = tmp_path / "gateway.access.jsonl.gz"
    with source.open("rb") as raw, gzip.open(zipped, "wb") as gz:
        shutil.copyfileobj(raw, gz)
    renamed = tmp_path / "gateway.log"  # not named as JSON: --json says so
    shutil.copy(source, renamed)

    outputs = []
    for args in (["--input", source], ["--input", zipped], ["--input", renamed, "--json"]):
        out = tmp_path / f"s{len(outputs)}.csv"
        assert _parse(*args, "--output", out) == 0
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1] == outputs[2]

    assert f"{len(docs):,} matched, 0 unmatched" in capsys.readouterr().out
    out = tmp_path / "s0.csv"
    assert _header(out) == ["LineId", "Timestamp", "Service", "Level", "Content",
                            "EventId", "EventTemplate", "ParameterList"]  # fmt: skip
    rows = _rows(out)
    assert [(r["Timestamp"], r["Level"], r["Content"]) for r in rows] == [
        (d["@timestamp"], d["level"], d["message"]) for d in docs
    ]


def test_state_keeps_event_ids_across_runs(
    sim_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, state = sim_logs / "catalog.log", tmp_path / "state.json"
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"

    assert _parse("--input", log, "--state", state, "--output", first) == 0
    templates = json.loads(state.read_text())["services"]["catalog"]["clusters"]
    assert _parse("--input", log, "--state", state, "--output", second) == 0

    assert [r["EventId"] for r in _rows(first)] == [r["EventId"] for r in _rows(second)]
    again = json.loads(state.read_text())["services"]["catalog"]["clusters"]
    assert [c["id"] for c in again] == [c["id"] for c in templates]
    assert [c["size"] for c in again] == [2 * c["size"] for c in templates]
    printed = capsys.readouterr().out.splitlines()
    assert f"catalog has {len(templates)} ({len(templates)} new)" in printed[0]
    assert "(0 new)" in [line for line in printed if line.startswith(str(log))][1]


def test_a_missing_file_is_named_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.log"
    assert _parse("--input", missing) == 2
    assert f"{missing}: no such log file" in capsys.readouterr().err
    assert main(["logs", "templates", "--input", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [("<Date> <Time> <Level>", "no <Content>"), ("<Date> (<Content>", "not a valid regular")],
)
def test_a_bad_format_is_named_and_exits_2(
    sim_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, problem: str
) -> None:
    out = tmp_path / "s.csv"
    assert _parse("--input", sim_logs / "auth.log", "--format", fmt, "--output", out) == 2
    err = capsys.readouterr().err
    assert repr(fmt) in err and problem in err
    assert not out.exists()


def test_a_broken_state_is_named_and_exits_2(
    sim_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"format": "aiops-drain/1", "config": ')
    assert _parse("--input", sim_logs / "auth.log", "--state", state) == 2
    assert str(state) in capsys.readouterr().err
    assert main(["logs", "templates", "--state", str(state)]) == 2
    assert str(state) in capsys.readouterr().err


def test_templates_are_listed_most_frequent_first(
    sim_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, state = sim_logs / "redis.log", tmp_path / "state.json"
    assert _parse("--input", log, "--state", state, "--templates", tmp_path / "t.csv") == 0
    expected = {t["EventId"]: int(t["Occurrences"]) for t in _rows(tmp_path / "t.csv")}
    capsys.readouterr()

    assert main(["logs", "templates", "--input", str(log), "--json"]) == 0
    from_file = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["logs", "templates", "--state", str(state), "--json"]) == 0
    from_state = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert from_file == from_state
    assert {r["event_id"]: r["count"] for r in from_file} == expected
    counts = [r["count"] for r in from_file]
    assert counts == sorted(counts, reverse=True)
    assert sum(r["share"] for r in from_file) == pytest.approx(1.0, abs=1e-4)

    assert main(["logs", "templates", "--state", str(state), "--top", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["count", "share", "level", "EventId", "template"]
    assert len(table) == 3
    for line, row in zip(table[1:], from_file, strict=False):
        assert line.split()[:4] == [f"{row['count']:,}", f"{row['share']:.1%}", row["level"],
                                    row["event_id"]]  # fmt: skip

    assert main(["logs", "templates", "--state", str(state), "--service", "nope"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_with_no_format_the_layout_is_recognised_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "datanode.log"
    log.write_text(
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
        "blk_38865049064139660 terminating\n"
        "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block "
        "blk_-6952295868487656571 terminating\n"
        "081109 204005 35 WARN dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap "
        "updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864\n"
    )
    out = tmp_path / "s.csv"

    assert _parse("--input", log, "--output", out) == 0

    printed = capsys.readouterr().out
    assert "3 lines, 3 matched, 0 unmatched" in printed
    assert "log format: " in printed and "(matched 100% of 3 sample lines)" in printed
    rows = _rows(out)
    assert [r["Level"] for r in rows] == ["INFO", "INFO", "WARN"]
    assert rows[0]["Content"].startswith("PacketResponder 1 for block")
    assert rows[0]["EventTemplate"] == "PacketResponder <*> for block <*> terminating"
    assert rows[0]["EventId"] == rows[1]["EventId"] != rows[2]["EventId"]


def test_past_the_cap_templates_are_evicted_and_the_summary_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "jobs.log"
    words = ["alpha", "beta", "gamma", "delta"]
    log.write_text("".join(f"stage {w} of the nightly export done\n" for w in words))

    assert _parse("--input", log, "--output", tmp_path / "s.csv", "--max-templates", "2") == 0

    printed = capsys.readouterr().out
    assert "service jobs has 2 (2 new, 2 evicted past --max-templates 2)" in printed
    rows = _rows(tmp_path / "s.csv")
    assert [r["EventId"] == "" for r in rows] == [True, True, False, False]  # evicted: no group
