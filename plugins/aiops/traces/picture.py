"""The part of the dependency map around a trace finding, as a picture (aiops.pictures): the
service that owns the fix, who calls it and what it calls, the busiest edges first.

An issue about an N+1 in `cart` reads faster beside the three services `cart` talks to than
beside the whole map, which on a real fleet is hundreds of edges GitHub will not draw. What
is left out is counted in the picture, so its drawings say "+188 more callers" of the map,
not only of the edges kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from aiops.findings.model import Finding
from aiops.pictures.model import MapEdge, NeighbourhoodPicture
from aiops.traces.model import Edge

MAX_EDGES = 12  # a picture people read at a glance, and well inside GitHub's Mermaid limits


def neighbourhood_picture(
    edges: Iterable[Edge], focus: str, *, marked: Iterable[str] = (), max_edges: int = MAX_EDGES
) -> NeighbourhoodPicture | None:
    """``focus``'s callers and callees in ``edges``, the busiest ``max_edges`` of them (ties
    by name, so the same map gives the same picture), with how many callers and callees were
    left out (each counted once, and not when an edge of the same pair was kept); None when
    the map never saw it."""
    touching = [e for e in edges if focus in (e.parent, e.child) and e.parent != e.child]
    if not touching:
        return None
    touching.sort(key=lambda e: (-e.call_count, e.parent, e.child))
    kept, rest = touching[:max_edges], touching[max_edges:]
    names = {e.parent for e in kept} | {e.child for e in kept}
    drawn = {(e.parent, e.child) for e in kept}
    left_out = {(e.parent, e.child) for e in rest} - drawn
    return NeighbourhoodPicture(
        focus=focus,
        edges=tuple(
            MapEdge(e.parent, e.child, e.call_count, round(e.error_rate, 4), round(e.p95_ms, 1))
            for e in kept
        ),
        marked=tuple(sorted(n for n in set(marked) if n in names)),
        omitted_callers=sum(1 for _, child in left_out if child == focus),
        omitted_callees=sum(1 for parent, _ in left_out if parent == focus),
    )


def with_neighbourhoods(findings: list[Finding], edges: list[Edge]) -> list[Finding]:
    """``findings`` each with the picture of its service's neighbourhood (services that have
    findings of their own marked); a finding whose service is not on the map is kept as is."""
    owners = {f.service for f in findings}
    out = []
    for finding in findings:
        picture = neighbourhood_picture(edges, finding.service, marked=owners)
        if picture is not None and finding.evidence.picture is None:
            finding = replace(finding, evidence=replace(finding.evidence, picture=picture))
        out.append(finding)
    return out
