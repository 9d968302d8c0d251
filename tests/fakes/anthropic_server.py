"""A loopback fake of the Anthropic Messages API (``POST /v1/messages``, not streaming), for the
real SDK: ``anthropic.Anthropic(api_key=fake.api_key, base_url=fake.url, max_retries=...)``.

The wire format is the installed SDK's own (anthropic 2.12.0, ``anthropic.types``), not a copy:

- a request body must validate against ``MessageCreateParamsNonStreaming``, the TypedDict the SDK
  builds bodies from, through a strict pydantic ``TypeAdapter``. Its ``Iterable[...]`` fields
  (messages, content blocks, tools, system blocks) validate lazily, only when iterated, so the
  fake iterates every one (``_drain``). A TypedDict ignores unknown keys, so those are checked
  apart, as is what the types leave open and the real API rejects: an empty model or message
  list, a negative ``max_tokens``, a client tool whose ``input_schema`` is not ``type: object``
  (the SDK's ``InputSchema`` falls back to any dict), duplicate tool names, a ``tool_choice``
  naming no offered tool, and ``tool_use`` / ``tool_result`` pairs across turns (consecutive
  turns of one role count as one, as the API merges them). Failing any of it is the real 400
  ``invalid_request_error``, the problem named, and an entry in ``violations``.
- credentials: this SDK sends ``api_key`` as ``Authorization: Bearer <key>`` (``_api_key_auth``),
  the API documents ``x-api-key``; either must carry the fake's key, else 401
  ``authentication_error``. No ``anthropic-version`` header is a 400.
- every answer is checked before it goes out: a message against ``anthropic.types.Message``
  (strict, and no key the type does not declare, at any depth), an error body against
  ``anthropic.types.ErrorResponse`` (when the reply is built). Errors are
  ``{"type": "error", "error": {"type", "message"}, "request_id"}``; every answer has a
  ``request-id`` header.

Retries are the SDK's (``_base_client``): it retries 408, 409, 429 and 5xx (529 overloaded too),
waits ``retry-after-ms`` or else ``retry-after`` when positive (zero or absent: its own backoff
from 0.5 s, so tests use ``retry_after_ms=1``), and obeys ``x-should-retry``.

The fake's own faults, or its script's (no reply scripted, a reply the SDK types reject, a reply
the real API could not give such as another tool than ``tool_choice`` forces), are answered 500
with ``x-should-retry: false`` so the SDK does not retry them, listed in ``violations`` and
raised when the ``with`` block ends. A request refused with 401 or 400 uses up no scripted reply:
the model never saw it.

Token counts a test does not give are estimates, not tokenisation: input is a quarter of the
characters (rounded up) of the canonical JSON of the request's ``system``, ``messages`` and
``tools``, output a quarter of the canonical JSON of the answered content blocks. They are
deterministic so tests can assert them, and mean nothing more.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pydantic
from anthropic.types import ErrorResponse, Message
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from fakes.loopback import LoopbackHTTP

DEFAULT_API_KEY = "sk-ant-test-key"
MESSAGES_PATH = "/v1/messages"
_BODY_KEYS = (
    MessageCreateParamsNonStreaming.__required_keys__
    | MessageCreateParamsNonStreaming.__optional_keys__
)
_DEFAULT_MESSAGES = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}


# -- what tests script ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a message (``content``), completed against the request it answers
    (id, model, usage), an API error (``error`` = kind, message) or ``raw`` bytes. Build it with
    ``text_reply``, ``tool_reply``, ``error_reply`` or ``raw_reply``."""

    status: int
    content: tuple[dict[str, Any], ...] | None = None
    stop_reason: str = "end_turn"
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: tuple[str, str] | None = None
    raw: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


def text_reply(
    text: str,
    *,
    model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    stop_reason: str = "end_turn",
) -> Reply:
    """A message of one text block; ``model`` defaults to the request's, usage to the estimate."""
    block = {"type": "text", "text": text}
    return Reply(200, (block,), stop_reason, model, input_tokens, output_tokens)


