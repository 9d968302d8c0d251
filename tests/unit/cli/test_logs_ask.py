"""`aiops logs ask` as users run it: the real anthropic SDK against a loopback Messages API
(tests/anthropic_server.py), the real elasticsearch client against a loopback Elasticsearch
(tests/es_server.py) that evaluates the query on its documents. The question becomes a query
that is checked against the index mapping, shown, limited to our time range and run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aiops.cli.main import main
from aiops.llm.log_query import (
    LogQuery,
    QueryError,
    SortKey,
    check_query,
    check_sort,
    mapping_fields,
)
from aiops.sources.elasticsearch_logs import ElasticsearchLogConfig, ElasticsearchLogSource
from aiops.store import Store
from fakes.anthropic_server import FakeAnthropic, tool_reply
from fakes.es_server import FakeElasticsearch
from support.catalogs import catalog_yaml

START = datetime(2026, 10, 31, 8, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
WINDOW = ["--start", "2026-10-31T08:00Z", "--end", "2026-10-31T09:00Z"]

#: What a Filebeat / Elastic Agent index template maps (ECS): keywords for the service and
#: level, the message as text with an exact-value multi-field.
MAPPING = {
    "@timestamp": {"type": "date"},
    "service": {"properties": {"name": {"type": "keyword"}}},
    "log": {"properties": {"level": {"type": "keyword"}}},
    "message": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
    "http": {"properties": {"response": {"properties": {"status_code": {"type": "long"}}}}},
    "session": {"properties": {"token": {"type": "keyword"}}},
}


def doc(minute: int, service: str, level: str, message: str, status: int | None = None) -> dict:
    at = START + timedelta(minutes=minute)
    source = {
        "@timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "service": {"name": service},
        "log": {"level": level},
        "message": message,
    }
    if status is not None:
        source["http"] = {"response": {"status_code": status}}
    return source


DOCS = [
    ("logs-checkout", doc(5, "checkout", "ERROR", "payment gateway timeout after 30s", 504)),
    ("logs-checkout", doc(15, "checkout", "INFO", "order 1234 placed", 200)),
    ("logs-checkout", doc(25, "checkout", "ERROR", "card declined for alice@example.com", 402)),
    ("logs-checkout", doc(45, "checkout", "ERROR", "payment gateway timeout after 30s", 504)),
    ("logs-checkout", doc(-30, "checkout", "ERROR", "payment gateway timeout after 30s", 504)),
    ("logs-checkout", doc(75, "checkout", "ERROR", "payment gateway timeout after 30s", 504)),
    ("logs-cart", doc(10, "cart", "ERROR", "redis timeout")),
    ("logs-cart", doc(20, "cart", "WARN", "slow query on carts")),
]

#: Checkout errors mentioning a timeout: the documents at minutes 5 and 45 of the window (the
#: same line at -30 and 75 is outside it, the cart's timeout is another service).
GOOD = {
    "query": {
        "bool": {
            "filter": [{"term": {"service.name": "checkout"}}, {"term": {"log.level": "ERROR"}}],
            "must": [{"match": {"message": "timeout"}}],
        }
    },
    "explanation": "Checkout errors whose message mentions a timeout.",
}
TIMEOUT_LINES = [
    "2026-10-31T08:45:00.000Z checkout ERROR payment gateway timeout after 30s",
    "2026-10-31T08:05:00.000Z checkout ERROR payment gateway timeout after 30s",
]


@pytest.fixture
def es():
    with FakeElasticsearch(major=9) as server:
        for index in ("logs-checkout", "logs-cart"):
            server.put_mapping(index, MAPPING)
        for index, source in DOCS:
            server.add(index, source)
        yield server


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        yield server
        assert server.violations == []  # every request the SDK sent was well-formed


@pytest.fixture
def env(monkeypatch, tmp_path, fake):
    """A catalog of our own (the model for `query` and the budget), the key and the fake's URL,
    and a store in the test's folder."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        catalog_yaml("  checkout: {owner: shop/checkout, team: payments}\n")
        + "llm:\n  models: {query: claude-haiku-4-5}\n  daily_budget_usd: 1.0\n"
    )
    monkeypatch.setenv("AIOPS_CATALOG", str(catalog))
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.delenv("AIOPS_LLM", raising=False)
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    return f"sqlite:///{tmp_path / 'aiops.db'}"


def ask(es: FakeElasticsearch, store: str, *args: str) -> int:
    return main(["logs", "ask", *args, "--url", es.url, "--store", store])


