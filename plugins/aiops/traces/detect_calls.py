"""Detectors over the calls one span makes: N+1, sequential calls, fan-out, chatty pairs.

Each detector's kind of finding (its label and why sentence) is declared just above its
class and its registration (`DetectorSpec`: the kinds and the settings it reads) just below;
aiops.traces.detectors lists the specs in the order the analysis runs them.
"""

from __future__ import annotations

from collections import Counter

from aiops.findings.kinds import FindingKind
from aiops.findings.model import Effort, Evidence, Finding
from aiops.traces import suggest
from aiops.traces.calls import Call
from aiops.traces.tally import Tally
from aiops.traces.view import (
    AnalysisConfig,
    DetectorSpec,
    FindingContext,
    TraceView,
    fmt_ms,
    fmt_share,
    ms,
)

SOURCE = "traces"


def _union(calls: list[Call]) -> int:
    """Microseconds covered by the calls (overlapping calls count once)."""
    covered, cur_lo, cur_hi = 0, None, None
    for call in sorted(calls, key=lambda c: c.start):
        if cur_hi is None or call.start > cur_hi:
            if cur_hi is not None:
                covered += cur_hi - cur_lo
            cur_lo, cur_hi = call.start, call.end
        elif call.end > cur_hi:
            cur_hi = call.end
    return covered + (cur_hi - cur_lo if cur_hi is not None else 0)


def _confidence(tally: Tally, traces_needed: int = 30, floor: float = 0.5) -> float:
    return min(1.0, floor + (1.0 - floor) * len(tally) / traces_needed)


def _evidence(tally: Tally, ctx: FindingContext, **numbers: float | int | str) -> Evidence:
    examples = tally.examples()
    return Evidence(numbers, examples, ctx.links(examples))


N_PLUS_ONE = FindingKind(
    "n_plus_one",
    label="N+1",
    why="Each item costs a round trip where one batched call would do.",
)


class NPlusOne:
    """The same statement or operation called k+ times under one parent span."""

    def __init__(self, config: AnalysisConfig) -> None:
        self.k = config.n_plus_one_min
        self.tallies: dict[tuple[str, str, str, str], Tally] = {}
        self.is_statement: dict[tuple[str, str, str, str], bool] = {}

    def add(self, view: TraceView) -> None:
        spans = view.trace.spans
        seen: dict[tuple[str, str, str, str], list[float]] = {}
        for i, calls in view.calls:
            if len(calls) < self.k:
                continue
            groups: dict[tuple[str, str], list[Call]] = {}
            for call in calls:
                if not call.asynchronous:
                    groups.setdefault((call.target, call.operation), []).append(call)
            for (target, operation), group in groups.items():
                if len(group) < self.k:
                    continue
                parent = spans[i]
                key = (parent.service, parent.operation, target, operation)
                self.is_statement[key] = bool(spans[group[0].span].statement)
                cost = _union(group)
                saving = cost - max(c.duration for c in group)
                acc = seen.setdefault(key, [0.0, 0.0, 0.0])
                acc[0] += cost
                acc[1] += saving
                acc[2] = max(acc[2], len(group))
        for key, (cost, saving, repeats) in seen.items():
            self.tallies.setdefault(key, Tally()).add_view(
                view, ms(cost), ms(saving), count=repeats
            )

    def findings(self, ctx: FindingContext) -> list[Finding]:
        out = []
        for (service, operation, target, callee_op), tally in sorted(self.tallies.items()):
            if len(tally) < ctx.config.min_traces:
                continue
            statement = self.is_statement[(service, operation, target, callee_op)]
            repeats = tally.quantile("counts", 0.5)
            impact = tally.impact(ctx.per_day)
            what = f"`{callee_op}`" if statement else f"{target} `{callee_op}`"
            out.append(
                Finding(
                    source=SOURCE,
                    kind=N_PLUS_ONE.name,
                    service=service,
                    operation=operation,
                    title=f"N+1: {service} {operation} calls {what} {repeats:.0f} times per request",
                    impact=impact,
                    evidence=_evidence(
                        tally,
                        ctx,
                        callee=target,
                        statement=callee_op if statement else "",
                        repeats_median=repeats,
                        repeats_max=int(max(tally.counts)),
                        time_in_loop_ms_p50=round(tally.quantile("cost_ms", 0.5), 3),
                        time_in_loop_ms_p95=round(tally.quantile("cost_ms", 0.95), 3),
                    ),
                    suggestion=suggest.n_plus_one(target, callee_op, statement, repeats),
                    expected_improvement=(
                        f"~{fmt_ms(tally.mean_saving())} per request ({repeats:.0f} round trips "
                        f"become 1); the loop is {fmt_share(impact.p95_share)} of the slowest "
                        "requests' time"
                    ),
                    expected_saving_ms=tally.mean_saving(),
                    action="code_change",
                    effort=Effort.LOW,
                    confidence=_confidence(tally),
                    key={"callee": target, "call": callee_op},
                )
            )
        return out


N_PLUS_ONE_DETECTOR = DetectorSpec(
    "n_plus_one", NPlusOne, kinds=(N_PLUS_ONE,), knobs=("n_plus_one_min", "min_traces")
)

