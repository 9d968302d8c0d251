"""A finding as a GitHub issue: title, body sections, escaping, routing and the dry-run sink.

The findings come from a real analysis of hand-built traces (an N+1 query, sequential calls,
a critical-path hotspot, an error origin, a shared database), so the issues are rendered from
the same records the nightly run produces.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from aiops.catalog import parse_catalog
from aiops.findings.model import Evidence, Finding
from aiops.sinks.dry_run import DryRunSink
from aiops.sinks.render import fingerprint_in, render_comment, render_issue, when_text
from aiops.sinks.routing import RoutingError, repository_for
from aiops.traces.analyze import analyze_traces
from support.catalogs import catalog_yaml
from support.trace_builder import TraceBuilder, tag

DAY = (datetime(2025, 10, 30, tzinfo=UTC), datetime(2025, 10, 31, tzinfo=UTC))
NEXT_DAY = (DAY[1], datetime(2025, 11, 1, tzinfo=UTC))
LONG = "SELECT id, sku, name, description, price_cents, currency, first_name || ' ' || last_name"
SECTIONS = ["## Evidence", "## Example traces", "## Explanation and suggested change (rule-based)",
            "## Suggested fix", "## How this was detected"]  # fmt: skip


def _n_plus_one(tb: TraceBuilder, i: int) -> None:
    root = tb.span("gateway", "GET /products", 0, 200, kind="server")
    catalog = tb.call(root, "gateway", "catalog", "GET /products", 1, 190)
    tb.query(catalog, "catalog", "SELECT id FROM products WHERE category_id = 7", 2, 5)
    for k in range(12):
        tb.query(catalog, "catalog", f"SELECT * FROM reviews WHERE product_id = {100 + k}",
                 10 + 6 * k, 5)  # fmt: skip


def _long_n_plus_one(tb: TraceBuilder, i: int) -> None:
    root = tb.span("storefront-api", "GET /v2/merchants/{merchant}/catalogue/items", 0, 200,
                   kind="server")  # fmt: skip
    for k in range(8):
        statement = f"{LONG} AS seller FROM catalogue_items WHERE merchant_id = {k}"
        tb.query(root, "storefront-api", statement, 2 + 20 * k, 15)


def _checkout(tb: TraceBuilder, i: int) -> None:
    root = tb.span("checkout", "POST /checkout", 0, 200, kind="server")
    tb.call(root, "checkout", "auth", "POST /auth/verify", 1, 10, method="POST")
    tb.call(root, "checkout", "cart", "GET /cart", 12, 20, method="GET")
    tb.call(root, "checkout", "inventory", "GET /stock", 33, 30, method="GET")
    tb.call(root, "checkout", "recommendation", "GET /recommendations", 64, 40, method="GET")
    tb.call(root, "checkout", "payment", "POST /payments", 105, 30, method="POST")


def _search(tb: TraceBuilder, i: int) -> None:
    root = tb.span("gateway", "GET /search", 0, 460 + (i % 7), kind="server")
    search = tb.call(root, "gateway", "search", "GET /search", 1, 450)
    tb.query(search, "search", "SELECT * FROM docs WHERE q = 'x'", 2, 400)
    tb.call(root, "gateway", "auth", "POST /auth/verify", 452, 5)


def _failing(tb: TraceBuilder, i: int) -> None:
    fail = i % 2 == 0
    root = tb.span("gateway", "POST /orders", 0, 100, kind="server", error=fail)
    orders = tb.call(root, "gateway", "orders", "POST /orders", 1, 90, error=fail)
    log = [{"timestamp": 1, "fields": [tag("event", "error"), tag("error.kind", "ProviderError"),
                                      tag("message", "charge declined | code <51>")]}]  # fmt: skip
    tb.span("stripe-api", "POST /v1/charges", 10, 50, orders, kind="server", error=fail,
            logs=log if fail else None)  # fmt: skip


def _shared_db(tb: TraceBuilder, i: int) -> None:
    root = tb.span("gateway", "GET /", 0, 100, kind="server")
    for k in range(3):
        svc = tb.call(root, "gateway", f"api{k}", "GET /x", 1 + 20 * k, 15)
        tb.query(svc, f"api{k}", "SELECT * FROM t WHERE id = 1", 2 + 20 * k, 5, db="maindb")


def _traces(build, n: int, prefix: str) -> list[dict]:
    out = []
    for i in range(n):
        tb = TraceBuilder(f"{prefix}{i:031x}", start_us=1_761_800_000_000_000 + i * 60_000_000)
        build(tb, i)
        out.append(tb.to_json())
    return out


@pytest.fixture(scope="module")
def findings() -> dict[str, Finding]:
    """One finding per kind (the long N+1 under "long_n_plus_one"), from one analysis."""
    traces = [
        *_traces(_n_plus_one, 4, "a"),
        *_traces(_long_n_plus_one, 4, "b"),
        *_traces(_checkout, 4, "c"),
        *_traces(_search, 25, "d"),
        *_traces(_failing, 8, "e"),
        *_traces(_shared_db, 4, "f"),
    ]
    analysis = analyze_traces(traces, window=DAY, link=lambda t: f"http://jaeger:16686/trace/{t}")
    services = {"catalog", "storefront-api", "checkout", "search", "stripe-api", "maindb"}
    found = {}
    for f in analysis.findings:
        name = "long_n_plus_one" if f.service == "storefront-api" else f.kind
        if f.service in services:
            found.setdefault(name, f)
    return found


def _render(finding: Finding, **kwargs) -> str:
    kwargs.setdefault("repository", "acme-shop/catalog")
    return render_issue(finding, interval=DAY, **kwargs).body


def _table(body: str, heading: str = "## Evidence") -> list[list[str]]:
    """The markdown table under ``heading``, as rows of cells (split on unescaped pipes)."""
    section = body.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.strip().splitlines() if line.startswith("|")]
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    assert rows[0] == ["Metric", "Value"] and rows[1] == ["---", "---"]
    assert all(len(row) == 2 and line.endswith("|") for row, line in zip(rows, lines, strict=True))
    return rows[2:]


def test_titles_stay_under_100_characters_and_keep_code_spans_whole(findings) -> None:
    assert {"n_plus_one", "sequential_calls", "critical_path_hotspot", "error_hotspot",
            "single_point_of_failure", "long_n_plus_one"} <= set(findings)  # fmt: skip
    assert len(findings["long_n_plus_one"].title) > 150
    absurd = dataclasses.replace(findings["error_hotspot"], title="x" * 300)
    for finding in [*findings.values(), absurd]:
        title = render_issue(finding, repository="o/r", interval=DAY).title
        assert len(title) < 100 and "\n" not in title
        assert title.count("`") % 2 == 0, title
        if len(finding.title) < 100:
            assert title == finding.title
    long = render_issue(findings["long_n_plus_one"], repository="o/r", interval=DAY).title
    assert long.startswith("N+1: storefront-api GET /v2/merchants/{merchant}/catalogue/items")
    assert long.endswith("… 8 times per request")  # the statement is in the body, whole


def test_labels_are_configured_then_bot_then_kind_without_duplicates(findings) -> None:
    issue = render_issue(findings["n_plus_one"], repository="acme-shop/catalog", interval=DAY,
                         labels=("performance", "aiops", "performance"))  # fmt: skip
    assert issue.labels == ("performance", "aiops", "aiops:n_plus_one")
    assert issue.repository == "acme-shop/catalog"
    assert issue.fingerprint == findings["n_plus_one"].fingerprint


def test_n_plus_one_body_has_every_section_in_order_and_the_batched_sql(findings) -> None:
    finding = findings["n_plus_one"]
    body = _render(finding, graph="out/graph.svg")
    summary = body.split("\n\n", 1)[0]
    assert summary.startswith(f"**{finding.title}.**")
    assert "On 2025-10-30 (UTC) it was seen in 4 sampled requests" in summary
    assert "4 sampled requests" in summary and "requests/day" in summary
    positions = [body.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    rows = dict(_table(body))
    assert rows["Statement"] == "`SELECT * FROM reviews WHERE product_id = ?`"
    assert rows["Repeats per request (median)"] == "12"
    assert rows["Time per affected request (mean)"] == "60.0 ms"
    assert rows["Expected saving per request"] == "55.0 ms"
    assert re.fullmatch(r"[\d,]+ requests/day", rows["Requests affected per day (estimated)"])
    sql = re.search(r"```sql\n(.*?)\n```", body, re.DOTALL)
    assert sql and body.index("## Suggested fix") < sql.start()
    assert "SELECT * FROM reviews WHERE product_id = ?\n" in sql.group(1)
    assert "SELECT * FROM reviews WHERE product_id IN (?, ?, ...)" in sql.group(1)
    assert "- [`a0" in body and "](http://jaeger:16686/trace/a0" in body
    assert "**Confidence:** " in body and "`REQUIRES_APPROVAL`: a human reviews" in body
    assert "`[2025-10-30T00:00:00Z, 2025-10-31T00:00:00Z)`" in body
    assert "no second issue is filed" in body
    assert "[graph.svg](out/graph.svg)" in body
    assert body.endswith(f"\n\n<!-- aiops:fingerprint={finding.fingerprint} -->\n")
    assert body.count("<") == body.count("<!--")  # no other HTML


def test_other_kinds_have_no_sql_block_and_traces_fall_back_to_ids(findings) -> None:
    sequential = _render(findings["sequential_calls"])
    assert "```sql" not in sequential
    assert dict(_table(sequential))["Called one after another"] == "cart, inventory, recommendation"
    bare = dataclasses.replace(
        findings["sequential_calls"],
        evidence=Evidence({"callees": "a, b"}, ("abc123", "def456"), ()),
    )
    assert "- `abc123`\n- `def456`" in _render(bare)
    spof = dict(_table(_render(findings["single_point_of_failure"])))
    assert spof["Dependent services"] == "api0, api1, api2"
    assert spof["Share of requests passing through"] == "8.2%"  # 4 of 49 traces
    assert spof["Has its own spans"] == "no"


def test_pipes_newlines_and_html_from_a_finding_cannot_break_the_body(findings) -> None:
    error = findings["error_hotspot"]
    body = _render(error)
    rows = dict(_table(body))
    assert rows["Most common error"] == r"`ProviderError: charge declined \| code <51>`"
    assert "<51>" not in body.replace(rows["Most common error"], "")  # escaped outside code
    hostile = dataclasses.replace(
        error,
        title="Errors start at <script>alert(1)</script>\n# heading",
        evidence=Evidence(
            {"error": "a|b\nc", "note": "x | <b>y</b>\n| z"}, ("t1",), ("javascript:x",)
        ),
    )
    body = _render(hostile)
    rows = dict(_table(body))
    assert rows["Most common error"] == r"`a\|b c`"
    assert rows["Note"] == r"x \| &lt;b&gt;y&lt;/b&gt; \| z"
    assert "<script>" not in body and "\n# heading" not in body and "javascript:" not in body
    assert fingerprint_in(body) == hostile.fingerprint


def test_long_statement_with_pipes_renders_whole_in_table_and_sql(findings) -> None:
    body = _render(findings["long_n_plus_one"])
    statement = dict(_table(body))["Statement"]
    assert (
        statement.startswith("`SELECT id, sku") and r"first_name \|\| ? \|\| last_name" in statement
    )
    assert "first_name || ? || last_name" in re.search(r"```sql\n(.*?)```", body, re.DOTALL)[1]


def test_fingerprint_marker_round_trips_and_is_exact(findings) -> None:
    for finding in findings.values():
        assert fingerprint_in(_render(finding)) == finding.fingerprint
    fp = "0123456789abcdef"
    assert fingerprint_in(f"text\r\n  <!--  aiops:fingerprint={fp}  -->  \r\n") == fp
    assert fingerprint_in("no marker here") is None
    assert fingerprint_in(f"see <!-- aiops:fingerprint={fp} --> inline") is None
    assert fingerprint_in(f"<!-- aiops:fingerprint={fp}0 -->") is None
    assert fingerprint_in(f"```\n<!-- aiops:fingerprint={fp} -->\n```\n") is None


def test_comment_carries_the_new_interval_numbers_and_marker(findings) -> None:
    finding = findings["n_plus_one"]
    comment = render_comment(finding, interval=NEXT_DAY)
    assert comment.startswith("**Seen again on 2025-10-31 (UTC)**")
    assert "Interval: `[2025-10-31T00:00:00Z, 2025-11-01T00:00:00Z)` (UTC)" in comment
    assert dict(_table(comment, "**Seen again"))["Repeats per request (max)"] == "12"
    assert "](http://jaeger:16686/trace/a0" in comment
    assert fingerprint_in(comment) == finding.fingerprint
    with pytest.raises(ValueError, match="aware"):
        render_comment(finding, interval=(datetime(2025, 10, 30), datetime(2025, 10, 31)))


CATALOG = catalog_yaml("""  catalog: {owner: acme-shop/catalog, team: catalog}
  checkout: {owner: acme-shop/checkout, team: commerce}
