"""Log files as a log source: every line of an interval, continuations kept, bad lines
quarantined where they can be found, plain, JSON lines and gzip alike."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.dev.sim import WorldConfig, simulate_metrics
from aiops.dev.sim.incidents import planted_incidents, rollouts
from aiops.dev.sim.logs import ACCESS_LOG, LOG_FORMAT, write_logs
from aiops.logs.formats import JsonLinesFormat, LogFormat, LogFormatError
from aiops.logs.records import LogRecord, LogSource, Quarantined
from aiops.sources.log_files import LogFileError, LogFileSource, open_log_file

T0 = datetime(2026, 10, 31, 14, tzinfo=UTC)
HOUR = timedelta(hours=1)


def ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def stamp(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d}"


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def records(items) -> list[LogRecord]:
    return [r for r in items if isinstance(r, LogRecord)]


def quarantined(items) -> list[Quarantined]:
    return [r for r in items if isinstance(r, Quarantined)]


# -- the demo world's logs --------------------------------------------------------------------

CONFIG = WorldConfig(days=14, trace_hours=1, traces_per_hour=10, log_hours=3)


@pytest.fixture(scope="module")
def sim_logs(tmp_path_factory) -> tuple[Path, datetime, datetime]:
    """Three hours of the demo world's logs, as `make demo` writes them."""
    incidents = planted_incidents(CONFIG.start, CONFIG.end)
    deploys = rollouts(CONFIG.start, CONFIG.end, [s.name for s in CONFIG.services], incidents)
    start, end = CONFIG.end - 3 * HOUR, CONFIG.end
    out = tmp_path_factory.mktemp("logs")
    write_logs(replace(CONFIG, end=end), incidents, deploys, simulate_metrics(CONFIG), start, out)
    return out, start, end


def test_every_sim_line_becomes_a_record(sim_logs):
    folder, start, end = sim_logs
    source = LogFileSource(folder, LOG_FORMAT)
    got = list(source.read(start, end))
    assert not quarantined(got)
    by_file: dict[str, list[LogRecord]] = {}
    for r in got:
        by_file.setdefault(r.origin.rsplit(":", 1)[0], []).append(r)
    for path in folder.iterdir():
        lines = path.read_text().splitlines()
        rows = by_file[path.name]
        assert [r.origin for r in rows] == [f"{path.name}:{n}" for n in range(1, len(lines) + 1)]
        assert all(ms(start) <= r.timestamp_ms < ms(end) for r in rows)
        if path.name == ACCESS_LOG:
            first = json.loads(lines[0])
            assert {r.service for r in rows} == {"gateway"}
            assert rows[0].message == first["message"] and rows[0].level == first["level"]
            assert rows[0].fields["status"] == str(first["status"])
            assert rows[0].timestamp_ms == ms(datetime.fromisoformat(first["@timestamp"]))
        else:
            assert {r.service for r in rows} == {path.stem}
            assert {r.level for r in rows} <= {"DEBUG", "INFO", "WARN", "ERROR"}
            assert all(r.fields["Component"].startswith(path.stem + ".") for r in rows)
            assert rows[0].message in lines[0] and "unmatched" not in rows[0].fields


def test_consecutive_intervals_read_each_sim_line_exactly_once(sim_logs):
    folder, start, end = sim_logs
    source = LogFileSource(folder)
    whole = sorted((r.origin, r.timestamp_ms) for r in source.read(start, end))
    parts = [
        (r.origin, r.timestamp_ms)
        for k in range(3)
        for r in source.read(start + k * HOUR, start + (k + 1) * HOUR)
    ]
    assert sorted(parts) == whole and len(whole) > 1000
    hour = list(source.read(start + HOUR, start + 2 * HOUR))
    assert all(ms(start + HOUR) <= r.timestamp_ms < ms(start + 2 * HOUR) for r in hour)


def test_source_fits_the_protocol_and_names_its_folder(sim_logs):
    source: LogSource = LogFileSource(sim_logs[0])
    assert str(sim_logs[0]) in source.describe()


# -- intervals ----------------------------------------------------------------------------------


def test_interval_is_start_inclusive_end_exclusive(tmp_path):
    at = [T0 - timedelta(milliseconds=1), T0, T0 + HOUR - timedelta(milliseconds=1), T0 + HOUR]
    write(tmp_path / "cart.log", *(f"{stamp(t)} INFO cart.api: line {i}" for i, t in enumerate(at)))
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    assert [r.message for r in got] == ["line 1", "line 2"]
    assert [r.timestamp_ms for r in got] == [ms(at[1]), ms(at[2])]
    assert [r.origin for r in got] == ["cart.log:2", "cart.log:3"]