def tool_reply(
    name: str,
    input: dict[str, Any] | Any,  # noqa: A002 (the API's name for it)
    *,
    text: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    model: str | None = None,
) -> Reply:
    """A message calling tool ``name`` with ``input`` (after a text block when ``text`` is
    given), ``stop_reason`` ``tool_use``. ``input`` may break the tool's ``input_schema`` (a
    missing field, a string for an array: models do that) but must be a JSON object, as the
    API's is; anything else is the test's bug and raises ``TypeError`` here."""
    if not isinstance(input, dict):
        raise TypeError(f"a tool_use input is always a JSON object, not {type(input).__name__}")
    json.dumps(input)  # a TypeError now rather than a 500 later
    use = {"type": "tool_use", "id": _new_id("toolu_"), "name": name, "input": input}
    blocks = ({"type": "text", "text": text}, use) if text is not None else (use,)
    return Reply(200, blocks, "tool_use", model, input_tokens, output_tokens)


def error_reply(
    status: int,
    kind: str,
    message: str = "",
    *,
    retry_after: float | None = None,
    retry_after_ms: float | None = None,
) -> Reply:
    """An API error, e.g. ``error_reply(429, "rate_limit_error", retry_after_ms=1)`` or
    ``error_reply(529, "overloaded_error", retry_after_ms=1)``. ``kind`` must be an error type
    the SDK's ``ErrorResponse`` knows (``ValueError`` otherwise). The SDK ignores a retry-after
    of 0 and backs off 0.5 s or more instead: give a small positive one for fast tests."""
    if status < 400:
        raise ValueError(f"an error reply needs a 4xx or 5xx status, not {status}")
    message = message or _DEFAULT_MESSAGES.get(kind, kind)
    try:
        ErrorResponse.model_validate(_error_body(kind, message, "req_check"), strict=True)
    except pydantic.ValidationError as err:
        raise ValueError(f"the SDK's ErrorResponse has no error type {kind!r}") from err
    headers = []
    if retry_after is not None:
        headers.append(("retry-after", format(retry_after, "g")))
    if retry_after_ms is not None:
        headers.append(("retry-after-ms", format(retry_after_ms, "g")))
    return Reply(status, error=(kind, message), headers=tuple(headers))


def raw_reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Reply:
    """Exactly ``body`` (garbage, a truncated JSON...) with ``status``; ``content-type`` is
    ``application/json`` unless ``headers`` says otherwise. Not validated."""
    return Reply(
        status, raw=body, headers=tuple((k.lower(), v) for k, v in (headers or {}).items())
    )


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names; credentials shown as "***"
    body: dict[str, Any]  # the parsed JSON object ({} when the body was not one)
    raw: bytes
    status: int  # what the fake answered


# -- the fake ---------------------------------------------------------------------------------------


