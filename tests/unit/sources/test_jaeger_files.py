"""Jaeger JSON files: the shapes exports come in, errors that name the file and line, the
file source's window, and every shared reference trace read back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.sources.jaeger_files import JaegerFileSource, TraceFileError, iter_trace_documents
from fakes.jaeger_server import make_trace
from support.paths import SHARED_DATA

T0 = datetime(2024, 10, 30, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T0_US = int(T0.timestamp()) * 1_000_000
DAY_US = 86_400 * 1_000_000
SHARED_TRACES = SHARED_DATA / "jaeger" / "traces"


# -- files ----------------------------------------------------------------------------------------


def write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_envelope_bare_trace_and_list_files(tmp_path: Path) -> None:
    a, b, c = (make_trace(t, [("checkout", "op", T0_US + 1, 5)]) for t in "abc")
    env = write(
        tmp_path / "env.json",
        {"data": [a, "junk"], "total": 0, "limit": 0, "offset": 0, "errors": None},
    )
    bare = write(tmp_path / "bare.json", b)
    listed = write(tmp_path / "list.json", [c])
    assert list(iter_trace_documents([env, bare, listed])) == [
        (a, f"{env}: data[0]"),
        ("junk", f"{env}: data[1]"),  # not validated here: the parser counts it
        (b, f"{bare}: trace"),
        (c, f"{listed}: [0]"),
    ]


def test_directories_are_read_recursively_in_order(tmp_path: Path) -> None:
    write(tmp_path / "b" / "deep" / "x.json", [1])
    write(tmp_path / "a.json", [2])
    (tmp_path / "notes.txt").write_text("not a trace file")
    origins = [origin for _, origin in iter_trace_documents([tmp_path])]
    assert origins == [f"{tmp_path / 'a.json'}: [0]", f"{tmp_path / 'b' / 'deep' / 'x.json'}: [0]"]


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [\n  {"traceID": "a",}\n]}')
    with pytest.raises(TraceFileError, match=rf"^{bad}:2:19: not valid JSON"):
        list(iter_trace_documents([bad]))


@pytest.mark.parametrize(
    ("doc", "found"),
    [
        ({"traces": []}, "an object with keys 'traces'"),
        ("hello", "a string"),
        ({"data": None}, "null"),
    ],
)
def test_wrong_top_level_shape_is_named(tmp_path: Path, doc: object, found: str) -> None:
    path = write(tmp_path / "odd.json", doc)
    with pytest.raises(TraceFileError, match=f"^{path}: .*found {found}"):
        list(iter_trace_documents([path]))


def test_envelope_with_errors_is_refused(tmp_path: Path) -> None:
    errors = [{"code": 500, "msg": "storage down"}, {"code": 404, "msg": "trace not found"}]
    path = write(tmp_path / "e.json", {"data": None, "errors": errors})
    with pytest.raises(TraceFileError, match=f"^{path}: .*storage down; trace not found"):
        list(iter_trace_documents([path]))


def test_file_source_window_services_and_merging(tmp_path: Path) -> None:
    inside = make_trace("in", [("checkout", "op", T0_US + 10, 5), ("cart", "op", T0_US + 20, 5)])
    late_part = make_trace("in", [("checkout", "op", T0_US + 10, 5), ("db", "q", T0_US + 30, 5)])
    late_part["spans"][1]["spanID"] = "00000000000000ff"
    outside = make_trace("out", [("checkout", "op", T0_US + DAY_US, 5)])
    write(tmp_path / "h00.json", {"data": [inside, outside, {"broken": True}]})
    write(tmp_path / "h01.json", {"data": [late_part]})
    source = JaegerFileSource(tmp_path)

    # fetch_window merges the copies of a trace across files (holding the window) ...
    merged, broken = source.fetch_window(T0, T1)
    assert broken == {"broken": True}  # cannot be placed in time: passed on for the parser
    assert merged["traceID"] == "in" and len(merged["spans"]) == 3
    # ... iter_window streams them file by file, each copy with where it came from
    streamed = list(source.iter_window(T0, T1))
    assert [(t.get("traceID"), o) for t, o in streamed] == [
        ("in", f"{tmp_path / 'h00.json'}: data[0]"),
        (None, f"{tmp_path / 'h00.json'}: data[2]"),
        ("in", f"{tmp_path / 'h01.json'}: data[0]"),
    ]
    assert [t.get("traceID") for t in source.fetch_window(T0, T1, services=["db"])] == ["in", None]
    assert [t.get("traceID") for t in source.fetch_window(T0, T1, services=["web"])] == [None]


def shared_files() -> list[Path]:
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"{SHARED_TRACES} not found (the shared reference data is not mounted)")
    return sorted(SHARED_TRACES.glob("*.json"))


def test_every_shared_fixture_file_yields_its_traces() -> None:
    files = shared_files()
    assert len(files) == 24
    for file in files:
        expected = json.loads(file.read_text(encoding="utf-8"))["data"]
        got = list(iter_trace_documents([file]))
        assert got == [(t, f"{file}: data[{i}]") for i, t in enumerate(expected)], file.name


def test_reading_pauses_the_garbage_collector_and_restores_its_state(tmp_path: Path) -> None:
    import gc

    from aiops.sources.jaeger_files import collector_paused

    path = write(tmp_path / "t.json", {"data": [make_trace("a", [("svc", "op", T0_US, 5)])]})
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert [t["traceID"] for t, _ in iter_trace_documents([path])] == ["a"]
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()
