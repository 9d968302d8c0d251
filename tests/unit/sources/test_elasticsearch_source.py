"""The Elasticsearch log source, through the real elasticsearch-py client, against a loopback
Elasticsearch (tests/es_server.py) that speaks the REST wire format and checks the
compatible-with headers as a real 8.x / 9.x server does."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from aiops.logs.records import LogRecord, Quarantined
from aiops.sources.elasticsearch_logs import (
    ElasticsearchLogConfig,
    ElasticsearchLogSource,
    ElasticsearchSourceError,
    ElasticsearchUnavailable,
    LogFields,
)
from fakes.es_server import FakeElasticsearch

START = datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
START_MS = int(START.timestamp() * 1000)
END_MS = int(END.timestamp() * 1000)
LEVELS = ["info", "warning", "ERROR", "debug", None]


def ecs_doc(ms: int, service: str = "cart", message: str = "checkout done", level=None) -> dict:
    """An ECS-shaped document (nested objects), as Filebeat / Elastic Agent write them."""
    doc = {
        "@timestamp": iso(ms),
        "service": {"name": service},
        "message": message,
        "host": {"name": "node-1"},
    }
    if level is not None:
        doc["log"] = {"level": level}
    return doc


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@pytest.fixture
def es():
    with FakeElasticsearch(major=9) as server:
        yield server


def make_source(url: str, sleeps: list[float] | None = None, **config) -> ElasticsearchLogSource:
    auth = {k: config.pop(k) for k in ("basic_auth", "api_key") if k in config}
    sleep = sleeps.append if sleeps is not None else _no_sleep
    return ElasticsearchLogSource(ElasticsearchLogConfig(url, **config), sleep=sleep, **auth)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected retry wait of {seconds}s")


def pit_requests(es: FakeElasticsearch, method: str) -> list:
    return [r for r in es.requests if r.method == method and r.path.endswith("_pit")]


# -- pagination over a point in time ------------------------------------------------------------


def test_every_document_comes_back_once_in_order_over_one_point_in_time(es) -> None:
    step = 3_600_000 // 2345
    for i in range(2345):  # two indices, interleaved in time, written out of order
        index = "logs-cart" if i % 2 else "logs-pay"
        es.add(index, ecs_doc(START_MS + (2344 - i) * step, f"svc{i % 7}", f"line {i}",
                              LEVELS[i % 5]))  # fmt: skip
    es.add("logs-cart", ecs_doc(START_MS - 1), doc_id="before")
    es.add("logs-cart", ecs_doc(END_MS), doc_id="at-end")
    es.add("other-index", ecs_doc(START_MS + 5))

    with make_source(es.url, page_size=500, keep_alive="90s") as source:
        out = list(source.read(START, END))

    assert all(isinstance(r, LogRecord) for r in out)
    assert len(out) == 2345 and len({r.origin for r in out}) == 2345
    assert [r.timestamp_ms for r in out] == sorted(r.timestamp_ms for r in out)
    assert {r.origin.split("/")[0] for r in out} == {"logs-cart", "logs-pay"}
    assert {r.level for r in out} == {"INFO", "WARN", "ERROR", "DEBUG", ""}
    assert out[-1].message == "line 0" and out[-1].service == "svc0"

    opened, closed = pit_requests(es, "POST"), pit_requests(es, "DELETE")
    assert len(opened) == 1 and opened[0].path == "/logs-*/_pit"
    assert opened[0].param("keep_alive") == "90s"
    searches = es.searches()
    assert [r.answer and len(r.answer["hits"]["hits"]) for r in searches] == [500] * 4 + [345]
    assert searches[0].body["pit"]["id"] == opened[0].answer["id"]
    for before, after in zip(searches, searches[1:], strict=False):
        assert after.body["pit"]["id"] == before.answer["pit_id"]  # the fresh id is passed on
        assert after.body["search_after"] == before.answer["hits"]["hits"][-1]["sort"]
    assert searches[0].body["sort"] == [{"@timestamp": "asc"}, {"_shard_doc": "asc"}]
    assert searches[0].body["size"] == 500 and "search_after" not in searches[0].body
    assert len(closed) == 1 and closed[0].body == {"id": searches[-1].answer["pit_id"]}
    assert es.pits == {}


def test_the_interval_is_half_open(es) -> None:
    for ms, name in [(START_MS - 1, "before"), (START_MS, "at-start"), (END_MS - 1, "last"),
                     (END_MS, "at-end")]:  # fmt: skip
        es.add("logs-a", ecs_doc(ms), doc_id=name)
    out = list(make_source(es.url).read(START, END))
    assert [r.origin for r in out] == ["logs-a/at-start", "logs-a/last"]
    query = es.searches()[0].body["query"]["bool"]["filter"][0]["range"]["@timestamp"]
    assert query == {"gte": START_MS, "lt": END_MS, "format": "epoch_millis"}


def test_only_the_configured_fields_are_fetched_and_services_can_be_filtered(es) -> None:
    for i, service in enumerate(["cart", "pay", "cart", "search"]):
        es.add("logs-a", ecs_doc(START_MS + i, service))
    out = list(make_source(es.url, services=["cart", "search"]).read(START, END))
    assert [r.service for r in out] == ["cart", "cart", "search"]
    body = es.searches()[0].body
    assert body["_source"] == {"includes": ["@timestamp", "service.name", "log.level", "message"]}
    assert body["query"]["bool"]["filter"][1] == {"terms": {"service.name": ["cart", "search"]}}
    assert "host" not in es.searches()[0].answer["hits"]["hits"][0]["_source"]

    before = len(es.requests)
    assert list(make_source(es.url, services=[]).read(START, END)) == []
    assert len(es.requests) == before  # no service, no request


def test_field_names_are_configurable_nested_or_dotted(es) -> None:
    fields = {"timestamp": "ts", "service": "kubernetes.labels.app", "level": "severity",
              "message": "body.text"}  # fmt: skip
    es.add("app-1", {"ts": START_MS + 1, "kubernetes": {"labels": {"app": "cart"}},
                     "severity": "warning", "body": {"text": "nested"}}, doc_id="nested")  # fmt: skip
    es.add("app-1", {"ts": iso(START_MS + 2), "kubernetes.labels.app": "pay",
                     "body.text": "literal dotted keys"}, doc_id="dotted")  # fmt: skip
    es.add("app-1", {"ts": "2026-10-31T02:00:03+02:00", "kubernetes": {"labels.app": "search"},
                     "severity": "E", "body": {"text": "mixed"}}, doc_id="mixed")  # fmt: skip

    source = make_source(es.url, index="app-*", fields=fields)
    assert source.config.fields == LogFields("ts", "kubernetes.labels.app", "severity", "body.text")
    out = list(source.read(START, END))

    assert out == [
        LogRecord(START_MS + 1, "cart", "WARN", "nested", "app-1/nested"),
        LogRecord(START_MS + 2, "pay", "", "literal dotted keys", "app-1/dotted"),
        LogRecord(START_MS + 3000, "search", "ERROR", "mixed", "app-1/mixed"),
    ]
    assert es.searches()[0].body["sort"][0] == {"ts": "asc"}


def test_documents_that_cannot_be_read_are_quarantined_with_the_reason(es) -> None:
    custom = "31/Oct/2026:00:10:00 +0000"  # a custom date format in the mapping
    es.add("logs-a", ecs_doc(START_MS + 1), doc_id="good")
    es.add("logs-a", {"@timestamp": iso(START_MS + 2), "service": {"name": "cart"}},
           doc_id="no-message")  # fmt: skip
    es.add("logs-a", {**ecs_doc(0), "@timestamp": custom},
           doc_id="custom-date", indexed={"@timestamp": START_MS + 3})  # fmt: skip
    es.add("logs-a", {"message": "timestamp dropped from _source", "service.name": "pay"},
           doc_id="no-timestamp", indexed={"@timestamp": START_MS + 4})  # fmt: skip
    es.add("logs-a", {"@timestamp": iso(START_MS + 5), "message": "who am I"},
           doc_id="no-service")  # fmt: skip
    es.add("logs-a", {**ecs_doc(START_MS + 6), "@timestamp": str(START_MS - 86_400_000)},
           doc_id="mapped-elsewhere", indexed={"@timestamp": START_MS + 6})  # fmt: skip

    out = {r.origin: r for r in make_source(es.url).read(START, END)}

    assert isinstance(out["logs-a/good"], LogRecord)
    quarantined = {o: r for o, r in out.items() if isinstance(r, Quarantined)}
    assert {o: r.reason for o, r in quarantined.items()} == {
        "logs-a/no-message": "no message field 'message'",
        "logs-a/custom-date": f"unparseable timestamp in '@timestamp': {custom!r}",
        "logs-a/no-timestamp": "no timestamp field '@timestamp'",
        "logs-a/no-service": "no service field 'service.name'",
        "logs-a/mapped-elsewhere": (
            f"timestamp '{START_MS - 86_400_000}' in '@timestamp' is outside the interval"
        ),
    }
    assert quarantined["logs-a/no-message"].service == "cart"
    assert quarantined["logs-a/no-timestamp"].service == "pay"
    assert quarantined["logs-a/no-service"].service == ""
    assert json.loads(quarantined["logs-a/no-service"].raw) == {
        "@timestamp": iso(START_MS + 5),
        "message": "who am I",
    }


# -- retries and errors ----------------------------------------------------------------------------


def test_429_502_and_503_are_retried_with_backoff(es) -> None:
    for i in range(30):
        es.add("logs-a", ecs_doc(START_MS + i))
    es.fail_next(1, 429, path="_pit")
    es.fail_next(1, 503, path="_pit")
    es.fail_next(1, 502, path="_search")  # a proxy's HTML page
    sleeps: list[float] = []
    out = list(make_source(es.url, sleeps, page_size=10, backoff=0.5).read(START, END))
    assert len(out) == 30
    assert sleeps == [0.5, 1.0, 0.5]
    assert [r.status for r in es.requests][:5] == [429, 503, 200, 502, 200]
    assert es.pits == {}


def test_exhausted_retries_name_the_endpoint_the_index_and_the_interval(es) -> None:
    es.fail_next(3, 429)
    sleeps: list[float] = []
    with pytest.raises(ElasticsearchUnavailable) as raised:
        list(make_source(es.url, sleeps, attempts=3, backoff=2).read(START, END))
    message = str(raised.value)
    assert message.startswith(f"{es.url}: open point in time on index pattern 'logs-*', ")
    assert f"interval [{START.isoformat()}, {END.isoformat()})" in message
    assert "after 3 attempt(s)" in message and "es_rejected_execution_exception" in message
    assert sleeps == [2, 4]
    assert pit_requests(es, "DELETE") == []  # nothing was opened


def test_timeouts_and_refused_connections_are_retried_then_reported(es) -> None:
    es.add("logs-a", ecs_doc(START_MS))
    es.hang_next(1, seconds=3, path="_search")
    sleeps: list[float] = []
    out = list(make_source(es.url, sleeps, timeout=0.3).read(START, END))
    assert len(out) == 1 and sleeps == [0.5]

    with FakeElasticsearch() as gone:
        url = gone.url
    sleeps.clear()
    with pytest.raises(ElasticsearchUnavailable, match=f"^{url}: open point in time") as raised:
        list(make_source(url, sleeps, attempts=2).read(START, END))
    assert "after 2 attempt(s)" in str(raised.value) and sleeps == [0.5]
    assert "ConnectionError: " in str(raised.value) and "Connection refused" in str(raised.value)


def test_a_missing_index_fails_at_once_with_what_the_server_said(es) -> None:
    with pytest.raises(ElasticsearchSourceError) as raised:
        list(make_source(es.url, index="logs-nope").read(START, END))
    assert not isinstance(raised.value, ElasticsearchUnavailable)
    assert str(raised.value) == (
        f"{es.url}: open point in time on index pattern 'logs-nope', interval "
        f"[{START.isoformat()}, {END.isoformat()}): HTTP 404: index_not_found_exception: "
        "no such index [logs-nope]"
    )
    assert len(es.requests) == 1


def test_a_wildcard_matching_no_index_reads_nothing(es) -> None:
    assert list(make_source(es.url, index="nothing-*").read(START, END)) == []
    assert len(pit_requests(es, "DELETE")) == 1


def test_the_point_in_time_is_closed_after_an_error_mid_pagination(es, caplog) -> None:
    for i in range(1200):
        es.add("logs-a", ecs_doc(START_MS + i))
    reader = make_source(es.url, page_size=500).read(START, END)
    first = [next(reader) for _ in range(500)]
    assert len(first) == 500 and len(es.pits) == 1
    es.fail_next(1, 400, path="_search")
    with pytest.raises(ElasticsearchSourceError, match="HTTP 400: illegal_argument_exception"):
        list(reader)
    closed = pit_requests(es, "DELETE")
    assert len(closed) == 1 and closed[0].body == {"id": es.searches()[0].answer["pit_id"]}
    assert es.pits == {}

    # the PIT expired under us: the error says so, the failed close is only logged
    reader = make_source(es.url, page_size=500).read(START, END)
    next(reader)
    es.pits.clear()
    missing = pytest.raises(ElasticsearchSourceError, match="search_context_missing_exception")
    with caplog.at_level(logging.WARNING, logger="aiops.sources.elasticsearch_logs"), missing:
        list(reader)
    assert "close point in time" in caplog.text and "HTTP 404" in caplog.text


def test_a_caller_stopping_early_still_closes_the_point_in_time(es) -> None:
    for i in range(20):
        es.add("logs-a", ecs_doc(START_MS + i))
    reader = make_source(es.url, page_size=5).read(START, END)
    assert next(reader).timestamp_ms == START_MS
    reader.close()
    assert es.pits == {} and len(pit_requests(es, "DELETE")) == 1


def test_naive_datetimes_are_refused_before_any_request(es) -> None:
    with pytest.raises(ValueError, match="start: must be timezone-aware"):
        make_source(es.url).read(START.replace(tzinfo=None), END)
    assert es.requests == []


# -- server versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("server", "configured"), [(8, 8), (9, 9), (9, 8)])
def test_the_compatible_with_headers_follow_server_major(server, configured) -> None:
    with FakeElasticsearch(major=server) as es:
        es.add("logs-a", ecs_doc(START_MS))
        out = list(make_source(es.url, server_major=configured).read(START, END))
        assert len(out) == 1
        wanted = f"application/vnd.elasticsearch+json; compatible-with={configured}"
        for request in es.requests:
            assert request.headers["accept"] == wanted
        assert es.searches()[0].headers["content-type"] == wanted


def test_a_9x_client_setting_against_an_8x_server_is_a_clear_error() -> None:
    with FakeElasticsearch(major=8) as es, pytest.raises(ElasticsearchSourceError) as raised:
        list(make_source(es.url, server_major=9).read(START, END))
    message = str(raised.value)
    assert "HTTP 400 (the server refused the compatible-with=9 headers" in message
    assert "set server_major to the server's major version" in message
    assert "Accept version must be either version 8 or 7, but found 9" in message


@pytest.mark.parametrize("major", [7, 10, "9"])
def test_server_major_must_be_8_or_9(major) -> None:
    with pytest.raises(ValueError, match=r"server_major: must be 8 or 9 .*got"):
        ElasticsearchLogConfig("http://127.0.0.1:9200", server_major=major)


def test_bad_configuration_is_named() -> None:
    with pytest.raises(ValueError, match=r"page_size: must be in 1..10000, got 20000"):
        ElasticsearchLogConfig("http://127.0.0.1:9200", page_size=20_000)
    with pytest.raises(ValueError, match=r"fields: unknown keys \['msg'\]"):
        ElasticsearchLogConfig("http://127.0.0.1:9200", fields={"msg": "text"})
    with pytest.raises(ValueError, match="url: must start with http"):
        ElasticsearchLogConfig("127.0.0.1:9200")


# -- secrets ---------------------------------------------------------------------------------------


def test_credentials_are_sent_but_never_shown(caplog) -> None:
    with FakeElasticsearch(basic_auth=("elastic", "s3cr3t-pw"), api_key="a2V5OnNlY3JldA==") as es:
        es.add("logs-a", ecs_doc(START_MS))
        host = es.url.removeprefix("http://")
        caplog.set_level(logging.DEBUG)
        in_url = make_source(f"http://elastic:s3cr3t-pw@{host}")
        assert len(list(in_url.read(START, END))) == 1
        assert len(list(make_source(es.url, api_key="a2V5OnNlY3JldA==").read(START, END))) == 1
        assert es.requests[-1].headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="

        wrong = make_source(f"http://elastic:wr0ng-pw@{host}")
        with pytest.raises(ElasticsearchSourceError) as raised:
            list(wrong.read(START, END))
        es.fail_next(2, 503)
        with pytest.raises(ElasticsearchUnavailable) as exhausted:
            list(make_source(f"http://elastic:s3cr3t-pw@{host}", [], attempts=2).read(START, END))
        assert in_url.endpoint == es.url

    assert "HTTP 401 (check the credentials" in str(raised.value)
    assert "unable to authenticate user [elastic]" in str(raised.value)
    shown = [str(raised.value), str(exhausted.value), repr(in_url), in_url.describe(), caplog.text]
    for text in shown:
        assert "s3cr3t" not in text and "wr0ng" not in text and "a2V5" not in text


# -- the Airflow hook ------------------------------------------------------------------------------


def test_the_hook_builds_the_source_from_an_airflow_connection(monkeypatch) -> None:
    from aiops.airflow.hooks import ElasticsearchHook

    with FakeElasticsearch(major=8, basic_auth=("reader", "hook-pw")) as es:
        es.add("app-logs", {"ts": iso(START_MS), "svc": "cart", "msg": "hello", "lvl": "warn"})
        es.add("app-logs", {"ts": iso(START_MS + 1), "svc": "pay", "msg": "bye"})
        host, port = es.url.removeprefix("http://").split(":")
        extra = {"index": "app-*", "server_major": "8", "page_size": 1, "timeout": 5,
                 "attempts": 2, "backoff": 0.1, "verify_certs": "false",
                 "fields": {"timestamp": "ts", "service": "svc", "message": "msg",
                            "level": "lvl"}}  # fmt: skip
        conn = {"conn_type": "elasticsearch", "host": host, "port": int(port),
                "login": "reader", "password": "hook-pw", "extra": extra}  # fmt: skip
        monkeypatch.setenv("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps(conn))

        source = ElasticsearchHook().get_conn(services=["cart"])
        config = source.config
        assert (config.url, config.index, config.server_major) == (es.url, "app-*", 8)
        assert (config.page_size, config.timeout, config.attempts, config.backoff) == (1, 5, 2, 0.1)
        assert config.verify_certs is False and config.services == ("cart",)
        assert "hook-pw" not in repr(source)
        assert list(source.read(START, END)) == [
            LogRecord(START_MS, "cart", "WARN", "hello", "app-logs/doc-000001")
        ]