class FakeAnthropic:
    """``with FakeAnthropic() as fake: fake.reply(text_reply("hi")); ...``; leaving the block
    raises if the fake answered 500 for its own or its script's fault."""

    def __init__(self, *, api_key: str = DEFAULT_API_KEY) -> None:
        self.api_key = api_key
        self._lock = threading.RLock()  # RLock: a responder may read .requests
        self._replies: deque[Reply] = deque()
        self._responder: Callable[[dict], Reply] | None = None
        self._requests: list[RecordedRequest] = []
        self._violations: list[str] = []
        self._own_faults: list[str] = []
        self._http = LoopbackHTTP(_Handler, self)

    def start(self) -> FakeAnthropic:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None and self._own_faults:
            raise AssertionError("the fake Anthropic answered 500:\n" + "\n".join(self._own_faults))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the SDK's ``base_url``."""
        return self._http.base_url("FakeAnthropic")

    # -- what tests look at and steer -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every ``POST /v1/messages``, in order, whatever it was answered."""
        with self._lock:
            return list(self._requests)

    @property
    def calls(self) -> list[RecordedRequest]:
        """The requests answered 200."""
        return [r for r in self.requests if r.status == 200]

    @property
    def violations(self) -> list[str]:
        """``#N problem``: requests that did not validate (answered 400 or 401) and the fake's
        own faults (answered 500); N counts requests from 1."""
        with self._lock:
            return list(self._violations)

    def reply(self, *replies: Reply) -> None:
        """Queue answers, used first in first out, one per accepted request."""
        with self._lock:
            self._replies.extend(replies)

    def respond_with(self, responder: Callable[[dict], Reply] | None) -> None:
        """Answer from ``responder(request body)`` once the queue is empty (``None``: the
        default, a 500 "no scripted reply", so no test ever gets an invented answer)."""
        with self._lock:
            self._responder = responder

    # -- one request ------------------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """Check, record and answer one request: ``(status, body, headers)``."""
        headers = {k.lower(): v for k, v in headers.items()}
        request_id = _new_id("req_")
        path = urlsplit(target).path
        with self._lock:
            if method != "POST" or path != MESSAGES_PATH:
                self._violations.append(f"{method} {path}: the fake serves POST {MESSAGES_PATH}")
                return _error(404, "not_found_error", "Not found", request_id)
            number = len(self._requests) + 1
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            try:
                status, payload, extra = self._respond(number, headers, body, request_id)
            except Exception as err:  # a bug of the fake's: a 500, not a dropped connection
                status, payload, extra = self._own_fault(number, f"crashed: {err!r}", request_id)
            shown = {k: _redact(k, v) for k, v in headers.items()}
            record = RecordedRequest(
                path, shown, body if isinstance(body, dict) else {}, raw, status
            )
            self._requests.append(record)
            return status, payload, extra

    def _respond(self, number: int, headers: dict[str, str], body: Any, request_id: str):
        scheme, _, token = headers.get("authorization", "").partition(" ")
        key = headers.get("x-api-key") or (token.strip() if scheme.lower() == "bearer" else "")
        status, kind, problems = 400, "invalid_request_error", []
        if not key:
            status, kind, problems = 401, "authentication_error", ["x-api-key header is required"]
        elif key != self.api_key:
            status, kind, problems = 401, "authentication_error", ["invalid x-api-key"]
        elif "anthropic-version" not in headers:
            problems = ["anthropic-version: header is required"]
        else:
            problems = request_problems(body)
        if problems:
            self._violations.extend(f"#{number} {p}" for p in problems)
            return _error(status, kind, "; ".join(problems), request_id)
        if self._replies:
            reply = self._replies.popleft()
        elif self._responder is None:
            return self._own_fault(number, "no scripted reply for this request", request_id)
        else:
            try:
                reply = self._responder(body)
            except Exception as err:  # the test's responder failed: its bug, said loudly
                return self._own_fault(number, f"the responder raised {err!r}", request_id)
        extra = {"request-id": request_id, **dict(reply.headers)}
        if reply.raw is not None:
            return reply.status, reply.raw, {"content-type": "application/json", **extra}
        if reply.error is not None:
            status, payload, headers = _error(reply.status, *reply.error, request_id)
            return status, payload, {**headers, **extra}
        message = _message(reply, body)
        problems = _impossible(reply, body) + message_problems(message)
        if problems:
            return self._own_fault(number, "; ".join(problems), request_id)
        return reply.status, _json(message), {"content-type": "application/json", **extra}

    def _own_fault(self, number: int, problem: str, request_id: str):
        self._violations.append(f"#{number} fake: {problem}")
        self._own_faults.append(f"#{number} {problem}")
        status, payload, headers = _error(
            500, "api_error", f"fake Anthropic: {problem}", request_id
        )
        return status, payload, {**headers, "x-should-retry": "false"}


# -- answers ----------------------------------------------------------------------------------------


