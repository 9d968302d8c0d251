"""The loopback fake of the Anthropic Messages API (tests/anthropic_server.py), driven by the real
``anthropic`` SDK as production code drives it: what the SDK parses from its answers, how the
SDK's retries meet its errors, and what it refuses as the real API would."""

from __future__ import annotations

import json
import math
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import Message, TextBlock, ToolUseBlock

from fakes.anthropic_server import (
    FakeAnthropic,
    Reply,
    error_reply,
    raw_reply,
    text_reply,
    tool_reply,
)

MODEL = "claude-sonnet-4-6"
ASK = [{"role": "user", "content": "Summarise the incident."}]
REPORT_TOOL = {
    "name": "report_incident",
    "description": "File the incident summary.",
    "input_schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "services": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title", "services"],
    },
}
FORCE_REPORT = {"type": "tool", "name": "report_incident"}


@pytest.fixture(autouse=True)
def _no_client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK adds headers from the environment; the tests' requests must not depend on it."""
    monkeypatch.delenv("ANTHROPIC_CUSTOM_HEADERS", raising=False)


@pytest.fixture
def fake():
    with FakeAnthropic() as server:  # leaving the block raises if the fake answered 500 itself
        yield server


def client(fake: FakeAnthropic, *, max_retries: int = 0, **options: Any) -> anthropic.Anthropic:
    """The client as production builds it; use it in a ``with`` (it holds pooled sockets)."""
    options = {"api_key": fake.api_key, "timeout": 10} | options
    return anthropic.Anthropic(base_url=fake.url, max_retries=max_retries, **options)


def ask(fake: FakeAnthropic, *, max_retries: int = 0, **kwargs: Any) -> Message:
    params = {"model": MODEL, "max_tokens": 256, "messages": ASK} | kwargs
    with client(fake, max_retries=max_retries) as sdk:
        return sdk.messages.create(**params)


def post(fake: FakeAnthropic, body: Any, **headers: str) -> httpx2.Response:
    """A request the SDK would not send, straight over HTTP."""
    sent = {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"} | headers
    return httpx2.post(f"{fake.url}/v1/messages", json=body, headers=sent, timeout=10)


# -- answers the SDK parses ---------------------------------------------------------------------------


def test_a_text_reply_arrives_as_a_text_block_with_its_usage(fake):
    fake.reply(text_reply("Checkout latency doubled.", input_tokens=120, output_tokens=9))
    message = ask(fake, system="You are an SRE.")
    assert isinstance(message.content[0], TextBlock)
    assert message.content[0].text == "Checkout latency doubled."
    assert (message.usage.input_tokens, message.usage.output_tokens) == (120, 9)
    assert (message.model, message.stop_reason, message.role) == (MODEL, "end_turn", "assistant")
    assert message.id.startswith("msg_")
    [call] = fake.calls
    assert call.path == "/v1/messages" and call.headers["anthropic-version"]
    assert call.body["system"] == "You are an SRE." and call.body["messages"] == ASK
    assert fake.violations == []


def test_usage_without_counts_is_a_documented_deterministic_estimate(fake):
    fake.reply(text_reply("ok"), text_reply("ok"))
    first, second = ask(fake, system="s"), ask(fake, system="s")
    body = fake.calls[0].body
    prompt = {"system": body["system"], "messages": body["messages"]}

    def quarter(value: Any) -> int:
        return math.ceil(len(json.dumps(value, sort_keys=True, separators=(",", ":"))) / 4)

    assert first.usage.input_tokens == quarter(prompt)
    assert first.usage.output_tokens == quarter([{"type": "text", "text": "ok"}])
    assert first.usage == second.usage


def test_a_forced_tool_reply_arrives_as_a_tool_use_block(fake):
    fake.reply(tool_reply("report_incident", {"title": "Slow checkout", "services": ["cart"]}))
    message = ask(fake, tools=[REPORT_TOOL], tool_choice=FORCE_REPORT)
    [block] = message.content
    assert isinstance(block, ToolUseBlock)
    assert (block.name, block.input) == (
        "report_incident",
        {"title": "Slow checkout", "services": ["cart"]},
    )
    assert block.id.startswith("toolu_") and message.stop_reason == "tool_use"
    [call] = fake.calls
    assert call.body["tools"] == [REPORT_TOOL] and call.body["tool_choice"] == FORCE_REPORT


def test_a_tool_input_that_breaks_the_schema_reaches_the_client_unchanged(fake):
    """Models do send inputs that miss fields or have the wrong types: production must check."""
    fake.reply(tool_reply("report_incident", {"services": "cart"}, text="Filing it."))
    message = ask(fake, tools=[REPORT_TOOL])
    assert [type(b) for b in message.content] == [TextBlock, ToolUseBlock]
    assert message.content[1].input == {"services": "cart"}
    with pytest.raises(TypeError):
        tool_reply("report_incident", "not an object")


def test_tool_ids_are_unique():
    ids = {tool_reply("t", {}).content[0]["id"] for _ in range(50)}
    assert len(ids) == 50


def test_a_conversation_goes_on_with_the_tool_result(fake):
    fake.reply(tool_reply("report_incident", {"title": "x", "services": []}), text_reply("Filed."))
    first = ask(fake, tools=[REPORT_TOOL])
    use = first.content[0]
    result = {"type": "tool_result", "tool_use_id": use.id, "content": "quota", "is_error": True}
    turns = [*ASK, first.to_param(), {"role": "user", "content": [result]}]
    second = ask(fake, tools=[REPORT_TOOL], messages=turns)  # the SDK serialises the blocks
    assert second.content[0].text == "Filed."
    assert fake.calls[1].body["messages"][1]["content"][0]["id"] == use.id
    assert fake.violations == []


# -- errors and the SDK's retries ------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        error_reply(429, "rate_limit_error", retry_after=0.01),
        error_reply(529, "overloaded_error", retry_after_ms=1),
    ],
    ids=["429", "529"],
)
def test_the_sdk_retries_a_retryable_error_and_gets_the_message(fake, error: Reply):
    fake.reply(error, text_reply("after the wait"))
    message = ask(fake, max_retries=1)
    assert message.content[0].text == "after the wait"
    assert [r.status for r in fake.requests] == [error.status, 200]
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1"]
    assert len(fake.calls) == 1


