"""Leave-one-category-out selection (bench/nab/loco.py) on a tiny hand-made score table."""

from __future__ import annotations

import sys

import pytest

from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from bench.nab import loco  # noqa: E402

CATEGORIES = ["A", "B", "C"]


def table():
    """Three configs; "fits-C" is best on C alone, "broad" best on A and B together."""
    return {
        "broad": {"A": 70.0, "B": 70.0, "C": 40.0},
        "fits-A": {"A": 90.0, "B": 30.0, "C": 50.0},
        "fits-C": {"A": 60.0, "B": 65.0, "C": 99.0},
    }


def test_each_fold_chooses_on_the_other_categories_and_reports_the_held_out_score():
    folds = {f.category: f for f in loco.leave_one_out(table(), CATEGORIES)}
    assert [f.category for f in loco.leave_one_out(table(), CATEGORIES)] == CATEGORIES
    # held out C: mean over A, B is broad 70, fits-A 60, fits-C 62.5 -> broad, scored on C
    assert folds["C"].config == "broad"
    assert folds["C"].train_mean == pytest.approx(70.0)
    assert folds["C"].score == pytest.approx(40.0)
    # held out A: over B, C: broad 55, fits-A 40, fits-C 82 -> fits-C
    assert folds["A"].config == "fits-C"
    assert folds["A"].score == pytest.approx(60.0)


@pytest.mark.parametrize("held", CATEGORIES)
def test_the_held_out_category_never_influences_its_own_choice(held):
    before = {f.category: f for f in loco.leave_one_out(table(), CATEGORIES)}[held]
    # make every other config overwhelmingly best on the held-out category, and the chosen
    # one the worst there: the fold's choice must not move, only its held-out score
    rigged = table()
    for key, row in rigged.items():
        row[held] = -1000.0 if key == before.config else 1000.0
    after = {f.category: f for f in loco.leave_one_out(rigged, CATEGORIES)}[held]
    assert after.config == before.config
    assert after.train_mean == pytest.approx(before.train_mean)
    assert after.score == pytest.approx(-1000.0)


def test_ties_go_to_the_first_config_in_table_order():
    tied = {"first": {"A": 50.0, "B": 50.0}, "second": {"A": 60.0, "B": 40.0}}
    assert loco.choose(tied, ["A", "B"]) == "first"


def test_a_config_without_a_category_score_is_an_error_naming_both():
    with pytest.raises(KeyError, match="fits-A.*'B'"):
        loco.choose({"broad": {"A": 1.0, "B": 1.0}, "fits-A": {"A": 2.0}}, ["A", "B"])


def test_spread_is_min_mean_max():
    assert loco.spread([47.0, 80.0, 62.0]) == pytest.approx((47.0, 63.0, 80.0))
