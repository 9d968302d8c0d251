"""The service catalog: which services exist, who owns them, how to query their signals.

Validated on load, because a typo here would otherwise surface hours later as an empty
Prometheus result or an issue filed in the wrong repository. Errors name the file, the line
and the key: `include/catalog.yaml:41: services.cart.scaling.max_replicas: must be >= ...`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from aiops.llm.config import LlmSettings
from aiops.rightsizing.settings import RightsizingSettings
from aiops.units import parse_bytes, parse_duration_seconds, parse_number
from aiops.yaml_lines import deepest_line, duplicate_key

SIGNAL_KINDS = ("traffic", "errors", "latency", "saturation", "other")
DIRECTIONS = ("up", "down", "both")
DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "include" / "catalog.yaml"
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the file, line and key."""


Seconds = Annotated[float, BeforeValidator(parse_duration_seconds), Field(gt=0)]
NonNegativeSeconds = Annotated[float, BeforeValidator(parse_duration_seconds), Field(ge=0)]
Number = Annotated[float, BeforeValidator(parse_number)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class KnownSignal:
    """What a well-known signal name means when the catalog does not say."""

    unit: str
    kind: str
    direction: str
    max: float | None = None


#: The five names every earlier catalog used; a signal under one of these names needs only
#: its query. Any other name is welcome with its unit (kind and direction default to
#: "other" and "both").
KNOWN_SIGNALS: dict[str, KnownSignal] = {
    "request_rate": KnownSignal("req/s", "traffic", "both"),
    "error_ratio": KnownSignal("ratio", "errors", "up", max=1.0),
    "latency_p95": KnownSignal("s", "latency", "up"),
    "cpu": KnownSignal("cores", "saturation", "up"),
    "memory": KnownSignal("bytes", "saturation", "up"),
}
_SIGNAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SignalSpec(_Model):
    """A PromQL template (`${service}` is substituted), its unit, what kind of signal it is,
    which way is bad, and the physical bounds a value can take (outside them is bad data).

    Unit, kind and direction may be left out for the five known names; `resolved` fills
    them in, so every reader sees a complete spec.
    """

    query: str = Field(min_length=1)
    unit: str | None = None
    kind: Literal[SIGNAL_KINDS] | None = None  # type: ignore[valid-type]
    direction: Literal[DIRECTIONS] | None = Field(  # type: ignore[valid-type]
        None, description="which way is bad: up (latency), down (throughput), both"
    )
    min: float | None = 0.0
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> SignalSpec:
        rendered = Template(self.query).safe_substitute(service="x")
        if "${" in rendered or "$" in rendered.replace("$$", ""):
            raise ValueError(f"query uses a placeholder other than ${{service}}: {self.query!r}")
        if self.min is not None and self.max is not None and self.max <= self.min:
            raise ValueError(f"max ({self.max:g}) must be > min ({self.min:g})")
        return self

    def resolved(self, name: str, template: SignalSpec | None = None) -> SignalSpec:
        """This spec with unit, kind, direction and max taken, where it is silent, from the
        defaults template of the same name, then from the known signal of that name."""
        known = KNOWN_SIGNALS.get(name)
        fields = self.model_fields_set
        update: dict[str, Any] = {}
        for key in ("unit", "kind", "direction"):
            if getattr(self, key) is None:
                inherited = getattr(template, key, None) if template is not None else None
                update[key] = inherited or (getattr(known, key) if known else None)
        if "max" not in fields and self.max is None:
            update["max"] = template.max if template is not None else (known.max if known else None)
        if "min" not in fields and template is not None:
            update["min"] = template.min
        update["kind"] = update.get("kind", self.kind) or "other"
        update["direction"] = update.get("direction", self.direction) or "both"
        return self.model_copy(update=update)


#: The load quantile scaling serves by default, chosen by bench/bench_scaling.py.
TARGET_QUANTILE = 0.5


class Scaling(_Model):
    """How KEDA should scale the service: replicas = ceil(load to serve / capacity).

    `lead_time` is how long a new replica takes to become useful (schedule, pull, warm up).
    The load to serve (aiops.predictive.scaling) is the `target_quantile` of the predicted
    load over the window a decision covers (from when KEDA reads it to `refresh` after its
    replicas are ready), never below the load observed, held for `scale_down_window` before
    it drops. A higher quantile is short of the load less often and costs more replicas:
    docs/SCALER.md has the trade-off measured on real load. `forecast: mean|upper` (before
    the quantile) still reads as 0.5 and 0.9.
    """

    metric: str = Field(
        "request_rate", description="the signal replicas follow (one of the service's)"
    )
    capacity_per_replica: Number = Field(gt=0)
    min_replicas: int = Field(ge=0)
    max_replicas: int = Field(ge=1)
    lead_time: NonNegativeSeconds = 600.0
    target_quantile: float = Field(
        TARGET_QUANTILE, gt=0, lt=1, description="quantile of the predicted load to serve"
    )
    refresh: NonNegativeSeconds = Field(
        300.0, description="how often a new decision takes effect (the refresh task)"
    )
    scale_down_window: NonNegativeSeconds = Field(
        300.0, description="a lower value must last this long before replicas drop"
    )

    @model_validator(mode="before")
    @classmethod
    def _forecast_as_quantile(cls, data: Any) -> Any:
        if isinstance(data, dict) and "forecast" in data:
            data = dict(data)
            old = data.pop("forecast")
            if old not in ("mean", "upper"):
                raise ValueError(f"forecast: expected 'mean' or 'upper', got {old!r}")
            data.setdefault("target_quantile", 0.5 if old == "mean" else 0.9)
        return data

    @model_validator(mode="after")
    def _check(self) -> Scaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas: must be >= min_replicas ({self.min_replicas}), got {self.max_replicas}"
            )
        return self


