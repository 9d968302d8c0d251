"""The Mermaid text a finding's issue shows: hostile names stay text, the same picture gives
the same bytes, a big picture is cut to a diagram GitHub draws and says what it left out.

Whether Mermaid itself parses and renders these diagrams is checked in a real browser by
tests/integration/test_mermaid_chromium.py; here the text is checked against the shapes of
line the module promises, and labels are decoded the way Mermaid decodes entity codes."""

from __future__ import annotations

import html
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aiops.pictures.mermaid import (
    MAX_CATEGORIES,
    MAX_SOURCE_CHARS,
    NAME_CHARS,
    evenly,
    mermaid_block,
    mermaid_source,
)
from aiops.pictures.model import (
    BandPoint,
    ChainPicture,
    ChainStep,
    ForecastPicture,
    MapEdge,
    NeighbourhoodPicture,
)
from aiops.pictures.parts import MAX_CHAIN_NODES, MAX_MAP_EDGES, number_text

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
# (name, how a reader sees it)
HOSTILE = [
    ('pay"]-->x', 'pay"]-->x'),
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("```\n# heading", "``` # heading"),
    ('a;b#c %%{init: {"theme": "dark"}}%%', 'a;b#c %%{init: {"theme": "dark"}}%%'),
    ("line1\nflowchart TD\nA-->B", "line1 flowchart TD A-->B"),
    ("click n0 call alert(1)", "click n0 call alert(1)"),
    ("n0", "n0"),
    ("end", "end"),
    ("\u202eevil\u200b", "\ufffdevil\ufffd"),
    ("日本語 çà", "日本語 çà"),
    ("&lt;b&gt;<b>x</b>", "&lt;b&gt;<b>x</b>"),
    ("|x| :::root", "|x| :::root"),
    ("#quot; #35;", "#quot; #35;"),
    ("", "(unnamed)"),
]
LABEL = r'"[^"\n]*"'
FLOWCHART_LINES = [
    r"flowchart LR",
    rf"  n\d+\(\[{LABEL}\]\):::root",
    rf"  n\d+\[{LABEL}\](:::via|:::note)?",
    rf"  n\d+ -->(\|{LABEL}\|)? n\d+",
    rf"  omitted\[{LABEL}\]:::note",
    rf"  more_callers\[{LABEL}\]:::note -\.-> n\d+",
    rf"  n\d+ -\.-> more_callees\[{LABEL}\]:::note",
    rf"  more_edges\[{LABEL}\]:::note",
    r"  class n\d+ (focus|marked)",
    r"  classDef (root|via|note|focus|marked) [a-z-]+:[#a-z0-9 ]+(,[a-z-]+:[#a-z0-9 ]+)*",
]
NUMBER = r"-?\d+(\.\d+)?"
XYCHART_LINES = [
    r"---|config:|  xyChart:|    width: 900|    height: 360|    showLegend: true",
    r"    xAxis:|      labelFontSize: 11|      labelRotation: -90",
    r"  themeVariables:|    xyChart:|      plotColorPalette: \"#[0-9a-f]{6}(, #[0-9a-f]{6})*\"",
    r"xychart-beta",
    rf"  title {LABEL}",
    rf"  x-axis {LABEL} \[{LABEL}(, {LABEL})*\]",
    rf"  y-axis {LABEL} {NUMBER} --> {NUMBER}",
    rf"  line {LABEL} \[{NUMBER}(, {NUMBER})*\]",
]


def decoded(label: str) -> str:
    """A label as Mermaid shows it: entity codes (#quot;, #35;) decoded."""

    def one(match: re.Match) -> str:
        code = match.group(1)
        return chr(int(code)) if code.isdigit() else html.unescape(f"&{code};")

    return re.sub(r"#(\w+);", one, label).replace("\xa0", " ")


def labels(source: str) -> list[str]:
    """The quoted texts of the diagram (not of its front matter, which is constant)."""
    return re.findall(r'"([^"\n]*)"', source.rsplit("\n---\n", 1)[-1])


def assert_well_formed(source: str) -> None:
    """Every line has one of the promised shapes, and no label holds a character Mermaid,
    Markdown or HTML would act on, and no "<" anywhere: an issue body's only raw HTML is
    its fingerprint marker (aiops.sinks.render)."""
    assert "<" not in source
    shapes = XYCHART_LINES if "xychart-beta" in source else FLOWCHART_LINES
    for line in source.split("\n"):
        assert any(re.fullmatch(shape, line) for shape in shapes), line
    for label in labels(source):
        bare = re.sub(r"#\w+;", "", label)
        assert not set(bare) & set('"<>#;%`&\n\r|[]{}'), label


