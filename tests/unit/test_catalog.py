"""The catalog users edit: the shipped one loads, and mistakes are reported where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.catalog import CatalogError, load_catalog, parse_catalog
from aiops.dev.sim.topology import SERVICES
from support.paths import REPO_ROOT

SHIPPED = REPO_ROOT / "include" / "catalog.yaml"


@pytest.fixture(scope="module")
def text() -> str:
    return SHIPPED.read_text()


def _error(text: str) -> str:
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, "include/catalog.yaml")
    return str(info.value)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_shipped_catalog_covers_the_demo_fleet_consistently() -> None:
    catalog = load_catalog(SHIPPED)
    assert catalog.service_names == [s.name for s in SERVICES]
    for spec in SERVICES:
        svc = catalog.services[spec.name]
        # alert thresholds sit at or below the container limit the simulator enforces
        assert svc.slo.memory <= spec.memory_limit_bytes, spec.name
        if svc.scaling is not None:
            # a replica's target load leaves headroom below the load that saturates it
            target = svc.scaling.capacity_per_replica / spec.capacity_rps_per_replica
            assert 0.5 <= target <= 0.7, spec.name


def test_queries_substitute_the_service_name() -> None:
    catalog = load_catalog(SHIPPED)
    q = catalog.query("order-worker", "error_ratio")
    assert 'service="order-worker"' in q and "${" not in q
    assert catalog.signal("cart", "memory").unit == "bytes"


def test_units_parse_to_seconds_and_bytes() -> None:
    slo = load_catalog(SHIPPED).services["gateway"].slo
    assert slo.latency_p95 == pytest.approx(0.25)
    assert slo.memory == 2 * 2**30


def test_max_below_min_replicas_names_file_line_and_key(text: str) -> None:
    bad = text.replace(
        "scaling: {capacity_per_replica: 60, min_replicas: 1, max_replicas: 10}",
        "scaling: {capacity_per_replica: 60, min_replicas: 2, max_replicas: 1}",
    )
    line = _line_of(bad, "min_replicas: 2, max_replicas: 1}")
    assert _error(bad) == (
        f"include/catalog.yaml:{line}: services.cart.scaling.max_replicas: "
        "must be >= min_replicas (2), got 1"
    )


def test_unknown_key_is_called_out_as_a_typo(text: str) -> None:
    bad = text.replace("    team: identity\n", "    team: identity\n    ownr: acme-shop/x\n")
    assert (
        _error(bad)
        == f"include/catalog.yaml:{_line_of(bad, 'ownr')}: services.auth.ownr: unknown key (typo?)"
    )


def test_duplicate_key_is_an_error_not_a_silent_override(text: str) -> None:
    bad = text.replace("  redis:\n", "  cart:\n    owner: a/b\n    team: t\n  redis:\n")
    message = _error(bad)
    assert "services.cart: duplicate key" in message
    assert message.startswith(f"include/catalog.yaml:{_line_of(bad, 'owner: a/b') - 1}:")


def test_missing_required_key_and_bad_values_are_all_reported(text: str) -> None:
    bad = text.replace("    owner: acme-shop/search\n", "").replace(
        "memory: 8GiB", "memory: 8 gigs"
    )
    message = _error(bad)
    assert "services.search.owner: required key is missing" in message
    assert "services.postgres.slo.memory: expected a size such as 512MiB" in message


def test_unknown_placeholder_in_a_query_is_rejected(text: str) -> None:
    bad = text.replace(
        'service="${service}"}[5m]))\n      unit: req/s', 'svc="${svc}"}[5m]))\n      unit: req/s'
    )
    assert "defaults.signals.request_rate: Value error" not in _error(bad)
    assert "placeholder other than ${service}" in _error(bad)


def test_service_names_must_be_safe_inside_promql(text: str) -> None:
    bad = text.replace("  redis:\n", '  "re\\"dis":\n')
    assert "must be lowercase letters, digits and '-'" in _error(bad)


def test_invalid_yaml_reports_the_line() -> None:
    message = _error("version: 1\ndefaults:\n  step: [60s\nservices: {}\n")
    assert message.startswith("include/catalog.yaml:") and "invalid YAML" in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=str(tmp_path / "nope.yaml")):
        load_catalog(tmp_path / "nope.yaml")


def test_shards_group_services_without_losing_any() -> None:
    catalog = load_catalog(SHIPPED)
    shards = catalog.shards(5)
    assert [len(s) for s in shards] == [5, 5, 2]
    assert [s for shard in shards for s in shard] == catalog.service_names