def parse_quantity(value: Any) -> float:
    """A threshold in whatever form people write one: 0.02, "250ms", "1.5s", "890MiB"."""
    if isinstance(value, str):
        for parse in (parse_number, parse_duration_seconds, parse_bytes):
            try:
                return float(parse(value))
            except (TypeError, ValueError):
                continue
        raise ValueError(f"not a number, duration or size: {value!r}")
    return float(parse_number(value))


class Slo(_Model):
    """Thresholds a signal must stay under; predictive alerts forecast the time to cross them.

    The five known signals have typed keys; any other signal of the service may carry one
    too (`slo: {queue_depth: 500}`), parsed as a number, a duration or a size.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    latency_p95: Seconds | None = None
    error_ratio: Annotated[float, Field(gt=0, le=1)] | None = None
    cpu: Annotated[Number, Field(gt=0)] | None = None
    memory: Annotated[float, BeforeValidator(parse_bytes), Field(gt=0)] | None = None
    request_rate: Annotated[Number, Field(gt=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse_other_signals(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        parsed = dict(data)
        for key, value in data.items():
            if key in cls.model_fields or value is None:
                continue
            number = parse_quantity(value)
            if not number > 0:
                raise ValueError(f"{key}: must be > 0, got {value!r}")
            parsed[key] = number
        return parsed

    def thresholds(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Service(_Model):
    owner: str = Field(description="GitHub repository that receives this service's issues")
    team: str
    tier: Literal["frontend", "api", "database", "cache", "worker"] = "api"
    slo: Slo = Slo()
    scaling: Scaling | None = None
    signals: dict[str, SignalSpec | None] = Field(
        default_factory=dict, description="its own signals and overrides; null drops a default"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    issue_labels: list[str] = Field(
        default_factory=list, description="added to this service's issues (e.g. 'team:edge')"
    )

    @model_validator(mode="after")
    def _check(self) -> Service:
        if not _REPO.match(self.owner):
            raise ValueError(
                f"owner: expected a GitHub repository 'owner/name', got {self.owner!r}"
            )
        check_signal_names(self.signals)
        return self


def check_signal_names(signals: dict[str, Any]) -> None:
    bad = sorted(name for name in signals if not _SIGNAL_NAME.match(name))
    if bad:
        raise ValueError(
            f"signals: name(s) {bad} must be lowercase letters, digits and '_', "
            "starting with a letter"
        )


class Defaults(_Model):
    """The step of every query and the signal templates every service gets (unless it sets
    that signal to null). May be empty: then each service lists its own signals."""

    step: Seconds = 60.0
    signals: dict[str, SignalSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Defaults:
        check_signal_names(self.signals)
        return self


class IssueSettings(_Model):
    """How findings become GitHub issues (aiops.sinks.filing)."""

    bot_label: str = Field("aiops", min_length=1, description="on every issue; dedupe lists by it")
    labels: list[str] = Field(default_factory=list, description="added to every issue")
    default_repository: str | None = Field(
        None, description="for findings about services outside the catalog"
    )
    reopen_completed: bool = Field(
        True, description="reopen an issue closed as completed when the problem is seen again"
    )
    max_new_issues: int = Field(10, ge=0, description="new issues per run; the rest wait")
    min_confidence: float = Field(0.0, ge=0, le=1, description="findings below are not filed")
    graph_url: str | None = Field(
        None, description="where people open the day's dependency graph; {day} is substituted"
    )
    notifiers: list[str] = Field(
        default_factory=lambda: ["log"],
        description="told once a run's issues are filed (aiops.sinks.notify); names registered there",
    )

    @model_validator(mode="after")
    def _check(self) -> IssueSettings:
        if self.default_repository and not _REPO.match(self.default_repository):
            raise ValueError(
                "default_repository: expected a GitHub repository 'owner/name', "
                f"got {self.default_repository!r}"
            )
        if any(not label.strip() or "," in label for label in [self.bot_label, *self.labels]):
            raise ValueError("labels: each must be non-empty and hold no comma")
        return self


class LogSettings(_Model):
    """How logs are read, mined and scored (aiops.logs)."""

    format: str = Field(
        "<Date> <Time> <Level> <Component>: <Content>",
        description="Loghub format string of plain log files, or 'auto' (each file's layout "
        "recognised from its first lines)",
    )
    variable_after: int = Field(
        6, ge=2, description="distinct words at one template position that make it a variable"
    )
    max_templates: int = Field(
        5000, ge=1, description="templates kept per service; the least recently matched go"
    )
    bucket_minutes: int = Field(5, ge=1, le=60, description="resolution of template counts")
    warmup_hours: float = Field(24, ge=0, description="mined before the first interval ever")
    max_catchup_hours: float = Field(168, gt=0, description="longest gap mined before a run")
    min_history_hours: float = Field(
        6, ge=0, description="mining needed before a service's templates can be 'new'"
    )
    baseline_days: float = Field(7, gt=0, description="history the counts are compared with")
    k: float = Field(4.0, gt=0, description="robust z beyond which a count is anomalous")
    min_count: int = Field(10, ge=1, description="fewest lines for a spike or an error ratio")
    chatty_per_hour: float = Field(
        20, gt=0, description="expected lines/hour above which a template's absence is silence"
    )
    silence_minutes: float = Field(
        30, gt=0, description="a chatty template quiet this long at the interval's end is silent"
    )
    lasting_hours: float = Field(24, gt=0, description="a new error template this old ...")
    lasting_share: float = Field(
        0.75, gt=0, le=1, description="... present in this share of its last hours is a finding"
    )
    new_within_days: float = Field(7, gt=0, description="templates younger than this are new")


class IncidentSettings(_Model):
    """How anomaly events become incidents and how their root cause is ranked
    (aiops.incidents)."""

    window_minutes: float = Field(
        15, ge=0, description="gap two related events may leave between them"
    )
    max_hops: int = Field(1, ge=1, description="calls apart two services of one incident may be")
    map_max_age_days: float = Field(
        7, gt=0, description="oldest trace window whose dependency map is still used"
    )
    without_map: Literal["time", "service"] = Field(
        "time", description="with no map: group by time alone, or keep services apart"
    )
    min_events_for_issue: int = Field(
        2, ge=1, description="incidents with fewer events are recorded but not filed"
    )


class Catalog(_Model):
    version: Literal[1]
    defaults: Defaults
    services: dict[str, Service] = Field(min_length=1)
    issues: IssueSettings = IssueSettings()
    logs: LogSettings = LogSettings()
    incidents: IncidentSettings = IncidentSettings()
    llm: LlmSettings = LlmSettings()
    rightsizing: RightsizingSettings = RightsizingSettings()
    # service -> its resolved signals, computed once on validation: every hourly query,
    # bound and unit lookup reads it
    _signals: dict[str, dict[str, SignalSpec]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Catalog:
        for name in self.services:
            if not _SERVICE_NAME.match(name):
                raise ValueError(
                    f"service name {name!r} must be lowercase letters, digits and '-' "
                    "(it is substituted into PromQL label matchers)"
                )
        self._signals = {name: self._resolve_signals(name) for name in self.services}
        problems = [p for name in self.services for p in self._service_problems(name)]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _service_problems(self, name: str) -> list[str]:
        where = f"services.{name}"
        svc = self.services[name]
        signals = self.signals_of(name)
        problems = []
        if not signals:
            problems.append(
                f"{where}.signals: the service has no signals (set some here or under "
                "defaults.signals)"
            )
        for signal, spec in signals.items():
            if not spec.unit:
                key = "signals" if signal in svc.signals else "defaults.signals"
                problems.append(
                    f"{where if key == 'signals' else 'defaults'}.signals.{signal}: "
                    f"unit is required for a signal not named {list(KNOWN_SIGNALS)}"
                )
        if svc.scaling is not None and svc.scaling.metric not in signals:
            problems.append(
                f"{where}.scaling.metric: {svc.scaling.metric!r} is not a signal of the "
                f"service (it has {list(signals)})"
            )
        for key in svc.slo.thresholds():
            if key not in signals:
                problems.append(
                    f"{where}.slo.{key}: not a signal of the service (it has {list(signals)})"
                )
        return problems

    @property
    def service_names(self) -> list[str]:
        return list(self.services)

    def signals_of(self, service: str) -> dict[str, SignalSpec]:
        """The service's signals, complete (unit, kind, direction, bounds): the defaults'
        templates it does not drop, then its own, in catalog order."""
        if service not in self.services:
            raise KeyError(f"service {service!r} is not in the catalog")
        return dict(self._signals[service])

    def _resolve_signals(self, service: str) -> dict[str, SignalSpec]:
        own = self.services[service].signals
        out: dict[str, SignalSpec] = {}
        for name, template in self.defaults.signals.items():
            if name in own and own[name] is None:
                continue
            base = template.resolved(name)
            spec = own.get(name)
            out[name] = spec.resolved(name, base) if spec is not None else base
        for name, spec in own.items():
            if spec is not None and name not in out:
                out[name] = spec.resolved(name)
        return out

    def signal(self, service: str, signal: str) -> SignalSpec:
        spec = self._signals[service].get(signal) if service in self._signals else None
        if spec is None:
            raise KeyError(f"service {service!r} has no signal {signal!r}")
        return spec

    def query(self, service: str, signal: str) -> str:
        """The PromQL for one (service, signal), with the service name substituted."""
        return Template(self.signal(service, signal).query).substitute(service=service)

    def shards(self, size: int) -> list[list[str]]:
        """Services grouped for mapped tasks: one task per shard, never one per series."""
        if size < 1:
            raise ValueError(f"shard size must be >= 1, got {size}")
        names = self.service_names
        return [names[i : i + size] for i in range(0, len(names), size)]


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Parse and validate a catalog file; every problem becomes a CatalogError naming its line."""
    path = Path(path or os.environ.get("AIOPS_CATALOG") or DEFAULT_CATALOG)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read catalog: {exc.strerror or exc}") from exc
    return parse_catalog(text, str(path))