def printed_request(out: str) -> dict:
    """The pretty JSON block the command printed before running the query."""
    start = out.index("\n{\n") + 1
    end = out.index("\n}\n", start) + 2
    return json.loads(out[start:end])


def tool_results(request) -> list[dict]:
    """The tool_result blocks of a request's user turns."""
    return [
        block
        for message in request.body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


# -- a question to a query, shown and run ---------------------------------------------------------


def test_a_question_becomes_the_models_query_shown_limited_to_our_window_and_run(
    es, fake, env, capsys
) -> None:
    fake.reply(tool_reply("search_logs", GOOD))

    assert ask(es, env, "checkout errors with a timeout", *WINDOW) == 0

    out = capsys.readouterr().out
    request = printed_request(out)
    window = {"gte": "2026-10-31T08:00:00.000Z", "lt": "2026-10-31T09:00:00.000Z",
              "format": "strict_date_optional_time"}  # fmt: skip
    assert request["query"] == {
        "bool": {"filter": [{"range": {"@timestamp": window}}], "must": [GOOD["query"]]}
    }
    assert request["sort"] == [{"@timestamp": {"order": "desc"}}]
    assert "why: Checkout errors whose message mentions a timeout." in out
    # what ran is what was shown, and it ran after it was shown
    (search,) = es.searches()
    assert search.path == "/logs-*/_search" and search.body == request
    lines = out.splitlines()
    assert lines[-4:-2] == TIMEOUT_LINES
    assert lines[-2] == "2 hits (showing 2)"
    assert lines[-1].startswith("llm (claude-haiku-4-5): 1 call(s)")
    assert out.index("\n{\n") < out.index(TIMEOUT_LINES[0])

    # the model was made to answer with the tool, and told only the mapped fields exist
    (sent,) = fake.requests
    assert sent.body["model"] == "claude-haiku-4-5"
    assert sent.body["tool_choice"] == {"type": "tool", "name": "search_logs"}
    user = sent.body["messages"][0]["content"]
    assert "Question: checkout errors with a timeout" in user
    assert "- message.keyword (keyword)" in user and "- http.response.status_code (long)" in user
    assert "- session.token (keyword)" in user  # a field name is not a secret to mask
    assert "2026-10-31T08:00:00.000Z to 2026-10-31T09:00:00.000Z" in user
    assert "never add a time range" in sent.body["system"].lower()

    # the call is charged to the UTC day of --end
    with Store.open(env) as store:
        (usage,) = store.read("llm_usage")
    assert (usage["day"], usage["task"], usage["outcome"]) == ("2026-10-31", "query", "ok")


def test_since_counts_back_from_end_and_size_caps_the_lines(es, fake, env, capsys) -> None:
    fake.reply(tool_reply("search_logs", {**GOOD, "size": 50}))

    assert ask(es, env, "checkout timeouts", "--since", "30m", "--end", "2026-10-31T09:00Z",
               "--size", "5") == 0  # fmt: skip

    out = capsys.readouterr().out
    request = printed_request(out)
    bounds = request["query"]["bool"]["filter"][0]["range"]["@timestamp"]
    assert (bounds["gte"], bounds["lt"]) == ("2026-10-31T08:30:00.000Z", "2026-10-31T09:00:00.000Z")
    assert request["size"] == 5  # --size over the model's 50
    assert TIMEOUT_LINES[0] in out and TIMEOUT_LINES[1] not in out
    assert "1 hit (showing 1)" in out


def test_dry_run_shows_the_query_and_json_gives_one_document(es, fake, env, capsys) -> None:
    fake.reply(tool_reply("search_logs", GOOD), tool_reply("search_logs", GOOD))

    assert ask(es, env, "checkout timeouts", *WINDOW, "--dry-run") == 0
    out = capsys.readouterr().out
    assert printed_request(out)["query"]["bool"]["must"] == [GOOD["query"]]
    assert "dry run: the query was not run" in out
    assert es.searches() == []

    assert ask(es, env, "checkout timeouts", *WINDOW, "--json") == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert printed_request(captured.err) == result["request"]  # shown before it ran
    assert result["total"] == {"value": 2, "relation": "eq"}
    assert [h["timestamp"] for h in result["hits"]] == [
        "2026-10-31T08:45:00.000Z", "2026-10-31T08:05:00.000Z"
    ]  # fmt: skip
    assert result["model"] == "claude-haiku-4-5" and result["llm"]["calls"] == 1


# -- a query that does not fit the mapping ------------------------------------------------------


def test_a_field_not_in_the_mapping_is_sent_back_and_the_corrected_query_runs(
    es, fake, env, capsys
) -> None:
    wrong = {"query": {"bool": {"filter": [{"term": {"level": "ERROR"}},
                                           {"term": {"service.name": "checkout"}}],
                                "must": [{"match": {"message": "timeout"}}]}},
             "explanation": "Checkout errors mentioning a timeout."}  # fmt: skip
    fake.reply(tool_reply("search_logs", wrong), tool_reply("search_logs", GOOD))

    assert ask(es, env, "checkout errors with a timeout", *WINDOW) == 0

    first, second = fake.requests
    (result,) = tool_results(second)
    assert result["is_error"] is True
    assert "query.bool.filter[0].term.level" in result["content"]
    assert "'level' is not in the index mapping" in result["content"]
    assert "log.level" in result["content"]  # the close name
    out = capsys.readouterr().out
    assert out.splitlines()[-4:-2] == TIMEOUT_LINES
    assert len(es.searches()) == 1  # only the corrected query ran


def test_two_bad_answers_exit_2_with_the_reason_and_nothing_runs(es, fake, env, capsys) -> None:
    wrong = {"query": {"term": {"severity": "ERROR"}}, "explanation": "Errors."}
    fake.reply(tool_reply("search_logs", wrong), tool_reply("search_logs", wrong))

    assert ask(es, env, "all errors", *WINDOW) == 2

    err = capsys.readouterr().err
    assert "logs ask needs a language model: the model's answer was invalid twice" in err
    assert "'severity' is not in the index mapping" in err
    assert es.searches() == []
    with Store.open(env) as store:
        outcomes = [r["outcome"] for r in store.read("llm_usage")]
    assert outcomes == ["invalid", "invalid"]


def test_term_on_a_text_field_is_refused_with_the_keyword_hint(es, fake, env, capsys) -> None:
    exact = {"query": {"term": {"message": "order 1234 placed"}}, "explanation": "That line."}
    fixed = {"query": {"term": {"message.keyword": "order 1234 placed"}},
             "explanation": "That line."}  # fmt: skip
    fake.reply(tool_reply("search_logs", exact), tool_reply("search_logs", fixed))

    assert ask(es, env, "the line 'order 1234 placed'", *WINDOW) == 0

    (result,) = tool_results(fake.requests[1])
    assert "'message' is a text field" in result["content"]
    assert "use 'message.keyword' for exact values" in result["content"]
    out = capsys.readouterr().out
    assert "2026-10-31T08:15:00.000Z checkout INFO order 1234 placed" in out
    assert "1 hit (showing 1)" in out


# -- without a model ----------------------------------------------------------------------------


def test_without_a_key_it_exits_2_with_the_reason_and_sends_nothing(
    es, fake, env, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")

    assert ask(es, env, "checkout errors", *WINDOW) == 2

    err = capsys.readouterr().err
    assert "logs ask needs a language model: no Anthropic API key is configured" in err
    assert "--query" in err
    assert fake.requests == [] and es.requests == []


def test_query_runs_a_hand_written_query_without_a_key(es, fake, env, monkeypatch, capsys) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    query = {"bool": {"should": [{"match_phrase": {"message": "card declined"}},
                                 {"range": {"http.response.status_code": {"gte": 500}}}],
                      "must_not": [{"term": {"service.name": "cart"}}]}}  # fmt: skip

    assert ask(es, env, *WINDOW, "--query", json.dumps(query)) == 0

    out = capsys.readouterr().out
    assert printed_request(out)["query"]["bool"]["must"] == [query]
    assert out.splitlines()[-4:] == [
        "2026-10-31T08:45:00.000Z checkout ERROR payment gateway timeout after 30s",
        "2026-10-31T08:25:00.000Z checkout ERROR card declined for <email>",  # masked
        "2026-10-31T08:05:00.000Z checkout ERROR payment gateway timeout after 30s",
        "3 hits (showing 3)",
    ]
    assert fake.requests == []
    assert "llm" not in out


def test_a_hand_written_query_is_checked_the_same_way(es, fake, env, capsys) -> None:
    assert ask(es, env, *WINDOW, "--query", '{"term": {"message": "timeout"}}') == 2

    err = capsys.readouterr().err
    assert "--query: query.term.message: 'message' is a text field" in err
    assert "message.keyword" in err
    assert es.searches() == [] and fake.requests == []


def test_personal_data_in_the_question_is_masked_before_it_is_sent(es, fake, env, capsys) -> None:
    fake.reply(tool_reply("search_logs", {"query": {"match": {"message": "<email>"}},
                                          "explanation": "Lines naming the masked address."}))  # fmt: skip

    assert ask(es, env, "what happened to alice@example.com's order?", *WINDOW) == 0

    (sent,) = fake.requests
    assert b"alice@example.com" not in sent.raw
    assert "what happened to <email>'s order?" in sent.body["messages"][0]["content"]
    assert "<email> in the query stands for a value masked" in capsys.readouterr().err


def test_an_index_elasticsearch_does_not_have_is_named_and_exits_2(es, fake, env, capsys) -> None:
    assert ask(es, env, "errors", *WINDOW, "--index", "logs-nosuch") == 2
    err = capsys.readouterr().err
    assert f"{es.url}: read the mapping on index pattern 'logs-nosuch'" in err
    assert "HTTP 404: index_not_found_exception: no such index [logs-nosuch]" in err

    assert ask(es, env, "errors", *WINDOW, "--index", "metrics-*") == 2
    assert "index 'metrics-*' (server 9.x): no mapped fields" in capsys.readouterr().err
    assert fake.requests == [] and es.searches() == []


# -- the mapping ------------------------------------------------------------------------------------


def test_the_mapping_comes_back_in_elasticsearchs_wire_shape_and_flattens(es) -> None:
    es.add("logs-dyn", {"@timestamp": "2026-10-31T08:00:00Z", "message": "hi",
                        "attempt": 3, "ok": True, "host.name": "node-1"})  # fmt: skip

    with ElasticsearchLogSource(ElasticsearchLogConfig(es.url)) as source:
        answer = source.mapping()

    assert list(answer) == ["logs-cart", "logs-checkout", "logs-dyn"]
    assert answer["logs-cart"]["mappings"]["properties"]["service"] == {
        "properties": {"name": {"type": "keyword"}}
    }
    # Elasticsearch's dynamic mapping: dates detected, other text with a keyword multi-field,
    # dotted keys as objects
    assert answer["logs-dyn"]["mappings"]["properties"] == {
        "@timestamp": {"type": "date"},
        "attempt": {"type": "long"},
        "host": {"properties": {"name": {"type": "text", "fields": {
            "keyword": {"type": "keyword", "ignore_above": 256}}}}},
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword",
                                                           "ignore_above": 256}}},
        "ok": {"type": "boolean"},
    }  # fmt: skip
    fields = mapping_fields(answer)
    assert fields["message"] == "text" and fields["message.keyword"] == "keyword"
    assert fields["service"] == "object" and fields["service.name"] == "keyword"
    assert (
        fields["http.response.status_code"] == "long" and fields["host.name.keyword"] == "keyword"
    )