""")


def test_routing_to_the_catalog_owner_or_the_default_repository(findings) -> None:
    catalog = parse_catalog(CATALOG)
    assert repository_for(findings["n_plus_one"], catalog, None) == "acme-shop/catalog"
    assert repository_for(findings["sequential_calls"], catalog, "acme-shop/platform") == (
        "acme-shop/checkout"
    )
    stripe = findings["error_hotspot"]
    assert stripe.service == "stripe-api"
    assert repository_for(stripe, catalog, "acme-shop/platform") == "acme-shop/platform"
    with pytest.raises(RoutingError, match=r"'stripe-api'.*add it to the service catalog.*default"):
        repository_for(stripe, catalog, None)
    with pytest.raises(ValueError, match="'owner/name', got 'platform'"):
        repository_for(stripe, catalog, "platform")


def test_dry_run_sink_writes_once_and_appends_a_comment_once(findings, tmp_path) -> None:
    sink = DryRunSink(tmp_path)
    finding = findings["n_plus_one"]
    issue = render_issue(finding, repository="acme-shop/catalog", interval=DAY)
    first = sink.file(issue)
    assert first.changed
    assert first.path == tmp_path / "acme-shop" / "catalog" / f"{finding.fingerprint}.md"
    text = first.path.read_text()
    assert text.startswith(f'---\ntitle: "{issue.title}"\nlabels: ["aiops", "aiops:n_plus_one"]\n')
    assert (
        f"repository: acme-shop/catalog\nfingerprint: {finding.fingerprint}\nstate: open\n---\n\n"
        in text
    )
    assert text.endswith(issue.body)
    before, mtime = first.path.read_bytes(), first.path.stat().st_mtime_ns
    again = sink.file(issue)
    assert not again.changed
    assert (first.path.read_bytes(), first.path.stat().st_mtime_ns) == (before, mtime)

    comment = render_comment(finding, interval=NEXT_DAY)
    assert sink.add_comment(finding.fingerprint, "acme-shop/catalog", comment).changed
    assert not sink.add_comment(finding.fingerprint, "acme-shop/catalog", comment).changed
    text = first.path.read_text()
    assert text.count("## Comments") == 1 and text.count("**Seen again on") == 1
    # refiling a changed issue keeps the comments
    assert sink.file(dataclasses.replace(issue, title="New title")).changed
    assert first.path.read_text().count("**Seen again on") == 1
    with pytest.raises(FileNotFoundError, match="file the issue before commenting"):
        sink.add_comment("fedcba9876543210", "acme-shop/catalog", comment)
    with pytest.raises(ValueError, match="'owner/repo'"):
        sink.file(dataclasses.replace(issue, repository="../etc"))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-10-30T00:00", "2026-10-31T00:00", "On 2026-10-30 (UTC)"),
        ("2026-10-24T00:00", "2026-10-31T00:00", "From 2026-10-24 to 2026-10-30 (UTC)"),
        ("2026-10-30T13:00", "2026-10-30T14:00", "On 2026-10-30 between 13:00 and 14:00 UTC"),
        ("2026-10-30T23:00", "2026-10-31T00:00", "On 2026-10-30 between 23:00 and 00:00 UTC"),
        (
            "2026-10-30T22:00",
            "2026-10-31T02:00",
            "Between 2026-10-30 22:00 and 2026-10-31 02:00 UTC",
        ),
    ],
)
def test_the_interval_is_said_as_people_say_it(start, end, expected) -> None:
    interval = tuple(datetime.fromisoformat(t).replace(tzinfo=UTC) for t in (start, end))
    assert when_text(interval) == expected


def test_personal_data_and_secrets_never_reach_the_issue(findings) -> None:
    leaky = dataclasses.replace(
        findings["error_hotspot"],
        title="Errors start at stripe-api for alice_smith@example.com",
        evidence=Evidence(
            {"error": "charge declined for alice_smith@example.com, card 4111 1111 1111 1111"},
            trace_ids=("4bf92f3577b34da6",),
            links=("http://jaeger:16686/trace/4bf92f3577b34da6?api_key=s3cr3t",),
        ),
    )
    issue = render_issue(leaky, repository="acme-shop/platform", interval=DAY)
    comment = render_comment(leaky, interval=NEXT_DAY)
    for text in (issue.title, issue.body, comment):
        assert "alice" not in text and "4111" not in text and "s3cr3t" not in text
    assert "for &lt;email&gt;." in issue.body  # escaped prose
    assert "`charge declined for <email>, card <card>`" in issue.body  # a code span
    assert issue.fingerprint == leaky.fingerprint == fingerprint_in(issue.body)
    assert fingerprint_in(comment) == leaky.fingerprint
