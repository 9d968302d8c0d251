"""`aiops traces analyze` as users run it: Jaeger JSON files in, findings JSON and a graph out."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from support.trace_builder import TraceBuilder, envelope

AIOPS = Path(sys.executable).with_name("aiops")
KINDS = {"n_plus_one", "sequential_calls", "critical_path_hotspot", "chatty_pair", "fan_out",
         "single_point_of_failure", "dependency_cycle", "error_hotspot"}  # fmt: skip
FINDING_FIELDS = {"fingerprint", "kind", "service", "operation", "title", "impact", "evidence",
                  "suggestion", "expected_improvement", "effort", "confidence", "safety"}  # fmt: skip
EDGE_FIELDS = {"parent", "child", "call_count", "error_rate", "p50_ms", "p95_ms", "p99_ms"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AIOPS), "traces", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _shop_trace(i: int) -> dict:
    tb = TraceBuilder(f"{i:032x}", start_us=1_761_800_000_000_000 + i * 1_000_000)
    root = tb.span("gateway", "POST /checkout", 0, 300, kind="server")
    checkout = tb.call(root, "gateway", "checkout", "POST /checkout", 1, 290)
    tb.call(checkout, "checkout", "auth", "POST /auth/verify", 2, 10, method="POST")
    t = 13.0
    for callee, ms in (("cart", 20), ("inventory", 30), ("recommendation", 40)):
        tb.call(checkout, "checkout", callee, f"GET /{callee}", t, ms, method="GET")
        t += ms + 1
    catalog = tb.call(checkout, "checkout", "catalog", "GET /products", t, 100, method="GET")
    for k in range(10):
        tb.query(
            catalog, "catalog", f"SELECT * FROM reviews WHERE product_id = {k}", t + 1 + 9 * k, 8
        )
    tb.call(checkout, "checkout", "payment", "POST /payments", t + 102, 30, method="POST")
    return tb.to_json()


def test_analyze_writes_findings_and_edges_and_a_graph(tmp_path: Path) -> None:
    inputs = tmp_path / "export"
    inputs.mkdir()
    (inputs / "a.json").write_text(json.dumps(envelope([_shop_trace(i) for i in range(3)])))
    (inputs / "b.json").write_text(json.dumps(_shop_trace(3)))  # a bare trace object
    out, graph = tmp_path / "findings.json", tmp_path / "graph.svg"

    proc = _run("analyze", str(inputs), "--output", str(out), "--graph", str(graph),
                "--jaeger-ui", "http://jaeger:16686/")  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert "4 traces" in proc.stdout and "[n_plus_one]" in proc.stdout
    doc = json.loads(out.read_text())
    assert {f["kind"] for f in doc["findings"]} <= KINDS
    for finding in doc["findings"]:
        assert set(finding) >= FINDING_FIELDS, finding["kind"]
    found = {(f["kind"], f["service"], f["operation"]) for f in doc["findings"]}
    assert ("n_plus_one", "catalog", "GET /products") in found
    assert ("sequential_calls", "checkout", "POST /checkout") in found
    n1 = next(f for f in doc["findings"] if f["kind"] == "n_plus_one")
    assert (
        n1["evidence"]["links"][0] == f"http://jaeger:16686/trace/{n1['evidence']['trace_ids'][0]}"
    )
    edges = {(e["parent"], e["child"]): e for e in doc["edges"]}
    assert all(set(e) >= EDGE_FIELDS for e in doc["edges"])
    assert edges[("catalog", "postgres")]["call_count"] == 40
    assert edges[("gateway", "checkout")]["p50_ms"] == 289.8
    svg = ET.parse(graph).getroot()
    assert svg.tag.endswith("svg") and "checkout" in graph.read_text()


def test_a_broken_file_is_named_with_its_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [\n  {"traceID": "x",\n  oops}\n]}')
    proc = _run("analyze", str(bad), "--output", str(tmp_path / "f.json"))
    assert proc.returncode == 2
    assert f"{bad}:3:" in proc.stderr
    assert not (tmp_path / "f.json").exists()