def test_unsorted_files_are_filtered_line_by_line(tmp_path):
    times = [T0 + 2 * HOUR, T0 + timedelta(minutes=5), T0 - HOUR, T0 + timedelta(minutes=59)]
    write(tmp_path / "cart.log", *(f"{stamp(t)} INFO cart.api: at {t:%H:%M}" for t in times))
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    assert [r.message for r in got] == ["at 14:05", "at 14:59"]


def test_naive_interval_is_refused(tmp_path):
    write(tmp_path / "cart.log", f"{stamp(T0)} INFO cart.api: x")
    with pytest.raises(ValueError, match="timezone-aware"):
        list(LogFileSource(tmp_path).read(T0.replace(tzinfo=None), T0 + HOUR))


# -- lines that do not match ----------------------------------------------------------------------

TRACE = [
    f"{stamp(T0 + timedelta(seconds=1))} ERROR cart.api: unhandled exception",
    "java.lang.IllegalStateException: cart 42 is locked",
    "\tat com.shop.Cart.add(Cart.java:42)",
    "",
    "Caused by: java.sql.SQLException: lock timeout: table carts",  # matches, but no time
    f"{stamp(T0 + timedelta(seconds=2))} INFO cart.api: recovered",
]


def test_continuation_lines_follow_their_record(tmp_path):
    write(tmp_path / "cart.log", *TRACE)
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    assert not quarantined(got)
    assert [r.origin for r in got] == [f"cart.log:{n}" for n in (1, 2, 3, 5, 6)]  # blank skipped
    head, *rest, last = got
    assert [r.message for r in rest] == [TRACE[1], TRACE[2], TRACE[4]]
    for r in rest:
        assert (r.timestamp_ms, r.level, r.service) == (head.timestamp_ms, "ERROR", "cart")
        assert r.fields == {"unmatched": "1"}
    assert head.fields == {"Component": "cart.api"} and last.message == "recovered"


def test_continuations_of_a_record_outside_the_interval_stay_outside(tmp_path):
    write(
        tmp_path / "cart.log",
        f"{stamp(T0 - timedelta(seconds=1))} ERROR cart.api: before",
        "\tat com.shop.Cart.add(Cart.java:42)",
        *TRACE,
    )
    inside = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    before = list(LogFileSource(tmp_path).read(T0 - HOUR, T0))
    assert [r.origin for r in before] == ["cart.log:1", "cart.log:2"]
    assert inside[0].origin == "cart.log:3"


def test_leading_unmatched_line_is_quarantined_once_with_file_and_line(tmp_path):
    write(
        tmp_path / "cart.log",
        "ation timeout (truncated by log rotation)",
        f"{stamp(T0 + timedelta(minutes=1))} INFO cart.api: first whole line",
    )
    source = LogFileSource(tmp_path)
    got = list(source.read(T0, T0 + HOUR))
    [q] = quarantined(got)
    assert q.origin == "cart.log:1" and q.service == "cart"
    assert q.reason == f"line does not match format '{LOG_FORMAT}'"
    assert q.raw == "ation timeout (truncated by log rotation)"
    assert [r.origin for r in records(got)] == ["cart.log:2"]
    # it belongs with the first line after it: an hour without that line does not repeat it
    assert list(source.read(T0 - HOUR, T0)) == []
    assert list(source.read(T0 + HOUR, T0 + 2 * HOUR)) == []


def test_a_file_in_another_format_is_quarantined_on_every_read(tmp_path):
    write(tmp_path / "nginx.log", "x" * 900, "10.0.0.1 - - GET /")
    for start in (T0, T0 + HOUR):
        got = list(LogFileSource(tmp_path).read(start, start + HOUR))
        assert [q.origin for q in got] == ["nginx.log:1", "nginx.log:2"]
        assert all(isinstance(q, Quarantined) for q in got)
        assert len(got[0].raw) == 500


