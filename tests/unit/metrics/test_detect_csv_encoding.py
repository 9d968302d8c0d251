"""`aiops detect` on files as users have them: a spreadsheet's export (UTF-8 or UTF-16 with a
byte-order mark) is read as the same CSV, and a file that is not text is refused with exit
code 2 and a message naming the file, the byte and the line, not a traceback."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from aiops.cli.main import main

ROWS = [f"2026-01-01 {i // 60:02d}:{i % 60:02d}:00,{100 + (i % 7) * 0.5:.1f}" for i in range(240)]
TEXT = "timestamp,value\r\n" + "\r\n".join(ROWS) + "\r\n"  # Excel ends lines with CRLF


def _detect(capsys, src: Path, out: Path) -> tuple[int, str, str]:
    code = main(["detect", "--input", str(src), "--output", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(codecs.BOM_UTF8 + TEXT.encode("utf-8"), id="utf-8 with BOM"),
        pytest.param(TEXT.encode("utf-16"), id="utf-16 with BOM"),  # BOM + native order
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), id="utf-16-be with BOM"),
    ],
)
def test_a_spreadsheet_export_with_a_byte_order_mark_is_scored_like_plain_utf8(
    encoded: bytes, tmp_path: Path, capsys
) -> None:
    plain, exported = tmp_path / "plain.csv", tmp_path / "exported.csv"
    plain.write_text(TEXT, encoding="utf-8", newline="")
    exported.write_bytes(encoded)
    assert _detect(capsys, plain, tmp_path / "plain.out.csv")[0] == 0
    code, out, err = _detect(capsys, exported, tmp_path / "exported.out.csv")
    assert code == 0, err
    assert "240 rows scored" in out
    scored = (tmp_path / "exported.out.csv").read_text(encoding="utf-8")
    assert scored == (tmp_path / "plain.out.csv").read_text(encoding="utf-8")
    assert scored.startswith("timestamp,value,anomaly_score,is_anomaly\n")


def test_a_binary_file_is_refused_naming_the_file_byte_and_line(tmp_path: Path, capsys) -> None:
    src = tmp_path / "series.xlsx.csv"
    src.write_bytes(
        b"timestamp,value\n2026-01-01 00:00:00,1\n" + b"PK\x03\x04\x14\x00\x06\x00\x08\xe9"
    )
    code, out, err = _detect(capsys, src, tmp_path / "o.csv")
    assert code == 2 and out == ""
    assert err.strip() == (
        f"{src}: not UTF-8 text (0xe9 at byte 47, line 3); export it as CSV UTF-8"
    )
    assert not (tmp_path / "o.csv").exists()


def test_nul_bytes_are_not_text_even_when_they_decode(tmp_path: Path, capsys) -> None:
    src = tmp_path / "dump.bin"
    src.write_bytes(b"timestamp,value\n\x00\x00\x00\x01")
    code, _, err = _detect(capsys, src, tmp_path / "o.csv")
    assert code == 2
    assert f"{src}: not a text file (a NUL byte on line 2)" in err


def test_a_utf16_file_cut_mid_character_names_the_byte(tmp_path: Path, capsys) -> None:
    src = tmp_path / "cut.csv"
    src.write_bytes(TEXT.encode("utf-16")[:-1])  # an odd number of bytes
    code, _, err = _detect(capsys, src, tmp_path / "o.csv")
    assert code == 2
    assert f"{src}: not UTF-16 text" in err and "Traceback" not in err
