"""Detectors over the dependency map: single points of failure and dependency cycles.

They judge the whole window's map, not one trace, so their detectors keep nothing per trace:
`findings` reads the map the analysis builds from every trace anyway
(`FindingContext.dependencies`) instead of building a second copy. Each kind's label and why
sentence are declared above its function, its registration (`DetectorSpec`) below its
detector; see aiops.traces.detectors.
"""

from __future__ import annotations

from collections import Counter

from aiops.findings.kinds import FindingKind
from aiops.findings.model import Effort, Evidence, Finding, Impact
from aiops.traces import suggest
from aiops.traces.model import Edge
from aiops.traces.view import AnalysisConfig, DetectorSpec, FindingContext, TraceView

SOURCE = "traces"

SINGLE_POINT_OF_FAILURE = FindingKind(
    "single_point_of_failure",
    label="single point of failure",
    why="Its outage or slowdown spreads to every service that calls it.",
)


def single_points_of_failure(
    ctx: FindingContext,
    service_traces: Counter[str],
    service_weight: Counter[str],
    examples: dict[str, list[str]],
) -> list[Finding]:
    """A service many others call directly: when it fails, all of them do."""
    dependents: dict[str, list[Edge]] = {}
    for edge in ctx.edges:
        if edge.parent != edge.child and not edge.asynchronous:
            dependents.setdefault(edge.child, []).append(edge)
    out = []
    for service, edges in sorted(dependents.items()):
        callers = sorted({e.parent for e in edges})
        if len(callers) < ctx.config.spof_min_dependents:
            continue
        traces = service_traces.get(service, 0)
        share = traces / ctx.traces if ctx.traces else 0.0
        calls = sum(e.call_count for e in edges)
        errors = sum(e.error_count for e in edges)
        trace_ids = tuple(examples.get(service, ()))
        out.append(
            Finding(
                source=SOURCE,
                kind=SINGLE_POINT_OF_FAILURE.name,
                service=service,
                operation="",
                title=f"Single point of failure: {len(callers)} services depend on {service}, "
                f"{100 * share:.0f}% of requests pass through it",
                impact=Impact(
                    ms_per_request=0.0,
                    requests_affected=traces,
                    p95_share=None,
                    requests_per_day=(
                        None if ctx.per_day is None else service_weight[service] * ctx.per_day
                    ),
                ),
                evidence=Evidence(
                    {
                        "dependents": ", ".join(callers),
                        "dependent_count": len(callers),
                        "share_of_requests": round(share, 4),
                        "calls": calls,
                        "error_rate": round(errors / calls, 4) if calls else 0.0,
                        "instrumented": str(all(e.instrumented for e in edges)).lower(),
                    },
                    trace_ids,
                    ctx.links(trace_ids),
                ),
                suggestion=suggest.single_point_of_failure(service, callers),
                expected_improvement=f"a failure of {service} degrades {len(callers)} services "
                "instead of failing their requests",
                action="architecture_change",
                effort=Effort.HIGH,
                confidence=min(1.0, 0.5 + 0.1 * len(callers)),
                key={},
            )
        )
    return out


class SinglePointsOfFailure:
    """`single_points_of_failure` over the window's dependency map."""

    def __init__(self, config: AnalysisConfig) -> None:
        pass  # reads ctx.config.spof_min_dependents when judging

    def add(self, view: TraceView) -> None:
        pass  # the analysis adds every trace to the dependency map

    def findings(self, ctx: FindingContext) -> list[Finding]:
        deps = ctx.dependencies
        if deps is None:
            raise ValueError("single_point_of_failure: FindingContext.dependencies is needed")
        return single_points_of_failure(
            ctx, deps.service_traces, deps.service_weight, deps.service_examples
        )


SINGLE_POINT_OF_FAILURE_DETECTOR = DetectorSpec(
    "single_point_of_failure",
    SinglePointsOfFailure,
    kinds=(SINGLE_POINT_OF_FAILURE,),
    knobs=("spof_min_dependents",),
)

DEPENDENCY_CYCLE = FindingKind(
    "dependency_cycle",
    label="cycle",
    why="A slowdown or a retry storm in one of them feeds back into itself.",
)


def strongly_connected(edges: list[Edge]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; the components with more than one service, each
    sorted, in sorted order. Self-calls are not cycles between services."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.parent, [])
        graph.setdefault(edge.child, [])
        if edge.parent != edge.child:
            graph[edge.parent].append(edge.child)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def dependency_cycles(ctx: FindingContext) -> list[Finding]:
    out = []
    for component in strongly_connected(ctx.edges):
        members = set(component)
        inside = [e for e in ctx.edges if e.parent in members and e.child in members]
        calls = sum(e.call_count for e in inside)
        out.append(
            Finding(
                source=SOURCE,
                kind=DEPENDENCY_CYCLE.name,
                service=component[0],
                operation="",
                title=f"Dependency cycle: {' ↔ '.join(component)}",
                impact=Impact(ms_per_request=0.0, requests_affected=calls),
                evidence=Evidence(
                    {
                        "services": ", ".join(component),
                        "edges": ", ".join(f"{e.parent} -> {e.child}" for e in inside),
                        "calls": calls,
                    }
                ),
                suggestion=suggest.cycle(component),
                expected_improvement="no feedback loop between the services; each can be "
                "deployed, scaled and degraded on its own",
                action="architecture_change",
                effort=Effort.HIGH,
                confidence=0.9,
                key={"services": component},
            )
        )
    return out


class DependencyCycles:
    """`dependency_cycles` over the window's dependency map (its edges)."""

    def __init__(self, config: AnalysisConfig) -> None:
        pass

    def add(self, view: TraceView) -> None:
        pass  # the analysis adds every trace to the dependency map

    def findings(self, ctx: FindingContext) -> list[Finding]:
        return dependency_cycles(ctx)


DEPENDENCY_CYCLE_DETECTOR = DetectorSpec(
    "dependency_cycle", DependencyCycles, kinds=(DEPENDENCY_CYCLE,)
)