def test_overloaded_every_time_ends_in_an_error_after_the_retries(fake):
    fake.respond_with(lambda body: error_reply(529, "overloaded_error", retry_after_ms=1))
    with pytest.raises(anthropic.InternalServerError) as raised:
        ask(fake, max_retries=1)
    assert isinstance(raised.value, anthropic.APIStatusError)
    assert raised.value.status_code == 529
    assert raised.value.body["error"]["type"] == "overloaded_error"
    assert raised.value.request_id and raised.value.request_id.startswith("req_")
    assert [r.status for r in fake.requests] == [529, 529] and fake.calls == []


def test_a_wrong_api_key_is_an_authentication_error_and_not_retried(fake):
    fake.reply(text_reply("never sent"))
    with (
        client(fake, max_retries=2, api_key="sk-ant-wrong") as sdk,
        pytest.raises(anthropic.AuthenticationError) as raised,
    ):
        sdk.messages.create(model=MODEL, max_tokens=10, messages=ASK)
    assert raised.value.status_code == 401
    assert [r.status for r in fake.requests] == [401]
    assert fake.violations == ["#1 invalid x-api-key"]
    assert ask(fake).content[0].text == "never sent"  # refused requests use up no reply


def test_the_documented_x_api_key_header_is_accepted_too(fake):
    """This SDK sends its key as ``Authorization: Bearer``; the API's docs say ``x-api-key``."""
    fake.reply(text_reply("hi"))
    response = post(fake, {"model": MODEL, "max_tokens": 5, "messages": ASK})
    assert response.status_code == 200 and Message.model_validate(response.json())
    assert fake.requests[0].headers["x-api-key"] == "***"  # never recorded


# -- requests the API refuses ----------------------------------------------------------------------


def test_a_body_without_max_tokens_is_a_400_and_a_violation(fake):
    fake.reply(text_reply("unused"))
    response = post(fake, {"model": MODEL, "messages": ASK})
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in error["error"]["message"]
    assert error["request_id"] == response.headers["request-id"]
    assert fake.violations == ["#1 max_tokens: Field required"]
    assert fake.calls == [] and len(fake.requests) == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"messages": []}, "messages"),
        (
            {"messages": [{"role": "user", "content": [{"type": "bogus"}]}]},
            "messages.0.content.0.type",
        ),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"temprature": 0.2}, "temprature"),
        ({"tools": [{"name": "t", "input_schema": {"type": "array"}}]}, "tools.0"),
        ({"tools": [{"name": "t"}]}, "tools.0.input_schema"),
        ({"tools": [REPORT_TOOL], "tool_choice": {"type": "tool", "name": "other"}}, "tool_choice"),
        ({"tool_choice": FORCE_REPORT}, "tool_choice"),
        ({"stream": True}, "stream"),
    ],
)
def test_what_the_sdk_types_or_the_api_reject_is_a_400(fake, change: dict, named: str):
    response = post(fake, {"model": MODEL, "max_tokens": 5, "messages": ASK} | change)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith(named)
    assert fake.violations and all(v.startswith(f"#1 {named}") for v in fake.violations)


