"""Right-sizing findings: what the team receiving the issue relies on, one behaviour per test,
on recommendations the real recommender made from small synthetic series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from aiops.findings.kinds import KINDS
from aiops.findings.model import Finding, Safety
from aiops.rightsizing import ContainerUsage, Recommendation, Recommender, RightsizingConfig
from aiops.rightsizing.findings import (
    RIGHTSIZING,
    helm_values,
    kubernetes_patch,
    moved,
    rightsizing_finding,
    rightsizing_findings,
)
from aiops.rightsizing.quantities import (
    bytes_from_quantity,
    cores_from_quantity,
    cpu_quantity,
    memory_quantity,
)

MIB = 2**20
GIB = 2**30
START = "2026-10-05"  # a Monday
# 333.9 MiB x 1.15 headroom rounds up to 384 MiB
MEMORY_FOR_384MI = 333.9 * MIB


def recommend(
    cpu: float = 0.12,
    memory: float = MEMORY_FOR_384MI,
    key: str = "cartservice/server",
    days: int = 21,
    cpu_limit: float | None = None,
    throttled: float = 0.0,
    **knobs,
) -> Recommendation:
    """The real recommender on a flat 5-minute series, current requests 500m and 1Gi."""
    index = pd.date_range(START, periods=days * 288, freq="5min", tz="UTC")
    usage = pd.DataFrame(
        {"cpu": np.full(len(index), cpu), "memory": memory, "throttled": throttled}, index=index
    )
    container = ContainerUsage(
        key, usage, cpu_request=0.5, cpu_limit=cpu_limit, memory_request=GIB, memory_limit=GIB
    )
    # the numbers below assume the per-container CPU rule and a fixed 15% memory headroom
    seasonal = {"risk_budget": None, "memory_headroom": 0.15, "memory_spread": None}
    return Recommender(RightsizingConfig(**{**seasonal, **knobs})).fit([container]).recommend()[0]


def throttled_at_limit(**knobs) -> Recommendation:
    """Pinned at its 0.5-core limit and throttled: the recommender advises on the limit."""
    return recommend(cpu=0.5, cpu_limit=0.5, throttled=0.3, **knobs)


def test_the_title_names_the_container_and_the_change() -> None:
    finding = rightsizing_finding(recommend())
    assert finding.title == "cartservice/server: CPU request 500m -> 120m, memory 1Gi -> 384Mi"
    assert (finding.kind, finding.source) == ("rightsizing", "rightsizing")
    assert (finding.service, finding.operation) == ("cartservice", "server")


def test_the_patch_is_kubernetes_yaml_carrying_the_recommended_numbers() -> None:
    rec = recommend()
    finding = rightsizing_finding(rec)
    doc = yaml.safe_load(finding.evidence.numbers["kubernetes_patch"])
    assert finding.evidence.numbers["kubernetes_patch"] == kubernetes_patch(rec)
    [container] = doc["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "server"  # a strategic merge patch merges containers by name
    resources = container["resources"]
    assert cores_from_quantity(resources["requests"]["cpu"]) == rec.cpu_request_cores
    assert bytes_from_quantity(resources["requests"]["memory"]) == rec.memory_request_bytes
    assert bytes_from_quantity(resources["limits"]["memory"]) == rec.memory_limit_bytes
    assert resources == {
        "requests": {"cpu": "120m", "memory": "384Mi"},
        "limits": {"memory": "384Mi"},  # no advice: the CPU limit is left as it is
    }


def test_a_throttled_container_gets_its_cpu_limit_removed_or_raised() -> None:
    removed = throttled_at_limit()
    assert removed.cpu_limit_advice is not None and removed.cpu_limit_advice.action == "remove"
    doc = yaml.safe_load(kubernetes_patch(removed))
    limits = doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert "cpu" in limits and limits["cpu"] is None  # null deletes the key in a merge patch
    assert rightsizing_finding(removed).title.endswith("; remove the CPU limit")

    raised = throttled_at_limit(cpu_limit_policy="raise", cpu_limit_raise=2.0)
    doc = yaml.safe_load(kubernetes_patch(raised))
    limits = doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert cores_from_quantity(limits["cpu"]) == raised.cpu_limit_advice.suggested_limit_cores
    assert limits["cpu"] == "1000m"
    assert rightsizing_finding(raised).title.endswith("; CPU limit 500m -> 1000m")


def test_the_helm_values_hold_the_same_resources_under_the_values_path() -> None:
    rec = throttled_at_limit()
    patch = yaml.safe_load(kubernetes_patch(rec))
    resources = patch["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert yaml.safe_load(helm_values(rec)) == {"server": {"resources": resources}}
    nested = yaml.safe_load(helm_values(rec, "cart.server"))
    assert nested == {"cart": {"server": {"resources": resources}}}
    assert yaml.safe_load(helm_values(rec, "")) == {"resources": resources}
    finding = rightsizing_finding(rec, values_path="cart.server")
    assert yaml.safe_load(finding.evidence.numbers["helm_values"]) == nested
    with pytest.raises(ValueError, match="'cart..server'"):
        helm_values(rec, "cart..server")


def test_the_evidence_table_holds_the_window_risk_and_saving() -> None:
    rec = recommend()
    numbers = rightsizing_finding(rec).evidence.numbers
    assert numbers["window"].startswith("2026-10-05T00:00:00+00:00 to 2026-10-26T00:00:00")
    assert numbers["peak_bucket"].endswith("(hour of week)")
    assert numbers["cpu_p95"] == "120m" and numbers["cpu_growth"] == 1.0
    assert numbers["share_of_samples_above_cpu_request"] == 0.0
    assert numbers["oom_kills"] == 0 and numbers["share_of_samples_missing"] == 0.0
    assert numbers["saving_cores"] == pytest.approx(0.38)
    assert numbers["saving_gib"] == pytest.approx(0.625)
    assert numbers["saving_per_month"] == f"${rec.saving_per_month:,.2f}"
    throttled = rightsizing_finding(throttled_at_limit()).evidence.numbers
    assert throttled["share_of_samples_throttled_near_limit"] == 1.0


def test_the_fingerprint_ignores_the_numbers_but_not_the_container() -> None:
    base = rightsizing_finding(recommend()).fingerprint
    assert rightsizing_finding(recommend(cpu=0.125)).fingerprint == base  # a little
    assert rightsizing_finding(recommend(cpu=0.9, memory=900 * MIB)).fingerprint == base  # a lot
    assert rightsizing_finding(throttled_at_limit()).fingerprint == base
    other = rightsizing_finding(recommend(key="cartservice/envoy")).fingerprint
    assert other != base


def test_the_namespace_is_part_of_the_fingerprint_and_of_the_kubectl_command() -> None:
    base = rightsizing_finding(recommend())
    prod = rightsizing_finding(recommend(), namespace="prod")
    staging = rightsizing_finding(recommend(), namespace="staging")
    assert len({base.fingerprint, prod.fingerprint, staging.fingerprint}) == 3
    assert "kubectl patch deployment/cartservice -n prod --patch-file" in prod.suggestion
    assert prod.evidence.numbers["container"] == "prod/cartservice/server"


def test_the_suggestion_says_why_the_request_and_what_usage_hides() -> None:
    flat = rightsizing_finding(recommend()).suggestion
    assert "busiest hour" in flat and "throttled" not in flat and "leak" not in flat
    fleet = rightsizing_finding(recommend(risk_budget=0.05)).suggestion
    assert "fleet risk budget 5.0%" in fleet
    pinned = rightsizing_finding(throttled_at_limit()).suggestion
    assert "throttled at its limit in 100.0% of samples" in pinned
    index = pd.date_range(START, periods=21 * 288, freq="5min", tz="UTC")
    leaking = np.linspace(300 * MIB, 600 * MIB, len(index))
    usage = pd.DataFrame({"cpu": 0.12, "memory": leaking}, index=index)
    rec = Recommender().fit([ContainerUsage("cart/cart", usage)]).recommend()[0]
    assert "fix the leak rather than feed it" in rightsizing_finding(rec).suggestion


def test_a_comment_is_worth_it_only_when_the_numbers_move_past_the_threshold() -> None:
    base = rightsizing_finding(recommend()).to_json()
    little = rightsizing_finding(recommend(cpu=0.13)).to_json()  # 120m -> 130m: 8%
    lot = rightsizing_finding(recommend(cpu=0.2)).to_json()  # 120m -> 200m: 67%
    memory = rightsizing_finding(recommend(memory=600 * MIB)).to_json()
    limit = rightsizing_finding(throttled_at_limit()).to_json()
    assert not moved(base, base)
    assert not moved(base, little)
    assert moved(base, little, threshold=0.05)
    assert moved(base, lot) and moved(lot, base)
    assert moved(base, memory)
    assert moved(base, limit)  # the CPU-limit advice appeared
    # the evidence alone (what a stored finding holds) is enough to decide
    assert moved(base["evidence"]["numbers"], lot["evidence"]["numbers"])
    # a stored finding of an older format, without the numbers: one comment brings it up to date
    assert moved({"kind": "rightsizing", "evidence": {"numbers": {}}}, base)
    with pytest.raises(ValueError, match="'n_plus_one'"):
        moved({**base, "kind": "n_plus_one"}, base)


def test_a_right_sizing_change_requires_approval() -> None:
    finding = rightsizing_finding(recommend())
    assert finding.safety == Safety.REQUIRES_APPROVAL
    assert finding.to_json()["safety"] == "REQUIRES_APPROVAL"


def test_the_finding_round_trips_through_json_as_the_store_keeps_it() -> None:
    finding = rightsizing_finding(throttled_at_limit())
    again = Finding.from_json(finding.to_json())
    assert again == finding and again.fingerprint == finding.fingerprint
    assert KINDS.get("rightsizing") is RIGHTSIZING


def test_only_the_recommendations_worth_an_issue_become_findings() -> None:
    small = recommend(cpu=0.45, memory=800 * MIB)  # 500m -> 450m, 1Gi -> 920Mi: under 20%
    big = recommend(key="cartservice/envoy")
    throttled = throttled_at_limit()
    kept = rightsizing_findings([small, big, throttled], values_paths={big.key: "envoy"})
    assert [f.operation for f in kept] == ["envoy", "server"]
    assert yaml.safe_load(kept[0].evidence.numbers["helm_values"]).keys() == {"envoy"}


@pytest.mark.parametrize(
    ("cores", "quantity"),
    [(0.1205, "121m"), (0.12, "120m"), (0.0001, "1m"), (1.0, "1000m"), (2.5, "2500m")],
)
def test_cpu_is_written_in_millicores_rounded_up(cores: float, quantity: str) -> None:
    assert cpu_quantity(cores) == quantity


@pytest.mark.parametrize(
    ("nbytes", "quantity"),
    [
        (402653184, "384Mi"),
        (GIB, "1Gi"),
        (2 * GIB, "2Gi"),
        (1.5 * GIB, "1536Mi"),
        (GIB + 1, "1025Mi"),  # rounded up, never down
    ],
)
def test_memory_is_written_in_mi_or_exact_gi(nbytes: float, quantity: str) -> None:
    assert memory_quantity(nbytes) == quantity


def test_kubernetes_quantities_read_back() -> None:
    assert cores_from_quantity("120m") == 0.12
    assert cores_from_quantity("2") == 2.0
    assert bytes_from_quantity("384Mi") == 402653184
    assert bytes_from_quantity("1Gi") == GIB
    assert bytes_from_quantity("1G") == 1e9
    with pytest.raises(ValueError, match="'12 cores'"):
        cores_from_quantity("12 cores")
    with pytest.raises(ValueError, match="'lots'"):
        bytes_from_quantity("lots")
    with pytest.raises(ValueError, match="got -1"):
        cpu_quantity(-1)


def test_the_issue_shows_the_patch_and_helm_values_as_yaml_blocks_that_parse() -> None:
    import re
    from datetime import UTC, datetime

    from aiops.sinks.render import render_issue

    rec = throttled_at_limit()
    day = (datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC))
    body = render_issue(rightsizing_finding(rec), repository="acme/shop", interval=day).body
    blocks = re.findall(r"```yaml\n(.*?)\n```", body, flags=re.DOTALL)
    assert [yaml.safe_load(b) for b in blocks] == [
        yaml.safe_load(kubernetes_patch(rec)),
        yaml.safe_load(helm_values(rec)),
    ]
    assert (
        yaml.safe_load(blocks[0])["spec"]["template"]["spec"]["containers"][0]["resources"][
            "limits"
        ]["cpu"]
        is None
    )  # the limit the advice removes
    evidence = body.split("## Evidence")[1].split("## ")[0]
    assert "apiVersion" not in evidence and "template" not in evidence  # not in a table cell
    assert "6,048 usage samples" in body  # 21 days at 5 minutes, in its own units
    assert "sampled requests" not in body and "## Example traces" not in body
