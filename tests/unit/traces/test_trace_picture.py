"""A trace finding's picture: the part of the day's dependency map around its service."""

from __future__ import annotations

from aiops.pictures.mermaid import mermaid_source
from aiops.pictures.parts import neighbourhood_drawing
from aiops.traces.model import Edge
from aiops.traces.picture import MAX_EDGES, neighbourhood_picture, with_neighbourhoods
from support.findings import finding


def edge(parent: str, child: str, calls: int, errors: int = 0) -> Edge:
    return Edge(parent, child, calls, errors, 5.0, 20.0, 40.0, ("GET /",))


MAP = [
    edge("frontend", "cart", 900),
    edge("cart", "redis", 2700, errors=27),
    edge("cart", "catalog", 450),
    edge("checkout", "cart", 300),
    edge("frontend", "search", 800),  # not around cart
]


def test_the_picture_holds_the_services_callers_and_callees_only() -> None:
    picture = neighbourhood_picture(MAP, "cart", marked=["cart", "search"])
    assert picture is not None and picture.focus == "cart"
    pairs = [(e.parent, e.child) for e in picture.edges]
    assert pairs == [("cart", "redis"), ("frontend", "cart"), ("cart", "catalog"),
                     ("checkout", "cart")]  # busiest first  # fmt: skip
    assert picture.edges[0].error_rate == 0.01
    assert picture.marked == ("cart",)  # search has a finding but is not in the picture


def test_a_busy_service_keeps_its_busiest_edges_and_the_same_ones_every_time() -> None:
    fleet = [edge(f"caller-{i:03d}", "hub", 1000 - i) for i in range(200)]
    fleet += [edge("hub", f"callee-{i:03d}", 500) for i in range(50)]  # ties: by name
    first = neighbourhood_picture(fleet, "hub")
    again = neighbourhood_picture(list(reversed(fleet)), "hub")
    assert first == again
    assert len(first.edges) == MAX_EDGES
    assert first.edges[0].parent == "caller-000" and first.edges[-1].parent == "caller-011"


def test_a_busy_service_counts_the_callers_and_callees_it_left_out() -> None:
    fleet = [edge(f"caller-{i:03d}", "hub", 1000 - i) for i in range(200)]
    fleet += [edge("hub", f"callee-{i:03d}", 500) for i in range(50)]
    picture = neighbourhood_picture(fleet, "hub")
    assert len(picture.edges) == MAX_EDGES == 12  # all callers: the busiest edges
    assert (picture.omitted_callers, picture.omitted_callees) == (188, 50)


def test_both_drawings_of_a_hub_say_how_many_of_the_map_they_left_out() -> None:
    fleet = [edge(f"caller-{i:03d}", "hub", 1000 - i) for i in range(200)]
    fleet += [edge("hub", f"callee-{i:03d}", 500) for i in range(50)]
    picture = neighbourhood_picture(fleet, "hub")
    source = mermaid_source(picture)
    assert '  more_callers["+188 more callers"]:::note -.-> n0' in source.split("\n")
    assert '  n0 -.-> more_callees["+50 more callees"]:::note' in source.split("\n")
    # the PNG and SVG write the notes neighbourhood_drawing gives them
    assert neighbourhood_drawing(picture).omitted() == {
        "callers": "+188 more callers",
        "callees": "+50 more callees",
    }


def test_a_pair_seen_twice_is_not_counted_as_left_out_when_one_of_its_edges_is_kept() -> None:
    fleet = [edge(f"caller-{i}", "hub", 100 - i) for i in range(3)]
    fleet += [edge("caller-0", "hub", 1), edge("hub", "db", 2)]  # caller-0 again, quieter
    picture = neighbourhood_picture(fleet, "hub", max_edges=3)
    assert [e.parent for e in picture.edges] == ["caller-0", "caller-1", "caller-2"]
    assert (picture.omitted_callers, picture.omitted_callees) == (0, 1)


def test_a_service_the_map_never_saw_has_no_picture() -> None:
    assert neighbourhood_picture(MAP, "billing") is None


def test_findings_get_their_services_neighbourhood_with_the_others_marked() -> None:
    cart, billing, search = (finding(s, "GET /", 10.0) for s in ("cart", "billing", "search"))
    out = with_neighbourhoods([cart, billing, search], MAP)
    assert [f.fingerprint for f in out] == [f.fingerprint for f in (cart, billing, search)]
    assert out[0].evidence.picture.focus == "cart"
    assert out[1].evidence.picture is None  # not on the map: kept as it was
    assert out[2].evidence.picture.marked == ("search",)
