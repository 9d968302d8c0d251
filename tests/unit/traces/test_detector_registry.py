"""A trace detector is one registered entry: its class, the kinds of finding it emits with
their label and why sentence, and the settings it reads. Registering one is all it takes for
the analysis to run it and for its issue to name and explain what it found; forgetting the
words fails where the detector is declared, not in a rendered issue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields, replace

import pytest

from aiops.findings.kinds import KINDS, FindingKind, UnknownKindError
from aiops.findings.model import Effort, Evidence, Finding, Impact, kind_label
from aiops.sinks.render import render_issue
from aiops.traces.analyze import analyze_traces
from aiops.traces.detectors import BUILT_IN, DETECTORS
from aiops.traces.view import AnalysisConfig, DetectorSpec, FindingContext, TraceView
from support.findings import DAY
from support.trace_builder import TraceBuilder

SLOW_ENTRY = FindingKind(
    "slow_entry",
    label="slow entry point",
    why="Every request through it waits this long before anything else can help.",
)


class SlowEntry:
    """A toy detector: entry operations whose requests take 150 ms or more."""

    emits = SLOW_ENTRY.name

    def __init__(self, config: AnalysisConfig) -> None:
        self.min_traces = config.min_traces
        self.slow: dict[tuple[str, str], list[tuple[float, str]]] = {}

    def add(self, view: TraceView) -> None:
        if view.trace_ms >= 150:
            key = (view.entry.service, view.entry.operation)
            self.slow.setdefault(key, []).append((view.trace_ms, view.trace_id))

    def findings(self, ctx: FindingContext) -> list[Finding]:
        out = []
        for (service, operation), rows in sorted(self.slow.items()):
            if len(rows) < self.min_traces:
                continue
            mean = sum(ms for ms, _ in rows) / len(rows)
            examples = tuple(sorted(trace_id for _, trace_id in rows))[:3]
            out.append(
                Finding(
                    source="traces",
                    kind=self.emits,
                    service=service,
                    operation=operation,
                    title=f"Slow entry: {service} {operation} takes {mean:.0f} ms",
                    impact=Impact(ms_per_request=mean, requests_affected=len(rows)),
                    evidence=Evidence({"slow_requests": len(rows)}, examples, ctx.links(examples)),
                    suggestion="Find what it waits for on its critical path.",
                    expected_improvement="faster requests",
                    action="code_change",
                    effort=Effort.MEDIUM,
                    confidence=0.5,
                )
            )
        return out


class Mislabelled(SlowEntry):
    """Declares slow_entry but emits a kind nobody registered."""

    emits = "slow_entry_typo"


def _traces() -> list[dict]:
    """Four slow requests to GET /slow and four fast ones to GET /fast."""
    out = []
    for i in range(8):
        slow = i % 2 == 0
        tb = TraceBuilder(f"s{i:031x}", start_us=1_761_800_000_000_000 + i * 60_000_000)
        root = tb.span("gateway", "GET /slow" if slow else "GET /fast", 0, 200 if slow else 20,
                       kind="server")  # fmt: skip
        tb.call(root, "gateway", "catalog", "GET /items", 1, 180 if slow else 15)
        out.append(tb.to_json())
    return out


@pytest.fixture
def register() -> Iterator[Callable[[DetectorSpec], DetectorSpec]]:
    """Registers specs for one test and removes whatever is still registered afterwards, so
    the other tests see the built-in detectors and kinds only."""
    added: list[str] = []

    def add(spec: DetectorSpec) -> DetectorSpec:
        DETECTORS.register(spec)
        added.append(spec.name)
        return spec

    yield add
    registered = {spec.name for spec in DETECTORS.specs()}
    for name in added:
        if name in registered:
            DETECTORS.unregister(name)
    assert DETECTORS.specs() == BUILT_IN


def test_a_registered_detector_runs_and_its_issue_names_and_explains_its_finding(register):
    register(DetectorSpec("slow_entry", SlowEntry, kinds=(SLOW_ENTRY,), knobs=("min_traces",)))
    analysis = analyze_traces(_traces(), link=lambda t: f"http://jaeger:16686/trace/{t}")

    found = [f for f in analysis.findings if f.kind == "slow_entry"]
    assert [(f.service, f.operation, f.impact.requests_affected) for f in found] == [
        ("gateway", "GET /slow", 4)
    ]
    assert analysis.summary()["findings_by_kind"]["slow_entry"] == 1
    assert kind_label("slow_entry") == "slow entry point"

    issue = render_issue(found[0], repository="acme-shop/gateway", interval=DAY)
    summary = issue.body.split("\n\n", 1)[0]
    # the why sentence follows the title, before how much it was seen
    assert summary == (
        "**Slow entry: gateway GET /slow takes 200 ms.** Every request through it waits this "
        "long before anything else can help. On 2025-10-30 (UTC) it was seen in 4 sampled "
        "requests, costing each of them 200.0 ms on average."
    )
    assert "- **Detector:** `slow_entry` (slow entry point)" in issue.body
    assert issue.labels == ("aiops", "aiops:slow_entry")


def test_an_unregistered_detector_stops_running_and_its_kind_cannot_be_rendered(register):
    spec = register(DetectorSpec("slow_entry", SlowEntry, kinds=(SLOW_ENTRY,)))
    (finding,) = [f for f in analyze_traces(_traces()).findings if f.kind == "slow_entry"]
    DETECTORS.unregister(spec.name)

    assert "slow_entry" not in analyze_traces(_traces()).summary()["findings_by_kind"]
    with pytest.raises(UnknownKindError, match="'slow_entry' is not registered"):
        kind_label("slow_entry")
    with pytest.raises(UnknownKindError, match="'slow_entry' is not registered"):
        render_issue(finding, repository="acme-shop/gateway", interval=DAY)


@pytest.mark.parametrize(
    ("words", "error"),
    [
        ({"label": "", "why": "It matters."}, "'slow_entry': label must be one line of text"),
        ({"label": "  ", "why": "It matters."}, "'slow_entry': label must be one line of text"),
        ({"label": "slow", "why": ""}, "'slow_entry': why must be one line of text"),
        ({"label": "slow", "why": "It\nmatters."}, "'slow_entry': why must be one line of text"),
        ({"label": "slow", "why": "it matters"}, "'slow_entry': why must be a sentence"),
    ],
)
def test_a_kind_without_its_label_or_why_fails_where_it_is_declared(words, error) -> None:
    with pytest.raises(ValueError, match=error):
        FindingKind("slow_entry", **words)
    assert "slow_entry" not in KINDS


def test_a_detector_must_declare_its_kinds_as_finding_kinds_and_read_real_settings() -> None:
    with pytest.raises(TypeError, match="why"):
        FindingKind("slow_entry", label="slow")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"'slow_entry': each kind must be FindingKind"):
        DetectorSpec("slow_entry", SlowEntry, kinds=("slow_entry",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'slow_entry': kinds must be a non-empty tuple"):
        DetectorSpec("slow_entry", SlowEntry, kinds=())
    with pytest.raises(ValueError, match="knob 'min_trace' is not an AnalysisConfig setting"):
        DetectorSpec("slow_entry", SlowEntry, kinds=(SLOW_ENTRY,), knobs=("min_trace",))


def test_a_detector_emitting_a_kind_it_did_not_declare_fails_the_analysis(register) -> None:
    register(DetectorSpec("mislabelled", Mislabelled, kinds=(SLOW_ENTRY,)))
    with pytest.raises(
        ValueError, match="'mislabelled' emitted a finding of kind 'slow_entry_typo'"
    ):
        analyze_traces(_traces())


def test_a_kind_has_one_owner_and_a_refused_detector_registers_nothing(register) -> None:
    n_plus_one = FindingKind("n_plus_one", label="N+1", why="Round trips add up.")
    with pytest.raises(
        ValueError, match="'n_plus_one' is already emitted by detector 'n_plus_one'"
    ):
        register(DetectorSpec("loops", SlowEntry, kinds=(SLOW_ENTRY, n_plus_one)))
    incident = FindingKind("incident", label="incident", why="One cause.")
    with pytest.raises(ValueError, match="'incident' is already registered by another source"):
        register(DetectorSpec("incidents", SlowEntry, kinds=(SLOW_ENTRY, incident)))
    assert "slow_entry" not in KINDS
    assert kind_label("n_plus_one") == "N+1" and kind_label("incident") == "incident"
    register(DetectorSpec("slow_entry", SlowEntry, kinds=(SLOW_ENTRY,)))
    with pytest.raises(ValueError, match="detector 'slow_entry' is already registered"):
        register(DetectorSpec("slow_entry", SlowEntry, kinds=(replace(SLOW_ENTRY, name="other"),)))


def test_the_built_in_detectors_run_in_order_and_own_every_analysis_setting() -> None:
    assert [spec.name for spec in DETECTORS.specs()] == [
        "n_plus_one", "sequential_calls", "fan_out", "chatty_pair", "critical_path_hotspot",
        "error_hotspot", "single_point_of_failure", "dependency_cycle",
    ]  # fmt: skip
    # a new threshold in AnalysisConfig is declared by the detector that reads it
    knobs = {knob for spec in DETECTORS.specs() for knob in spec.knobs}
    assert knobs == {f.name for f in fields(AnalysisConfig)}
    for spec in DETECTORS.specs():
        for kind in spec.kinds:
            assert KINDS.get(kind.name) is kind
            assert kind_label(kind.name) == kind.label
