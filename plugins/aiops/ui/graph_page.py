"""The dependency map page (``/graph``): the newest trace window's map drawn whole, services
with findings marked, with its findings and calls as tables.

Takes what aiops.ui.map_queries answered and returns the whole document.
"""

from __future__ import annotations

from datetime import datetime

from aiops.ui.charts import dependency_map_svg
from aiops.ui.layout import Links, empty, esc, link, page, section, table, when
from aiops.ui.records import MapWindow
from aiops.ui.tables import finding_table, kind_text


def graph_page(window: MapWindow | None, links: Links, now: datetime) -> str:
    """The newest trace window's dependency map, services with findings marked, with its
    edges and findings as tables."""
    if window is None:
        body = "<h1>Dependency map</h1>" + section(
            "Map", empty("no trace window analysed yet: the nightly DAG maps dependencies")
        )
        return page("Dependency map", body, links, now=now)
    notes: dict[str, str] = {}
    for f in window.findings:
        if f.source == "traces":  # as the nightly picture marks them: its costliest kind
            notes.setdefault(f.service, kind_text(f.kind))
    served = (
        f"{window.traces:,} traces, {window.spans:,} spans" if window.traces is not None else ""
    )
    lede = f"trace window {when(window.start)} to {when(window.end)}" + (
        f"; {served}" if served else ""
    )
    edges = sorted(window.edges, key=lambda e: (-e.call_count, e.parent, e.child))
    rows = [
        [
            link(links.service(e.parent), e.parent),
            link(links.service(e.child), e.child)
            if e.instrumented
            else esc(e.child) + ' <span class="muted">(uninstrumented)</span>',
            f"{e.call_count:,}",
            f"{100 * e.error_rate:.2f}%",
            f"{e.p95_ms:.1f} ms",
            f"{e.p99_ms:.1f} ms",
            "async" if e.asynchronous else "",
        ]
        for e in edges
    ]
    body = [
        "<h1>Dependency map</h1>",
        f'<p class="lede">{esc(lede)}</p>',
        section(
            "Map",
            "<figure>"
            + dependency_map_svg(window.edges, notes, "map")
            + "<figcaption>services with findings are outlined, their costliest kind "
            "under the name</figcaption></figure>",
        ),
        section(
            "Findings",
            finding_table(window.findings, links, with_service=True)
            if window.findings
            else empty("no findings in this window"),
            note="costliest first",
        ),
        section(
            "Calls",
            table(
                ["caller", "callee", "calls", "errors", "p95", "p99", ""],
                rows,
                numeric=[2, 3, 4, 5],
            )
            if rows
            else empty("no calls seen in this window"),
        ),
    ]
    return page("Dependency map", "".join(body), links, now=now)