def chart(source: str) -> tuple[list[str], dict[str, list[float]], tuple[float, float]]:
    """(x categories, line title -> values, y-axis range) of an xychart."""
    x_axis = next(line for line in source.split("\n") if line.startswith("  x-axis"))
    categories = [decoded(c) for c in labels(x_axis)[1:]]
    lines = {
        m.group(1): [float(v) for v in m.group(2).split(", ")]
        for m in re.finditer(r'^  line "([^"]*)" \[([^\]]*)\]$', source, re.MULTILINE)
    }
    low, high = re.search(rf"^  y-axis {LABEL} ({NUMBER}) --> ({NUMBER})$", source, re.M).group(
        1, 3
    )
    return categories, lines, (float(low), float(high))


def forecast(
    service: str = "checkout",
    signal: str = "latency_p95",
    *,
    history: int = 144,
    ahead: int = 96,
    threshold: float | None = 420.0,
) -> ForecastPicture:
    observed = tuple(
        (NOW - timedelta(minutes=10 * (history - 1 - i)), 200.0 + (i % 7) * 0.1)
        for i in range(history)
    )
    band = tuple(
        BandPoint(NOW + timedelta(minutes=15 * (i + 1)), 260.0 + i, 240.0 + i, 300.0 + 2 * i)
        for i in range(ahead)
    )
    return ForecastPicture(service, signal, "ms", NOW, observed, band, threshold)


def chain(root: str = "db", other: str = "cart") -> ChainPicture:
    return ChainPicture(
        "inc-1",
        (
            ChainStep(root, "latency_p95", None),
            ChainStep(other, "error_rate", 150.0, (root, "gateway", other)),
            ChainStep("web", "latency_p95", 0.0, (root, "gateway", "web")),
            ChainStep("mail", "queue_depth", None),
            ChainStep("search", "cpu", 3725.0, (root,)),
        ),
    )


def neighbourhood(focus: str = "cart", caller: str = "web") -> NeighbourhoodPicture:
    return NeighbourhoodPicture(
        focus,
        (
            MapEdge(caller, focus, 1204, 0.0, 38.0),
            MapEdge("mobile", focus, 1, 0.004, 4.25),
            MapEdge(focus, "db", 3100, 0.153, 12_345.0),
        ),
        marked=(focus, "db"),
    )


# hostile names -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, shown", HOSTILE)
@pytest.mark.parametrize(
    "make",
    [
        lambda name: forecast(service=name),
        lambda name: forecast(signal=name, history=0),
        lambda name: chain(root=name),
        lambda name: chain(other=name),
        lambda name: neighbourhood(focus=name),
        lambda name: neighbourhood(caller=name),
    ],
    ids=["forecast-service", "forecast-signal", "chain-root", "chain-step", "focus", "caller"],
)
def test_a_hostile_name_is_only_ever_text(make, name: str, shown: str) -> None:
    source = mermaid_source(make(name))
    assert_well_formed(source)
    for raw in ("<script", "</", "<b>", "-->x", "```", "%%", "\u202e", "\u200b", "&lt;", "\n#"):
        assert raw not in source, raw  # a quote is kept out by the line shapes above
    shown_in = [decoded(label) for label in labels(source)]
    assert any(shown in text for text in shown_in), shown_in


def test_names_are_never_ids_even_when_they_look_like_ids() -> None:
    picture = NeighbourhoodPicture(
        "n1", (MapEdge("n0", "n1", 5, 0.0, 1.0), MapEdge("n1", "end", 4, 0.0, 1.0))
    )
    source = mermaid_source(picture)
    assert '  n0["n1"]' in source.split("\n")  # the focus first, its label its name
    assert '  n1["n0"]' in source.split("\n")
    assert '  n2["end"]' in source.split("\n")
    assert re.search(r"^  n1 -->\|[^|]*\| n0$", source, re.MULTILINE)  # "n0" calls "n1"


def test_long_names_are_cut_before_escaping() -> None:
    name = "<" * 100
    source = mermaid_source(neighbourhood(focus=name))
    node = labels(next(line for line in source.split("\n") if line.startswith("  n0[")))[0]
    first = decoded(node).split(" · ")[0]
    assert first == "<" * (NAME_CHARS - 1) + "…"


# determinism and size --------------------------------------------------------------------------


