"""Where a request's time goes: the critical path and each span's self time.

The critical path is the chain of work the request actually waited for. Walking back from the
end of a span, the last child to finish before the current point is what the span waited for
last; the time between that child's end and the point is the span's own work; then the walk
continues from that child's start. Children that overlap the chosen one were not waited for
(they finished earlier, in parallel), so they are skipped. This is the rule Jaeger UI uses.

Two repairs make real traces usable:
- a child is clipped to its parent's window (clock skew between hosts can put a child partly
  outside its parent; the request cannot have waited outside its own span);
- FOLLOWS_FROM children are not waited for (a message consumer runs after the producer
  returned), so they are not on the path; their own time still counts as their self time.
"""

from __future__ import annotations

from aiops.traces.model import Span, Trace


def critical_path(trace: Trace, root: int | None = None) -> dict[int, int]:
    """Microseconds each span contributes to the critical path of ``root`` (default: the
    trace's entry span). The values sum to the root's duration."""
    spans = trace.spans
    if root is None:
        root = spans.index(trace.root())
    top = spans[root]
    path: dict[int, int] = {}
    stack = [(root, top.start, top.start + top.duration)]
    while stack:
        i, lo, hi = stack.pop()
        waited = 0
        if spans[i].children:
            windows = waited_windows(spans, i, lo, hi)
            if windows:
                windows.sort(key=lambda w: (w[1], w[0], w[2]), reverse=True)
                cursor = hi
                for start, end, c in windows:
                    if end > cursor:
                        continue  # overlaps the child already on the path: not waited for
                    stack.append((c, start, end))
                    waited += end - start
                    cursor = start
        own = hi - lo - waited
        if own:
            path[i] = path.get(i, 0) + own
    return path


def waited_windows(spans: list[Span], index: int, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """``(start, end, child index)`` of each synchronous child of ``spans[index]``, clipped to
    ``[lo, hi]``; children entirely outside it, empty ones and FOLLOWS_FROM ones left out."""
    out = []
    for c in spans[index].children:
        child = spans[c]
        if child.follows:
            continue
        start = child.start if child.start > lo else lo
        end = child.start + child.duration
        if end > hi:
            end = hi
        if end > start:
            out.append((start, end, c))
    return out


def self_times(trace: Trace) -> list[int]:
    """Per span, microseconds not covered by its synchronous children (clipped to the span).

    Self time is where a service's own code (or its wait on something uninstrumented) ran.
    """
    spans = trace.spans
    out = [0] * len(spans)
    for i, span in enumerate(spans):
        lo, hi = span.start, span.start + span.duration
        if not span.children:
            out[i] = hi - lo
            continue
        windows = waited_windows(spans, i, lo, hi)
        covered = 0
        if windows:
            windows.sort()
            cur_lo, cur_hi, _ = windows[0]
            for start, end, _ in windows[1:]:
                if start > cur_hi:
                    covered += cur_hi - cur_lo
                    cur_lo, cur_hi = start, end
                elif end > cur_hi:
                    cur_hi = end
            covered += cur_hi - cur_lo
        out[i] = hi - lo - covered
    return out
