"""`aiops llm usage|preview`: what the model cost per day and run, read from the store the
nightly wrote, and exactly what it would be sent for an interval, masked, without a key."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from aiops.cli.main import main
from aiops.findings.model import finding_row
from aiops.incidents.report import incident_finding
from aiops.llm import explain
from aiops.llm.config import LlmSettings
from aiops.llm.session import open_gateway
from aiops.store import Store
from fakes.anthropic_server import FakeAnthropic, tool_reply
from support.findings import CALLS, CASCADE, _row, finding

START = datetime(2026, 10, 30, tzinfo=UTC)
END = START + timedelta(days=1)


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'aiops.db'}"


def test_usage_sums_calls_tokens_and_cost_per_day_and_run(url, capsys) -> None:
    with Store.open(url) as store, FakeAnthropic() as fake:
        fake.reply(tool_reply("record_explanations", {"explanations": [
            {"finding": "F1", "explanation": "One round trip per item adds up.",
             "change": "Use one IN query for all items."}]},
            input_tokens=1_500, output_tokens=300))  # fmt: skip
        gateway, cache = open_gateway(store, LlmSettings(), run="narrate night", day=START.date(),
                                      now=END, api_key=fake.api_key, base_url=fake.url)  # fmt: skip
        explain.explain_findings([finding("catalog", "GET /p", 9.0)], gateway, cache, 5)
    assert main(["llm", "usage", "--store", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["day", "calls", "invalid", "errors", "skipped", "input", "output",
                              "cost", "run"]  # fmt: skip
    assert out[1].split() == ["2026-10-30", "1", "0", "0", "0", "1,500", "300", "$0.0030",
                              "narrate", "night"]  # fmt: skip
    assert main(["llm", "usage", "--store", url, "--day", "2026-10-31"]) == 0
    assert capsys.readouterr().out == "no language-model calls recorded on 2026-10-31\n"


def test_preview_shows_the_masked_requests_without_a_key(url, capsys, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    leaky = dataclasses.replace(finding("catalog", "GET /users/ann@example.com", 9.0))
    incident = incident_finding(_row(CASCADE, CALLS))
    window = {"interval_start": START, "interval_end": END}
    with Store.open(url) as store:
        store.upsert("findings", [{**window, **finding_row(f.to_json())}
                                  for f in (leaky, incident)])  # fmt: skip
    args = ["llm", "preview", "--start", "2026-10-30", "--end", "2026-10-31", "--store", url]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "== explain: claude-haiku-4-5, max_tokens 4000, tool record_explanations" in out
    assert "== narrate: claude-sonnet-5" in out
    assert "GET /users/<email>" in out and "ann@example.com" not in out
    assert main([*args, "--json"]) == 0
    bodies = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [b["tools"][0]["name"] for b in bodies] == ["record_explanations",
                                                       "record_incident_narrative"]  # fmt: skip
    assert all(b["tool_choice"] == {"type": "tool", "name": b["tools"][0]["name"]} for b in bodies)