SEQUENTIAL_CALLS = FindingKind(
    "sequential_calls",
    label="sequential calls",
    why="The request waits for their sum; run together, it waits for the slowest.",
)


class SequentialCalls:
    """Calls to different services, one after another, that could overlap.

    The first step of a span is left out (it is usually what the rest needs: authentication,
    loading the entity) and so is a final write (it usually uses what came before). What is
    left, when it is two or more services in a row, is proposed for concurrency, with the
    saving of running it in parallel: the sum of the calls minus the longest.
    """

    def __init__(self, config: AnalysisConfig) -> None:
        self.min_saving_ms = config.sequential_min_saving_ms
        self.min_share = config.sequential_min_share
        self.tallies: dict[tuple[str, str, tuple[str, ...]], Tally] = {}
        self.order: dict[tuple[str, str, tuple[str, ...]], Counter[tuple[str, ...]]] = {}

    def add(self, view: TraceView) -> None:
        spans = view.trace.spans
        seen: dict[tuple[str, str, tuple[str, ...]], list[float]] = {}
        for i, calls in view.calls:
            sync = [c for c in calls if not c.asynchronous]
            if len(sync) < 3:
                continue
            parent = spans[i]
            for run in _sequential_runs(sync):
                targets = tuple(dict.fromkeys(c.target for c in run))
                if len(targets) < 2 or "" in targets:
                    continue
                durations = [c.duration for c in run]
                cost, saving = sum(durations), sum(durations) - max(durations)
                if ms(saving) < self.min_saving_ms or saving < self.min_share * parent.duration:
                    continue
                key = (parent.service, parent.operation, tuple(sorted(targets)))
                self.order.setdefault(key, Counter())[targets] += 1
                acc = seen.setdefault(key, [0.0, 0.0])
                acc[0] += cost
                acc[1] += saving
        for key, (cost, saving) in seen.items():
            self.tallies.setdefault(key, Tally()).add_view(view, ms(cost), ms(saving))

    def findings(self, ctx: FindingContext) -> list[Finding]:
        out = []
        for (service, operation, targets), tally in sorted(self.tallies.items()):
            if len(tally) < ctx.config.min_traces:
                continue
            ordered = self.order[(service, operation, targets)].most_common(1)[0][0]
            impact = tally.impact(ctx.per_day)
            chain = " → ".join(ordered)
            out.append(
                Finding(
                    source=SOURCE,
                    kind=SEQUENTIAL_CALLS.name,
                    service=service,
                    operation=operation,
                    title=f"Sequential calls: {service} {operation} waits for {chain} one after "
                    "another",
                    impact=impact,
                    evidence=_evidence(
                        tally,
                        ctx,
                        callees=", ".join(ordered),
                        sequential_ms_p50=round(tally.quantile("cost_ms", 0.5), 3),
                        saving_ms_p50=round(tally.quantile("saving_ms", 0.5), 3),
                        share_of_traces_in_order=round(
                            self.order[(service, operation, targets)][ordered] / len(tally), 3
                        ),
                    ),
                    suggestion=suggest.sequential(service, operation, ordered),
                    expected_improvement=(
                        f"~{fmt_ms(tally.mean_saving())} per request if they run concurrently "
                        "(sum of the calls minus the longest)"
                    ),
                    expected_saving_ms=tally.mean_saving(),
                    action="code_change",
                    effort=Effort.MEDIUM,
                    confidence=min(0.8, _confidence(tally, floor=0.4)),
                    key={"callees": list(targets)},
                )
            )
        return out


SEQUENTIAL_CALLS_DETECTOR = DetectorSpec(
    "sequential_calls",
    SequentialCalls,
    kinds=(SEQUENTIAL_CALLS,),
    knobs=("sequential_min_saving_ms", "sequential_min_share", "min_traces"),
)


def _sequential_runs(sync: list[Call]) -> list[list[Call]]:
    """Maximal runs of calls that each start after the previous one ended, without the span's
    first step and without a final write."""
    stages: list[list[Call]] = []
    stage_end = None
    for call in sync:  # sorted by start
        if stage_end is not None and call.start < stage_end:
            stages[-1].append(call)
            stage_end = max(stage_end, call.end)
        else:
            stages.append([call])
            stage_end = call.end
    stages = stages[1:]
    if stages and all(c.write for c in stages[-1]):
        stages = stages[:-1]
    runs, run = [], []
    for stage in stages:
        if len(stage) == 1:
            run.append(stage[0])
            continue
        if len(run) >= 2:
            runs.append(run)
        run = []
    if len(run) >= 2:
        runs.append(run)
    return runs


FAN_OUT = FindingKind(
    "fan_out",
    label="fan-out",
    why="The request is as slow as the slowest of them, and one failing can fail it.",
)


