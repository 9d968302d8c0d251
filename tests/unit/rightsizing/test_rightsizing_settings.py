"""The catalog's `rightsizing:` section, the PromQL the reader sends, and which containers
the pipeline sizes or quarantines."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import CatalogError, parse_catalog
from aiops.rightsizing import ContainerUsage, RightsizingConfig
from aiops.rightsizing.pipeline import quarantine_row, split_usable
from aiops.rightsizing.settings import DEFAULT_POD_PATTERNS, DEFAULT_QUERIES, RightsizingSettings
from aiops.rightsizing.source import ContainerKey, input_query, workload_expression
from support.catalogs import catalog_yaml

SERVICES = """  cart:
    owner: acme/cart
    team: shop
"""


def _catalog(section: str):
    return parse_catalog(catalog_yaml(SERVICES) + section, "cat.yaml")


def test_the_section_is_optional_and_defaults_to_the_standard_names():
    settings = _catalog("").rightsizing
    assert settings.enabled and settings.window_days == 14 and settings.step == 300
    assert settings.query("memory") == DEFAULT_QUERIES["memory"]
    assert "container_cpu_usage_seconds_total" in settings.query("cpu")
    # each kill is counted once: the increase spans exactly one step of the read
    assert "restarts_total[300s]" in settings.query("oom_kills")
    assert settings.config() == RightsizingConfig()


def test_an_override_replaces_one_input_and_keeps_the_others():
    settings = _catalog(
        "rightsizing:\n"
        "  step: 1m\n"
        "  queries:\n"
        "    memory: container_memory_rss{container!=''}\n"
        "  recommender: {risk_budget: 0.02, price_core_hour: 0.05}\n"
    ).rightsizing
    assert settings.step == 60
    assert settings.query("memory") == "container_memory_rss{container!=''}"
    assert settings.query("cpu") == DEFAULT_QUERIES["cpu"]
    assert "restarts_total[60s]" in settings.query("oom_kills")
    assert settings.config().risk_budget == 0.02
    assert settings.config().price_core_hour == 0.05


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ("rightsizing:\n  queries: {memroy: x}\n", "memroy"),
        ("rightsizing:\n  queries: {memory: ' '}\n", "queries.memory"),
        ("rightsizing:\n  pod_patterns: ['(.+']\n", "pod_patterns"),
        ("rightsizing:\n  pod_patterns: ['.+-[0-9]+']\n", "needs a group"),
        ("rightsizing:\n  recommender: {risk_budget: 0.9}\n", "risk_budget"),
        ("rightsizing:\n  recommender: {risk_bugdet: 0.1}\n", "risk_bugdet"),
        ("rightsizing:\n  window_days: 0\n", "window_days"),
    ],
)
def test_a_bad_section_is_refused_naming_the_key(section, named):
    with pytest.raises(CatalogError, match=re.escape(named)):
        _catalog(section)


def test_the_workload_patterns_name_deployments_statefulsets_and_daemonsets():
    """What label_replace does with the default patterns (a full match, the last one
    winning), replayed with Python's regex engine on real pod names."""

    def workload(pod: str) -> str:
        name = pod
        for pattern in DEFAULT_POD_PATTERNS:
            m = re.fullmatch(pattern, pod)
            if m:
                name = m.group(1)
        return name

    # Kubernetes draws the hashes from an alphabet without vowels (or 0, 1, 3), so a word
    # in a workload's name is not mistaken for one
    assert workload("cartservice-7d9f8b6c5d-x7k2p") == "cartservice"
    assert workload("order-worker-5c8d7f9b4-bcdfg") == "order-worker"
    assert workload("postgres-0") == "postgres"
    assert workload("node-exporter-x7k2p") == "node-exporter"
    assert workload("log-shipper-daemon-2wz9q") == "log-shipper-daemon"
    assert workload("standalone") == "standalone"


def test_the_query_wraps_the_input_with_the_workload_and_the_busiest_pod():
    settings = RightsizingSettings()
    q = input_query(settings, "memory")
    assert q.startswith("max by (namespace, workload, container) (")
    assert q.count("label_replace(") == 1 + len(DEFAULT_POD_PATTERNS)
    assert input_query(settings, "oom_kills").startswith("sum by (")
    # a regex's backslashes and quotes survive PromQL's string syntax
    expr = workload_expression("m", [r'(.+)-\d+"'])
    assert r'"(.+)-\\d+\""' in expr


def _usage(hours: float, step_min: int = 5, start: str = "2026-11-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=int(hours * 60 / step_min), freq=f"{step_min}min",
                          tz="UTC")  # fmt: skip
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {"cpu": 0.2 + 0.05 * rng.random(len(index)), "memory": 3e8 + 1e6 * rng.random(len(index))},
        index=index,
    )


def test_a_container_the_recommender_cannot_use_is_quarantined_with_its_reason():
    good = ContainerUsage("cart/server", _usage(48), cpu_request=1.0, memory_request=1e9)
    short = ContainerUsage("new/app", _usage(3))
    negative_frame = _usage(48)
    negative_frame.iloc[10, 0] = -1.0
    negative = ContainerUsage("bad/app", negative_frame)
    keys = {
        ContainerKey("shop", "cart", "server"): good,
        ContainerKey("shop", "new", "app"): short,
        ContainerKey("shop", "bad", "app"): negative,
    }
    usable, refused = split_usable(keys, RightsizingConfig())
    assert list(usable) == [ContainerKey("shop", "cart", "server")]
    reasons = {str(q.key): q.reason for q in refused}
    assert "history" in reasons["shop/new/app"]
    assert "must be finite and >= 0" in reasons["shop/bad/app"]
    assert "-1.0 at 2026-11-01T00:50:00+00:00" in reasons["shop/bad/app"]
    row = quarantine_row(refused[0], pd.Timestamp("2026-11-02", tz="UTC"),
                         pd.Timestamp("2026-11-03", tz="UTC"))  # fmt: skip
    assert row["stage"] == "rightsize" and row["reason"] == refused[0].reason
    assert row["service"] == refused[0].key.workload and row["points"] > 0
