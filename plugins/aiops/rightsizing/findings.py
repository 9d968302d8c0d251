"""Right-sizing recommendations as findings: one issue per container, with the patch to apply.

A `Recommendation` for "workload/container" becomes a `Finding` of kind ``rightsizing`` whose
service is the workload (the team that owns its manifests owns the fix) and whose operation
is the container. The finding carries, in its evidence:

- the change in Kubernetes quantities: CPU in millicores ("120m", rounded up, since a
  request rounded down is a request the peak does not fit in), memory in whole MiB ("384Mi",
  "1Gi" when exact), the same resolution the recommender works at, so nothing is lost;
- ``kubernetes_patch``: a strategic merge patch for the workload's pod template (containers
  merge by name), holding the container's ``resources:`` block; ``kubectl patch
  deployment/cartservice --patch-file patch.yaml`` applies it as is. A CPU limit the advice
  removes is ``cpu: null`` (a merge patch deletes a key set to null); one it raises is the
  new value; without advice the CPU limit is not mentioned, so it stays as it is;
- ``helm_values``: the same ``resources:`` block under a values path (default: the container
  name), for charts that own the manifest. Helm also deletes a default set to null;
- the evidence table: window, peak bucket, CPU quantiles, growth, risk, OOM kills,
  throttling, missing data, and the saving in cores, GiB and money per month.

The safety class is REQUIRES_APPROVAL (action ``config_change``): requests decide where pods
are scheduled and when they are evicted, so a person merges the change.

Deduplication. The fingerprint is (source, kind, workload, container, namespace), no number: so
tomorrow's run with a request of 118m instead of 120m finds the same issue. The filing rules
(aiops.sinks.filing) comment at most once a day on an open issue, and for this kind only when
`moved(old, new, threshold)` (its ``worth_telling``) says the numbers moved against the
finding the issue was last told: True when a recommended or current value (CPU request,
memory, CPU limit) moved by more than ``threshold`` relative to the old one, or the CPU-limit
advice changed. It reads the quantities back from the findings' evidence
(``Finding.to_json()`` as the store keeps it, or its ``evidence.numbers``), so a stored
finding is enough to decide.

`rightsizing_findings` keeps the recommendations worth an issue by the same rule: a change
against the current requests above ``min_change``, any CPU-limit advice, or current requests
that are not known (a container without requests is scheduled as if it needed nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

from aiops.findings.kinds import KINDS, FindingKind
from aiops.findings.model import Effort, Evidence, Finding, Impact
from aiops.rightsizing.quantities import (
    bytes_from_quantity,
    cores_from_quantity,
    cpu_quantity,
    memory_quantity,
)
from aiops.rightsizing.recommend import Recommendation

SOURCE = "rightsizing"
UNKNOWN = "unknown"  # a current value the recommendation does not know (None)
REMOVE = "remove"  # the recommended CPU limit when the advice is to remove it
UNCHANGED = "unchanged"  # the recommended CPU limit when there is no advice
FULL_CONFIDENCE_DAYS = 14.0  # two weekly cycles: a weekly peak seen twice
GROWING = 1.1  # memory growth from which the suggestion asks whether it is a leak
#: evidence keys `moved` compares, as quantities; the CPU limit is compared on its own
COMPARED = {
    "cpu_request_recommended": "cpu",
    "memory_recommended": "memory",
    "cpu_request_now": "cpu",
    "memory_now": "memory",
}


def workload_and_container(key: str) -> tuple[str, str]:
    """("cartservice", "server") from a recommendation's key "cartservice/server"."""
    workload, sep, container = key.partition("/")
    if not sep or not workload or not container or "/" in container:
        raise ValueError(f"recommendation key: expected 'workload/container', got {key!r}")
    return workload, container


# --- the patch ------------------------------------------------------------------------------


def resources_block(rec: Recommendation) -> dict[str, dict[str, str | None]]:
    """The container's `resources:` mapping: requests (CPU, memory), limits (memory = its
    request; CPU null to remove it, the new value to raise it, absent to leave it)."""
    memory = memory_quantity(rec.memory_limit_bytes)
    limits: dict[str, str | None] = {}
    advice = rec.cpu_limit_advice
    if advice is not None:
        if advice.action == "remove" or advice.suggested_limit_cores is None:
            limits["cpu"] = None
        else:
            limits["cpu"] = cpu_quantity(advice.suggested_limit_cores)
    limits["memory"] = memory
    return {
        "requests": {
            "cpu": cpu_quantity(rec.cpu_request_cores),
            "memory": memory_quantity(rec.memory_request_bytes),
        },
        "limits": limits,
    }


