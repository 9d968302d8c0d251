"""The PNG and SVG of a picture: they open, they are the size a page expects, the same
picture gives the same bytes, a hostile name is text, and the file type follows the suffix."""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib
import matplotlib.image
import pytest

from aiops.pictures.draw import png_bytes, save, svg_text
from aiops.pictures.model import (
    BandPoint,
    ChainPicture,
    ChainStep,
    ForecastPicture,
    MapEdge,
    NeighbourhoodPicture,
)

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "$x^2$<script>alert(1)</script>"  # fits in a box uncut


def forecast(service: str = "checkout") -> ForecastPicture:
    observed = tuple(
        (NOW - timedelta(minutes=10 * (143 - i)), 200 + 40 * math.sin(i / 12)) for i in range(144)
    )
    band = tuple(
        BandPoint(NOW + timedelta(minutes=15 * (i + 1)), 240.0 + i,
                  None if i < 4 else 220.0 + i, None if i < 4 else 260.0 + 2 * i)
        for i in range(96)
    )  # fmt: skip
    return ForecastPicture(service, "latency_p95", "ms", NOW, observed, band, 420.0,
                           marks=(observed[-3], observed[-20]))  # fmt: skip


def chain(root: str = "db") -> ChainPicture:
    return ChainPicture(
        "inc-1",
        (
            ChainStep(root, "latency_p95", None),
            ChainStep("cart", "error_rate", 150.0, (root, "gateway", "cart")),
            ChainStep("web", "latency_p95", 0.0, (root, "gateway", "web")),
            ChainStep("mail", "queue_depth", None),
        ),
    )


def neighbourhood(focus: str = "cart", callers: int = 5) -> NeighbourhoodPicture:
    edges = [
        MapEdge(f"caller{i}", focus, 1204 * (i + 1), 0.004 * (i % 2), 38.0) for i in range(callers)
    ]
    edges += [MapEdge(focus, f"db{i}", 100 + i, 0.0, 2.5) for i in range(4)]
    return NeighbourhoodPicture(focus, tuple(edges), marked=(focus, "db0"))


