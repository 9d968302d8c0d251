"""The nightly's issue filing through a real Airflow: the day's trace findings filed on a
loopback GitHub (connection `github_default`, every request checked against the upstream
OpenAPI description), a rerun making no write, and without a token the same issues written
as files that link the day's dependency graph, each trace finding's part of the map drawn as
Mermaid (checked with the real Mermaid library) and as a PNG beside it."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.catalog import load_catalog
from aiops.dev.browser import check_mermaid
from aiops.dev.local_airflow import run_airflow
from aiops.pictures.mermaid import MAX_SOURCE_CHARS
from aiops.sinks.render import fingerprint_in, short_title
from aiops.store import Store
from fakes.anthropic_server import FakeAnthropic, tool_reply
from fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from support.browser import require_browser

pytestmark = pytest.mark.airflow

DAY = datetime(2026, 10, 30, tzinfo=UTC)
WHEN = (DAY + timedelta(days=1)).isoformat()  # `tasks test` runs the interval ending here
GITHUB_BODY_CHARS = 65_536  # GitHub refuses an issue body longer than this


def _task(task: str, env: dict, log: Path) -> str:
    proc = run_airflow(["tasks", "test", "aiops_nightly", task, WHEN], env, log)
    text = log.read_text()
    # `airflow tasks test` exits 0 even when the task fails: read the log too
    assert proc.returncode == 0 and "Task failed" not in text, text[-4000:]
    return text


@pytest.fixture(scope="module")
def analysed(airflow_home, demo_world, tmp_path_factory) -> dict[str, str]:
    """An environment whose store holds the day's trace analysis (and its graph)."""
    world_dir, _ = demo_world
    root = tmp_path_factory.mktemp("issues_dag")
    env = {
        **airflow_home,
        "AIOPS_TRACES_DIR": str(world_dir / "traces"),
        "AIOPS_HOME": str(root / "out"),
        "AIOPS_STORE_URL": f"sqlite:///{root / 'results.db'}",
        "GITHUB_TOKEN": "",
    }
    _task("analyze_traces", env, root / "analyze.log")
    shutil.copy(root / "results.db", root / "analysed.db")  # before any filing
    return env


def _findings(env: dict) -> list[dict]:
    with Store.open(env["AIOPS_STORE_URL"]) as store:
        return store.read("findings", interval_start=DAY, interval_end=DAY + timedelta(days=1))


