"""`--format auto`: the header layout of a log file found from a sample of its lines, the message
split from the header exactly, timestamps read where the layout has them, no line lost."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aiops.logs.auto_format import (
    CANDIDATES,
    MIN_SHARE,
    Detected,
    ShapedFormat,
    detect_format,
    split_message,
)
from aiops.logs.formats import JsonLinesFormat, LogFormat
from support.paths import SHARED_DATA

LOGHUB = SHARED_DATA / "loghub"
LOGHUB_SYSTEMS = ("HDFS", "Hadoop", "Spark", "BGL", "Windows", "Android", "Proxifier", "OpenStack")
LOGHUB_BAR = 0.98


def ms(*args: int, tz: timezone = UTC) -> int:
    at = datetime(*args[:6], tzinfo=tz) + timedelta(milliseconds=args[6] if len(args) > 6 else 0)
    return round(at.timestamp() * 1000)


def assert_reads(
    lines: str, name: str, messages: list[str], first_ms: int | None = None
) -> Detected:
    """Detect on ``lines``, check the choice, every line's message and the first line's time."""
    raw = lines.strip("\n").split("\n")
    detected = detect_format(raw)
    assert detected.name == name, detected.describe()
    assert detected.matched == 1.0
    split = [split_message(detected, line) for line in raw]
    assert [message for _, message in split] == messages
    assert all(fields is not None for fields, _ in split)
    if first_ms is not None:
        assert isinstance(detected.format, LogFormat)
        reference = datetime(2026, 11, 15, tzinfo=UTC)  # places year-less syslog stamps
        assert detected.format.timestamp_ms(split[0][0], reference) == first_ms
    return detected


# -- one test per header family -----------------------------------------------------------------


def test_syslog_without_year_with_and_without_pid():
    detected = assert_reads(
        """
Oct 31 14:00:03 web-1 sshd[2412]: Accepted publickey for deploy from 10.0.0.7 port 52114 ssh2
Oct 31 14:00:04 web-1 CRON[2420]: (root) CMD (run-parts /etc/cron.hourly)
Oct 31 14:00:05 web-1 kernel: [12345.678901] eth0: link up, 1000 Mbps
Nov  1 09:15:00 web-1 systemd[1]: Started Daily apt upgrade and clean activities.
""",
        "syslog",
        [
            "Accepted publickey for deploy from 10.0.0.7 port 52114 ssh2",
            "(root) CMD (run-parts /etc/cron.hourly)",
            "[12345.678901] eth0: link up, 1000 Mbps",
            "Started Daily apt upgrade and clean activities.",
        ],
        ms(2026, 10, 31, 14, 0, 3),
    )
    fields, _ = split_message(detected, "Oct 31 14:00:04 web-1 CRON[2420]: (root) CMD (x)")
    assert fields is not None
    assert (fields["Host"], fields["Component"], fields["Pid"]) == ("web-1", "CRON", "2420")


def test_syslog_with_year_and_priority():
    assert_reads(
        """
<30>Oct 31 14:00:03 2026 fw-2 dhcpd[811]: DHCPACK on 10.0.4.12 to 3c:22:fb:00:11:22 via eth1
<30>Oct 31 14:00:09 2026 fw-2 dhcpd[811]: DHCPREQUEST for 10.0.4.13 from 3c:22:fb:00:11:23
""",
        "syslog",
        [
            "DHCPACK on 10.0.4.12 to 3c:22:fb:00:11:22 via eth1",
            "DHCPREQUEST for 10.0.4.13 from 3c:22:fb:00:11:23",
        ],
        ms(2026, 10, 31, 14, 0, 3),
    )


def test_syslog_rfc5424():
    assert_reads(
        """
<165>1 2026-10-31T14:00:03.123Z host-a billing 8812 ID47 [meta@32473 iut="3" src="api"] invoice 77 sent
<165>1 2026-10-31T14:00:04.500Z host-a billing 8812 - - retry queue drained
""",
        "rfc5424",
        ["invoice 77 sent", "retry queue drained"],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )


def test_syslog_with_rfc3339_stamps():
    assert_reads(
        """
