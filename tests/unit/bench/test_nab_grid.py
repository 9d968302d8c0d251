"""The causal detector's NAB grid (bench/nab/grid.py): its size, order and the default in it."""

from __future__ import annotations

import sys
from dataclasses import replace

from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from bench.nab.grid import DEFAULT, causal_grid, describe  # noqa: E402


def test_grid_is_small_and_has_no_duplicate():
    grid = causal_grid()
    assert len(grid) == 64 <= 72
    assert len(set(grid)) == len(grid)


def test_default_is_one_of_the_configs():
    assert DEFAULT in causal_grid()


def test_grid_holds_the_first_default_so_the_old_figures_can_be_compared():
    first = replace(DEFAULT, likelihood_short=5, likelihood_min_std=1e-6, rearm=False)
    assert first in causal_grid()


def test_new_knobs_take_both_values():
    grid = causal_grid()
    assert {c.likelihood_min_std for c in grid} == {1e-6, 1.0}
    assert {c.rearm for c in grid} == {False, True}
    assert {c.likelihood_short for c in grid} == {3, 5}


def test_describe_names_only_what_differs_from_the_default():
    assert describe(DEFAULT) == "default"
    assert describe(replace(DEFAULT, rearm=not DEFAULT.rearm)) == f"rearm={not DEFAULT.rearm}"