def test_a_missing_anthropic_version_is_a_400(fake):
    response = httpx2.post(
        f"{fake.url}/v1/messages",
        json={"model": MODEL, "max_tokens": 5, "messages": ASK},
        headers={"x-api-key": fake.api_key},
    )
    assert response.status_code == 400
    assert fake.violations == ["#1 anthropic-version: header is required"]


def test_a_tool_result_for_an_unknown_tool_use_is_a_400(fake):
    fake.reply(tool_reply("report_incident", {"title": "x", "services": []}))
    use = ask(fake, tools=[REPORT_TOOL]).content[0]
    result = {"type": "tool_result", "tool_use_id": "toolu_01unknown", "content": "done"}
    turns = [*ASK, {"role": "assistant", "content": [use.model_dump()]}]
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(fake, tools=[REPORT_TOOL], messages=[*turns, {"role": "user", "content": [result]}])
    assert "unexpected `tool_use_id`" in raised.value.message
    assert any("toolu_01unknown" in v for v in fake.violations)


def test_a_tool_use_left_unanswered_is_a_400(fake):
    use = {"type": "tool_use", "id": "toolu_01abc", "name": "report_incident", "input": {}}
    turns = [*ASK, {"role": "assistant", "content": [use]}, {"role": "user", "content": "well?"}]
    with pytest.raises(anthropic.BadRequestError):
        ask(fake, tools=[REPORT_TOOL], messages=turns)
    assert fake.violations == [
        "#1 messages.1: `tool_use` ids were found without `tool_result` blocks immediately after:"
        " toolu_01abc. Each `tool_use` block must have a corresponding `tool_result` block in the"
        " next message."
    ]


# -- the fake never invents, and holds itself to the SDK's types -----------------------------------


def test_an_empty_queue_is_an_error_never_an_invented_answer():
    with pytest.raises(AssertionError, match="no scripted reply"), FakeAnthropic() as fake:
        with pytest.raises(anthropic.InternalServerError) as raised:
            ask(fake, max_retries=2)
        assert raised.value.status_code == 500
        assert len(fake.requests) == 1  # x-should-retry: false, so the SDK did not retry
        assert fake.violations == ["#1 fake: no scripted reply for this request"]


def test_the_fakes_replies_validate_against_the_sdks_message_type(fake):
    fake.reply(
        text_reply("plain"),
        text_reply("cut", stop_reason="max_tokens", model="claude-opus-4-7"),
        tool_reply("report_incident", {"title": "x", "services": ["a"]}, text="Here."),
    )
    with client(fake) as sdk:
        for kwargs in ({}, {}, {"tools": [REPORT_TOOL]}):
            raw = sdk.messages.with_raw_response.create(
                model=MODEL, max_tokens=9, messages=ASK, **kwargs
            )
            answer = json.loads(raw.http_response.content)
            Message.model_validate(answer, strict=True)
            assert set(answer["usage"]) >= {"input_tokens", "output_tokens"}
            assert raw.http_response.headers["request-id"].startswith("req_")
    fake.reply(text_reply("checked by the SDK too"))
    with client(fake, _strict_response_validation=True) as strict:
        assert strict.messages.create(model=MODEL, max_tokens=9, messages=ASK).content[0].text


def test_a_reply_the_sdk_types_reject_is_the_fakes_500_not_sent():
    broken = Reply(200, content=({"type": "text"},))  # a text block without its text
    with pytest.raises(AssertionError, match="content.0.text"), FakeAnthropic() as fake:
        fake.reply(broken)
        with pytest.raises(anthropic.InternalServerError):
            ask(fake)
        assert fake.violations == ["#1 fake: reply: content.0.text: Field required"]


def test_a_reply_against_the_forced_tool_choice_is_refused():
    with pytest.raises(AssertionError, match="tool_choice forces"), FakeAnthropic() as fake:
        other = {**REPORT_TOOL, "name": "page_oncall"}
        fake.reply(tool_reply("page_oncall", {}))
        with pytest.raises(anthropic.InternalServerError):
            ask(fake, tools=[REPORT_TOOL, other], tool_choice=FORCE_REPORT)


def test_error_replies_are_the_sdks_error_shapes():
    with pytest.raises(ValueError, match="no error type"):
        error_reply(500, "made_up_error")
    with pytest.raises(ValueError):
        error_reply(200, "api_error")


def test_garbage_reaches_the_client_as_garbage(fake):
    fake.reply(raw_reply(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}))
    with pytest.raises(anthropic.InternalServerError) as raised:
        ask(fake)
    assert raised.value.status_code == 502
    assert fake.requests[0].status == 502