def test_other_formats(tmp_path):
    write(
        tmp_path / "hdfs.log",
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
        "blk_38865049064139660 terminating",
    )
    source = LogFileSource(tmp_path, "<Date> <Time> <Pid> <Level> <Component>: <Content>")
    [r] = source.read(datetime(2008, 11, 9, tzinfo=UTC), datetime(2008, 11, 10, tzinfo=UTC))
    assert r.timestamp_ms == ms(datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC))
    assert r.fields == {"Pid": "148", "Component": "dfs.DataNode$PacketResponder"}
    assert (r.service, r.level) == ("hdfs", "INFO")

    write(tmp_path / "sys" / "auth.log", "Dec 31 23:59:59 web-1 sshd[7]: Accepted key for ops")
    syslog = LogFormat.parse(r"<Month> <Date> <Time> <Host> <Component>(\[<PID>\])?: <Content>")
    source = LogFileSource(tmp_path / "sys", syslog)
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    [r] = source.read(new_year - HOUR, new_year)  # the year comes from the interval
    assert r.message == "Accepted key for ops" and r.fields["PID"] == "7"


def test_a_format_without_time_cannot_place_lines():
    with pytest.raises(LogFormatError, match="has no time field"):
        LogFileSource(".", "<Level> <Content>")


# -- JSON lines ----------------------------------------------------------------------------------


def entry(at: datetime, **extra) -> str:
    doc = {"@timestamp": f"{at:%Y-%m-%dT%H:%M:%S}.000Z", "service": "gateway", "level": "INFO"}
    return json.dumps({**doc, "message": "GET / 200", **extra}, separators=(",", ":"))


def test_json_lines_service_from_the_document_or_the_file_name(tmp_path):
    write(
        tmp_path / "gateway.access.jsonl",
        entry(T0, status=200),
        entry(T0 + timedelta(seconds=1), service=None),
        entry(T0 + timedelta(seconds=2), service="edge"),
    )
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    assert [r.service for r in got] == ["gateway", "gateway", "edge"]
    assert got[0].fields == {"status": "200"} and got[0].origin == "gateway.access.jsonl:1"
    write(tmp_path / "gateway.access.jsonl", entry(T0).replace('"service":"gateway",', ""))
    [r] = LogFileSource(tmp_path).read(T0, T0 + HOUR)
    assert r.service == "gateway"  # the stem's first dot-part


def test_json_lines_with_nested_and_dotted_fields(tmp_path):
    ecs = JsonLinesFormat(timestamp="@timestamp", service="service.name", level="log.level")
    write(
        tmp_path / "shop.jsonl",
        json.dumps(
            {
                "@timestamp": "2026-10-31T15:00:01+01:00",
                "service": {"name": "cart"},
                "log.level": "warning",
                "message": "slow",
                "http": {"status": 200},
            }
        ),
    )
    [r] = LogFileSource(tmp_path, json_format=ecs).read(T0, T0 + HOUR)
    assert (r.service, r.level, r.message) == ("cart", "WARN", "slow")
    assert r.timestamp_ms == ms(T0 + timedelta(seconds=1))
    assert r.fields == {"http.status": "200"}


def test_bad_json_lines_are_quarantined_naming_file_and_line(tmp_path):
    write(
        tmp_path / "gateway.access.jsonl",
        entry(T0),
        '{"@timestamp":"2026-10-31T14:00:02.000Z","message":"GET / 200"',  # truncated
        "{this is not json",
        '["a", "list"]',
        '{"message": "no time"}',
        entry(T0 + timedelta(seconds=3)).replace('"message":"GET / 200"', '"msg":"x"'),
        entry(T0 + timedelta(seconds=4)),
    )
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    assert [r.origin for r in records(got)] == ["gateway.access.jsonl:1", "gateway.access.jsonl:7"]
    bad = {q.origin: q for q in quarantined(got)}
    assert sorted(bad) == [f"gateway.access.jsonl:{n}" for n in range(2, 7)]
    assert bad["gateway.access.jsonl:2"].reason.startswith("not valid JSON: Expecting ',' delim")
    assert bad["gateway.access.jsonl:3"].reason.startswith("not valid JSON: Expecting property")
    assert bad["gateway.access.jsonl:3"].raw == "{this is not json"
    assert bad["gateway.access.jsonl:4"].reason == "not a JSON object but list"
    assert bad["gateway.access.jsonl:5"].reason == "no '@timestamp' field"
    assert bad["gateway.access.jsonl:6"].reason == "no 'message' field"
    assert {q.service for q in bad.values()} == {"gateway"}
    # placed with the line before them: the previous hour does not see them
    assert list(LogFileSource(tmp_path).read(T0 - HOUR, T0)) == []


# -- files ----------------------------------------------------------------------------------------


