"""Measuring a template miner: the demo world's log lines with their true templates, and
grouping accuracy as the log-parsing literature defines it (Zhu et al., ICSE-SEIP 2019).
Shared by the benchmark and the tests, so both measure the same thing."""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from aiops.dev.sim.incidents import planted_incidents, rollouts
from aiops.dev.sim.logs import ACCESS_LOG, labelled_lines
from aiops.dev.sim.world import WorldConfig, simulate_metrics
from aiops.logs.formats import DEFAULT_FORMAT, LogFormat


@dataclass(frozen=True)
class LabelledLine:
    service: str  # the gateway's JSON access log is its own stream, "gateway-access"
    level: str
    content: str  # what the pipeline mines (Loghub's <Content>, or the JSON message)
    timestamp_ms: int
    truth: str  # "<service>:<event>": the f-string that wrote the line


def labelled_world_lines(hours: int, days: int = 14) -> list[LabelledLine]:
    """The last `hours` of a `days`-day demo world, parsed as the pipeline parses them, in
    time order (services interleaved, as a live stream is)."""
    config = WorldConfig(days=days, log_hours=hours)
    incidents = planted_incidents(config.start, config.end)
    deploys = rollouts(config.start, config.end, [s.name for s in config.services], incidents)
    files = labelled_lines(
        config, incidents, deploys, simulate_metrics(config), config.end - timedelta(hours=hours)
    )
    fmt, out = LogFormat(DEFAULT_FORMAT), []
    for name, lines in files.items():
        for at, event, text in lines:
            if name == ACCESS_LOG:
                doc = json.loads(text)
                service = f"{doc['service']}-access"
                out.append(
                    LabelledLine(service, doc["level"], doc["message"], at, f"{service}:{event}")
                )
                continue
            fields = fmt.match(f"2026-01-01 00:00:00,000 {text}")  # the sim's text has no time
            if fields is None:
                raise ValueError(
                    f"{name}: the simulator wrote a line its format does not match: {text!r}"
                )
            service = name.removesuffix(".log")
            out.append(
                LabelledLine(service, fields["Level"], fields["Content"], at, f"{service}:{event}")
            )
    return sorted(out, key=lambda line: line.timestamp_ms)


def grouping_accuracy(
    lines: Sequence[LabelledLine], predicted: Sequence[str]
) -> tuple[float, list[str]]:
    """(share of lines whose predicted group, within their service, holds exactly the lines of
    their true group; the true templates grouped wrongly)."""
    truth: dict[str, list[int]] = collections.defaultdict(list)
    groups: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for i, (line, group) in enumerate(zip(lines, predicted, strict=True)):
        truth[line.truth].append(i)
        groups[(line.service, group)].append(i)
    right, wrong = 0, []
    for name, members in truth.items():
        first = members[0]
        if groups[(lines[first].service, predicted[first])] == members:
            right += len(members)
        else:
            wrong.append(name)
    return right / len(lines), sorted(wrong)
