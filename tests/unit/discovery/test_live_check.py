"""The judgements `catalog check --prometheus` makes on what a query returned, on canned values;
the whole check against a real server is tests/integration/test_catalog_live.py."""

from __future__ import annotations

import math

import pytest

from aiops.catalog import SignalSpec, parse_catalog
from aiops.discovery.live_check import (
    Problem,
    bound_problems,
    looks_like_counter,
    query_line,
    server_reason,
    value_problems,
)
from aiops.yaml_lines import compose_yaml


def test_a_series_that_only_grows_looks_like_a_counter() -> None:
    assert looks_like_counter([10.0 + 3 * i for i in range(20)])
    # a flat step now and then (an idle scrape) keeps it a counter
    assert looks_like_counter([10, 11, 12, 12, 13, 14, 15, 16, 17, 18, 19, 20])


@pytest.mark.parametrize(
    "values",
    [
        [5.0] * 20,  # a constant is not a counter
        [1, 2, 3, 2, 3, 4, 5, 6, 7, 8],  # falls once: a gauge
        [1, 2, 3, 4],  # too short to say
        [1, 1, 1, 1, 1, 1, 1, 2, 2, 2],  # mostly flat: a gauge that moved once
        [math.nan, 1, 2],
    ],
)
def test_gauges_do_not_look_like_counters(values: list[float]) -> None:
    assert not looks_like_counter(values)


def test_a_ratio_or_percent_needs_the_max_its_unit_implies() -> None:
    assert list(bound_problems(SignalSpec(query="x", unit="ratio"))) == [
        "unit ratio without a max: add max: 1"
    ]
    assert list(bound_problems(SignalSpec(query="x", unit="percent", max=150))) == [
        "unit percent with max 150: a percent is at most 100"
    ]
    assert list(bound_problems(SignalSpec(query="x", unit="ratio", max=1))) == []
    assert list(bound_problems(SignalSpec(query="x", unit="cores"))) == []


def test_values_outside_the_bounds_are_counted_with_the_worst_one() -> None:
    spec = SignalSpec(query="x", unit="ratio", min=0, max=1)
    assert list(value_problems(spec, [0.2, 1.5, -0.1, 3.0])) == [
        "1 of 4 values below min 0 (lowest -0.1)",
        "2 of 4 values above max 1 (highest 3)",
    ]
    assert list(value_problems(spec, [0.0, 0.5, 1.0])) == []


def test_the_server_reason_is_cut_out_of_the_client_message() -> None:
    message = (
        "http://127.0.0.1:9090/api/v1/query_range: query 'sum(' rejected (HTTP 400, "
        "bad_data): 1:5: parse error: unclosed left parenthesis"
    )
    assert server_reason(message) == (
        "(HTTP 400, bad_data): 1:5: parse error: unclosed left parenthesis"
    )


CATALOG = """\
version: 1
defaults:
  step: 60s
  signals:
    request_rate:
      query: sum(rate(http_requests_total{service="${service}"}[5m]))
services:
  web:
    owner: acme/web
    team: web
    signals:
      cpu:
        unit: cores
        query: sum(rate(cpu_seconds_total{service="${service}"}[5m]))
  api:
    owner: acme/api
    team: api
"""


def test_each_problem_points_at_the_query_the_signal_runs() -> None:
    catalog, root = parse_catalog(CATALOG), compose_yaml(CATALOG)
    assert query_line(root, catalog, "web", "cpu") == 14  # its own query
    assert query_line(root, catalog, "api", "request_rate") == 6  # the defaults template
    problem = Problem("web", "cpu", 14, "no data between a and b")
    assert (
        problem.render("cat.yaml")
        == "cat.yaml:14: services.web.signals.cpu: no data between a and b"
    )
