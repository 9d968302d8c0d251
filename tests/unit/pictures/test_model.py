"""A stored picture comes back exactly as it was made, a bad one is refused with a message
that names it, and a type nobody registered is never guessed at."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aiops.pictures.model import (
    PICTURES,
    BandPoint,
    ChainPicture,
    ChainStep,
    ForecastPicture,
    MapEdge,
    NeighbourhoodPicture,
    UnknownPictureError,
    picture_from_json,
)

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def forecast() -> ForecastPicture:
    return ForecastPicture(
        service="checkout",
        signal="latency_p95",
        unit="ms",
        now=NOW,
        observed=((NOW - timedelta(minutes=10), 0.1 + 0.2), (NOW, 250.0)),
        forecast=(
            BandPoint(NOW + timedelta(minutes=15), 260.0, 240.0, 280.5),
            BandPoint(NOW + timedelta(minutes=30), 270.0),
        ),
        threshold=420.0,
        marks=((NOW, 250.0),),
    )


def chain() -> ChainPicture:
    return ChainPicture(
        "inc-7",
        (
            ChainStep("db", "latency_p95", None),
            ChainStep("cart", "error_rate", 150.0, ("db", "cart")),
            ChainStep("web", "latency_p95", 0.0),
        ),
    )


def neighbourhood() -> NeighbourhoodPicture:
    return NeighbourhoodPicture(
        "cart",
        (MapEdge("web", "cart", 1204, 0.004, 38.0), MapEdge("cart", "db", 3, 0.0, 2.5)),
        marked=("cart",),
    )


@pytest.mark.parametrize("make", [forecast, chain, neighbourhood])
def test_every_picture_round_trips_through_json_text(make) -> None:
    picture = make()
    doc = json.loads(json.dumps(picture.to_json()))
    assert doc["type"] == picture.type
    again = picture_from_json(doc)
    assert again == picture
    assert again.to_json() == picture.to_json()


def test_a_neighbourhood_keeps_what_was_left_out_through_json() -> None:
    picture = replace(neighbourhood(), omitted_callers=188, omitted_callees=50)
    doc = json.loads(json.dumps(picture.to_json()))
    assert (doc["omitted_callers"], doc["omitted_callees"]) == (188, 50)
    assert picture_from_json(doc) == picture


def test_a_neighbourhood_stored_before_the_counts_existed_left_nothing_out() -> None:
    doc = neighbourhood().to_json()
    del doc["omitted_callers"], doc["omitted_callees"]
    again = picture_from_json(doc)
    assert (again.omitted_callers, again.omitted_callees) == (0, 0)
    assert again == neighbourhood()


@pytest.mark.parametrize("count", [-1, 2.5, True, "3"])
def test_a_count_left_out_that_is_not_a_count_is_refused_naming_the_field(count) -> None:
    with pytest.raises(ValueError, match="NeighbourhoodPicture cart: omitted_callees must be"):
        replace(neighbourhood(), omitted_callees=count)


def test_the_registry_holds_every_kind_by_its_type() -> None:
    kinds = {"forecast": ForecastPicture, "chain": ChainPicture,
             "neighbourhood": NeighbourhoodPicture}  # fmt: skip
    assert kinds == PICTURES


def test_a_forecast_from_another_timezone_keeps_its_instant() -> None:
    east = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    picture = ForecastPicture("s", "x", "", east, ((east, 1.0),), ())
    again = picture_from_json(json.loads(json.dumps(picture.to_json())))
    assert again.now == NOW
    assert again.now.utcoffset() == timedelta(hours=5, minutes=30)


def test_naive_times_are_refused_naming_the_value() -> None:
    naive = datetime(2024, 5, 6, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware.*2024, 5, 6, 12, 0"):
        ForecastPicture("checkout", "latency_p95", "ms", naive, (), ())
    with pytest.raises(ValueError, match="timezone-aware"):
        ForecastPicture("checkout", "latency_p95", "ms", NOW, ((naive, 1.0),), ())


def test_times_that_go_back_are_refused_naming_the_signal() -> None:
    with pytest.raises(ValueError, match="checkout/latency_p95: times must increase"):
        ForecastPicture("checkout", "latency_p95", "ms", NOW, ((NOW, 1.0), (NOW, 2.0)), ())
    with pytest.raises(ValueError, match="history before forecast"):
        ForecastPicture(
            "checkout", "latency_p95", "ms", NOW,
            ((NOW, 1.0),), (BandPoint(NOW - timedelta(minutes=5), 1.0),),
        )  # fmt: skip


def test_a_chain_without_its_root_is_refused_naming_the_incident() -> None:
    with pytest.raises(ValueError, match="inc-9: a chain needs its root"):
        ChainPicture("inc-9", ())


@pytest.mark.parametrize(
    "doc, named",
    [
        ({"type": "sankey", "focus": "cart"}, "'sankey'"),
        ({"focus": "cart", "edges": []}, "None"),
        (["forecast"], "None"),
    ],
)
def test_an_unknown_type_is_refused_listing_the_known_ones(doc, named) -> None:
    with pytest.raises(UnknownPictureError, match=f"picture type {named} is not known") as err:
        picture_from_json(doc)
    assert "chain, forecast, neighbourhood" in str(err.value)
    assert isinstance(err.value, ValueError)  # callers that catch ValueError still catch it
