"""Forecasters by name: the candidates a ForecastConfig may list and a saved set may name.

Merlion's model factory is the model: a name maps to a class, the configuration only ever
holds names (and each candidate's own config), and nothing else in the package switches on
a name. A forecaster is a class that follows aiops.forecast.candidate.Forecaster.

Adding one: write its module (the class and its frozen config dataclass) and register it,

    @register_forecaster
    class Drift: name = "drift"; cost = 15; config_type = DriftConfig; config_field = None; ...

then list it: `ForecastConfig(candidates=(*CANDIDATES, "drift"),
candidate_configs={"drift": DriftConfig(...)})`, or AIOPS_FORECAST_CANDIDATES. A built-in
is one more entry in BUILT_IN below, which also makes it a default candidate. A process
that loads a saved set must have registered every forecaster the set was fitted with
(importing the module that registers it); otherwise loading fails naming the missing one.

CANDIDATES: the built-in forecasters, cheapest first; ForecastConfig's default candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import is_dataclass
from typing import TypeVar

from aiops.forecast.baseline import BaselineForecaster
from aiops.forecast.candidate import Forecaster
from aiops.forecast.errors import ForecastError
from aiops.forecast.naive import SeasonalNaive
from aiops.forecast.prophet_model import ProphetForecaster

_NAME = re.compile(r"[a-z][a-z0-9_]*")
# the set's own files are forecast_set.json and intervals.npz; a forecaster names its files
# after itself, so these names would collide with them
RESERVED = ("forecast_set", "intervals")
_ATTRIBUTES = ("name", "cost", "config_type", "config_field")
_METHODS = ("from_config", "check_config", "recent_history", "backtest", "fit", "keep")
_METHODS += ("forecast", "save", "load")

_registry: dict[str, type[Forecaster]] = {}
ForecasterClass = TypeVar("ForecasterClass", bound=type)


def register_forecaster(cls: ForecasterClass) -> ForecasterClass:
    """Make `cls` a candidate under `cls.name`; returns cls, so it works as a decorator.
    Registering the same class again is a no-op; another class under a taken name fails."""
    where = f"register_forecaster({getattr(cls, '__name__', cls)!r})"
    if not isinstance(cls, type):
        raise ForecastError(f"{where}: expected a class, got {type(cls).__name__}")
    missing = [m for m in _ATTRIBUTES if not hasattr(cls, m)]
    missing += [m for m in _METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise ForecastError(
            f"{where}: not a Forecaster (aiops.forecast.candidate), missing {', '.join(missing)}"
        )
    name = cls.name
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in RESERVED:
        raise ForecastError(
            f"{where}: name must be lower-case letters, digits and _ (not {RESERVED}), got {name!r}"
        )
    if isinstance(cls.cost, bool) or not isinstance(cls.cost, int):
        raise ForecastError(f"{where}: cost must be an integer rank, got {cls.cost!r}")
    kind = cls.config_type
    if not (isinstance(kind, type) and is_dataclass(kind) and kind.__dataclass_params__.frozen):
        raise ForecastError(f"{where}: config_type must be a frozen dataclass, got {kind!r}")
    try:
        kind()
    except Exception as exc:
        raise ForecastError(f"{where}: config_type() must build its defaults: {exc}") from exc
    if cls.config_field is not None and not isinstance(cls.config_field, str):
        raise ForecastError(f"{where}: config_field must be None or a field name")
    taken = _registry.get(name)
    if taken is not None and taken is not cls:
        raise ForecastError(
            f"{where}: {name!r} is already registered to {taken.__module__}.{taken.__qualname__}"
        )
    _registry[name] = cls
    return cls


def unregister_forecaster(name: str) -> None:
    """Forget a registered forecaster (tests, plugins being reloaded)."""
    if name not in _registry:
        raise ForecastError(f"unregister_forecaster: {name!r} is not registered")
    del _registry[name]


def forecaster_names() -> tuple[str, ...]:
    """Every registered forecaster, cheapest first (equal costs: by name)."""
    return tuple(by_cost(_registry))


def forecaster_class(name: str, where: str = "forecaster") -> type[Forecaster]:
    """The class registered under `name`; an unknown name fails listing the known ones."""
    try:
        return _registry[name]
    except (KeyError, TypeError):
        raise ForecastError(
            f"{where}: unknown forecaster {name!r}; known: {', '.join(forecaster_names())} "
            "(a new one must be registered with aiops.forecast.register_forecaster)"
        ) from None


def by_cost(names: Iterable[str]) -> list[str]:
    """`names` cheapest first (the order choose() visits candidates in)."""
    return sorted(names, key=lambda n: (_registry[n].cost, n))


# the one place the built-ins register; cheapest first by their own cost ranks
BUILT_IN = (SeasonalNaive, BaselineForecaster, ProphetForecaster)
for _built_in in BUILT_IN:
    register_forecaster(_built_in)

CANDIDATES = forecaster_names()
