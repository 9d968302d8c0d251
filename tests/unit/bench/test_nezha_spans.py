"""The Nezha span CSV reader (bench/rca/nezha_spans.py) on tiny files written here."""

from __future__ import annotations

import gzip
import logging
import sys
from pathlib import Path

import pytest

from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from aiops.traces.edge_signals import calls_frame  # noqa: E402
from aiops.traces.parse import ORPHAN_SPAN  # noqa: E402
from bench.rca.nezha_spans import (  # noqa: E402
    NezhaFormatError,
    read_nezha_spans,
    rpc_service,
    service_of_pod,
    trace_files,
)

HEADER = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration"
FRONT = "frontend-579b9bff58-t2dbm"
CATALOG = "productcatalogservice-668d5f85fb-wckp8"
RECO = "recommendationservice-6cfdd55578-gfj6q"
ADS = "adservice-5f6585d649-fnmft"
T0 = 1_661_140_374_000_000_000  # ns


def row(trace: str, span: str, parent: str, pod: str, op: str, start_us: int, dur_us: int) -> str:
    start = T0 + start_us * 1000 + 123  # sub-microsecond digits, as in the data
    return f"{trace},{span},{parent},{pod},{op},{start},{start + dur_us * 1000 + 456},{dur_us}"


ONE_TRACE = [
    row("t1", "a", "root", FRONT, "hipstershop.Frontend/Recv.", 0, 900),
    row("t1", "b", "a", FRONT, "hipstershop.ProductCatalogService/GetProduct", 10, 500),
    row("t1", "c", "b", CATALOG, "hipstershop.ProductCatalogService/GetProduct", 60, 300),
    row("t1", "d", "c", CATALOG, "sql.conn.query", 70, 100),
    row("t1", "e", "a", FRONT, "hipstershop.RecommendationService/ListRecommendations", 600, 250),
    row("t1", "f", "e", RECO, "/hipstershop.RecommendationService/ListRecommendations", 610, 200),
    row("t1", "g", "f", RECO, "/hipstershop.ProductCatalogService/ListProducts", 620, 50),
    row("t1", "h", "g", CATALOG, "hipstershop.ProductCatalogService/ListProducts", 630, 30),
    row("t1", "i", "a", ADS, "hipstershop.AdServiceImpl/getAds", 700, 20),
]


def write(path: Path, lines: list[str], header: str = HEADER) -> Path:
    text = "\n".join([header, *lines]) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def by_id(trace):
    return {s.span_id: s for s in trace.spans}


def test_service_is_the_pod_without_its_hash_suffixes() -> None:
    assert service_of_pod(FRONT) == "frontend"
    assert service_of_pod("shippingservice-7b598fc7d-lmggd") == "shippingservice"
    assert service_of_pod("redis-cart-0") == "redis-cart-0"  # not a Deployment's pod: whole


def test_rpc_methods_name_their_service() -> None:
    assert rpc_service("hipstershop.CartService/GetCart") == "cartservice"
    assert rpc_service("grpc.hipstershop.PaymentService/Charge") == "paymentservice"
    assert rpc_service("/hipstershop.EmailService/SendOrderConfirmation") == "emailservice"
    assert rpc_service("sql.conn.query") is None
    assert rpc_service("SELECT addatabase.aditems") is None


def test_a_span_naming_another_services_method_is_the_callers_client_span(tmp_path) -> None:
    read = read_nezha_spans([write(tmp_path / "04_28_trace.csv.gz", ONE_TRACE)])
    (trace,) = read.traces
    spans = by_id(trace)
    assert (spans["a"].service, spans["a"].kind) == ("frontend", "")  # the entry span
    assert (spans["b"].kind, spans["b"].peer) == ("client", "productcatalogservice")
    assert (spans["c"].service, spans["c"].kind) == ("productcatalogservice", "server")
    assert spans["d"].kind == ""  # productcatalogservice's own work
    assert (spans["g"].kind, spans["g"].peer) == ("client", "productcatalogservice")
    assert spans["f"].kind == "server"  # "/" prefix, naming its own service
    assert spans["i"].kind == "server" and spans["i"].peer == ""  # AdServiceImpl is no service
    assert not any(s.error for s in trace.spans)  # the CSVs have no status column
    # microseconds, parents as indices, children lists
    assert spans["b"].start == T0 // 1000 + 10 and spans["b"].duration == 500
    assert trace.spans[spans["c"].parent] is spans["b"]
    assert [trace.spans[i].span_id for i in spans["a"].children] == ["b", "e", "i"]
    assert [trace.spans[i].span_id for i in trace.roots] == ["a"]
    assert (read.orphans, read.duplicate_rows, read.spans) == (0, 0, 9)