def test_the_same_picture_gives_the_same_bytes_whatever_the_edge_order() -> None:
    edges = [MapEdge(f"caller{i % 17}", "cart", 100 + i % 5, 0.01 * (i % 3), i) for i in range(40)]
    edges += [MapEdge("cart", f"callee{i}", 100 + i % 5, 0.0, 1.0) for i in range(40)]
    shuffled = edges[:]
    random.Random(7).shuffle(shuffled)
    first = mermaid_source(NeighbourhoodPicture("cart", tuple(edges), ("cart", "callee3")))
    again = mermaid_source(NeighbourhoodPicture("cart", tuple(shuffled), ("callee3", "cart")))
    assert first == again
    assert mermaid_source(forecast()) == mermaid_source(forecast())
    assert mermaid_source(chain()) == mermaid_source(chain())


def test_a_map_of_500_edges_keeps_the_busiest_and_counts_the_rest() -> None:
    edges = [MapEdge(f"caller-{i:03d}" + "<" * 60, "cart", i, 0.5, 9.0) for i in range(300)]
    edges += [MapEdge("cart", f"callee-{i:03d}" + '"' * 60, 1000 + i, 0.0, 1.0) for i in range(200)]
    source = mermaid_source(NeighbourhoodPicture("cart", tuple(edges), ("cart",)))
    assert len(source) <= MAX_SOURCE_CHARS
    assert_well_formed(source)
    arrows = re.findall(r"^  n\d+ -->", source, re.MULTILINE)
    assert 1 <= len(arrows) <= MAX_MAP_EDGES
    drawn = {decoded(label).split(" · ")[0] for label in labels(source)}
    callees = sorted(n for n in drawn if n.startswith("callee-"))
    # the 200 callees are the busiest edges: the kept ones are the last (busiest) of them
    assert callees and callees[-1].startswith("callee-199")
    kept_callees = len(callees)
    assert f"+{200 - kept_callees} more callees" in source
    assert "+300 more callers" in source


def test_a_chain_of_200_steps_draws_at_most_30_services_and_says_how_many_more() -> None:
    steps = [ChainStep("root", "error_rate", None)]
    steps += [
        ChainStep(f"svc{i}", "latency_p95", 60.0 * i, ("root", f"hop{i}", f"svc{i}"))
        for i in range(1, 200)
    ]
    source = mermaid_source(ChainPicture("inc-big", tuple(steps)))
    assert len(source) <= MAX_SOURCE_CHARS
    assert_well_formed(source)
    nodes = re.findall(r"^  n\d+[\[(]", source, re.MULTILINE)
    assert len(nodes) == 29 <= MAX_CHAIN_NODES  # the root and 14 steps of two services
    assert '  omitted["+185 more services in the chain"]:::note' in source


def test_a_chain_of_hostile_names_still_fits() -> None:
    steps = [ChainStep("<" * 500, '"' * 500, None)]
    steps += [ChainStep(f"{i}" + "#" * 300, "`" * 300, float(i), ()) for i in range(40)]
    source = mermaid_source(ChainPicture("inc", tuple(steps)))
    assert len(source) <= MAX_SOURCE_CHARS
    assert_well_formed(source)
    assert "more services in the chain" in source


def test_a_long_history_is_thinned_keeping_first_last_and_now() -> None:
    history = 2000
    observed = tuple(
        (NOW + timedelta(minutes=i - 1234), float(i % 50)) for i in range(history)
    )  # "now" is point 1234, not the last: it must still be drawn
    band = tuple(
        BandPoint(observed[-1][0] + timedelta(minutes=5 * (i + 1)), 50.0 + i, 40.0, 70.0 + i)
        for i in range(500)
    )
    picture = ForecastPicture("api", "rps", "req/s", NOW, observed, band, 900.0)
    source = mermaid_source(picture)
    assert len(source) <= MAX_SOURCE_CHARS
    assert_well_formed(source)
    categories, lines, _ = chart(source)
    assert len(categories) <= MAX_CATEGORIES
    assert len(set(categories)) == len(categories)  # a band axis needs distinct categories
    assert categories[0] == f"{observed[0][0]:%d %b %H:%M}"  # the first one, with its day
    assert "now 12:00" in categories
    assert categories[-1] == f"{band[-1].time:%H:%M}"
    assert all(len(values) == len(categories) for values in lines.values())
    assert f"{len(categories)} of 2500 points shown" in decoded(labels(source)[1])