2026-10-31T16:00:03.123456+02:00 web-1 sshd[2412]: Accepted publickey for deploy
2026-10-31T16:00:04.000001+02:00 web-1 kernel: nf_conntrack: table full, dropping packet
""",
        "syslog-iso",
        ["Accepted publickey for deploy", "nf_conntrack: table full, dropping packet"],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )


def test_log4j_with_thread():
    assert_reads(
        """
2026-10-31 14:00:03,123 INFO [main] org.foo.Bar: Starting service on port 8080
2026-10-31 14:00:03,456 WARN [pool-2-thread-1] org.foo.cache.Loader: cache miss ratio 0.42 above 0.30
2026-10-31 14:00:04,001 ERROR [http-nio-8080-exec-3] org.foo.web.Api: request failed: timeout after 5000 ms
""",
        "log4j-thread",
        [
            "Starting service on port 8080",
            "cache miss ratio 0.42 above 0.30",
            "request failed: timeout after 5000 ms",
        ],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )


@pytest.mark.parametrize(
    ("stamp", "at"),
    [
        ("2026-10-31T14:00:03.123Z", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("2026-10-31T16:00:03.123+02:00", ms(2026, 10, 31, 14, 0, 3, 123)),
        ("2026-10-31 14:00:03,123", ms(2026, 10, 31, 14, 0, 3, 123)),
    ],
)
def test_log4j_without_thread_any_iso_stamp(stamp: str, at: int):
    assert_reads(
        f"""
{stamp} INFO payment.provider: charge ok for order 17 amount=12.34 EUR
{stamp} WARNING payment.provider: retrying charge: upstream 503
{stamp} DEBUG cart.api: GET /cart/42 took 12 ms
""",
        "log4j",
        [
            "charge ok for order 17 amount=12.34 EUR",
            "retrying charge: upstream 503",
            "GET /cart/42 took 12 ms",
        ],
        at,
    )


def test_bracketed_level_with_and_without_component():
    assert_reads(
        """
2026-10-31 14:00:03,123 [INFO] scheduler: picked up job 8812
2026-10-31 14:00:04,000 [ERROR] scheduler: job 8812 failed: exit 2
""",
        "bracket-level-component",
        ["picked up job 8812", "job 8812 failed: exit 2"],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )
    assert_reads(
        """
2026-10-31 14:00:03,123 [INFO] Worker 3 picked up job 8812
2026-10-31 14:00:04,000 [WARN] Worker 3 is slow
""",
        "bracket-level",
        ["Worker 3 picked up job 8812", "Worker 3 is slow"],
    )


def test_pid_level_logger_and_pid_level_component():
    assert_reads(
        """
2026-10-31 14:00:03.123 1234 INFO app.worker Job 17 finished in 2.3 s
2026-10-31 14:00:04.020 1234 WARNING app.worker Job 18 retried after timeout
""",
        "pid-level-logger",
        ["Job 17 finished in 2.3 s", "Job 18 retried after timeout"],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )
    assert_reads(
        """
2026-10-31 14:00:03,123 1234 INFO worker: job 17 done
2026-10-31 14:00:04,020 1235 ERROR worker: job 18 failed: disk full
""",
        "pid-level-component",
        ["job 17 done", "job 18 failed: disk full"],
    )


def test_oslo_style_request_context_is_header():
    assert_reads(
        """
2026-10-31 14:00:03.123 2931 INFO nova.compute.manager [req-3a1f - - - - -] [instance: 9f1c] VM Started
2026-10-31 14:00:04.500 2931 WARNING nova.compute.claims [-] Host memory is low: 512 MB free
""",
        "pid-level-logger-context",
        ["[instance: 9f1c] VM Started", "Host memory is low: 512 MB free"],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )


def test_logcat_pid_tid_one_letter_level():
    assert_reads(
        """
10-31 14:00:03.123  1702  2395 I ActivityManager: Start proc 4312:com.example/u0a12 for activity
10-31 14:00:03.200  1702  1820 W PowerManagerService: wake lock held for 30000 ms
""",
        "pid-tid-level-component",
        [
            "Start proc 4312:com.example/u0a12 for activity",
            "wake lock held for 30000 ms",
        ],
    )  # logcat writes no year: its time is not read


def test_other_date_time_layouts():
    assert_reads(
        """
