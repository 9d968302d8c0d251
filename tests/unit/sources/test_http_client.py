"""aiops.sources.http.JsonHttpClient, the plumbing under the Prometheus and Jaeger clients,
against a scripted loopback server: what is retried and how long it waits, what is not, which
error each failure becomes, what is sent, and what never shows."""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from aiops.sources.http import (
    HttpApiError,
    HttpApiUnavailable,
    HttpCall,
    JsonHttpClient,
    JsonReply,
)
from fakes.loopback import LoopbackHTTP

Answer = tuple[int, str, dict[str, str]]  # status, body, headers; status 0: hang for a second


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: str
    headers: dict[str, str]


@dataclass
class ScriptedApi:
    """Answers each request with the next scripted answer (the last one repeats)."""

    answers: list[Answer]
    seen: list[Seen] = field(default_factory=list)

    def next_answer(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class _Handler(BaseHTTPRequestHandler):
    fake: ScriptedApi

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        parts = urlsplit(self.path)
        self.fake.seen.append(
            Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                self.rfile.read(length).decode() if length else "",
                dict(self.headers.items()),
            )
        )
        status, body, headers = self.fake.next_answer()
        if status == 0:
            time.sleep(1.0)
            return
        payload = body.encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:
    """``serve(*answers) -> (url, api)``; every server started is stopped after the test."""
    servers: list[LoopbackHTTP] = []

    def start(*answers: Answer) -> tuple[str, ScriptedApi]:
        api = ScriptedApi(list(answers))
        server = LoopbackHTTP(_Handler, api)
        server.start()
        servers.append(server)
        return server.base_url("ScriptedApi"), api

    yield start
    for server in servers:
        server.stop()


OK: Answer = (200, '{"ok": true}', {})
BUSY: Answer = (503, "busy", {})


def client(url: str, slept: list[float] | None = None, **kwargs) -> JsonHttpClient:
    sleep = slept.append if slept is not None else (lambda seconds: None)
    return JsonHttpClient(url, sleep=sleep, **kwargs)


def get(api: JsonHttpClient, path: str = "/api/thing", **kwargs) -> JsonReply:
    return api.request_json(HttpCall("GET", api.endpoint(path), **kwargs))


# -- retries ------------------------------------------------------------------------------------


def test_503_is_retried_waiting_as_long_as_retry_after_says(serve) -> None:
    url, api = serve((503, "busy", {"Retry-After": "4"}), BUSY, OK)
    slept: list[float] = []

    reply = get(client(url, slept))

    assert reply.body == {"ok": True} and reply.attempts == 3
    assert len(api.seen) == 3
    assert slept == [4.0, 1.0]  # Retry-After lengthens the first wait; then the ladder again


def test_retry_after_never_waits_beyond_the_cap(serve) -> None:
    url, _ = serve((429, "slow down", {"Retry-After": "3600"}), OK)
    slept: list[float] = []
    get(client(url, slept))
    assert slept == [30.0]


def test_503_that_persists_is_unavailable_after_exactly_attempts(serve) -> None:
    url, api = serve(BUSY)
    slept: list[float] = []

    with pytest.raises(HttpApiUnavailable) as caught:
        get(client(url, slept, attempts=4))

    assert str(caught.value) == (
        f"{url}/api/thing: HTTP API unavailable after 4 attempt(s); last error: HTTP 503: busy"
    )
    assert len(api.seen) == 4 and slept == [0.5, 1.0, 2.0]


def test_400_is_not_retried(serve) -> None:
    url, api = serve((400, "bad parameter 'x'", {}), OK)
    slept: list[float] = []

    with pytest.raises(HttpApiError) as caught:
        get(client(url, slept))

    assert type(caught.value) is HttpApiError
    assert str(caught.value) == f"{url}/api/thing: HTTP 400: bad parameter 'x'"
    assert len(api.seen) == 1 and slept == []


def test_500_is_unavailable_at_once(serve) -> None:
    url, api = serve((500, "storage failed", {}), OK)
    with pytest.raises(
        HttpApiUnavailable, match=r"after 1 attempt\(s\).*storage failed \(not retried\)"
    ):
        get(client(url))
    assert len(api.seen) == 1


def test_unreachable_server_is_retried_then_unavailable() -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    slept: list[float] = []
    with pytest.raises(HttpApiUnavailable, match="after 3 attempt.*ConnectionError"):
        get(client(f"http://127.0.0.1:{port}", slept))
    assert slept == [0.5, 1.0]


def test_every_attempt_has_the_timeout(serve) -> None:
    url, api = serve((0, "", {}))
    began = time.monotonic()
    with pytest.raises(HttpApiUnavailable, match="after 2 attempt.*ReadTimeout"):
        get(client(url, timeout=0.2, attempts=2))
    assert len(api.seen) == 2 and time.monotonic() - began < 1.5


# -- errors -------------------------------------------------------------------------------------


def test_credentials_hint_and_body_that_is_not_json(serve) -> None:
    url, _ = serve((401, "who are you", {}))
    with pytest.raises(HttpApiError, match=r"HTTP 401 \(check the credentials\): who are you"):
        get(client(url))

    url, _ = serve((200, "<html>login page</html>", {"Content-Type": "text/html"}))
    with pytest.raises(HttpApiError) as caught:
        get(client(url))
    assert str(caught.value) == (
        f"{url}/api/thing: response is not JSON: '<html>login page</html>'"
    )


def test_context_follows_the_url_in_messages(serve) -> None:
    url, _ = serve(BUSY)
    with pytest.raises(HttpApiUnavailable) as caught:
        get(client(url, attempts=1), context="service 'cart'")
    assert str(caught.value).startswith(f"{url}/api/thing: service 'cart': HTTP API unavailable")