def test_mapping_fields_flattens_objects_multi_fields_nested_aliases_and_runtime() -> None:
    answer = {
        "logs-a": {"mappings": {
            "runtime": {"day_of_week": {"type": "keyword"}},
            "properties": {
                "@timestamp": {"type": "date"},
                "message": {"type": "match_only_text",
                            "fields": {"raw": {"type": "keyword"}}},
                "user": {"properties": {"id": {"type": "keyword"},
                                        "geo": {"properties": {"city": {"type": "keyword"}}}}},
                "spans": {"type": "nested", "properties": {"name": {"type": "keyword"}}},
                "service_name": {"type": "alias", "path": "user.id"},
                "labels": {"type": "flattened"},
            },
        }},
        "logs-b": {"mappings": {"properties": {"user": {"properties": {"id": {"type": "long"}}}}}},
        "logs-empty": {"mappings": {}},
    }  # fmt: skip

    assert mapping_fields(answer) == {
        "@timestamp": "date",
        "day_of_week": "keyword",
        "labels": "flattened",
        "message": "match_only_text",
        "message.raw": "keyword",
        "service_name": "keyword|long",
        "spans": "nested",
        "spans.name": "keyword",
        "user": "object",
        "user.geo": "object",
        "user.geo.city": "keyword",
        "user.id": "keyword|long",
    }


