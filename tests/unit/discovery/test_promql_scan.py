"""Which metrics a catalog query selects without a rate around them: the text half of the
"raw counter where a rate was meant" check."""

from __future__ import annotations

import pytest

from aiops.discovery.promql_scan import has_rate, unrated_counters


@pytest.mark.parametrize(
    "query, raw",
    [
        ('sum(http_requests_total{service="cart"})', ["http_requests_total"]),
        ("max(latency_seconds_bucket) by (le)", ["latency_seconds_bucket"]),
        ("request_duration_count offset 5m", ["request_duration_count"]),
        # the second use of the same counter is the raw one
        ("sum(rate(a_total[5m])) / sum(a_total)", ["a_total"]),
        ('sum(rate(x_total{code=~"5.."}[5m] offset 1h)) or vector(0)', []),
        ('histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="b"}[5m])))', []),
        ("sum without (cpu) (increase(node_cpu_seconds_total[1h30m]))", []),
        ("sum(irate(y_sum[1m])) / sum(deriv(y_count[5m]))", []),
        # names in strings and label matchers are not selectors
        ('max(up{job="scrape_total"})', []),
        ("node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes", []),
    ],
)
def test_counters_outside_a_rate_are_found(query: str, raw: list[str]) -> None:
    assert unrated_counters(query) == raw


def test_metadata_names_counters_that_do_not_end_like_one() -> None:
    assert unrated_counters("sum(jobs_processed)") == []
    assert unrated_counters("sum(jobs_processed)", frozenset({"jobs_processed"})) == [
        "jobs_processed"
    ]


def test_has_rate_sees_a_rate_anywhere_in_the_query() -> None:
    assert has_rate("max(x) + sum(rate(y_total[5m]))")
    assert not has_rate("max_over_time(x_total[5m])")