class DemoError(Exception):
    pass


class DemoConflict(DemoError):
    pass


class DemoDown(DemoError):
    pass


class DemoClient(JsonHttpClient):
    """A subclass in its own words: its classes, its "bad request" status, its error text."""

    api_name = "Demo"
    error_class = DemoError
    unavailable_class = DemoDown

    def status_error(self, call: HttpCall, response: requests.Response) -> Exception:
        if response.status_code == 409:
            return DemoConflict(f"{call.where}: conflict on {call.query}")
        return super().status_error(call, response)

    def error_text(self, response: requests.Response) -> str:
        return response.json()["message"]


def test_a_subclass_maps_failures_to_its_own_classes(serve) -> None:
    url, _ = serve((409, '{"message": "exists"}', {}))
    demo = DemoClient(url, sleep=lambda seconds: None)
    with pytest.raises(DemoConflict, match="conflict on thing-7"):
        demo.request_json(HttpCall("POST", demo.endpoint("/x"), query="thing-7"))

    url, _ = serve((503, '{"message": "draining"}', {}))
    demo = DemoClient(url, attempts=2, sleep=lambda seconds: None)
    with pytest.raises(DemoDown) as caught:
        demo.request_json(HttpCall("GET", demo.endpoint("/x")))
    assert str(caught.value) == (
        f"{url}/x: Demo unavailable after 2 attempt(s); last error: HTTP 503: draining"
    )

    url, _ = serve((404, '{"message": "no such thing"}', {}))
    demo = DemoClient(url, sleep=lambda seconds: None)
    with pytest.raises(DemoError) as caught:
        demo.request_json(HttpCall("GET", demo.endpoint("/x")))
    assert type(caught.value) is DemoError and "HTTP 404: no such thing" in str(caught.value)


def test_a_redirect_loop_is_the_clients_error_not_a_requests_exception(serve) -> None:
    url, api = serve((302, "", {"Location": "/api/thing"}))
    with pytest.raises(DemoError, match="TooManyRedirects"):
        DemoClient(url, sleep=lambda seconds: None).request_json(
            HttpCall("GET", f"{url}/api/thing")
        )
    assert len(api.seen) == 31  # one request and requests' 30 redirects, never retried


# -- what is sent, what never shows -------------------------------------------------------------


def test_headers_auth_params_and_form_are_sent(serve) -> None:
    url, api = serve(OK)
    api_client = client(url, headers={"X-Scope-OrgID": "tenant-1"}, auth=("bob", "pw"))

    get(api_client, params={"service": "cart"})
    api_client.request_json(HttpCall("POST", api_client.endpoint("/q"), form={"query": "up"}))

    first, second = api.seen
    assert first.method == "GET" and first.query == {"service": ["cart"]}
    assert second.method == "POST" and second.body == "query=up"
    for seen in api.seen:
        assert seen.headers["Accept"] == "application/json"
        assert seen.headers["X-Scope-OrgID"] == "tenant-1"
        assert seen.headers["Authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()


def test_callers_headers_win_over_the_defaults(serve) -> None:
    url, api = serve(OK)
    get(client(url, headers={"Accept": "application/vnd.api+json"}))
    assert api.seen[0].headers["Accept"] == "application/vnd.api+json"


def test_credentials_never_show_in_messages_logs_or_repr(serve, caplog) -> None:
    url, _ = serve(BUSY)
    with_password = url.replace("http://", "http://admin:s3cret@")
    api_client = client(with_password, attempts=2, auth=("bob", "hunter2"),
                        headers={"Authorization-Extra": "token-xyz"})  # fmt: skip

    with caplog.at_level(logging.DEBUG), pytest.raises(HttpApiUnavailable) as caught:
        get(api_client)

    assert f"{url}/api/thing" in str(caught.value)
    assert "retrying" in caplog.text and url in caplog.text
    assert repr(api_client) == f"JsonHttpClient({url!r})"
    for secret in ("s3cret", "admin", "hunter2", "token-xyz"):
        assert secret not in str(caught.value)
        assert secret not in caplog.text
        assert secret not in repr(api_client)


def test_base_url_is_checked_and_normalised() -> None:
    assert JsonHttpClient("https://api.example/prefix//").endpoint("/v1") == (
        "https://api.example/prefix/v1"
    )
    with pytest.raises(
        ValueError,
        match=r"JsonHttpClient.base_url: must start with http\(s\)://, got 'api.example'",
    ):
        JsonHttpClient("api.example")
    with pytest.raises(ValueError, match="DemoClient.timeout: must be > 0 seconds, got 0"):
        DemoClient("http://api.example", timeout=0)
    with pytest.raises(ValueError, match="attempts"):
        JsonHttpClient("http://api.example", attempts=0)


# -- the session --------------------------------------------------------------------------------


class RecordingSession(requests.Session):
    closed = 0

    def close(self) -> None:
        type(self).closed += 1
        super().close()


def test_a_session_the_client_made_is_closed_with_it(monkeypatch) -> None:
    monkeypatch.setattr(RecordingSession, "closed", 0)
    monkeypatch.setattr(requests, "Session", RecordingSession)
    with JsonHttpClient("http://api.example"):
        assert RecordingSession.closed == 0
    assert RecordingSession.closed == 1


def test_a_session_the_caller_gave_stays_open(serve) -> None:
    url, api = serve(OK)
    given = RecordingSession()
    before = RecordingSession.closed
    with JsonHttpClient(url, session=given) as api_client:
        get(api_client)
    assert RecordingSession.closed == before
    given.get(f"{url}/still-usable", timeout=5)  # the caller's session still works
    assert [seen.path for seen in api.seen] == ["/api/thing", "/still-usable"]
    given.close()