def test_gzip_files_read_transparently(tmp_path):
    lines = [f"{stamp(T0)} INFO payment.provider: charge ok", "  continued"]
    with gzip.open(tmp_path / "payment.log.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    with gzip.open(tmp_path / "gateway.access.jsonl.gz", "wt") as f:
        f.write(entry(T0) + "\n")
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    assert [(r.origin, r.service) for r in got] == [
        ("gateway.access.jsonl.gz:1", "gateway"),
        ("payment.log.gz:1", "payment"),
        ("payment.log.gz:2", "payment"),
    ]
    assert got[2].message == "  continued"
    with open_log_file(tmp_path / "payment.log.gz") as f:
        assert f.read().splitlines() == lines


def test_a_broken_gzip_file_is_quarantined_not_fatal(tmp_path):
    lines = [f"{stamp(T0 + timedelta(seconds=i))} INFO cart.api: item {i * i}" for i in range(500)]
    whole = gzip.compress("".join(f"{line}\n" for line in lines).encode())
    (tmp_path / "cart.log.gz").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    write(tmp_path / "payment.log", f"{stamp(T0)} INFO payment.provider: ok")
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    [q] = quarantined(got)
    assert q.origin == "cart.log.gz" and "cannot read" in q.reason and "ended" in q.reason
    cart = [r for r in records(got) if r.service == "cart"]
    assert 0 < len(cart) < 500 and cart[0].message == "item 0"  # what came before is kept
    assert [r.service for r in records(got)][-1] == "payment"


def test_folders_files_and_services(tmp_path):
    write(tmp_path / "pods" / "cart" / "app.log", f"{stamp(T0)} INFO cart.api: a\r")
    write(tmp_path / "pods" / "cart" / "notes.txt", "not a log file")
    write(tmp_path / "payment.log", f"{stamp(T0)} INFO payment.provider: b")
    got = list(LogFileSource(tmp_path).read(T0, T0 + HOUR))
    assert [(r.origin, r.service, r.message) for r in got] == [
        ("payment.log:1", "payment", "b"),
        ("pods/cart/app.log:1", "app", "a"),  # the \r of a CRLF file is not content
    ]
    by_parent = LogFileSource(tmp_path / "pods", service_from="parent").read(T0, T0 + HOUR)
    assert [r.service for r in by_parent] == ["cart"]
    by_component = LogFileSource([tmp_path / "pods" / "cart" / "app.log"], service_from="Component")
    assert [(r.origin, r.service) for r in by_component.read(T0, T0 + HOUR)] == [
        ("app.log:1", "cart")
    ]
    with pytest.raises(ValueError, match="service_from='Host'"):
        LogFileSource(tmp_path, service_from="Host")
    with pytest.raises(LogFileError, match="missing.log: no such log file"):
        list(LogFileSource(tmp_path / "missing.log").read(T0, T0 + HOUR))


def test_auto_reads_each_file_in_its_own_layout(tmp_path, caplog):
    at = T0 + timedelta(minutes=5, seconds=3)
    write(tmp_path / "logs" / "auth.log",
          *(f"{at:%b %d %H:%M:%S} {at:%Y} host sshd[{1200 + i}]: Accepted password for bob "
            f"from 10.0.0.{i} port 5221{i} ssh2" for i in range(3)))  # fmt: skip
    write(tmp_path / "logs" / "payment.log",
          f"{stamp(at)} ERROR [main] payment.provider: charge failed for order 17",
          f"{stamp(at)} INFO [main] payment.api: POST /pay 200 12ms")  # fmt: skip
    write(tmp_path / "logs" / "notes.log", "just words", "more words without any time")
    source = LogFileSource(tmp_path / "logs", "auto")

    with caplog.at_level("INFO", logger="aiops.sources.log_files"):
        items = list(source.read(T0, T0 + HOUR))

    got = records(items)
    assert {(r.service, r.level, r.message) for r in got} == {
        ("auth", "", "Accepted password for bob from 10.0.0.0 port 52210 ssh2"),
        ("auth", "", "Accepted password for bob from 10.0.0.1 port 52211 ssh2"),
        ("auth", "", "Accepted password for bob from 10.0.0.2 port 52212 ssh2"),
        ("payment", "ERROR", "charge failed for order 17"),
        ("payment", "INFO", "POST /pay 200 12ms"),
    }
    assert {r.timestamp_ms for r in got} == {ms(at)}
    bad = [q for q in items if isinstance(q, Quarantined)]
    assert [q.origin for q in bad] == ["notes.log:1", "notes.log:2"]  # every line accounted for
    assert all("set the catalog's logs.format for notes.log" in q.reason for q in bad)
    assert "auth.log: log format: syslog" in caplog.text