def parse_catalog(text: str, source: str = "<catalog>") -> Catalog:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise CatalogError(f"{source}:{line}: invalid YAML: {exc.problem}") from exc
    if root is None:
        raise CatalogError(f"{source}: catalog is empty")
    duplicate = duplicate_key(root)
    if duplicate:
        raise CatalogError(f"{source}:{duplicate[0]}: {duplicate[1]}: duplicate key")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CatalogError(
            f"{source}:1: the catalog must be a mapping with version, defaults, services"
        )
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_describe(exc, root, source)) from None


def _describe(exc: ValidationError, root: yaml.Node, source: str) -> str:
    lines = []
    for err in exc.errors():
        # pydantic adds the validator kind (e.g. "function-after") to loc; keep data keys only
        loc = tuple(
            p
            for p in err["loc"]
            if not (isinstance(p, str) and ("[" in p or "-" in p and p.startswith("function")))
        )
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "value_error" and "\n" in msg:
            # the catalog-wide check: one problem per line, each naming its full key
            for problem in msg.split("\n"):
                key, _, text = problem.partition(": ")
                path = tuple(key.split("."))
                lines.append(f"{source}:{deepest_line(root, path)}: {key}: {text}")
            continue
        field = re.match(r"^([\w.-]+): (.*)$", msg, re.DOTALL)
        if field and err["type"] == "value_error":
            # model-level checks say which field they are about; point at that field's line
            loc, msg = (*loc, *field.group(1).split(".")), field.group(2)
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        key = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{source}:{deepest_line(root, loc)}: {key}: {msg}")
    return "\n".join(lines)