def test_the_callers_client_span_times_the_call(tmp_path) -> None:
    read = read_nezha_spans([write(tmp_path / "t.csv", ONE_TRACE)])
    calls = calls_frame(read.traces).sort_values("start")
    got = calls[["caller", "callee", "latency", "client_side"]].values.tolist()
    assert got == [
        ["frontend", "productcatalogservice", pytest.approx(0.000500), True],
        ["frontend", "recommendationservice", pytest.approx(0.000250), True],
        ["recommendationservice", "productcatalogservice", pytest.approx(0.000050), True],
        ["frontend", "adservice", pytest.approx(0.000020), False],
    ]


def test_a_span_whose_parent_is_in_no_file_is_a_counted_root(tmp_path, caplog) -> None:
    cut = [line for line in ONE_TRACE if not line.startswith("t1,b,")]  # c's parent b is lost
    with caplog.at_level(logging.WARNING):
        read = read_nezha_spans([write(tmp_path / "cut.csv", cut)])
    (trace,) = read.traces
    spans = by_id(trace)
    assert read.orphans == 1 and read.spans == 8
    assert spans["c"].parent == -1 and spans["c"].kind == ""
    assert [trace.spans[i].span_id for i in trace.roots] == ["a", "c"]
    assert trace.warnings == (ORPHAN_SPAN,)
    assert "1 span(s) have a parent in none" in caplog.text


def test_a_trace_over_two_files_is_joined_and_repeated_rows_kept_once(tmp_path) -> None:
    first = write(tmp_path / "04_28_trace.csv", ONE_TRACE[:5])
    second = write(tmp_path / "04_29_trace.csv", ONE_TRACE[3:])  # rows 3-4 in both
    read = read_nezha_spans([first, second])
    (trace,) = read.traces
    assert (read.files, read.rows, read.spans) == (2, 11, 9)
    assert (read.duplicate_rows, read.conflicting_spans, read.orphans) == (2, 0, 0)
    assert by_id(trace)["f"].parent >= 0


def test_a_conflicting_copy_of_a_span_is_counted_and_the_first_kept(tmp_path) -> None:
    other = ONE_TRACE[3].replace(",100", ",101")
    read = read_nezha_spans([write(tmp_path / "x.csv", [*ONE_TRACE, other])])
    assert read.conflicting_spans == 1 and by_id(read.traces[0])["d"].duration == 100


def test_a_parent_loop_is_cut_at_its_earliest_span(tmp_path) -> None:
    loop = [
        row("t2", "x", "y", FRONT, "op", 0, 10),
        row("t2", "y", "x", FRONT, "op", 5, 10),
    ]
    read = read_nezha_spans([write(tmp_path / "loop.csv", loop)])
    (trace,) = read.traces
    assert read.cycles == 1
    assert [trace.spans[i].span_id for i in trace.roots] == ["x"]


@pytest.mark.parametrize(
    ("bad", "line", "message"),
    [
        (row("t1", "z", "a", FRONT, "op", 0, 5).replace(str(T0 + 123), "soon"), 4, "Start"),
        (row("t1", "z", "a", FRONT, "op", 0, 5) + ",extra", 4, "Expected 8 fields"),
        (row("t1", "z", "a", FRONT, "op", 0, 5).replace(",5", ",-5"), 4, "Duration"),
        (row("t1", "z", "a", "", "op", 0, 5), 4, "empty PodName"),
        (row("t1", "z", "a", FRONT, "op", 0, 5).rsplit(",", 1)[0], 4, "Duration"),
        ("", 4, "empty TraceID"),
    ],
)
def test_a_malformed_row_names_the_file_and_line(tmp_path, bad, line, message) -> None:
    path = write(tmp_path / "bad.csv.gz", [*ONE_TRACE[:2], bad, *ONE_TRACE[2:]])
    with pytest.raises(NezhaFormatError, match=message) as caught:
        read_nezha_spans([path])
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}, line {line}:")


def test_a_file_without_the_columns_is_refused_at_line_1(tmp_path) -> None:
    path = write(tmp_path / "bad.csv", ONE_TRACE, header="TraceID,SpanID,Parent")
    with pytest.raises(NezhaFormatError, match="missing column") as caught:
        read_nezha_spans([path])
    assert caught.value.line == 1


def test_a_days_files_are_listed_in_time_order(tmp_path) -> None:
    (tmp_path / "trace").mkdir()
    for name in ("05_10", "04_28", "04_29"):
        write(tmp_path / "trace" / f"{name}_trace.csv.gz", ONE_TRACE)
    assert [p.name[:5] for p in trace_files(tmp_path)] == ["04_28", "04_29", "05_10"]
    assert read_nezha_spans([]).traces == []
