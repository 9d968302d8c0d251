"""A costly candidate is backtested only where it pays (aiops.forecast.sparing): on a
series' first night and on the series' weekly re-check day; where it is the choice in
between, last check's scores and interval are carried and it is only refitted. The cheap
baseline stands in for Prophet here, so the test runs in seconds."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from aiops.forecast import ForecastConfig, ForecastSet
from aiops.forecast.errors import ForecastError
from aiops.forecast.sparing import carried_keys, due_keys, recheck_slot

CONFIG = ForecastConfig(candidates=("seasonal_naive", "baseline"), sparing=("baseline",))
DAY = date(2026, 10, 20)


def _frame(days: int, seed: int = 3) -> pd.DataFrame:
    """Twelve series at 5 minutes: a daily cycle, half with noise (where the seasonal
    baseline wins), half a clean, slowly growing repeat of yesterday (seasonal naive)."""
    index = pd.date_range("2026-09-20", periods=days * 288, freq="5min", tz="UTC")
    hours = (index.hour + index.minute / 60).to_numpy()
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(12):
        daily = 50 + 30 * np.sin(2 * np.pi * (hours - i) / 24)
        if i % 2:
            columns[f"s{i}:load"] = daily + rng.normal(0, 8, len(index))
        else:
            columns[f"s{i}:load"] = daily * (1 + 0.05 * np.arange(len(index)) / len(index))
    return pd.DataFrame(columns, index=index)


def test_which_series_a_costly_candidate_runs_on() -> None:
    before = {
        "chosen": {"model": "prophet", "checked": {"prophet": "2026-10-19"}},
        "lost": {"model": "baseline", "checked": {"prophet": "2026-10-19"}},
        "stale": {"model": "baseline", "checked": {"prophet": "2026-10-12"}},
        "never": {"model": "baseline"},
    }
    keys = ["chosen", "lost", "stale", "never", "new"]
    due = due_keys("prophet", keys, before, DAY, 7)
    slot_day = "lost" if DAY.toordinal() % 7 == recheck_slot("lost", 7) else None
    chosen_slot = DAY.toordinal() % 7 == recheck_slot("chosen", 7)
    assert set(due) == {"stale", "never", "new"} | ({slot_day} - {None}) | (
        {"chosen"} if chosen_slot else set()
    )
    # the choice it won is carried, not backtested again, until its re-check
    assert carried_keys(
        "prophet",
        keys,
        {
            **before,
            "chosen": {
                **before["chosen"],
                "scores": {"prophet": {"mase": 0.5, "smape": 0.1, "origins": 28}},
            },
        },
        due,
    ) == ([] if chosen_slot else ["chosen"])
    assert carried_keys("prophet", keys, before, due) == []  # no score to carry: none
    assert due_keys("prophet", keys, None, DAY, 7) == keys  # no earlier night: everywhere
    # night after night, a series it loses on is re-checked once a week, on its own day
    last, checks = DAY - timedelta(days=1), []
    for d in (DAY + timedelta(days=n) for n in range(21)):
        state = {"lost": {"model": "baseline", "checked": {"prophet": last.isoformat()}}}
        if due_keys("prophet", ["lost"], state, d, 7):
            last = d
            checks.append(d)
    gaps = [b - a for a, b in zip(checks, checks[1:], strict=False)]
    assert len(checks) == 3 and gaps == [timedelta(days=7)] * 2
    assert all(d.toordinal() % 7 == recheck_slot("lost", 7) for d in checks)


def test_the_second_night_backtests_the_costly_candidate_only_where_it_pays() -> None:
    frame = _frame(30)
    night1 = frame.iloc[:-288]
    first = ForecastSet(CONFIG).fit(night1)
    models = {k: c["model"] for k, c in first.choices_.items()}
    assert set(models.values()) == {"seasonal_naive", "baseline"}  # both win somewhere
    assert all(c["checked"] == {"baseline": "2026-10-19"} for c in first.choices_.values())

    second = ForecastSet(CONFIG).fit(frame, previous=first)

    night2 = date(2026, 10, 20)
    carried = []
    for key, choice in second.choices_.items():
        ran = choice["checked"]["baseline"] == "2026-10-20"
        slot = night2.toordinal() % 7 == recheck_slot(key, 7)
        assert ran == slot, key
        assert ran or choice["checked"]["baseline"] == "2026-10-19", key
        if not ran and models[key] == "baseline":
            # carried: last night's scores and interval, a fit on tonight's data
            carried.append(key)
            assert choice["scores"]["baseline"] == first.choices_[key]["scores"]["baseline"]
            assert choice["model"] in ("baseline", "seasonal_naive")
            if choice["model"] == "baseline":
                for ours, theirs in zip(second._offsets["baseline"][key],
                                        first._offsets["baseline"][key], strict=True):  # fmt: skip
                    np.testing.assert_array_equal(ours, theirs)
        elif not ran:
            assert choice["scores"]["baseline"]["origins"] == 0  # not scored: not chosen
            assert choice["model"] != "baseline"
    assert carried  # the point: the winner is not backtested again
    assert any(c["scores"]["baseline"]["origins"] == 0 for c in second.choices_.values())
    kept = [k for k in carried if second.choices_[k]["model"] == "baseline"]
    assert kept and set(kept) <= set(second.forecasters_["baseline"].keys_)  # refitted
    tomorrow = frame.index[-1] + pd.Timedelta("5min")
    history = _frame(31).loc[: frame.index[-1]]
    out = second.predict(history, tomorrow)
    assert all(np.isfinite(out[k].to_numpy()).all() for k in kept)
    # without the previous night, every series runs it again
    again = ForecastSet(CONFIG).fit(frame)
    assert all(c["scores"]["baseline"]["origins"] > 0 for c in again.choices_.values())


def test_the_check_days_survive_save_and_load(tmp_path) -> None:
    fitted = ForecastSet(CONFIG).fit(_frame(25))
    loaded = ForecastSet.load(fitted.save(tmp_path / "set"))
    assert {k: c["checked"] for k, c in loaded.choices_.items()} == {
        k: c["checked"] for k, c in fitted.choices_.items()
    }


def test_recheck_days_must_be_positive() -> None:
    with pytest.raises(ForecastError, match="ForecastConfig.recheck_days: must be >= 1, got 0"):
        ForecastConfig(recheck_days=0)


def test_the_nightly_spares_with_the_night_before_and_a_rerun_does_the_same(tmp_path) -> None:
    from datetime import UTC, datetime

    from aiops.model_registry import ModelRegistry
    from aiops.predictive.pipeline import PredictionSettings, forecast_model_name, train_forecasts

    frame = _frame(30).iloc[:, :1].set_axis(["shop:request_rate"], axis=1)
    registry = ModelRegistry(tmp_path / "models")
    settings = PredictionSettings(forecast=CONFIG)
    night1 = datetime(2026, 10, 19, tzinfo=UTC)
    night2 = datetime(2026, 10, 20, tzinfo=UTC)

    def stored(night: datetime) -> dict:
        train_forecasts(frame[frame.index < night], "shop", night, registry, settings)
        path, _ = registry.latest_good(forecast_model_name("shop"), as_of=night)
        return ForecastSet.load(path / "forecast").choices_["shop:request_rate"]

    first = stored(night1)
    second = stored(night2)
    rerun = stored(night2)  # the same night again: its night before is still night 1

    # a night is the day of its last bin (the data up to midnight ends in the bin at 00:00)
    assert first["checked"] == {"baseline": "2026-10-19"}
    slot = date(2026, 10, 20).toordinal() % 7 == recheck_slot("shop:request_rate", 7)
    assert second["checked"]["baseline"] == ("2026-10-20" if slot else "2026-10-19")
    if not slot and first["model"] == "baseline":
        assert second["scores"]["baseline"] == first["scores"]["baseline"]  # carried
    assert rerun == second


def test_a_changed_configuration_backtests_the_choice_again_instead_of_carrying_it() -> None:
    frame = _frame(30)
    first = ForecastSet(CONFIG).fit(frame.iloc[:-288])
    winners = [k for k, c in first.choices_.items() if c["model"] == "baseline"]
    assert winners
    wider = ForecastConfig(candidates=CONFIG.candidates, sparing=CONFIG.sparing, level=0.9)
    second = ForecastSet(wider).fit(frame, previous=first)
    for key in winners:  # the old 80% offsets cannot serve a 90% interval
        assert second.choices_[key]["checked"]["baseline"] == "2026-10-20", key
