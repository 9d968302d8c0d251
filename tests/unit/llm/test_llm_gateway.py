"""The model path end to end through the real `anthropic` client, against a loopback server
speaking the Messages API (tests/anthropic_server.py): what is sent (masked, batched), what
is paid (usage, budget, cache), and what happens when the answer is wrong or the API is not
there. The rule throughout: a missing or bad answer gives rule-based text and a reason,
never an exception."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from aiops.findings.model import Evidence
from aiops.incidents.report import incident_finding
from aiops.llm import explain, narrate
from aiops.llm.config import LlmSettings
from aiops.llm.session import open_gateway
from aiops.sinks.render_incident import evidence_items
from aiops.store import Store
from fakes.anthropic_server import FakeAnthropic, error_reply, tool_reply
from support.findings import CALLS, CASCADE, _row, finding

NIGHT = datetime(2026, 10, 31, tzinfo=UTC)  # the interval end of the night's run
SETTINGS = LlmSettings(max_retries=1, batch_size=5)
INCIDENT = incident_finding(_row(CASCADE, CALLS))
HAIKU = SETTINGS.prices["claude-haiku-4-5"]


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        yield server
        assert server.violations == []  # every request the client sent was well-formed


@pytest.fixture
def sqlite(tmp_path) -> Store:
    with Store.open(f"sqlite:///{tmp_path / 'aiops.db'}") as store:
        yield store


def _gateway(store, fake, *, night: datetime = NIGHT, settings: LlmSettings = SETTINGS, key=None):
    return open_gateway(
        store, settings, run=f"test {night:%Y-%m-%d}", day=(night - timedelta(days=1)).date(),
        now=night, api_key=key or fake.api_key, base_url=fake.url,
    )  # fmt: skip


def _explained(ids: list[str], **extra) -> dict:
    return {"explanations": [
        {"finding": i, "explanation": f"The loop makes one round trip per item ({i}).",
         "change": "Load all rows in one query with an IN list.", **extra} for i in ids
    ]}  # fmt: skip


def _sent(request) -> str:
    """The user text of a recorded request (the first user turn)."""
    return request.body["messages"][0]["content"]


def _findings(n: int):
    return [finding("catalog", f"GET /products/{i}", 10.0 + i) for i in range(n)]


def test_findings_go_in_batches_and_an_unchanged_one_costs_nothing_the_next_night(
    fake, sqlite
) -> None:
    seven = _findings(7)
    fake.respond_with(lambda body: tool_reply(
        "record_explanations", _explained([f"F{n}" for n in range(1, _sent_count(body) + 1)])
    ))  # fmt: skip
    gateway, cache = _gateway(sqlite, fake)
    first = explain.explain_findings(seven, gateway, cache, batch_size=5)
    assert len(fake.calls) == 2  # 5 + 2, one system prompt and schema each
    assert all(content is not None for content, *_ in first.values())
    assert gateway.totals.calls == 2 and gateway.totals.cache_hits == 0

    # the next night: six the same, one whose loop got much slower
    changed = dataclasses.replace(
        seven[3], evidence=Evidence(seven[3].evidence.numbers | {"time_in_loop_ms_p50": 90.0})
    )
    tomorrow = [*seven[:3], changed, *seven[4:]]
    gateway, cache = _gateway(sqlite, fake, night=NIGHT + timedelta(days=1))
    second = explain.explain_findings(tomorrow, gateway, cache, batch_size=5)
    assert len(fake.calls) == 3  # one more call, with only the changed finding in it
    assert _sent(fake.calls[-1]).count("<finding id=") == 1
    assert "GET /products/3" in _sent(fake.calls[-1])
    assert gateway.totals.cache_hits == 6
    for f in seven[:3] + seven[4:]:
        assert second[f.fingerprint][0] == first[f.fingerprint][0]

    # past the cache's time to live (counted in data time), it is asked again
    gateway, cache = _gateway(sqlite, fake, night=NIGHT + timedelta(days=40))
    explain.explain_findings(seven[:1], gateway, cache, batch_size=5)
    assert len(fake.calls) == 4


def _sent_count(body: dict) -> int:
    return body["messages"][0]["content"].count("<finding id=")


def test_spending_is_recorded_from_usage_and_the_budget_stops_calls_before_they_are_made(
    fake, store
) -> None:
    fake.reply(tool_reply("record_explanations", _explained(["F1"]), input_tokens=2_000,
                          output_tokens=400))  # fmt: skip
    tight = SETTINGS.model_copy(
        update={
            "daily_budget_usd": 0.01,
            "max_tokens": SETTINGS.max_tokens.model_copy(update={"explain": 1000}),
        }
    )  # worst case of a call: about $0.0015 of prompt + 1000 output tokens at $5/M
    gateway, cache = _gateway(store, fake, settings=tight)
    out = explain.explain_findings(_findings(1), gateway, cache, batch_size=5)
    paid = HAIKU.cost(2_000, 400)  # $0.004
    assert gateway.totals.cost_usd == pytest.approx(paid)
    assert (gateway.totals.input_tokens, gateway.totals.output_tokens) == (2_000, 400)
    assert next(iter(out.values()))[0] is not None

    # the same day, another run: $0.004 spent + a worst case of $0.0065 is over $0.01, so
    # nothing is sent
    gateway, cache = _gateway(store, fake, settings=tight)
    requests = len(fake.requests)
    out = explain.explain_findings(_findings(3)[1:], gateway, cache, batch_size=5)
    assert len(fake.requests) == requests
    reasons = {reason for _, _, reason, _ in out.values()}
    assert len(reasons) == 1 and reasons.pop().startswith("over the daily budget: $0.0040 of $0.01")
    assert gateway.totals.over_budget == 1
    rows = store.read("llm_usage")
    assert [(r["outcome"], r["input_tokens"], r["output_tokens"]) for r in rows] == [
        ("ok", 2_000, 400),
        ("over_budget", 0, 0),
    ]
    assert rows[0]["cost_usd"] == pytest.approx(paid) and rows[0]["day"] == "2026-10-30"

    # the next data day has its own budget
    fake.reply(tool_reply("record_explanations", _explained(["F1", "F2"])))
    gateway, cache = _gateway(store, fake, settings=tight, night=NIGHT + timedelta(days=1))
    out = explain.explain_findings(_findings(3)[1:], gateway, cache, batch_size=5)
    assert all(content is not None for content, *_ in out.values())


def test_an_invalid_answer_is_sent_back_once_with_its_problems_then_rule_based(fake, sqlite):
    two = _findings(2)
    fake.reply(
        tool_reply("record_explanations", {"explanations": [{"finding": "F1"}]}),  # malformed
        tool_reply("record_explanations", _explained(["F1", "F2"])),
    )
    gateway, cache = _gateway(sqlite, fake)
    out = explain.explain_findings(two, gateway, cache, batch_size=5)
    assert all(content is not None for content, *_ in out.values())
    retry = fake.calls[1].body["messages"]
    assert [m["role"] for m in retry] == ["user", "assistant", "user"]
    result = retry[2]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert result["tool_use_id"] == retry[1]["content"][0]["id"]
    assert "explanations.0.explanation: Field required" in result["content"]

    # wrong twice (an id missing, then a repeated one): rule-based, both calls paid for
    fake.reply(
        tool_reply("record_explanations", _explained(["F1"])),
        tool_reply("record_explanations", _explained(["F1", "F1", "F2"])),
    )
    gateway, cache = _gateway(sqlite, fake, night=NIGHT + timedelta(days=60))
    out = explain.explain_findings(two, gateway, cache, batch_size=5)
    reasons = {reason for content, _, reason, _ in out.values() if content is None}
    assert reasons == {"the model's answer was invalid twice: one explanation per finding id: "
                       "repeated: ['F1']"}  # fmt: skip
    assert "missing: ['F2']" in fake.calls[3].body["messages"][2]["content"][0]["content"]
    assert gateway.totals.calls == 2 and gateway.totals.generated == 0


def test_personal_data_and_secrets_never_reach_the_server(fake, sqlite) -> None:
    leaky = finding("catalog", "GET /users/jane.doe@example.com", 12.0)
    leaky = dataclasses.replace(leaky, key={"statement": "SELECT * FROM t WHERE token = "
                                "'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJl' "
                                "AND ip = '10.1.2.3'"})  # fmt: skip
    fake.reply(tool_reply("record_explanations", _explained(["F1"])))
    gateway, cache = _gateway(sqlite, fake)
    explain.explain_findings([leaky], gateway, cache, batch_size=5)
    raw = fake.calls[0].raw.decode()
    for secret in ("jane.doe@example.com", "eyJhbGciOiJIUzI1NiJ9", "10.1.2.3"):
        assert secret not in raw
    assert "GET /users/<email>" in _sent(fake.calls[0]) and "<jwt>" in raw and "<ip>" in raw


def test_rate_limits_and_overload_are_retried_by_the_client_then_given_up(fake, sqlite) -> None:
    fake.reply(error_reply(429, "rate_limit_error", retry_after_ms=5),
               tool_reply("record_explanations", _explained(["F1"])))  # fmt: skip
    gateway, cache = _gateway(sqlite, fake)
    out = explain.explain_findings(_findings(1), gateway, cache, batch_size=5)
    assert next(iter(out.values()))[0] is not None and len(fake.requests) == 2

    fake.reply(*[error_reply(529, "overloaded_error", retry_after_ms=5)] * 2)
    gateway, cache = _gateway(sqlite, fake)
    out = explain.explain_findings(_findings(2)[1:], gateway, cache, batch_size=5)
    ((content, _, reason, _),) = out.values()
    assert content is None and len(fake.requests) == 4  # max_retries=1: two attempts
    assert reason.startswith("the API answered 529 overloaded_error (request req_")
    assert gateway.totals.errors == 1 and sqlite.read("llm_usage")[-1]["outcome"] == "error"


def test_a_retry_after_longer_than_the_bound_is_not_waited_for(fake, sqlite) -> None:
    fake.reply(error_reply(429, "rate_limit_error", retry_after=3600))
    gateway, cache = _gateway(sqlite, fake)
    out = explain.explain_findings(_findings(1), gateway, cache, batch_size=5)
    ((content, _, reason, _),) = out.values()
    assert content is None and len(fake.requests) == 1
    assert "retry-after 3600 s, longer than llm.max_wait_seconds (30 s)" in reason


def test_a_wrong_key_or_no_server_gives_rule_based_text_not_an_error(sqlite) -> None:
    with FakeAnthropic() as fake:
        gateway, cache = _gateway(sqlite, fake, key="sk-ant-wrong")
        out = explain.explain_findings(_findings(1), gateway, cache, batch_size=5)
        assert len(fake.requests) == 1  # not retried
    assert next(iter(out.values()))[2].startswith("the API answered 401 authentication_error")
    unreachable = open_gateway(sqlite, SETTINGS, run="x", day=date(2026, 10, 30), now=NIGHT,
                               api_key="k", base_url="http://127.0.0.1:9")  # fmt: skip
    out = explain.explain_findings(_findings(1), *unreachable, batch_size=5)
    assert next(iter(out.values()))[2].startswith("the API could not be reached")


def test_without_a_key_nothing_is_sent_and_the_reason_says_so(fake, sqlite, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    gateway, cache = open_gateway(sqlite, SETTINGS, run="x", day=date(2026, 10, 30), now=NIGHT,
                                  api_key=None)  # fmt: skip
    out = explain.explain_findings(_findings(2), gateway, cache, batch_size=5)
    assert {reason for _, _, reason, _ in out.values()} == {
        "no Anthropic API key is configured (connection anthropic_default or ANTHROPIC_API_KEY)"
    }
    monkeypatch.setenv("AIOPS_LLM", "off")
    gateway, _ = _gateway(sqlite, fake)
    assert not gateway.enabled and "AIOPS_LLM=off" in gateway.off_reason
    assert fake.requests == [] and sqlite.read("llm_usage") == []


def _story(ids: dict[str, str], text: str, cite: str) -> dict:
    return {"summary": "redis slowed and the slowdown reached frontend.",
            "summary_evidence": [ids["Likely root cause"], ids["Spread 1"]],
            "steps": [{"text": text, "evidence": [ids[cite]]}]}  # fmt: skip


def test_an_incident_narrative_citing_what_it_was_not_given_is_corrected_or_dropped(
    fake, sqlite
) -> None:
    ids = {label: i for i, label, _ in evidence_items(INCIDENT)}
    services = ["frontend", "cart", "redis", "payments"]
    fake.reply(
        tool_reply("record_incident_narrative",
                   _story(ids, "payments failed at 13:55 first.", "Likely root cause")),
        tool_reply("record_incident_narrative",
                   _story(ids, "redis latency rose first.", "Likely root cause")),
    )  # fmt: skip
    gateway, cache = _gateway(sqlite, fake)
    out = narrate.narrate_incidents([INCIDENT], gateway, cache, services)
    content, model, reason, _ = out[INCIDENT.fingerprint]
    assert model == "claude-sonnet-5" and fake.calls[0].body["model"] == "claude-sonnet-5"
    assert content["steps"][0]["text"] == "redis latency rose first." and reason == ""
    problem = fake.calls[1].body["messages"][2]["content"][0]["content"]
    assert "steps[0] states ['13:55'], not in the evidence it cites" in problem
    assert "names services the evidence does not: ['payments']" in problem
    sent = _sent(fake.calls[0])
    assert all(f"{i} [{label}]: " in sent for label, i in ids.items())

    bad = _story(ids, "It cost 4 hours.", "Likely root cause")
    fake.reply(*[tool_reply("record_incident_narrative", bad)] * 2)
    gateway, cache = _gateway(sqlite, fake, night=NIGHT + timedelta(days=60))
    content, _, reason, _ = narrate.narrate_incidents([INCIDENT], gateway, cache, services)[
        INCIDENT.fingerprint
    ]
    assert content is None and reason.startswith("the model's answer was invalid twice")
    assert json.dumps(fake.calls[-1].body).count("tool_result") == 1