def test_every_line_has_a_value_at_every_time_and_the_band_opens_at_now() -> None:
    categories, lines, (low, high) = chart(mermaid_source(forecast(history=10, ahead=5)))
    assert len(categories) == 15
    assert list(lines) == [
        "forecast upper",
        "forecast lower",
        "threshold",
        "observed, then forecast",
    ]
    upper, lower, main = (
        lines["forecast upper"],
        lines["forecast lower"],
        lines["observed, then forecast"],
    )
    assert upper[:10] == lower[:10] == main[:10]  # the past is known: the band is closed
    assert upper[10:] == [300, 302, 304, 306, 308] and lower[10:] == [240, 241, 242, 243, 244]
    assert main[10:] == [260, 261, 262, 263, 264]
    assert lines["threshold"] == [420] * 15
    assert low <= 200 and high >= 420  # the axis holds the data, the band and the threshold


def test_numbers_are_short_and_exact_looking() -> None:
    observed = ((NOW - timedelta(minutes=1), 0.1 + 0.2), (NOW, 1 / 3))
    source = mermaid_source(ForecastPicture("s", "x", "", NOW, observed, (), None))
    assert "0.30000000000000004" not in source and "0.3333333" not in source
    _, lines, (low, high) = chart(source)
    assert lines["observed"] == [0.3, 0.33333]  # four digits of the axis span (0.033)
    assert number_text(0.1 + 0.2, 4) == "0.3"
    assert number_text(-0.00001, 2) == "0"
    assert number_text(1250.0, 0) == "1250"


def test_huge_and_tiny_values_are_written_in_a_power_of_ten() -> None:
    observed = ((NOW - timedelta(minutes=1), 3.2e12), (NOW, 4.1e12))
    source = mermaid_source(ForecastPicture("s", "requests", "req/s", NOW, observed, (), None))
    assert "e+" not in source.split("xychart-beta")[1].replace("(x 1e12)", "")
    assert '"req/s (x 1e12)"' in source
    _, lines, _ = chart(source)
    assert lines["observed"] == [3.2, 4.1]


def test_values_that_are_not_numbers_are_left_out_and_counted() -> None:
    observed = ((NOW - timedelta(minutes=2), 1.0), (NOW - timedelta(minutes=1), float("nan")),
                (NOW, 2.0))  # fmt: skip
    source = mermaid_source(ForecastPicture("s", "x", "", NOW, observed, (), float("inf")))
    categories, lines, _ = chart(source)
    assert lines == {"observed": [1.0, 2.0]}
    assert "1 without a value left out" in decoded(source)


def test_an_empty_forecast_says_so() -> None:
    source = mermaid_source(ForecastPicture("s", "x", "", NOW, (), ()))
    assert_well_formed(source)
    assert "no observations and no forecast" in source


@pytest.mark.parametrize(
    "count, most, keep",
    [(2000, 24, [1234]), (100, 24, []), (25, 24, [3]), (10, 24, []), (5000, 3, [4000])],
)
def test_evenly_keeps_the_ends_and_what_it_is_told(count, most, keep) -> None:
    picked = evenly(count, most, keep)
    assert picked == sorted(set(picked))
    assert len(picked) == min(count, most)
    assert {0, count - 1, *keep} <= set(picked)
    if count > most:  # spread: no gap more than twice the even gap (plus the kept one)
        gaps = [b - a for a, b in zip(picked, picked[1:], strict=False)]
        assert max(gaps) <= 2 * count / (most - len(keep) - 1) + 1


# chain -------------------------------------------------------------------------------------


def test_the_chain_starts_at_the_root_and_follows_the_call_paths() -> None:
    lines = mermaid_source(chain()).split("\n")
    assert lines[:3] == [
        "flowchart LR",
        '  n0(["db · latency p95"]):::root',
        '  n1["gateway"]:::via',
    ]
    arrows = [line for line in lines if " --> " in line or "-->|" in line]
    assert arrows == [
        "  n0 --> n1",  # root -> gateway, once for the two steps that pass through it
        '  n1 -->|"+2m 30s"| n2',  # gateway -> cart, the step's lag on the last arrow
        '  n1 -->|"+0s"| n3',  # gateway -> web, lag 0
        "  n0 --> n4",  # no path known: straight from the root, no lag known: no label
        '  n0 -->|"+1h 2m"| n5',  # a path of one service is no path either
    ]
    assert '  n2["cart · error_rate"]' in lines


def test_a_root_alone_is_a_diagram_too() -> None:
    source = mermaid_source(ChainPicture("inc", (ChainStep("db", "cpu", None),)))
    assert_well_formed(source)
    assert '  n0(["db · CPU"]):::root' in source and "-->" not in source


# neighbourhood ----------------------------------------------------------------------------