def kubernetes_patch(rec: Recommendation) -> str:
    """A strategic merge patch (YAML) for the workload's pod template setting the container's
    resources: `kubectl patch deployment/<workload> --patch-file <it>` applies it, for a
    Deployment, StatefulSet or DaemonSet alike (containers merge by name)."""
    _, container = workload_and_container(rec.key)
    doc = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": container, "resources": resources_block(rec)}]}
            }
        }
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def helm_values(rec: Recommendation, values_path: str | None = None) -> str:
    """The same `resources:` block as Helm values under ``values_path`` (dotted, e.g.
    "cart.server"; default the container name; "" for the top level of values.yaml)."""
    _, container = workload_and_container(rec.key)
    path = container if values_path is None else values_path
    parts = path.split(".") if path else []
    if any(not part.strip() for part in parts):
        raise ValueError(f"helm values path: expected dotted keys like 'cart.server', got {path!r}")
    doc: dict[str, Any] = {"resources": resources_block(rec)}
    for part in reversed(parts):
        doc = {part: doc}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


# --- the finding ----------------------------------------------------------------------------


def rightsizing_finding(
    rec: Recommendation,
    *,
    values_path: str | None = None,
    workload_kind: str = "deployment",
    currency: str = "$",
    namespace: str | None = None,
) -> Finding:
    """The `rightsizing` finding for one recommendation: title, patch, Helm values, evidence
    and saving; ``values_path`` is where the chart keeps this container's values (default
    its name), ``workload_kind`` names the workload in the `kubectl patch` command,
    ``currency`` prefixes the monthly saving (the recommender's prices are in it), and
    ``namespace`` is the workload's (part of the fingerprint: "cart" in staging and in
    production are two issues)."""
    workload, container = workload_and_container(rec.key)
    ev = rec.evidence
    cpu_new, mem_new = cpu_quantity(rec.cpu_request_cores), memory_quantity(rec.memory_limit_bytes)
    cpu_now = _opt_quantity(rec.current_cpu_request_cores, cpu_quantity)
    mem_now = _opt_quantity(rec.current_memory_request_bytes, memory_quantity)
    advice = rec.cpu_limit_advice
    limit_now = None if advice is None else advice.current_limit_cores
    # the recommendation knows the current CPU limit only with advice: without, no row
    limit_now_text = "" if advice is None else _was(_opt_quantity(limit_now, cpu_quantity))
    limit_new = UNCHANGED
    if advice is not None:
        limit_new = (
            REMOVE
            if advice.action == "remove" or advice.suggested_limit_cores is None
            else cpu_quantity(advice.suggested_limit_cores)
        )
    title = (
        f"{rec.key}: CPU request {_was(cpu_now)} -> {cpu_new}, memory {_was(mem_now)} -> {mem_new}"
    )
    if limit_new == REMOVE:
        title += "; remove the CPU limit"
    elif limit_new != UNCHANGED:
        title += f"; CPU limit {limit_now_text} -> {limit_new}"
    path = container if values_path is None else values_path
    patch, values = kubernetes_patch(rec), helm_values(rec, values_path)
    numbers: dict[str, float | int | str] = {
        "container": rec.key if namespace is None else f"{namespace}/{rec.key}",
        "cpu_request_now": cpu_now or UNKNOWN,
        "cpu_request_recommended": cpu_new,
        "memory_now": mem_now or UNKNOWN,
        "memory_recommended": mem_new,  # request = limit
        "cpu_limit_now": limit_now_text,
        "cpu_limit_recommended": limit_new,
        "cpu_rule": ev.cpu_rule,  # the fleet's risk budget, or the seasonal peak
        "window": f"{ev.window_start} to {ev.window_end} ({ev.days:.1f} days)",
        "step": f"{ev.step_seconds / 60:g} min",
        "samples": ev.samples,
        "peak_bucket": f"{ev.peak_bucket} ({ev.bucketing.replace('_', ' ')})",
        "cpu_at_peak_bucket": cpu_quantity(ev.peak_quantile_cores),
        "cpu_p50": cpu_quantity(ev.cpu_p50_cores),
        "cpu_p95": cpu_quantity(ev.cpu_p95_cores),
        "cpu_max": cpu_quantity(ev.cpu_max_cores),
        "cpu_growth": round(ev.cpu_growth, 4),
        "cpu_trend_days": ev.cpu_trend_days,
        "memory_peak": memory_quantity(ev.memory_peak_bytes),
        "memory_growth": round(ev.memory_growth, 4),
        "share_of_samples_above_cpu_request": round(rec.risk, 4),
        "share_of_samples_above_memory_limit": round(rec.memory_risk, 4),
        "oom_kills": ev.oom_kills,
        "share_of_samples_throttled_near_limit": (
            "no CPU-limit advice" if advice is None else round(advice.throttled_share, 4)
        ),
        "cpu_limit_reason": "" if advice is None else advice.reason,
        "share_of_samples_missing": round(ev.missing_share, 4),
        "longest_gap": f"{ev.longest_gap_minutes:g} min",
        "saving_cores": "unknown" if rec.saving_cores is None else round(rec.saving_cores, 3),
        "saving_gib": "unknown" if rec.saving_gib is None else round(rec.saving_gib, 3),
        "saving_per_month": _money(rec.saving_per_month, currency),
        "kubernetes_patch": patch,
        "helm_values_path": path or "(top level)",
        "helm_values": values,
    }
    limit_text = {REMOVE: ", and remove its CPU limit", UNCHANGED: ""}.get(
        limit_new, f", and raise its CPU limit to `{limit_new}`"
    )
    in_namespace = "" if namespace is None else f" -n {namespace}"
    suggestion = (
        f"Set `{container}` in {workload_kind} `{workload}` to a CPU request of `{cpu_new}` "
        f"and a memory request and limit of `{mem_new}`{limit_text}: apply the Kubernetes patch "
        f"in the evidence with `kubectl patch {workload_kind}/{workload}{in_namespace} --patch-file "
        f"<patch.yaml>` (a strategic merge patch: containers merge by name, and `cpu: null` "
        f"removes a limit), or, if a chart owns the manifest, set the Helm values in the "
        f"evidence under `{path or '(top level)'}`. {_cpu_reason(rec)}"
    )
    return Finding(
        source=SOURCE,
        kind=RIGHTSIZING.name,
        service=workload,
        operation=container,
        title=title,
        impact=Impact(ms_per_request=0.0, requests_affected=0),
        evidence=Evidence(numbers),
        suggestion=suggestion,
        expected_improvement=_improvement(rec, currency),
        action="config_change",
        effort=Effort.LOW,
        confidence=round((1.0 - ev.missing_share) * min(1.0, ev.days / FULL_CONFIDENCE_DAYS), 3),
        key={} if namespace is None else {"namespace": namespace},
    )