# -- check_query ------------------------------------------------------------------------------------

FIELDS = mapping_fields({"logs": {"mappings": {"properties": {
    **MAPPING,
    "spans": {"type": "nested", "properties": {"name": {"type": "keyword"}}},
    "labels": {"type": "flattened"},
}}}})  # fmt: skip


def problems(query, **kw) -> str:
    with pytest.raises(QueryError) as caught:
        check_query(query, FIELDS, timestamp="@timestamp", **kw)
    return str(caught.value)


def test_a_nested_bool_of_allowed_clauses_on_mapped_fields_passes() -> None:
    check_query({"bool": {
        "filter": [{"terms": {"service.name": ["checkout", "cart"]}},
                   {"range": {"http.response.status_code": {"gte": 500, "lt": 600}}}],
        "should": [{"match": {"message": {"query": "gateway timeout", "operator": "and"}}},
                   {"bool": {"must": [{"match_phrase": {"message": "card declined"}},
                                      {"exists": {"field": "http"}}]}}],
        "must_not": {"prefix": {"message.keyword": "health"}},
        "minimum_should_match": 1,
    }}, FIELDS, timestamp="@timestamp")  # fmt: skip
    check_query({"multi_match": {"query": "timeout", "fields": ["message^2", "message.keyword"]}},
                FIELDS)  # fmt: skip
    check_query({"wildcard": {"service.name": {"value": "check*", "case_insensitive": True}}},
                FIELDS)  # fmt: skip
    check_query({"term": {"labels.team": "payments"}}, FIELDS)  # a key of a flattened field