def test_the_neighbourhood_labels_edges_with_calls_p95_and_errors() -> None:
    source = mermaid_source(neighbourhood())
    edges = {
        (m.group(1), decoded(m.group(2)), m.group(3))
        for m in re.finditer(r'^  (n\d+) -->\|"([^"]*)"\| (n\d+)$', source, re.MULTILINE)
    }
    assert edges == {
        ("n0", "3,100 calls · p95 12.3 s · err 15%", "n1"),
        ("n2", "1,204 calls · p95 38 ms", "n0"),
        ("n3", "1 call · p95 4.2 ms · err 0.4%", "n0"),
    }
    lines = source.split("\n")
    assert lines[1] == '  n0["cart · has a finding"]' and "  class n0 focus" in lines
    assert "  class n0 marked" in lines and "  class n1 marked" in lines
    assert '  n1["db · has a finding"]' in lines
    assert not any(line.startswith(("  class n2", "  class n3")) for line in lines)
    assert "more_" not in source  # nothing left out, nothing said


def test_ties_are_broken_by_name_and_repeated_pairs_count_once() -> None:
    edges = [MapEdge(f"c{i:02d}", "cart", 10, 0.0, 1.0) for i in range(20)]
    edges += [replace(edges[0], calls=5), MapEdge("cart", "db", 10, 0.0, 1.0)]
    source = mermaid_source(NeighbourhoodPicture("cart", tuple(edges)))
    names = [decoded(label) for label in labels(source) if not label[0].isdigit()]
    drawn = [n for n in names if n.startswith("c") and n != "cart"]
    assert drawn == [f"c{i:02d}" for i in range(12)]  # same calls: by name
    assert "+8 more callers" in source and "+1 more callee" in source
    assert source.count('"c00"') == 1


def test_callers_and_callees_left_out_before_the_picture_are_counted_in_the_notes() -> None:
    edges = [MapEdge(f"c{i:02d}", "cart", 100 - i, 0.0, 1.0) for i in range(14)]
    picture = NeighbourhoodPicture("cart", tuple(edges), omitted_callers=186, omitted_callees=3)
    source = mermaid_source(picture)
    assert_well_formed(source)
    assert '  more_callers["+188 more callers"]:::note -.-> n0' in source.split("\n")
    assert '  n0 -.-> more_callees["+3 more callees"]:::note' in source.split("\n")


def test_a_picture_of_no_edges_still_says_what_was_left_out() -> None:
    source = mermaid_source(NeighbourhoodPicture("cart", (), omitted_callees=1))
    assert_well_formed(source)
    assert source.split("\n")[1:3] == [
        '  n0["cart"]',
        '  n0 -.-> more_callees["+1 more callee"]:::note',
    ]


# the block ---------------------------------------------------------------------------------


def test_the_block_is_a_mermaid_fence_around_the_source() -> None:
    picture = chain(root="```` and ``` in a name")
    block = mermaid_block(picture)
    lines = block.split("\n")
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    assert "\n".join(lines[1:-1]) == mermaid_source(picture)
    assert "`" not in "\n".join(lines[1:-1])


def test_a_picture_nobody_draws_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no Mermaid drawing for MapEdge"):
        mermaid_source(MapEdge("a", "b", 1, 0.0, 1.0))


@pytest.mark.parametrize(
    ("unit", "scale", "shown"),
    [("ms", 1.0, "ms"), ("bytes", 2**20, "MiB"), ("bytes", 2**34, "GiB"), ("s", 1e-3, "ms"),
     ("ratio", 1e-4, "#37;"), ("req/s", 1e7, "req/s")],
)  # fmt: skip
def test_the_y_axis_holds_every_line_in_the_unit_people_read(
    unit: str, scale: float, shown: str
) -> None:
    base = forecast()
    picture = replace(
        base,
        unit=unit,
        observed=tuple((t, v * scale) for t, v in base.observed),
        forecast=tuple(
            BandPoint(p.time, p.mean * scale, p.lower * scale, p.upper * scale)
            for p in base.forecast
        ),
        threshold=420.0 * scale,
    )
    source = mermaid_source(picture)
    axis = re.search(r'^  y-axis "([^"]*)" (\S+) --> (\S+)$', source, re.MULTILINE)
    assert axis, source
    low, high = float(axis.group(2)), float(axis.group(3))
    assert axis.group(1).startswith(shown) and low < high
    values = [float(v) for line in re.findall(r"^  line \"[^\"]+\" \[(.*)\]$", source, re.MULTILINE)
              for v in line.split(", ")]  # fmt: skip
    assert values and all(low <= v <= high for v in values)
    assert f'title "checkout latency p95 ({shown})"' in source