def test_nightly_files_the_days_findings_on_github_once(analysed, tmp_path) -> None:
    findings = _findings(analysed)
    assert len(findings) >= 2
    with FakeGitHub() as github:
        for owner in {s.owner for s in load_catalog().services.values()} | {"acme-shop/platform"}:
            github.add_repo(*owner.split("/"))
        conn = {"conn_type": "github", "host": github.url, "password": DEFAULT_TOKEN}
        env = {**analysed, "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps(conn)}
        sink = github.url
        _task("file_issues", env, tmp_path / "first.log")
        writes = len(github.writes())
        issues = {
            fingerprint_in(i["body"]): (repo.full_name, i)
            for repo in github.repos.values()
            for i in repo.issues.values()
        }
        _task("file_issues", env, tmp_path / "rerun.log")
        assert len(github.writes()) == writes  # the rerun wrote nothing
        assert github.violations == []
        github.assert_responses_valid()

    assert writes == len(findings) == len(issues)  # one create per finding, nothing else
    n1 = next(f for f in findings if (f["kind"], f["service"]) == ("n_plus_one", "catalog"))
    repo, issue = issues[n1["fingerprint"]]
    assert (repo, issue["title"]) == ("acme-shop/catalog", short_title(n1["title"]))
    assert issue["labels"] == ["performance", "aiops", "aiops:n_plus_one"]
    assert "WHERE product_id IN (?, ?, ...)" in issue["body"]
    seq = next(f for f in findings if f["kind"] == "sequential_calls")
    assert issues[seq["fingerprint"]][0] == "acme-shop/checkout"
    with Store.open(analysed["AIOPS_STORE_URL"]) as store:
        ledger = store.read("issue_ledger", sink=sink)
    assert {(r["repository"], r["fingerprint"]) for r in ledger} == {
        (repo, fp) for fp, (repo, _) in issues.items()
    }


def test_without_a_token_the_issues_are_files_linking_the_graph(analysed, tmp_path) -> None:
    out = Path(analysed["AIOPS_HOME"])
    _task("file_issues", analysed, tmp_path / "dry.log")
    files = sorted((out / "issues").rglob("*.md"))
    assert len(files) == len(_findings(analysed))
    n1 = next(f for f in _findings(analysed) if f["kind"] == "n_plus_one")
    text = (out / "issues" / "acme-shop" / "catalog" / f"{n1['fingerprint']}.md").read_text()
    link = "../../../traces/dependencies-2026-10-30.svg"
    assert f"**Dependency graph:** [dependencies-2026-10-30.svg]({link})" in text
    picture = out / "issues" / "acme-shop" / "catalog" / link
    assert picture.resolve().is_file() and picture.with_suffix(".png").resolve().is_file()
    pngs = sorted((out / "issues").rglob("*.png"))
    drawn = [
        f for f in files if "## Where it sits in the dependency map\n\n```mermaid" in f.read_text()
    ]
    assert drawn and [f.with_suffix(".png") for f in drawn] == pngs  # each picture as PNG too
    stamps = [(f, f.stat().st_mtime_ns) for f in files + pngs]
    _task("file_issues", analysed, tmp_path / "dry-rerun.log")
    assert [(f, f.stat().st_mtime_ns) for f in files + pngs] == stamps


def test_the_issues_charts_render_with_the_real_mermaid_within_githubs_limits(analysed) -> None:
    """What the dry run filed (the test above) is what GitHub would draw: each Mermaid block
    parses and renders in headless Chromium, and the bodies stay under GitHub's limits."""
    require_browser(mermaid=True)
    files = sorted((Path(analysed["AIOPS_HOME"]) / "issues").rglob("*.md"))
    if not files:
        _task("file_issues", analysed, Path(analysed["AIOPS_HOME"]) / "file-issues.log")
        files = sorted((Path(analysed["AIOPS_HOME"]) / "issues").rglob("*.md"))
    blocks = [b for f in files for b in re.findall(r"```mermaid\n(.*?)\n```", f.read_text(), re.S)]
    assert len(blocks) >= 2
    assert all(len(f.read_text()) < GITHUB_BODY_CHARS for f in files)
    assert all(len(b) <= MAX_SOURCE_CHARS for b in blocks)
    results = check_mermaid(blocks)
    assert [r.error for r in results if not r.ok] == []
    assert all(r.svg_chars > 1000 for r in results)


def _explanations(body: dict):
    ids = re.findall(r'<finding id="(F\d+)">', body["messages"][0]["content"])
    return tool_reply("record_explanations", {"explanations": [
        {"finding": i, "explanation": f"Each item of {i} costs a round trip to the database.",
         "change": "Collect the keys and load the rows with one IN query."} for i in ids
    ]})  # fmt: skip


def test_the_nightly_explains_findings_with_claude_once_and_files_the_text(analysed, tmp_path):
    """narrate_findings through the `anthropic_default` connection (the real SDK against a
    loopback Messages API), then the dry-run filing: the generated section is in the issue,
    marked; a rerun is answered from the cache and sends nothing."""
    root = Path(analysed["AIOPS_STORE_URL"].removeprefix("sqlite:///")).parent
    store_url = f"sqlite:///{tmp_path / 'results.db'}"
    shutil.copy(root / "analysed.db", tmp_path / "results.db")
    with FakeAnthropic() as claude:
        claude.respond_with(_explanations)
        conn = {"conn_type": "anthropic", "host": claude.url, "password": claude.api_key}
        env = {**analysed, "AIOPS_STORE_URL": store_url, "AIOPS_HOME": str(tmp_path / "out"),
               "AIRFLOW_CONN_ANTHROPIC_DEFAULT": json.dumps(conn)}  # fmt: skip
        _task("narrate_findings", env, tmp_path / "narrate.log")
        calls = len(claude.calls)
        _task("file_issues", env, tmp_path / "file.log")
        with Store.open(store_url) as store:
            narratives = store.read("narratives")
        # a rerun of the night, after its filing: the same rows, from the cache
        _task("narrate_findings", env, tmp_path / "narrate-rerun.log")
        assert len(claude.calls) == calls and claude.violations == []
    findings = _findings(env | {"AIOPS_STORE_URL": store_url})
    with Store.open(store_url) as store:
        assert store.read("narratives") == narratives
        usage = store.read("llm_usage")
    cap = load_catalog().issues.max_new_issues
    generated = [n for n in narratives if n["status"] == "generated"]
    assert len(generated) == min(cap, len(findings)) and calls == -(-len(generated) // 5)
    assert len(usage) == calls and all(u["outcome"] == "ok" for u in usage)
    n1 = next(f for f in findings if f["kind"] == "n_plus_one" and f["fingerprint"] in
              {n["fingerprint"] for n in generated})  # fmt: skip
    owner = load_catalog().services[n1["service"]].owner
    text = (tmp_path / "out" / "issues" / owner / f"{n1['fingerprint']}.md").read_text()
    assert "## Explanation and suggested change (generated)" in text
    assert "> Generated by `claude-haiku-4-5`" in text
    assert "**Suggested change:** Collect the keys and load the rows with one IN query." in text


def test_without_a_key_the_narratives_are_rule_based_and_say_why(analysed, tmp_path) -> None:
    store_url = f"sqlite:///{tmp_path / 'results.db'}"
    root = Path(analysed["AIOPS_STORE_URL"].removeprefix("sqlite:///")).parent
    shutil.copy(root / "analysed.db", tmp_path / "results.db")
    env = {**analysed, "AIOPS_STORE_URL": store_url, "ANTHROPIC_API_KEY": ""}
    _task("narrate_findings", env, tmp_path / "narrate.log")
    with Store.open(store_url) as store:
        reasons = {n["reason"] for n in store.read("narratives")}
        assert store.read("llm_usage") == []
    no_key = (
        "no Anthropic API key is configured (connection anthropic_default or ANTHROPIC_API_KEY)"
    )
    assert no_key in reasons
