"""Log formats: Loghub format strings, the timestamp shapes found in the wild, JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aiops.dev.sim.logs import LOG_FORMAT
from aiops.logs.formats import (
    DEFAULT_FORMAT,
    JsonLinesFormat,
    LogFormat,
    LogFormatError,
    TimestampReader,
    lookup,
    parse_lines,
)

SYSLOG = r"<Month> <Date> <Time> <Host> <Component>(\[<PID>\])?: <Content>"
HDFS = "<Date> <Time> <Pid> <Level> <Component>: <Content>"


def ms(*args: int, tz: timezone = UTC) -> int:
    """Epoch ms of a calendar time (UTC unless told)."""
    at = datetime(*args[:6], tzinfo=tz) + timedelta(milliseconds=args[6] if len(args) > 6 else 0)
    return round(at.timestamp() * 1000)


def test_the_default_format_is_the_demo_worlds():
    assert DEFAULT_FORMAT == LOG_FORMAT


@pytest.mark.parametrize(
    ("line", "component", "level", "content"),
    [  # shapes copied from aiops.dev.sim.logs' f-strings
        (
            "2026-10-31 14:00:03,123 INFO payment.provider: charge ok for order "
            "4f1c2d3e-aaaa-4bbb-accc-0123456789ab amount=12.34 EUR psp_ref=0a1b2c3d4e5f",
            "payment.provider",
            "INFO",
            "charge ok for order 4f1c2d3e-aaaa-4bbb-accc-0123456789ab amount=12.34 EUR "
            "psp_ref=0a1b2c3d4e5f",
        ),
        (  # a colon inside the content stays in the content
            "2026-10-31 14:00:03,123 ERROR payment.provider: charge failed for order 1234: "
            "upstream psp-gateway returned 502 after 900ms",
            "payment.provider",
            "ERROR",
            "charge failed for order 1234: upstream psp-gateway returned 502 after 900ms",
        ),
        (  # runs of spaces inside the content are kept as written
            "2026-10-31 14:00:03,123 INFO postgres.db: duration: 1.234 ms  statement: SELECT 1",
            "postgres.db",
            "INFO",
            "duration: 1.234 ms  statement: SELECT 1",
        ),
        (
            "2026-10-31 14:00:03,123 WARN order-worker.consumer: slow GET /x took 900ms",
            "order-worker.consumer",
            "WARN",
            "slow GET /x took 900ms",
        ),
    ],
)
def test_demo_format_splits_sim_lines(line, component, level, content):
    fmt = LogFormat.parse(LOG_FORMAT)
    fields = fmt.match(line)
    assert fields == {
        "Date": "2026-10-31",
        "Time": "14:00:03,123",
        "Level": level,
        "Component": component,
        "Content": content,
    }
    assert fmt.timestamp_ms(fields) == ms(2026, 10, 31, 14, 0, 3, 123)
    assert fmt.level(fields) == level


def test_a_run_of_spaces_in_the_format_matches_any_whitespace():
    fmt = LogFormat.parse(LOG_FORMAT)
    fields = fmt.match("2026-10-31   14:00:03,123\tWARNING  cart.gc:    GC pressure  high\r\n")
    assert fields is not None
    assert (fields["Level"], fields["Component"]) == ("WARNING", "cart.gc")
    assert fields["Content"] == "GC pressure  high"
    assert fmt.level(fields) == "WARN"  # normalised
    assert fmt.timestamp_ms(fields) == ms(2026, 10, 31, 14, 0, 3, 123)


def test_the_whole_line_must_match():
    fmt = LogFormat.parse(r"\[<Time>\] \[<Level>\] <Content>")
    assert fmt.match("[Sun Dec 04 04:47:44 2005] [error] mod_jk child init 1 -2") == {
        "Time": "Sun Dec 04 04:47:44 2005",
        "Level": "error",
        "Content": "mod_jk child init 1 -2",
    }
    assert fmt.match("x [Sun Dec 04 04:47:44 2005] [error] boom") is None
    assert fmt.match("no brackets at all") is None
    fields = fmt.match("[Sun Dec 04 04:47:44 2005] [error] boom")
    assert fmt.timestamp_ms(fields) == ms(2005, 12, 4, 4, 47, 44)
    assert fmt.level(fields) == "ERROR"


def test_syslog_format_with_optional_pid_takes_the_year_from_the_reference():
    fmt = LogFormat.parse(SYSLOG)
    with_pid = fmt.match("Oct 31 14:00:03 web-1 sshd[4242]: Accepted publickey for deploy")
    without = fmt.match("Nov  1 09:05:00 web-1 kernel: Out of memory: Killed process 77")
    assert with_pid == {
        "Month": "Oct",
        "Date": "31",
        "Time": "14:00:03",
        "Host": "web-1",
        "Component": "sshd",
        "PID": "4242",
        "Content": "Accepted publickey for deploy",
    }
    assert without["PID"] == "" and without["Component"] == "kernel"
    assert without["Content"] == "Out of memory: Killed process 77"
    assert fmt.time_fields == ("Month", "Date", "Time")
    reference = datetime(2026, 10, 31, 13, tzinfo=UTC)
    assert fmt.timestamp_ms(with_pid, reference) == ms(2026, 10, 31, 14, 0, 3)
    assert fmt.timestamp_ms(without, reference) == ms(2026, 11, 1, 9, 5)
    assert fmt.timestamp_ms(with_pid) is None  # no year, no reference: cannot be placed
    assert fmt.level(with_pid) == ""  # no <Level> in the format


def test_syslog_year_is_the_one_nearest_the_reference_across_new_year():
    read = TimestampReader()
    new_year = datetime(2027, 1, 1, 0, 10, tzinfo=UTC)
    assert read("Dec 31 23:59:59", new_year) == ms(2026, 12, 31, 23, 59, 59)
    assert read("Jan  1 00:00:01", datetime(2026, 12, 31, 23, 50, tzinfo=UTC)) == ms(
        2027, 1, 1, 0, 0, 1
    )
    assert read("Feb 29 12:00:00", datetime(2028, 3, 1, tzinfo=UTC)) == ms(2028, 2, 29, 12)


def test_hdfs_loghub_line():
    fmt = LogFormat.parse(HDFS)
    fields = fmt.match(
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
        "blk_38865049064139660 terminating"
    )
    assert fields == {
        "Date": "081109",
        "Time": "203615",
        "Pid": "148",
        "Level": "INFO",
        "Component": "dfs.DataNode$PacketResponder",
        "Content": "PacketResponder 1 for block blk_38865049064139660 terminating",
    }
    assert fmt.timestamp_ms(fields) == ms(2008, 11, 9, 20, 36, 15)
    assert fmt.level(fields) == "INFO"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-31 14:00:03,123", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("2026-10-31 14:00:03.123", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("2026-10-31T14:00:03.123", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("2026-10-31T14:00:03.123Z", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("2026-10-31T14:00:03.123456Z", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("2026-10-31T14:00:03Z", ms(2026, 10, 31, 14, 0, 3)),
        ("2026-10-31 14:00:03", ms(2026, 10, 31, 14, 0, 3)),
        ("2026-10-31 14:00", ms(2026, 10, 31, 14)),
        ("2026/10/31 14:00:03", ms(2026, 10, 31, 14, 0, 3)),
        ("2026-10-31T16:00:03.5+02:00", ms(2026, 10, 31, 14, 0, 3, 500)),
        ("2026-10-31T09:00:03-0500", ms(2026, 10, 31, 14, 0, 3)),
        ("2026-10-31 14:00:03 UTC", ms(2026, 10, 31, 14, 0, 3)),
        ("Sat Oct 31 14:00:03 2026", ms(2026, 10, 31, 14, 0, 3)),
        ("31/Oct/2026:15:00:03 +0100", ms(2026, 10, 31, 14, 0, 3)),
        ("081109 203615", ms(2008, 11, 9, 20, 36, 15)),
        ("1793455203", ms(2026, 10, 31, 14, 0, 3)),
        ("1793455203.25", ms(2026, 10, 31, 14, 0, 3, 250)),
        ("1793455203123", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("1793455203123456", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("1793455203123456789", ms(2026, 10, 31, 14, 0, 3, 123)),
    ],
)
def test_timestamp_shapes(text, expected):
    read = TimestampReader()
    assert read(text) == expected
    assert read(text) == expected  # the second time from the minute cache


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2026-02-30 14:00:03,123",  # no such day
        "2026-10-31 25:00:03,123",
        "2026-10-31 14:00:03,12x",
        "2026-10-31 14:00:3x,123",
        "Caused by: java.lang.IllegalStateException",
        "12345",  # too short to be epoch time
    ],
)
def test_not_a_timestamp(text):
    read = TimestampReader()
    read("2026-10-31 14:00:03,123")  # the minute is cached: the fast path must still check
    assert read(text) is None


def test_the_fast_path_agrees_with_the_full_parse_across_minutes():
    read = TimestampReader()
    start = datetime(2026, 10, 31, 23, 58, 59, 998_000, tzinfo=UTC)
    for step in range(0, 200_000, 997):
        at = start + timedelta(milliseconds=step)
        text = f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d}"
        assert read(text) == round(at.timestamp() * 1000), text
        assert read(text.replace(" ", "T").replace(",", ".") + "Z") == read(text)


def test_times_without_a_zone_are_utc_unless_a_tz_is_given():
    fields = {"Date": "2026-10-31", "Time": "14:00:03,123", "Level": "INFO", "Content": "x"}
    assert LogFormat.parse(LOG_FORMAT).timestamp_ms(fields) == ms(2026, 10, 31, 14, 0, 3, 123)
    berlin = LogFormat.parse(LOG_FORMAT, tz="Europe/Berlin")
    assert berlin.timestamp_ms(fields) == ms(2026, 10, 31, 13, 0, 3, 123)  # CET, +01:00
    summer = {**fields, "Date": "2026-07-01"}
    assert berlin.timestamp_ms(summer) == ms(2026, 7, 1, 12, 0, 3, 123)  # CEST, +02:00
    iso = LogFormat.parse("<Timestamp> <Content>", tz="Europe/Berlin")
    stamped = iso.match("2026-10-31T14:00:03.123Z hello")
    assert iso.timestamp_ms(stamped) == ms(2026, 10, 31, 14, 0, 3, 123)  # the Z wins
    with pytest.raises(LogFormatError, match="Mars/Olympus"):
        LogFormat.parse(LOG_FORMAT, tz="Mars/Olympus")


@pytest.mark.parametrize(
    ("format_string", "problem"),
    [
        ("<Date> <Time> <Level>", "has no <Content> field"),
        ("", "has no <Content> field"),
        ("<Date> <Time> <Date> <Content>", "field <Date> appears twice"),
        ("<Date> (<Time> <Content>", "not a valid regular expression"),
        (r"<Date> <Time>[ <Content>", "not a valid regular expression"),
    ],
)
def test_bad_format_strings_name_the_format_and_the_problem(format_string, problem):
    with pytest.raises(LogFormatError) as caught:
        LogFormat.parse(format_string)
    assert repr(format_string) in str(caught.value) and problem in str(caught.value)


def test_time_fields_chosen_from_the_format():
    assert LogFormat.parse(LOG_FORMAT).time_fields == ("Date", "Time")
    assert LogFormat.parse("<Timestamp> <Date> <Time> <Content>").time_fields == ("Timestamp",)
    assert LogFormat.parse("<Month> <Day> <Time> <Year> <Content>").time_fields == (
        "Month",
        "Day",
        "Time",
        "Year",
    )
    assert LogFormat.parse(r"\[<Time>\] <Content>").time_fields == ("Time",)
    assert LogFormat.parse("<Level> <Content>").time_fields == ()
    assert LogFormat.parse("<Level> <Content>").timestamp_ms({"Level": "x"}) is None


def test_parse_lines_keeps_every_line_and_its_number():
    lines = [
        "2026-10-31 14:00:03,123 ERROR cart.api: boom\n",
        "java.lang.IllegalStateException: boom\n",
        "\tat com.shop.Cart.add(Cart.java:42)\n",
    ]
    parsed = list(parse_lines(lines, LOG_FORMAT))
    assert [n for n, _ in parsed] == [1, 2, 3]
    assert parsed[0][1]["Content"] == "boom"
    assert parsed[1][1] is None and parsed[2][1] is None


# -- JSON lines -------------------------------------------------------------------------------

ACCESS = {  # as aiops.dev.sim.logs writes the gateway's access log
    "@timestamp": "2026-10-31T14:00:03.123Z",
    "service": "gateway",
    "level": "ERROR",
    "message": "GET /products/42 502",
    "method": "GET",
    "status": 502,
    "duration_ms": 38,
}


def test_json_lines_default_field_names():
    jf = JsonLinesFormat()
    line = json.dumps(ACCESS, separators=(",", ":"))
    doc = json.loads(line)
    assert jf.timestamp_ms(doc) == ms(2026, 10, 31, 14, 0, 3, 123)
    assert jf.scan_timestamp_ms(line) == jf.timestamp_ms(doc)  # without decoding
    assert (jf.text(doc, jf.service), jf.text(doc, jf.level)) == ("gateway", "ERROR")
    assert jf.other_fields(doc) == {"method": "GET", "status": "502", "duration_ms": "38"}


def test_json_lines_nested_and_dotted_field_names():
    jf = JsonLinesFormat(
        timestamp="event.created", service="service.name", level="log.level", message="msg"
    )
    nested = {
        "event": {"created": 1793455203123},
        "service": {"name": "cart"},
        "log": {"level": "warning"},
        "msg": "slow",
        "http": {"response": {"status_code": 200}},
    }
    dotted = {
        "event.created": "2026-10-31T14:00:03.123Z",
        "service.name": "cart",
        "log.level": "warning",
        "msg": "slow",
    }
    for doc in (nested, dotted):
        assert jf.timestamp_ms(doc) == ms(2026, 10, 31, 14, 0, 3, 123)
        assert jf.text(doc, jf.service) == "cart"
        assert jf.text(doc, jf.level) == "warning"
    assert jf.other_fields(nested) == {"http.response.status_code": "200"}
    assert lookup({"a": {"b.c": {"d": 1}}}, "a.b.c.d") == 1
    assert lookup({"a": {"b": 1}}, "a.c") is None and lookup({"a": 1}, "a.b") is None
    assert jf.scan_timestamp_ms(json.dumps(nested)) is None  # must be decoded to know


def test_json_timestamp_that_is_not_a_time():
    jf = JsonLinesFormat()
    for value in ("yesterday", True, None, {"t": 1}, [1]):
        assert jf.timestamp_ms({"@timestamp": value}) is None
    assert jf.timestamp_ms({}) is None
    assert jf.timestamp_ms({"@timestamp": 1793455203.5}) == ms(2026, 10, 31, 14, 0, 3, 500)
    assert jf.scan_timestamp_ms('{"@timestamp": 1793455203, "message": "x"}') == ms(
        2026, 10, 31, 14, 0, 3
    )