2026-10-31 14:00:03.123  INFO 4242 --- [           main] o.s.b.w.embedded.tomcat.TomcatWebServer  : Tomcat started on port(s): 8080 (http)
2026-10-31 14:00:03.300  WARN 4242 --- [nio-8080-exec-1] o.s.web.servlet.PageNotFound             : No mapping for GET /favicon.ico
""",
        "spring-boot",
        ["Tomcat started on port(s): 8080 (http)", "No mapping for GET /favicon.ico"],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )
    assert_reads(
        """
2026-10-31 14:00:03,123 - myapp.db - WARNING - slow query took 1.2 s
2026-10-31 14:00:04,000 - myapp.http - INFO - GET /health 200
""",
        "python-dash",
        ["slow query took 1.2 s", "GET /health 200"],
    )
    assert_reads(
        """
2026-10-31 14:00:03.123 [main] INFO  com.example.App - Application started in 2.1 s
2026-10-31 14:00:03.500 [worker-1] ERROR com.example.Job - Job failed - will retry
""",
        "logback",
        ["Application started in 2.1 s", "Job failed - will retry"],
    )
    assert_reads(
        """
2026-10-31 14:00:03,123 INFO starting worker pool size=8
2026-10-31 14:00:03,200 ERROR lost connection to broker, reconnecting
""",
        "level-message",
        ["starting worker pool size=8", "lost connection to broker, reconnecting"],
    )


def test_access_log_combined_and_common():
    assert_reads(
        """
10.0.0.7 - - [31/Oct/2026:14:00:03 +0000] "GET /api/cart HTTP/1.1" 200 512 "-" "curl/8.4.0"
10.0.0.8 - alice [31/Oct/2026:14:00:04 +0000] "POST /api/order HTTP/2.0" 201 87 "https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64)"
192.168.1.20 - - [31/Oct/2026:15:00:05 +0100] "GET /index.html HTTP/1.0" 304 -
""",
        "access-log",
        [
            '"GET /api/cart HTTP/1.1" 200 512 "-" "curl/8.4.0"',
            '"POST /api/order HTTP/2.0" 201 87 "https://shop.example/cart" '
            '"Mozilla/5.0 (X11; Linux x86_64)"',
            '"GET /index.html HTTP/1.0" 304 -',
        ],
        ms(2026, 10, 31, 14, 0, 3),
    )


def test_apache_and_nginx_error_logs():
    assert_reads(
        """
[Sat Oct 31 14:00:03.123456 2026] [core:error] [pid 1234:tid 140245] [client 10.0.0.7:52114] AH00126: Invalid URI in request
[Sat Oct 31 14:00:04.000001 2026] [mpm_event:notice] [pid 1200] AH00489: Apache/2.4.58 (Unix) configured -- resuming normal operations
[Sat Oct 31 14:00:05 2026] [error] [client 10.0.0.9] File does not exist: /var/www/favicon.ico
""",
        "apache-error",
        [
            "[client 10.0.0.7:52114] AH00126: Invalid URI in request",
            "AH00489: Apache/2.4.58 (Unix) configured -- resuming normal operations",
            "[client 10.0.0.9] File does not exist: /var/www/favicon.ico",
        ],
        ms(2026, 10, 31, 14, 0, 3, 123),
    )
    assert_reads(
        """
2026/10/31 14:00:03 [error] 4242#4242: *17 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 10.0.0.7
2026/10/31 14:00:04 [notice] 4241#4241: signal process started
""",
        "nginx-error",
        [
            'open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), '
            "client: 10.0.0.7",
            "signal process started",
        ],
        ms(2026, 10, 31, 14, 0, 3),
    )


def test_windows_cbs():
    assert_reads(
        """
2026-10-31 14:00:03, Info                  CBS    Starting TrustedInstaller initialization.
2026-10-31 14:00:04, Warning               CBS    Failed to get next element [HRESULT = 0x800f0805]
2026-10-31 14:00:04, Info                  CSI    00000003 Creating NT transaction (seq 1)
""",
        "windows-cbs",
        [
            "Starting TrustedInstaller initialization.",
            "Failed to get next element [HRESULT = 0x800f0805]",
            "00000003 Creating NT transaction (seq 1)",
        ],
        ms(2026, 10, 31, 14, 0, 3),
    )


def test_klog():
    detected = assert_reads(
        """
