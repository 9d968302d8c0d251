"""The NAB standard-profile scorer (bench/nab/scoring.py) on small hand-made files."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from support.paths import REPO_ROOT, SHARED_DATA

sys.path.insert(0, str(REPO_ROOT))

from bench.nab import scoring  # noqa: E402

NAB = SHARED_DATA / "nab"


def hand_made(n: int = 200, windows=((100, 119), (150, 159))):
    """n one-minute rows; probation is the first 30 (15%)."""
    ts = pd.date_range("2024-01-01", periods=n, freq="1min")
    limits = [(str(ts[a]), str(ts[b])) for a, b in windows]
    return scoring.prepare_file("toy.csv", ts, limits)


def detections(n: int, rows) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[list(rows)] = True
    return flags


def corpus_score(prepared, flags) -> float:
    return scoring.score_corpus(
        {prepared.name: prepared}, {prepared.name: flags.astype(float)}, 0.5
    )[0]


def test_perfect_is_100_and_null_is_0():
    p = hand_made()
    assert corpus_score(p, detections(200, [100, 150])) == pytest.approx(100.0)
    assert corpus_score(p, detections(200, [])) == pytest.approx(0.0)


def test_earliest_detection_in_a_window_is_worth_more():
    p = hand_made()
    at_start = scoring.score_detections(p, detections(200, [100])).raw
    at_end = scoring.score_detections(p, detections(200, [119])).raw
    assert at_start == pytest.approx(1.0 - 1.0)  # second window missed: -1
    assert at_end < at_start
    # only the earliest detection in a window counts; later ones add nothing
    assert scoring.score_detections(p, detections(200, [100, 105, 119])).raw == pytest.approx(
        at_start
    )


def test_tp_weight_follows_the_scaled_sigmoid():
    p = hand_made()
    raw = scoring.score_detections(p, detections(200, [110, 150])).raw
    width = 20
    expected = scoring.scaled_sigmoid(-(119 - 110 + 1) / width) / scoring.scaled_sigmoid(-1.0) + 1.0
    assert raw == pytest.approx(expected)


def test_detection_in_probation_is_ignored():
    p = hand_made(windows=((10, 39), (150, 159)))  # first window starts inside probation
    assert scoring.probation_length(200) == 30
    in_probation = scoring.score_detections(p, detections(200, [10, 150]))
    assert in_probation.tp == 1 and in_probation.fn == 1  # the row-10 detection did not count
    after_probation = scoring.score_detections(p, detections(200, [30, 150]))
    assert after_probation.tp == 2
    assert scoring.score_detections(p, detections(200, [5])).fp == 0


def test_probation_is_capped_at_750_rows():
    assert scoring.probation_length(2000) == 300
    assert scoring.probation_length(20000) == 750


def test_false_positive_costs_fp_weight():
    p = hand_made()
    base = scoring.score_detections(p, detections(200, [100, 150])).raw
    before_any_window = scoring.score_detections(p, detections(200, [50, 100, 150]))
    assert before_any_window.fp == 1
    assert base - before_any_window.raw == pytest.approx(0.11)
    # just after a window the cost is smaller, growing with the distance from it
    just_after = scoring.score_detections(p, detections(200, [100, 121, 150])).raw
    later = scoring.score_detections(p, detections(200, [100, 135, 150])).raw
    assert base - 0.11 < later < just_after < base
    expected = 0.11 * scoring.scaled_sigmoid(abs(119 - 121) / (20 - 1))
    assert just_after - base == pytest.approx(expected)


def test_scaled_sigmoid_matches_nab_docstring():
    assert scoring.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scoring.scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scoring.scaled_sigmoid(0.0) == 0.0
    assert scoring.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scoring.scaled_sigmoid(3.0) == -1.0
    assert math.isclose(scoring.scaled_sigmoid(2.9), 2 / (1 + math.exp(14.5)) - 1)


def test_best_threshold_is_one_per_corpus():
    p = hand_made()
    scores = np.zeros(200)
    scores[[100, 150]] = 0.9
    scores[60] = 0.5
    threshold, value = scoring.best_threshold({p.name: p}, {p.name: scores})
    assert 0.5 < threshold <= 0.9 and value == pytest.approx(100.0)


@pytest.mark.skipif(
    not (NAB / "labels" / "combined_windows.json").exists(), reason=f"NAB data absent at {NAB}"
)
def test_nab_corpus_null_and_perfect():
    windows = scoring.load_windows(NAB / "labels" / "combined_windows.json")
    files = sorted(k for k in windows if k.split("/")[0] in ("realKnownCause", "realTraffic"))
    assert len(files) == 14
    prepared = {}
    for k in files:
        ts = pd.read_csv(NAB / "data" / k, usecols=["timestamp"])["timestamp"]
        prepared[k] = scoring.prepare_file(k, ts, windows[k])
    null, perfect = scoring.null_and_perfect(prepared.values())
    assert (null, perfect) == (-33.0, 33.0)
    starts = {
        k: (p.window == np.arange(p.n_labelled)[:, None]).argmax(axis=1)
        for k, p in prepared.items()
    }
    flags = {
        k: np.isin(np.arange(len(p.sweep)), starts[k]).astype(float) for k, p in prepared.items()
    }
    assert scoring.score_corpus(prepared, flags, 0.5)[0] == pytest.approx(100.0)
