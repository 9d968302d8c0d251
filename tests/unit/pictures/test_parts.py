"""What both drawings of a picture show (the Mermaid diagram and the PNG/SVG): which edges of a
neighbourhood are kept, what the "+N more" notes say, how a lag reads."""

from __future__ import annotations

import pytest

from aiops.pictures.model import MapEdge, NeighbourhoodPicture
from aiops.pictures.parts import MAX_MAP_EDGES, lag_text, neighbourhood_drawing


@pytest.mark.parametrize(
    "seconds, text",
    [(None, None), (0, "+0s"), (0.4, "+0.4s"), (0.01, "+0s"), (-0.01, "+0s"), (0.97, "+1s"),
     (59.6, "+1m"), (150, "+2m 30s"),
     (3725, "+1h 2m"), (90_061, "+1d 1h"), (-30, "30s before"), (-180, "3m before"), (float("nan"), None)],
)  # fmt: skip
def test_lags_read_like_durations(seconds, text) -> None:
    assert lag_text(seconds) == text


def test_the_notes_count_what_the_drawing_dropped_and_what_the_picture_left_out() -> None:
    edges = [MapEdge(f"caller{i:02d}", "cart", 1000 - i, 0.0, 1.0) for i in range(15)]
    edges += [MapEdge("cart", "db", 10, 0.0, 1.0), MapEdge("web", "api", 5, 0.0, 1.0)]
    picture = NeighbourhoodPicture("cart", tuple(edges), omitted_callers=40, omitted_callees=2)
    drawing = neighbourhood_drawing(picture)
    assert len(drawing.edges) == MAX_MAP_EDGES
    assert (drawing.omitted_callers, drawing.omitted_callees, drawing.omitted_other) == (43, 3, 1)
    assert drawing.omitted() == {
        "callers": "+43 more callers",
        "callees": "+3 more callees",
        "edges": "+1 more edge",
    }


def test_a_picture_with_nothing_left_out_has_no_notes() -> None:
    picture = NeighbourhoodPicture("cart", (MapEdge("web", "cart", 3, 0.0, 1.0),))
    assert neighbourhood_drawing(picture).omitted() == {}
