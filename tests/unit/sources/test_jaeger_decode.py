"""The trace file reader's decoder (aiops.sources.jaeger_files.decode_json): faster than
json.loads, but what it gives, and the errors it raises, are json.loads' own, including for
the documents the fast decoder refuses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from aiops.sources.jaeger_files import TraceFileError, decode_json, iter_trace_documents


@pytest.mark.parametrize(
    "text",
    [
        '{"data": [{"traceID": "a", "spans": [], "processes": {}}], "errors": null}',
        '{"big": 123456789012345678901234567890, "neg": -9223372036854775809, '
        '"u64": 18446744073709551615}',
        '{"f": [1.0, 0.1, 5e-324, 1.7976931348623157e308, -0.0, 1E5], "i": [-0, 0, 7]}',
        '{"a": 1, "a": 2, "b": {"c": [true, false, null]}}',  # a repeated key: the last wins
        '"\\u00e9\\ud83d\\ude00 \\"quoted\\" \\\\ \\/ \\b\\f\\n\\r\\t"',
        '"\\ud800 lone surrogate"',  # refused by msgspec, read by json.loads
        '{"inf": 1e400, "nan": NaN, "minus": -Infinity}',  # json.loads' extensions
        '\ufeff{"bom": true}',  # a UTF-8 byte-order mark
        ' [1, {"x": "caf\u00e9"}] \n',
    ],
)
def test_decoding_gives_what_json_loads_gives(text: str) -> None:
    data = text.encode("utf-8")
    got, want = decode_json(data), json.loads(data)
    assert json.dumps(got) == json.dumps(want)  # NaN-safe, and key order and types show
    assert _types(got) == _types(want)


def test_utf16_files_are_still_read(tmp_path: Path) -> None:
    path = tmp_path / "utf16.json"
    doc = {"data": [{"traceID": "t\u00e9", "spans": [], "processes": {}}]}
    path.write_bytes(json.dumps(doc).encode("utf-16"))
    assert list(iter_trace_documents([path])) == [(doc["data"][0], f"{path}: data[0]")]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"data": [\n  {"traceID": "a",}\n]}', "2:19"),
        ('{"data": [1, 2]\n\n  "x"', "3:3"),
        ('{"data": ["\tтаб"]}', "1:12"),  # a raw control character in a string
        ("", "1:1"),
    ],
)
def test_bad_json_is_named_by_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(json.JSONDecodeError) as direct:
        json.loads(path.read_bytes())
    with pytest.raises(TraceFileError, match=rf"^{path}:{where}: not valid JSON") as err:
        list(iter_trace_documents([path]))
    assert str(err.value).endswith(direct.value.msg)


def test_bytes_that_are_no_text_are_named_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b'{"data": ["\xff\xfe\xfa"]}')
    with pytest.raises(TraceFileError, match=rf"^{path}: cannot read"):
        list(iter_trace_documents([path]))


def _types(value: object) -> object:
    """The Python types of a decoded value, all the way down."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return type(value).__name__