def _message(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    content = json.loads(_json(list(reply.content or ())))  # a copy: the reply may be reused
    prompt = {k: body[k] for k in ("system", "messages", "tools") if k in body}
    usage = {
        "input_tokens": _estimate(prompt) if reply.input_tokens is None else reply.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": _estimate(content) if reply.output_tokens is None else reply.output_tokens,
        "service_tier": "standard",
    }
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": reply.model or body.get("model"),
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def message_problems(message: dict[str, Any]) -> list[str]:
    """Why the SDK's ``Message`` rejects ``message`` (strictly: no coercion), or keys it does not
    declare at any depth (the SDK's models accept and keep those: a typo would pass)."""
    try:
        parsed = Message.model_validate(message, strict=True)
    except pydantic.ValidationError as err:
        return ["reply: " + p for p in _describe(err.errors())]
    return [f"reply: {where} is no field of the SDK's types" for where in _extras(parsed, "")]


def _extras(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, pydantic.BaseModel):
        yield from (f"{where}.{k}".lstrip(".") for k in value.model_extra or {})
        for name in type(value).model_fields:
            yield from _extras(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _extras(item, f"{where}.{i}")


def _impossible(reply: Reply, body: dict[str, Any]) -> list[str]:
    """Scripted tool calls the real API cannot make for this request: a tool it does not offer,
    or against ``tool_choice`` (which, for ``any`` and ``tool``, also prefills the turn so no
    text comes before the tool_use, as Anthropic's tool-use docs say)."""
    content = reply.content or ()
    offered = [t.get("name") for t in body.get("tools", []) if isinstance(t, dict)]
    used = [b.get("name") for b in content if b.get("type") == "tool_use"]
    problems = [
        f"the reply calls {n!r}, the request offers {offered}" for n in used if n not in offered
    ]
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool" and (not used or set(used) != {choice.get("name")}):
        problems.append(f"tool_choice forces {choice.get('name')!r}, the reply calls {used}")
    if choice.get("type") == "any" and not used:
        problems.append("tool_choice 'any' forces a tool call, the reply makes none")
    if choice.get("type") in ("any", "tool") and used and content[0].get("type") != "tool_use":
        problems.append(f"tool_choice {choice['type']!r}: the API puts no text before tool_use")
    if choice.get("type") == "none" and used:
        problems.append(f"tool_choice 'none' forbids tool calls, the reply calls {used}")
    return problems


def _error(status: int, kind: str, message: str, request_id: str):
    body = _json(_error_body(kind, message, request_id))
    return status, body, {"content-type": "application/json", "request-id": request_id}


def _error_body(kind: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


# -- requests ---------------------------------------------------------------------------------------


@cache
def _params() -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(MessageCreateParamsNonStreaming)  # ~1 s to build: once, lazily


def request_problems(body: Any) -> list[str]:
    """Why the API would refuse ``body`` (``path: message``), per the SDK's request types and
    the checks they cannot express (see the module's docstring); ``[]`` when it is fine."""
    if not isinstance(body, dict):
        return ["body: the request body must be a JSON object"]
    problems = [f"{k}: Extra inputs are not permitted" for k in body if k not in _BODY_KEYS]
    # a str or an object is iterable too: an Iterable field would take it item by item
    scalars = [k for k in ("messages", "tools") if k in body and not isinstance(body[k], list)]
    problems += [f"{k}: Input should be a valid list" for k in scalars]
    try:
        found = _describe(_drain(_params().validate_python(body, strict=True), ()))
    except pydantic.ValidationError as err:
        found = _describe(err.errors())
    problems += [p for p in found if re.split(r"[.:]", p, maxsplit=1)[0] not in scalars]
    model, max_tokens, messages = body.get("model"), body.get("max_tokens"), body.get("messages")
    if isinstance(model, str) and not model.strip():
        problems.append("model: String should have at least 1 character")
    if isinstance(max_tokens, int) and max_tokens < 0:  # 0 is allowed: it pre-warms the cache
        problems.append("max_tokens: Input should be greater than or equal to 0")
    if messages == []:
        problems.append("messages: at least one message is required")
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    tools = [t for t in tools if isinstance(t, dict)]
    for i, tool in enumerate(tools):
        schema = tool.get("input_schema")
        custom = tool.get("type") in (None, "custom") and isinstance(schema, dict)
        if custom and schema.get("type") != "object":
            problems.append(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
    names = [t.get("name") for t in tools]
    if len(names) != len(set(map(str, names))):
        problems.append("tools: Tool names must be unique.")
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    forced = choice.get("name") if choice.get("type") == "tool" else None
    if choice.get("type") in ("any", "tool") and not tools:
        problems.append("tool_choice: tool_choice may only be specified while providing tools")
    elif isinstance(forced, str) and forced not in names:  # no name: the TypeAdapter says so
        problems.append(f"tool_choice.name: no tool named {forced!r} in tools")
    if isinstance(messages, list):
        problems += _pairing(messages)
    return list(dict.fromkeys(problems))


def _drain(value: Any, loc: tuple) -> list[dict[str, Any]]:
    """Iterate what the TypeAdapter left lazy (``Iterable[...]`` fields validate only then) and
    collect the errors, their locations made absolute."""
    errors: list[dict[str, Any]] = []
    if isinstance(value, Iterator):
        items: list[Any] = []
        try:
            items.extend(value)
        except pydantic.ValidationError as err:
            errors += [{**e, "loc": loc + tuple(e["loc"])} for e in err.errors()]
        value = items
    if isinstance(value, dict):
        for key, item in value.items():
            errors += _drain(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errors += _drain(item, (*loc, i))
    return errors


_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
_TAGS = {"str", "int", "float", "bool", "dict", "list", "none"}
_TAG_FIELDS = ("type", "role")  # the fields that tell a union's members apart


def _is_tag(part: Any) -> bool:
    """Whether a pydantic error location part names a union member ("ToolParam", "str",
    "literal['a']"), not a field."""
    return isinstance(part, str) and (part in _TAGS or not _FIELD.fullmatch(part))


def _describe(errors: list[dict[str, Any]]) -> list[str]:
    """pydantic's errors as ``path: message``. A union reports every member's failure; keep the
    likeliest member's (not refused by its ``type`` or ``role`` tag, fewest errors), or say that
    no member takes that tag."""

    def narrow(group: list[dict[str, Any]], depth: int) -> list[dict[str, Any]]:
        branches: dict[Any, list[dict[str, Any]]] = {}
        for e in group:
            branches.setdefault(e["loc"][depth] if len(e["loc"]) > depth else None, []).append(e)
        if len(branches) > 1 and all(_is_tag(k) for k in branches):

            def wrong_tag(es: list[dict[str, Any]]) -> bool:
                return any(e["type"] == "literal_error" and e["loc"][-1] in _TAG_FIELDS for e in es)

            if all(wrong_tag(es) for es in branches.values()):
                tag = next(e for e in group if e["loc"][-1] in _TAG_FIELDS)
                where = (*group[0]["loc"][:depth], tag["loc"][-1])
                return [{"loc": where, "msg": f"{tag['input']!r} is none of the accepted values"}]
            best = min(branches.values(), key=lambda es: (wrong_tag(es), len(es)))
            return narrow(best, depth + 1)
        return [
            out
            for key, es in branches.items()
            for out in (es if key is None else narrow(es, depth + 1))
        ]

    described = []
    for e in narrow(errors, 0):
        where = ".".join(str(p) for p in e["loc"] if not _is_tag(p)) or "body"
        described.append(f"{where}: {e['msg']}")
    return list(dict.fromkeys(described))


def _pairing(messages: list[Any]) -> list[str]:
    """The API's tool_use / tool_result rules: each tool_result answers a tool_use of the
    previous (assistant) turn, and each tool_use is answered in the next (user) turn."""
    turns: list[tuple[str, list[tuple[int, int, dict[str, Any]]]]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            continue
        content = message.get("content")
        blocks = (
            [(i, j, b) for j, b in enumerate(content) if isinstance(b, dict)]
            if isinstance(content, list)
            else []
        )
        if turns and turns[-1][0] == message["role"]:
            turns[-1][1].extend(blocks)
        else:
            turns.append((message["role"], blocks))
    problems, asked = [], set()
    for n, (role, blocks) in enumerate(turns):
        if role == "user":
            for i, j, block in blocks:
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in asked:
                    problems.append(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )
            asked = set()
            continue
        uses = [(i, b.get("id")) for i, _, b in blocks if b.get("type") == "tool_use"]
        asked = {use_id for _, use_id in uses}
        if n + 1 < len(turns) and uses:
            answered = {
                b.get("tool_use_id")
                for _, _, b in turns[n + 1][1]
                if b.get("type") == "tool_result"
            }
            missing = [(i, use_id) for i, use_id in uses if use_id not in answered]
            if missing:
                ids = ", ".join(str(use_id) for _, use_id in missing)
                problems.append(
                    f"messages.{missing[0][0]}: `tool_use` ids were found without `tool_result` blocks immediately after: {ids}. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                )
    return problems


# -- small helpers and the HTTP side ----------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _estimate(value: Any) -> int:
    """A token count estimate: a quarter of the canonical JSON's characters, rounded up."""
    return math.ceil(len(_canonical(value)) / 4)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _new_id(prefix: str) -> str:
    """An id shaped like the API's (``msg_01…``, ``toolu_01…``, ``req_01…``), unique."""
    return f"{prefix}01{uuid.uuid4().hex[:22]}"


def _redact(name: str, value: str) -> str:
    if name == "x-api-key":
        return "***"
    if name == "authorization":
        return value.partition(" ")[0] + " ***"
    return value


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's httpx2 pool expects
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, payload, headers = self.fake.answer(
            self.command, self.path, dict(self.headers), raw
        )
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server API)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # headers carry the API key: never log them