def rightsizing_findings(
    recommendations: Iterable[Recommendation],
    *,
    values_paths: Mapping[str, str] | None = None,
    min_change: float = 0.2,
    workload_kind: str = "deployment",
    currency: str = "$",
    namespace: str | None = None,
) -> list[Finding]:
    """Findings for the recommendations worth an issue (see the module doc: a change above
    ``min_change`` relative to the current request, CPU-limit advice, or unknown current
    requests); ``values_paths`` maps a key "workload/container" to its Helm values path."""
    paths = dict(values_paths or {})
    out = []
    for rec in recommendations:
        worth = (
            rec.cpu_limit_advice is not None
            or _changed(rec.current_cpu_request_cores, rec.cpu_request_cores, min_change)
            or _changed(rec.current_memory_request_bytes, rec.memory_limit_bytes, min_change)
        )
        if worth:
            out.append(
                rightsizing_finding(
                    rec,
                    values_path=paths.get(rec.key),
                    workload_kind=workload_kind,
                    currency=currency,
                    namespace=namespace,
                )
            )
    return out


def moved(old: dict[str, Any], new: dict[str, Any], threshold: float = 0.2) -> bool:
    """Whether a rightsizing finding's numbers moved enough to tell the open issue.

    ``old`` and ``new`` are `Finding.to_json()` documents (what the store keeps) or their
    ``evidence.numbers``. True when the recommended or current CPU request or memory moved by
    more than ``threshold`` relative to the old value (0.2: 20%), a value became known or
    unknown, the CPU-limit advice changed (keep, remove, raise) or a raised limit moved by
    more than ``threshold``; or when either side lacks one of those numbers (a finding from
    an older format): one comment brings the issue up to date. The sink uses it to skip the
    comment of a day whose numbers barely moved (the fingerprint, by design, does not)."""
    if not threshold >= 0:
        raise ValueError(f"moved: threshold must be >= 0, got {threshold!r}")
    a, b = _numbers(old), _numbers(new)
    for key, kind in COMPARED.items():
        if key not in a or key not in b:
            return True
        parse: Callable[[str], float] = (
            cores_from_quantity if kind == "cpu" else bytes_from_quantity
        )
        if _changed(_opt_parse(a[key], parse), _opt_parse(b[key], parse), threshold):
            return True
    limit_a, limit_b = a.get("cpu_limit_recommended"), b.get("cpu_limit_recommended")
    if limit_a is None or limit_b is None:
        return True
    fixed = (REMOVE, UNCHANGED)
    if limit_a in fixed or limit_b in fixed:
        return limit_a != limit_b
    return _changed(cores_from_quantity(limit_a), cores_from_quantity(limit_b), threshold)