def pixels(png: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, decoded by matplotlib."""
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return image.shape[1], image.shape[0]


def texts(svg: str) -> list[str]:
    """Every text of an SVG (matplotlib writes text as <text> with svg.fonttype none)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


PICTURES = {"forecast": forecast, "chain": chain, "neighbourhood": neighbourhood}


@pytest.mark.parametrize("kind", PICTURES)
def test_the_same_picture_draws_the_same_bytes(kind: str) -> None:
    make = PICTURES[kind]
    png, svg = png_bytes(make()), svg_text(make())
    png_bytes(PICTURES["neighbourhood" if kind != "neighbourhood" else "chain"]())  # in between
    assert png_bytes(make()) == png
    assert svg_text(make()) == svg
    assert b"Software" not in png and "<dc:date>" not in svg and "Matplotlib v" not in svg


def test_a_forecast_is_900_by_360_pixels_and_says_what_it_shows() -> None:
    assert pixels(png_bytes(forecast())) == (900, 360)
    shown = texts(svg_text(forecast()))
    assert "checkout · latency p95 (ms): observed and forecast" in shown
    assert {"now", "threshold 420 ms", "time (UTC)", "ms"} <= set(shown)
    assert {"observed", "forecast", "forecast band", "anomalous"} <= set(shown)


@pytest.mark.parametrize(
    "picture",
    [
        ForecastPicture("s", "x", "", NOW, (), ()),
        ForecastPicture("s", "x", "", NOW, ((NOW, 1.0),), ()),
        ForecastPicture("s", "x", "", NOW, (), (BandPoint(NOW + timedelta(hours=1), 2.0),)),
        ForecastPicture("s", "x", "", NOW, ((NOW - timedelta(hours=1), math.nan), (NOW, 1.0)),
                        (BandPoint(NOW + timedelta(hours=1), 2.0, math.nan, 3.0),), math.inf),
    ],
    ids=["empty", "one-point", "forecast-only", "not-a-number"],
)  # fmt: skip
def test_a_sparse_forecast_still_draws(picture: ForecastPicture) -> None:
    assert pixels(png_bytes(picture)) == (900, 360)
    ET.fromstring(svg_text(picture))


@pytest.mark.parametrize(
    "picture",
    [ChainPicture("inc", (ChainStep("db", "cpu", None),)), NeighbourhoodPicture("cart", ())],
    ids=["root-alone", "no-edges"],
)
def test_a_lone_service_still_draws(picture) -> None:
    width, height = pixels(png_bytes(picture))
    assert (width, height) == (900, 360)
    assert {"db", "CPU"} <= set(texts(svg_text(picture))) or "cart" in texts(svg_text(picture))


def test_a_chain_is_drawn_left_to_right_from_the_root_with_its_lags() -> None:
    svg = svg_text(chain())
    shown = texts(svg)
    assert "Incident inc-1: how it spread from the root" in shown
    # a box's lines are texts of their own: the service, then its signal
    assert {"db", "latency p95", "gateway", "cart", "error_rate", "+2m 30s", "+0s"} <= set(shown)
    assert _x(svg, "db") < _x(svg, "gateway") < _x(svg, "cart")
    width, height = pixels(png_bytes(chain()))
    assert width >= 900 and height >= 360


def test_a_neighbourhood_has_callers_left_the_focus_between_and_callees_right() -> None:
    svg = svg_text(neighbourhood())
    shown = texts(svg)
    assert "Calls to and from cart: the busiest 9" in shown
    assert {"1,204 calls · p95 38 ms", "2,408 calls · p95 38 ms · err 0.4%"} <= set(shown)
    assert shown.count("has a finding") == 2  # the focus and db0
    assert _x(svg, "caller0") < _x(svg, "cart") < _x(svg, "db1")


def test_a_big_neighbourhood_is_taller_and_says_what_it_left_out() -> None:
    picture = neighbourhood(callers=40)
    width, height = pixels(png_bytes(picture))
    assert width >= 900 and 600 < height < 2000
    shown = texts(svg_text(picture))  # the 12 busiest edges are all callers
    assert "+28 more callers" in shown and "+4 more callees" in shown


def test_a_neighbourhood_counts_the_callers_left_out_before_the_picture_was_made() -> None:
    picture = replace(neighbourhood(callers=3), omitted_callers=185, omitted_callees=1)
    shown = texts(svg_text(picture))
    assert "+185 more callers" in shown and "+1 more callee" in shown


@pytest.mark.parametrize("make", [forecast, chain, neighbourhood])
def test_a_hostile_name_is_drawn_as_text(make) -> None:
    svg = svg_text(make(HOSTILE))
    root = ET.fromstring(svg)  # still one well-formed document
    assert not [el for el in root.iter() if el.tag.lower().endswith("script")]
    assert any("$x^2$<script>alert(1)</script>" in text for text in texts(svg))  # no mathtext
    png_bytes(make(HOSTILE))


def test_drawing_leaves_the_callers_matplotlib_settings_alone() -> None:
    with matplotlib.rc_context({"svg.hashsalt": "mine", "lines.linewidth": 9.0}):
        svg_text(forecast())
        assert matplotlib.rcParams["svg.hashsalt"] == "mine"
        assert matplotlib.rcParams["lines.linewidth"] == 9.0


@pytest.mark.parametrize("name", ["out/picture.png", "out/picture.SVG"])
def test_save_writes_the_format_of_the_suffix(tmp_path: Path, name: str) -> None:
    path = save(chain(), tmp_path / name)
    assert path == tmp_path / name
    data = path.read_bytes()
    if name.endswith(".png"):
        assert data == png_bytes(chain())
    else:
        assert data.decode() == svg_text(chain())


@pytest.mark.parametrize("name", ["picture.pdf", "picture"])
def test_save_refuses_another_suffix_naming_the_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=f"{tmp_path / name}: cannot draw"):
        save(chain(), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_a_picture_nobody_draws_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no drawing for MapEdge"):
        png_bytes(MapEdge("a", "b", 1, 0.0, 1.0))


def _x(svg: str, text: str) -> float:
    """The x of the <text> showing ``text`` (from its x attribute or its translate)."""
    for el in ET.fromstring(svg).iter(f"{SVG}text"):
        if "".join(el.itertext()) == text:
            if "x" in el.attrib:
                return float(el.attrib["x"])
            return float(el.attrib["transform"].split("translate(")[1].split()[0].rstrip(","))
    raise AssertionError(f"{text!r} not drawn")