I1031 14:00:03.123456    1234 controller.go:123] Starting controller name=deployments
W1031 14:00:04.000001    1234 reflector.go:424] watch of *v1.Pod ended with: too old resource version
E1031 14:00:05.250000      77 leaderelection.go:330] error retrieving resource lock kube-system/foo: timeout
""",
        "klog",
        [
            "Starting controller name=deployments",
            "watch of *v1.Pod ended with: too old resource version",
            "error retrieving resource lock kube-system/foo: timeout",
        ],
    )  # klog writes no year: its time is not read
    fields, _ = split_message(detected, "E1031 14:00:05.250000 77 x.go:3] boom")
    assert fields is not None and (fields["Level"], fields["File"]) == ("E", "x.go:3")


def test_other_bracketed_and_bare_layouts():
    assert_reads(
        """
[2026-10-31 14:00:03] production.ERROR: Undefined variable $cart {"exception":"[object] (ErrorException)"} []
[2026-10-31 14:00:04] production.INFO: User 17 logged in [] []
""",
        "monolog",
        [
            'Undefined variable $cart {"exception":"[object] (ErrorException)"} []',
            "User 17 logged in [] []",
        ],
        ms(2026, 10, 31, 14, 0, 3),
    )
    assert_reads(
        """
[10.31 14:00:03] updater.exe - connect to update.example.com:443 ok
[10.31 14:00:04] browser.exe *64 - close, 1203 bytes sent
""",
        "bracket-time",
        ["connect to update.example.com:443 ok", "close, 1203 bytes sent"],
    )
    assert_reads(
        """
INFO:root:starting up
WARNING:app.db:pool exhausted: 10 of 10 in use
""",
        "python-basic",
        ["starting up", "pool exhausted: 10 of 10 in use"],
    )


def test_level_anchored_catches_custom_headers():
    assert_reads(
        """
