"""Forecasters chosen per series by backtest: what the nightly run trains, the hourly run uses.

    from aiops.forecast import ForecastConfig, ForecastSet
    fs = ForecastSet(ForecastConfig()).fit(frame)          # wide frame "service:signal"
    fs.choices_["cart:memory"]   # {"model": "baseline", "scores": {"prophet": {"mase": ...}}}
    paths = fs.predict(history, origin, bounds={"error_ratio": (0, 1)})
    paths["cart:memory"]         # index origin+5min .. origin+6h; columns mean, lower, upper

Candidates, cheapest first (a tie goes to the cheaper), the built-ins (`CANDIDATES`):

- `seasonal_naive` (aiops.forecast.naive): the same time one season (a day) ago;
- `baseline` (aiops.forecast.baseline): `aiops.baselines.SeasonalBaseline`'s hour-of-week
  profile and trend, plus the current deviation from it, decaying;
- `prophet` (aiops.forecast.prophet_model): Prophet, daily + weekly seasonality, fitted on
  hourly means (on a 5-minute grid) in a bounded pool of worker processes.

A candidate is any class that follows the `Forecaster` protocol (aiops.forecast.candidate)
registered under its name with `register_forecaster` (aiops.forecast.registry); the set
drives every candidate through that protocol and never switches on a name.

Each series gets the candidate with the lowest mean MASE over a rolling-origin backtest of
the last week, refitted nightly as in production (aiops.forecast.backtest), and an
interval from that candidate's own backtest errors per lead time
(aiops.forecast.intervals). Everything is on the forecast
grid of `step`-wide bin means (aiops.forecast.grid). `save`/`load` round-trip exactly
(aiops.forecast.artifacts: JSON and npz, no pickle).
"""

from aiops.forecast.candidate import BacktestPlan, Forecaster, forecast_per_refit
from aiops.forecast.config import (
    CANDIDATES,
    BaselineForecastConfig,
    ForecastConfig,
    ProphetConfig,
    SeasonalNaiveConfig,
)
from aiops.forecast.errors import ForecastError
from aiops.forecast.forecast_set import ForecastSet
from aiops.forecast.metrics import mase, naive_scale, smape
from aiops.forecast.registry import (
    forecaster_class,
    forecaster_names,
    register_forecaster,
    unregister_forecaster,
)

__all__ = [
    "CANDIDATES",
    "BacktestPlan",
    "BaselineForecastConfig",
    "ForecastConfig",
    "ForecastError",
    "ForecastSet",
    "Forecaster",
    "ProphetConfig",
    "SeasonalNaiveConfig",
    "forecast_per_refit",
    "forecaster_class",
    "forecaster_names",
    "mase",
    "naive_scale",
    "register_forecaster",
    "smape",
    "unregister_forecaster",
]