#: The kind, registered after `moved`: its open issue hears again only when the numbers move.
RIGHTSIZING = KINDS.register(
    FindingKind(
        "rightsizing",
        label="right-sizing",
        why="Requests far above use hold nodes nobody uses, and requests below the peak get "
        "the container throttled or OOM-killed when traffic is highest.",
        worth_telling=moved,
    )
)


# --- helpers --------------------------------------------------------------------------------


def _numbers(doc: dict[str, Any]) -> dict[str, Any]:
    if "evidence" in doc:
        if doc.get("kind", RIGHTSIZING.name) != RIGHTSIZING.name:
            raise ValueError(f"moved: expected a {RIGHTSIZING.name!r} finding, got {doc['kind']!r}")
        return dict(doc["evidence"].get("numbers") or {})
    return doc


def _changed(old: float | None, new: float | None, threshold: float) -> bool:
    """More than ``threshold`` relative to ``old``; a value appearing or vanishing counts."""
    if old is None or new is None:
        return (old is None) != (new is None)
    if old == 0:
        return new != 0
    return abs(new - old) / abs(old) > threshold


def _opt_parse(value: Any, parse: Callable[[str], float]) -> float | None:
    return None if value == UNKNOWN else parse(value)


def _opt_quantity(value: float | None, fmt: Callable[[float], str]) -> str | None:
    return None if value is None else fmt(value)


def _was(quantity: str | None) -> str:
    return quantity or UNKNOWN


def _cpu_reason(rec: Recommendation) -> str:
    """Why the CPU request is what it is, in the words of the rule that chose it, and what
    the usage hides: demand above a throttling limit, memory that keeps growing."""
    ev, advice = rec.evidence, rec.cpu_limit_advice
    if ev.cpu_predicted_risk is not None:
        why = (
            f"The CPU request is this container's part of the {ev.cpu_rule} (the fewest cores "
            f"whose mean share of minutes above the request stays within it): "
            f"{ev.cpu_predicted_risk:.1%} of minutes predicted above, {rec.risk:.1%} of the "
            f"window's samples above."
        )
    else:
        why = (
            f"The CPU request holds the busiest hour ({ev.peak_bucket}) times a growth of "
            f"{ev.cpu_growth:.2f}; {rec.risk:.1%} of the window's samples used more."
        )
    if advice is not None and advice.throttled_share > 0 and advice.current_limit_cores:
        why += (
            f" It was throttled at its limit in {advice.throttled_share:.1%} of samples, so "
            "what it used there is a floor of what it needs: the request is at least the old "
            "limit, and once the limit is gone the next nights see the real demand."
        )
    if ev.memory_growth >= GROWING:
        why += (
            f" Its daily memory peaks grew {ev.memory_growth:.2f}x over the window, which the "
            "memory asked for includes: if that is a leak, fix the leak rather than feed it."
        )
    return why


def _money(amount: float | None, currency: str) -> str:
    if amount is None:
        return "unknown (current requests not known)"
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency}{abs(amount):,.2f}"


def _improvement(rec: Recommendation, currency: str) -> str:
    if rec.saving_cores is None and rec.saving_gib is None:
        return (
            "requests that match the measured peak where none are known now; the saving is "
            "unknown without the current requests"
        )
    parts = []
    for amount, unit in ((rec.saving_cores, "cores"), (rec.saving_gib, "GiB")):
        if amount is not None and round(amount, 3) != 0:
            parts.append(f"{abs(amount):.3g} {unit} {'fewer' if amount > 0 else 'more'}")
    money = rec.saving_per_month or 0.0
    verdict = "saved" if money >= 0 else "spent, to cover the peak"
    changed = " and ".join(parts) or "no change in"
    return f"{changed} requested: about {_money(abs(money), currency)} a month {verdict}"
