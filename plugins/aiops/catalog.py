"""The service catalog: which services exist, who owns them, how to query their signals.

Validated on load, because a typo here would otherwise surface hours later as an empty
Prometheus result or an issue filed in the wrong repository. Errors name the file, the line
and the key: `include/catalog.yaml:41: services.cart.scaling.max_replicas: must be >= ...`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from aiops.llm.config import LlmSettings
from aiops.units import parse_bytes, parse_duration_seconds, parse_number

SIGNAL_NAMES = ("request_rate", "error_ratio", "latency_p95", "cpu", "memory")
DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "include" / "catalog.yaml"
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the file, line and key."""


Seconds = Annotated[float, BeforeValidator(parse_duration_seconds), Field(gt=0)]
Number = Annotated[float, BeforeValidator(parse_number)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Model):
    """A PromQL template (`${service}` is substituted) and the signal's physical bounds."""

    query: str = Field(min_length=1)
    unit: str
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


class Scaling(_Model):
    """How KEDA should scale the service: replicas = ceil(load at now + lead / capacity).

    `lead_time` is how long a new replica takes to become useful (schedule, pull, warm up):
    scaling on the load predicted that far ahead has it ready when the load arrives.
    `forecast: upper` follows the upper end of the 80% interval instead of the mean, for
    services where running short costs more than a spare replica.
    """

    metric: Literal[SIGNAL_NAMES] = "request_rate"  # type: ignore[valid-type]
    capacity_per_replica: Number = Field(gt=0)
    min_replicas: int = Field(ge=0)
    max_replicas: int = Field(ge=1)
    lead_time: Seconds = 600.0
    forecast: Literal["mean", "upper"] = "mean"

    @model_validator(mode="after")
    def _check(self) -> Scaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas: must be >= min_replicas ({self.min_replicas}), got {self.max_replicas}"
            )
        return self


class Slo(_Model):
    """Thresholds a signal must stay under; predictive alerts forecast the time to cross them."""

    latency_p95: Seconds | None = None
    error_ratio: Annotated[float, Field(gt=0, le=1)] | None = None
    cpu: Annotated[Number, Field(gt=0)] | None = None
    memory: Annotated[float, BeforeValidator(parse_bytes), Field(gt=0)] | None = None
    request_rate: Annotated[Number, Field(gt=0)] | None = None

    def thresholds(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Service(_Model):
    owner: str = Field(description="GitHub repository that receives this service's issues")
    team: str
    tier: Literal["frontend", "api", "database", "cache", "worker"] = "api"
    slo: Slo = Slo()
    scaling: Scaling | None = None
    signals: dict[str, SignalSpec] = Field(default_factory=dict)
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
        unknown = sorted(set(self.signals) - set(SIGNAL_NAMES))
        if unknown:
            raise ValueError(f"signals: unknown signal(s) {unknown}; known: {list(SIGNAL_NAMES)}")
        return self


class Defaults(_Model):
    step: Seconds = 60.0
    signals: dict[str, SignalSpec]

    @model_validator(mode="after")
    def _check(self) -> Defaults:
        missing = [s for s in SIGNAL_NAMES if s not in self.signals]
        if missing:
            raise ValueError(f"signals: missing default template(s) for {missing}")
        unknown = sorted(set(self.signals) - set(SIGNAL_NAMES))
        if unknown:
            raise ValueError(f"signals: unknown signal(s) {unknown}; known: {list(SIGNAL_NAMES)}")
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
        description="Loghub format string of plain log files",
    )
    depth: int = Field(3, ge=3, description="Drain parse-tree depth")
    sim_threshold: float = Field(0.4, gt=0, le=1, description="Drain similarity threshold")
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

    @model_validator(mode="after")
    def _check(self) -> Catalog:
        for name in self.services:
            if not _SERVICE_NAME.match(name):
                raise ValueError(
                    f"service name {name!r} must be lowercase letters, digits and '-' "
                    "(it is substituted into PromQL label matchers)"
                )
        return self

    @property
    def service_names(self) -> list[str]:
        return list(self.services)

    def signal(self, service: str, signal: str) -> SignalSpec:
        svc = self.services[service]
        return svc.signals.get(signal) or self.defaults.signals[signal]

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
    _reject_duplicate_keys(root, source, ())
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CatalogError(
            f"{source}:1: the catalog must be a mapping with version, defaults, services"
        )
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_describe(exc, root, source)) from None


def _reject_duplicate_keys(node: yaml.Node, source: str, path: tuple[str, ...]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                where = ".".join((*path, name))
                raise CatalogError(f"{source}:{key.start_mark.line + 1}: {where}: duplicate key")
            seen.add(name)
            _reject_duplicate_keys(value, source, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _reject_duplicate_keys(item, source, (*path, str(i)))


def _line_of(root: yaml.Node, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node on loc that exists in the YAML tree."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


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
        field = re.match(r"^(\w+): (.*)$", msg, re.DOTALL)
        if field and err["type"] == "value_error":
            # model-level checks say which field they are about; point at that field's line
            loc, msg = (*loc, field.group(1)), field.group(2)
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        key = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{source}:{_line_of(root, loc)}: {key}: {msg}")
    return "\n".join(lines)