- 1793455203 node-17 rack-4 KERNEL INFO cache parity error corrected
ALERT 1793455204 node-17 rack-4 APP FATAL ciod: lost connection to node 17
""",
        "level-anchored",
        ["cache parity error corrected", "ciod: lost connection to node 17"],
        1793455203000,
    )


def test_json_lines_with_common_keys():
    detected = assert_reads(
        """
{"ts":"2026-10-31T14:00:03.123Z","level":"info","logger":"cart","msg":"item added","sku":"A-17"}
{"ts":"2026-10-31T14:00:04.000Z","level":"error","logger":"cart","msg":"checkout failed"}
""",
        "json",
        ["item added", "checkout failed"],
    )
    jf = detected.format
    assert isinstance(jf, JsonLinesFormat) and detected.json
    assert (jf.message, jf.level, jf.timestamp, jf.service) == ("msg", "level", "ts", "logger")
    fields, _ = split_message(detected, '{"ts":"2026-10-31T14:00:03.123Z","msg":"x","sku":"A"}')
    assert fields is not None and fields["sku"] == "A"
    assert jf.timestamp_ms({"ts": "2026-10-31T14:00:03.123Z"}) == ms(2026, 10, 31, 14, 0, 3, 123)

    ecs = assert_reads(
        """
{"@timestamp":"2026-10-31T14:00:03.123Z","log":{"level":"warn"},"service":{"name":"db"},"message":"slow query"}
{"@timestamp":"2026-10-31T14:00:04.000Z","log":{"level":"info"},"service":{"name":"db"},"message":"vacuum done"}
""",
        "json",
        ["slow query", "vacuum done"],
    )
    assert isinstance(ecs.format, JsonLinesFormat)
    assert (ecs.format.level, ecs.format.timestamp) == ("log.level", "@timestamp")


# -- the choice rule ----------------------------------------------------------------------------


def test_mixed_or_garbage_input_is_plain_and_loses_no_line():
    lines = [
        "Oct 31 14:00:03 web-1 sshd[2412]: Accepted publickey for deploy",
        "2026-10-31 14:00:03,123 INFO [main] org.foo.Bar: Starting",
        '{"msg": "a json line"}',
        "just some words",
        "#### ----- ####",
        "42",
        "the quick brown fox jumps over the lazy dog",
        "\x00\x01 binary-ish \ufffd",
    ] * 5
    detected = detect_format(lines)
    assert detected.name == "plain" and detected.format is None
    assert detected.sample == len(lines)
    assert "plain" in detected.describe() and "closest" in detected.describe()
    out = [split_message(detected, line) for line in lines]
    assert out == [(None, line) for line in lines]


def test_unmatched_lines_keep_their_whole_text():
    good = [f"2026-10-31 14:00:{s:02d},000 INFO [main] org.foo.Bar: tick {s}" for s in range(19)]
    odd = "this line belongs to no layout"
    detected = detect_format([*good, odd])
    assert detected.name == "log4j-thread"
    assert detected.matched == pytest.approx(19 / 20)
    assert split_message(detected, odd) == (None, odd)
    assert split_message(detected, good[3] + "\r\n") == (
        split_message(detected, good[3])[0],
        "tick 3",
    )


def test_stack_trace_lines_do_not_count_against_the_layout():
    records = [
        f"2026-10-31 14:00:{s:02d},123 ERROR [main] org.foo.Bar: call {s} failed" for s in range(10)
    ]
    trace = [
        "java.lang.IllegalStateException: boom",  # an exception's first line is a record line
        *["\tat org.foo.Bar.run(Bar.java:42)"] * 6,
        "Caused by: java.io.IOException: connection reset",
        "\t... 3 more",
    ]
    lines = (records + trace) * 10
    detected = detect_format(lines, sample=len(lines))
    assert detected.name == "log4j-thread"
    assert detected.matched == pytest.approx(10 / 11)
    assert detected.sample == len(lines)
    assert split_message(detected, trace[1]) == (None, trace[1])


def test_the_more_specific_layout_wins_a_tie():
    lines = ["2026-10-31 14:00:03,123 INFO worker: job 17 done"] * 10
    assert detect_format(lines).name == "log4j"  # level-message matches too, but says less
    assert detect_format([]).name == "plain"


def test_describe_names_the_choice_and_its_share():
    detected = detect_format(["2026-10-31 14:00:03,123 INFO worker: job done"] * 3)
    assert detected.describe() == (
        'log format: log4j "<Timestamp> <Level> <Component>: <Content>" '
        "(matched 100% of 3 sample lines)"
    )
    assert isinstance(detected.format, ShapedFormat)
    assert detected.layout == "<Timestamp> <Level> <Component>: <Content>"


def test_the_registry_names_are_unique_and_every_layout_compiles():
    names = [c.name for c in CANDIDATES]
    assert len(names) == len(set(names)) and "plain" not in names and "json" not in names
    for candidate in CANDIDATES:
        for layout in candidate.layouts():
            assert "Content" in candidate.compile(layout).fields
    assert 0.5 < MIN_SHARE <= 1


# -- Loghub: eight systems, the message found must be the ground truth's Content ------------------


@pytest.mark.parametrize("system", LOGHUB_SYSTEMS)
def test_loghub_messages_match_the_ground_truth_content(system: str):
    folder = LOGHUB / system
    if not folder.is_dir():
        pytest.skip(f"{folder}: Loghub data not present")
    raw = (folder / f"{system}_2k.log").read_bytes().decode("utf-8").split("\n")
    lines = raw[:-1] if raw[-1] == "" else raw  # Android keeps its "\r"; most end without "\n"
    with (folder / f"{system}_2k.log_structured_corrected.csv").open(newline="") as f:
        contents = [row["Content"] for row in csv.DictReader(f)]
    assert len(lines) == len(contents) == 2000

    detected = detect_format(lines)
    same = sum(
        split_message(detected, line)[1].strip() == content.strip()
        for line, content in zip(lines, contents, strict=True)
    )
    share = same / len(lines)
    print(f"{system}: {detected.describe()}; message == Content on {share:.1%}")
    assert share >= LOGHUB_BAR, f"{system}: {detected.describe()}, message == Content {share:.1%}"