def test_a_bad_field_deep_in_a_bool_is_named_by_its_path_with_close_names() -> None:
    text = problems({"bool": {"should": [
        {"match": {"message": "timeout"}},
        {"bool": {"must_not": [{"term": {"levl": "DEBUG"}}]}},
    ]}})  # fmt: skip
    assert text.startswith("query.bool.should[1].bool.must_not[0].term.levl: field 'levl' is not")
    assert "close: log.level" in text


def test_multi_fields_exact_values_on_keyword_words_on_text() -> None:
    check_query({"term": {"message.keyword": "order 1234 placed"}}, FIELDS)
    check_query({"match": {"message": "order"}}, FIELDS)
    for clause in ("term", "prefix", "wildcard"):
        text = problems({clause: {"message": "order*"}})
        assert f"query.{clause}.message: 'message' is a text field" in text
        assert "use 'message.keyword' for exact values" in text
    assert "message.keyword" in problems({"terms": {"message": ["a", "b"]}})
    with pytest.raises(QueryError, match=r"sort\[0\].field: 'message' is a text field"):
        check_sort([SortKey(field="message")], FIELDS)
    check_sort([SortKey(field="message.keyword", order="asc")], FIELDS)


def test_scripts_and_other_unsafe_clauses_are_refused() -> None:
    script = {"script": {"script": {"source": "doc['x'].value > 1"}}}
    assert "query.script: [script] is not allowed (scripts are not allowed)" in problems(script)
    nested = {"bool": {"filter": [script]}}
    assert problems(nested).startswith("query.bool.filter[0].script: [script] is not allowed")
    assert "scripts" in problems({"function_score": {"query": {"match_all": {}}}})
    assert "can name any field" in problems(
        {"query_string": {"query": "level:ERROR", "fields": ["message"]}}
    )
    assert "reads another index" in problems(
        {"terms": {"service.name": {"index": "users", "id": "1", "path": "services"}}}
    )
    assert "not an option of [term]" in problems(
        {"term": {"service.name": {"value": "x", "script": "1"}}}
    )
    assert "not an option of [bool]" in problems({"bool": {"aggs": {}}})
    assert "not a search body" in problems({"query": {"match_all": {}}})
    assert "leading wildcard" in problems({"wildcard": {"service.name": "*out"}})
    assert "[multi_match] needs 'fields'" in problems({"multi_match": {"query": "timeout"}})
    assert "nested" in problems({"term": {"spans.name": "db"}})
    assert "is an object" in problems({"term": {"service": "checkout"}})
    assert "field patterns" in problems({"match": {"mess*": "x"}})


def test_range_on_an_unknown_field_or_on_our_timestamp_is_refused() -> None:
    text = problems({"range": {"http.status_code": {"gte": 500}}})
    assert (
        "query.range.http.status_code: field 'http.status_code' is not in the index mapping" in text
    )
    assert "http.response.status_code" in text
    text = problems({"range": {"@timestamp": {"gte": "now-1d"}}})
    assert "do not filter on the timestamp field '@timestamp'" in text
    assert "[range] needs gte, gt, lte or lt" in problems(
        {"range": {"http.response.status_code": {}}}
    )


def test_the_tool_answer_is_bounded_by_its_schema() -> None:
    schema = LogQuery.model_json_schema()
    assert schema["additionalProperties"] is False  # no aggs, no _source, no script_fields
    assert schema["properties"]["size"]["maximum"] == 100
    with pytest.raises(ValueError):
        LogQuery.model_validate({"query": {}, "explanation": "x", "aggs": {}})
