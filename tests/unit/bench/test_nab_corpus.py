"""The NAB category loader (bench/nab/corpus.py) on a hand-made NAB folder."""

from __future__ import annotations

import json
import logging
import sys

import pandas as pd
import pytest

from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from bench.nab import corpus as nab_corpus  # noqa: E402
from bench.nab import scoring  # noqa: E402


def write_series(path, n=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = pd.date_range("2024-01-01", periods=n, freq="5min")
    pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "value": range(n)}).to_csv(
        path, index=False
    )
    return ts


def make_nab(root, present=("realTraffic",), listed=("realTraffic", "realAdExchange")):
    """A NAB copy whose labels list every `listed` category but only `present` ones exist."""
    windows = {}
    for category in listed:
        ts = pd.date_range("2024-01-01", periods=100, freq="5min")
        name = f"{category}/series.csv"
        windows[name] = [[str(ts[50]) + ".000000", str(ts[59]) + ".000000"]]
        if category in present:
            write_series(root / "data" / name)
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return root


def test_a_missing_category_folder_is_skipped_with_a_message(tmp_path, caplog):
    root = make_nab(tmp_path)
    with caplog.at_level(logging.WARNING):
        loaded = nab_corpus.load_corpus(root, ["realTraffic", "realAdExchange"])
    assert loaded.categories == ["realTraffic"]
    assert [f.name for f in loaded.all_files()] == ["realTraffic/series.csv"]
    assert len(loaded.skipped) == 1
    assert "realAdExchange" in loaded.skipped[0]
    assert str(root / "data" / "realAdExchange") in loaded.skipped[0]
    assert loaded.skipped[0] in caplog.text


def test_loaded_files_carry_their_windows(tmp_path):
    loaded = nab_corpus.load_corpus(make_nab(tmp_path), ["realTraffic"])
    (series,) = loaded.files["realTraffic"]
    assert series.category == "realTraffic" and len(series.frame) == 100
    assert series.prepared.n_windows == 1
    assert set(series.prepared.window[50:60]) == {0}


def test_a_listed_file_missing_from_a_present_folder_is_an_error_naming_it(tmp_path):
    root = make_nab(tmp_path)
    (root / "data" / "realTraffic" / "series.csv").unlink()
    (root / "data" / "realTraffic" / "other.csv").write_text("timestamp,value\n")
    with pytest.raises(FileNotFoundError, match="realTraffic/series.csv"):
        nab_corpus.load_corpus(root, ["realTraffic"])


def test_a_category_without_windows_has_no_normalised_score(tmp_path):
    root = make_nab(tmp_path, present=("artificialNoAnomaly",), listed=("artificialNoAnomaly",))
    labels = root / "labels" / "combined_windows.json"
    labels.write_text(json.dumps({"artificialNoAnomaly/series.csv": []}))
    loaded = nab_corpus.load_corpus(root, ["artificialNoAnomaly"])
    files = loaded.files["artificialNoAnomaly"]
    flags = {files[0].name: scoring.score_detections(files[0].prepared, [False] * 100)}
    assert nab_corpus.category_score(files, flags) is None