class FanOut:
    """One span calling many different services: every extra callee adds tail-latency risk."""

    def __init__(self, config: AnalysisConfig) -> None:
        self.min_services = config.fan_out_min_services
        self.tallies: dict[tuple[str, str], Tally] = {}
        self.targets: dict[tuple[str, str], Counter[str]] = {}

    def add(self, view: TraceView) -> None:
        spans = view.trace.spans
        seen: dict[tuple[str, str], tuple[float, int, set[str]]] = {}
        for i, calls in view.calls:
            targets = {c.target for c in calls if c.target}
            if len(targets) < self.min_services:
                continue
            parent = spans[i]
            key = (parent.service, parent.operation)
            cost = ms(max(c.end for c in calls) - min(c.start for c in calls))
            prev = seen.get(key)
            if prev is None or len(targets) > prev[1]:
                seen[key] = (cost, len(targets), targets)
        for key, (cost, n, targets) in seen.items():
            self.targets.setdefault(key, Counter()).update(targets)
            self.tallies.setdefault(key, Tally()).add_view(view, cost, count=n)

    def findings(self, ctx: FindingContext) -> list[Finding]:
        out = []
        for (service, operation), tally in sorted(self.tallies.items()):
            if len(tally) < ctx.config.min_traces:
                continue
            services = [name for name, _ in sorted(self.targets[(service, operation)].items())]
            width = tally.quantile("counts", 0.5)
            out.append(
                Finding(
                    source=SOURCE,
                    kind=FAN_OUT.name,
                    service=service,
                    operation=operation,
                    title=f"Fan-out: {service} {operation} calls {width:.0f} services per request",
                    impact=tally.impact(ctx.per_day),
                    evidence=_evidence(
                        tally,
                        ctx,
                        services_per_request_p50=width,
                        services=", ".join(services),
                        fan_out_ms_p50=round(tally.quantile("cost_ms", 0.5), 3),
                    ),
                    suggestion=suggest.fan_out(service, operation, services),
                    expected_improvement="a request's latency stops tracking the slowest of "
                    f"{width:.0f} services; fewer partial failures",
                    action="architecture_change",
                    effort=Effort.HIGH,
                    confidence=_confidence(tally, floor=0.4),
                    key={},
                )
            )
        return out


FAN_OUT_DETECTOR = DetectorSpec(
    "fan_out", FanOut, kinds=(FAN_OUT,), knobs=("fan_out_min_services", "min_traces")
)

CHATTY_PAIR = FindingKind(
    "chatty_pair",
    label="chatty",
    why="Every one of these calls is a network round trip on the request's path.",
)


class ChattyPair:
    """Two services talking many times per request, across operations (one repeated
    statement under one parent is the N+1 detector's)."""

    def __init__(self, config: AnalysisConfig) -> None:
        self.min_calls = config.chatty_min_calls
        self.n_plus_one_min = config.n_plus_one_min
        self.tallies: dict[tuple[str, str], Tally] = {}
        self.operations: dict[tuple[str, str], Counter[str]] = {}

    def add(self, view: TraceView) -> None:
        spans = view.trace.spans
        pairs: dict[tuple[str, str], list[Call]] = {}
        for i, calls in view.calls:
            caller = spans[i].service
            for call in calls:
                if call.target and call.target != caller:
                    pairs.setdefault((caller, call.target), []).append(call)
        for key, calls in pairs.items():
            if len(calls) < self.min_calls:
                continue
            same = Counter((spans[spans[c.span].parent].span_id, c.operation) for c in calls)
            biggest = same.most_common(1)[0][1]
            if biggest >= self.n_plus_one_min and biggest >= 0.8 * len(calls):
                continue  # one loop: reported as N+1
            self.operations.setdefault(key, Counter()).update(c.operation for c in calls)
            cost = ms(sum(c.duration for c in calls))
            self.tallies.setdefault(key, Tally()).add_view(view, cost, count=len(calls))

    def findings(self, ctx: FindingContext) -> list[Finding]:
        out = []
        for (caller, callee), tally in sorted(self.tallies.items()):
            if len(tally) < ctx.config.min_traces:
                continue
            per_request = tally.quantile("counts", 0.5)
            top = [op for op, _ in self.operations[(caller, callee)].most_common(5)]
            out.append(
                Finding(
                    source=SOURCE,
                    kind=CHATTY_PAIR.name,
                    service=caller,
                    operation="",
                    title=f"Chatty: {caller} calls {callee} {per_request:.0f} times per request",
                    impact=tally.impact(ctx.per_day),
                    evidence=_evidence(
                        tally,
                        ctx,
                        callee=callee,
                        calls_per_request_p50=per_request,
                        calls_per_request_max=int(max(tally.counts)),
                        operations=", ".join(top),
                        time_in_calls_ms_p50=round(tally.quantile("cost_ms", 0.5), 3),
                    ),
                    suggestion=suggest.chatty(caller, callee, top),
                    expected_improvement=f"{per_request:.0f} round trips per request become a "
                    "few; less load on " + callee,
                    action="code_change",
                    effort=Effort.MEDIUM,
                    confidence=_confidence(tally, floor=0.4),
                    key={"callee": callee},
                )
            )
        return out


CHATTY_PAIR_DETECTOR = DetectorSpec(
    "chatty_pair",
    ChattyPair,
    kinds=(CHATTY_PAIR,),
    knobs=("chatty_min_calls", "n_plus_one_min", "min_traces"),
)
