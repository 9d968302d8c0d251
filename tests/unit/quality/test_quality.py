"""The data-quality gate refuses bad metric frames, says why, and quarantines them with the report."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.catalog import load_catalog
from aiops.quality import FrameChecks, FrameVerdict, quarantine, validate_frame
from aiops.quality.metric_frames import _gx
from aiops.store import Store

START = datetime(2026, 10, 31, 22, tzinfo=UTC)
END = START + timedelta(hours=1)
STEP = timedelta(minutes=1)
MEMORY = FrameChecks(step=STEP, lower=0.0, min_points=30)
RATIO = FrameChecks(step=STEP, lower=0.0, upper=1.0, min_points=30)

# Outbound connection attempts made while this module ran (anything but loopback).
_OUTBOUND: list[object] = []


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str) or host.startswith("/"):  # AF_UNIX paths are local
        return True
    return host in {"localhost", "::1"} or host.startswith("127.")


@pytest.fixture(scope="module", autouse=True)
def socket_guard() -> Iterator[None]:
    """Refuse and record every non-loopback connect or name lookup while these tests run."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        if not _is_loopback(address):
            _OUTBOUND.append(address)
            raise ConnectionRefusedError(f"test_quality: outbound connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _is_loopback(address):
            _OUTBOUND.append(address)
            return 111
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if not _is_loopback(host):
            _OUTBOUND.append(host)
            raise socket.gaierror(f"test_quality: name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


def _minutes(values: list[float] | np.ndarray, start: datetime = START) -> pd.Series:
    index = pd.DatetimeIndex([start + i * STEP for i in range(len(values))])
    return pd.Series(np.asarray(values, dtype="float64"), index=index)


def _clean(n: int = 60) -> np.ndarray:
    return np.linspace(1e8, 2e8, n)


def _check(series: pd.Series, checks: FrameChecks = MEMORY, signal: str = "memory") -> FrameVerdict:
    return validate_frame(series, checks, service="cart", signal=signal, stage="score")


def test_clean_frame_passes() -> None:
    verdict = _check(_minutes(_clean()))
    assert verdict.ok, verdict.reasons
    assert verdict.reasons == []
    assert verdict.points == 60
    assert verdict.report["success"] is True
    assert verdict.report["suite_name"] == "metric_frame"
    unbounded = _check(_minutes(_clean()), FrameChecks(step=STEP))  # no physical bounds at all
    assert unbounded.ok, unbounded.reasons


def test_infinity_fails_naming_count_value_and_first_timestamp() -> None:
    values = _clean()
    values[[14, 20]] = np.nan  # no value at two steps: counted, not a failure
    values[40] = np.inf
    verdict = _check(_minutes(values))
    assert not verdict.ok
    assert verdict.reasons == [
        "cart/memory: 1 infinite value: inf (first at 2026-10-31T22:40:00Z)"
    ], verdict.reasons
    assert (verdict.nan_points, verdict.implausible) == (2, 1)
    # the report is strict JSON even though GE saw an infinity among the values
    json.dumps(verdict.report, allow_nan=False)


def test_positive_infinity_alone_fails() -> None:
    values = _clean()
    values[59] = np.inf
    verdict = _check(_minutes(values))
    assert verdict.reasons == ["cart/memory: 1 infinite value: inf (first at 2026-10-31T22:59:00Z)"]


def test_duplicate_timestamps_fail() -> None:
    series = _minutes(_clean())
    series = pd.concat([series.iloc[:10], series.iloc[9:10], series.iloc[10:]])
    verdict = _check(series)
    assert not verdict.ok
    assert (
        "cart/memory: 2 rows sharing a timestamp with another row (first at 2026-10-31T22:09:00Z)"
        in (verdict.reasons)
    )


def test_non_increasing_timestamps_fail() -> None:
    series = _minutes(_clean())
    series = series.iloc[[0, 1, 2, 4, 3, *range(5, 60)]]
    verdict = _check(series)
    assert verdict.reasons == [
        "cart/memory: 1 timestamp not after the one before (first at 2026-10-31T22:03:00Z)"
    ]


def test_gap_longer_than_tolerance_fails() -> None:
    series = _minutes(_clean(90))
    series = series.drop(series.index[30:45])  # 16 minutes between 22:29 and 22:45
    verdict = _check(
        series, FrameChecks(step=STEP, lower=0.0, min_points=30, max_missing_fraction=0.5)
    )
    assert verdict.reasons == [
        "cart/memory: 1 gap longer than 10m, the longest 16m (first ending at 2026-10-31T22:45:00Z)"
    ]


def test_too_many_missing_steps_fail() -> None:
    series = _minutes(_clean(60))
    series = series.iloc[::2]  # every other minute: short gaps, but half the steps missing
    verdict = _check(series)
    assert verdict.reasons == ["cart/memory: 29 of 59 expected steps missing (49%, limit 20%)"]


@pytest.mark.parametrize(
    ("signal", "checks", "bad", "expected"),
    [
        (
            "error_ratio",
            RATIO,
            1.3,
            "cart/error_ratio: 1 value outside the signal's bounds [0, 1]: 1.3 "
            "(first at 2026-10-31T22:07:00Z)",
        ),
        (
            "memory",
            MEMORY,
            -5.0,
            "cart/memory: 1 value outside the signal's bounds [0, inf]: -5 "
            "(first at 2026-10-31T22:07:00Z)",
        ),
    ],
)
def test_out_of_physical_bounds_fails(
    signal: str, checks: FrameChecks, bad: float, expected: str
) -> None:
    values = np.full(60, 0.01) if signal == "error_ratio" else _clean()
    values[7] = bad
    verdict = _check(_minutes(values), checks, signal=signal)
    assert verdict.reasons == [expected]


def test_bounds_come_from_the_catalog() -> None:
    catalog = load_catalog()
    checks = FrameChecks.for_signal(catalog.signal("cart", "error_ratio"), stage="train", step=STEP)
    assert (checks.lower, checks.upper) == (0.0, 1.0)
    assert (checks.min_points, checks.max_gap) == (2 * 24 * 60, None)  # points, not contiguity
    memory = FrameChecks.for_signal(catalog.signal("cart", "memory"), stage="score", step=STEP)
    assert (memory.lower, memory.upper, memory.min_points) == (0.0, None, 30)


def test_too_few_points_for_training_fail() -> None:
    checks = FrameChecks.for_signal(
        load_catalog().signal("cart", "memory"), stage="train", step=STEP
    )
    verdict = validate_frame(
        _minutes(_clean(24 * 60)), checks, service="cart", signal="memory", stage="train"
    )
    assert verdict.reasons == ["cart/memory: 1440 points, fewer than the 2880 needed to train"]


def test_naive_index_is_refused() -> None:
    series = pd.Series([1.0], index=pd.DatetimeIndex([datetime(2026, 10, 31)]))
    with pytest.raises(TypeError, match="cart/memory: .*without a timezone"):
        _check(series)


def test_failed_frame_is_quarantined_with_its_report(tmp_path) -> None:
    values = _clean()
    values[14] = np.inf
    failed = _check(_minutes(values))
    passed = _check(_minutes(_clean()))
    with Store.open(f"sqlite:///{tmp_path}/r.db") as store:
        assert quarantine(store, [passed, failed], START, END) == 1
        assert quarantine(store, [passed, failed], START, END) == 1  # a rerun
        rows = store.read("quarantine")
    assert len(rows) == 1
    (row,) = rows
    assert (row["service"], row["signal"], row["stage"], row["suite"]) == (
        "cart",
        "memory",
        "score",
        "metric_frame",
    )
    assert (row["interval_start"], row["interval_end"], row["points"]) == (START, END, 60)
    assert row["reason"] == "cart/memory: 1 infinite value: inf (first at 2026-10-31T22:14:00Z)"
    report = json.loads(json.dumps(row["report"], allow_nan=False))
    assert report == failed.report
    by_type = {
        (r["expectation_config"]["type"], r["expectation_config"]["kwargs"].get("column")): r
        for r in report["results"]
    }
    finite = by_type[("expect_column_values_to_be_in_set", "not_infinite")]
    assert finite["success"] is False
    assert finite["result"]["unexpected_count"] == 1
    assert by_type[("expect_column_values_to_be_unique", "timestamp")]["success"] is True
    assert len(report["results"]) == 8
    assert report["counts"] == {
        "rows": 60,
        "observed": 60,
        "nan": 0,
        "missing_steps": 0,
        "implausible": 1,
    }


def test_reruns_store_identical_reports(tmp_path) -> None:
    values = _clean()
    values[3] = -1.0
    first = _check(_minutes(values))
    again = _check(_minutes(values))
    assert json.dumps(first.report, sort_keys=True) == json.dumps(again.report, sort_keys=True)


def test_great_expectations_stays_offline_and_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    _gx.cache_clear()  # build the context again, under the socket guard
    runtime = _gx()
    assert runtime.context.config.analytics_enabled is False
    assert runtime.context.progress_bars.globally is False
    assert runtime.context.progress_bars.metric_calculations is False
    assert runtime.context.mode == "ephemeral"
    values = _clean()
    values[5] = np.inf
    assert not _check(_minutes(values)).ok
    assert _OUTBOUND == []
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err  # no tqdm progress bars
