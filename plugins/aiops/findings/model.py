"""The Finding record: one problem, the evidence for it, and what to do about it.

A finding is identified by its fingerprint, a hash of what the problem *is* (kind, service,
operation and a few identifying details such as the repeated statement), never of how bad it
was today. The same N+1 query found on Monday and on Tuesday has the same fingerprint, which
is how the GitHub sink updates one issue instead of filing two.

The safety class follows the remediation safety pyramid: a wide base of actions safe to
automate (reversible, bounded: scale out within the catalog's limits), a middle of changes a
human approves (code, configuration, schema), and a narrow top nobody automates (destructive
or security-weakening actions). The class is derived from the suggested action, so a
suggestion cannot claim to be safer than what it asks for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiops.findings.kinds import KINDS
from aiops.pictures.model import Picture, picture_from_json


class Safety(StrEnum):
    SAFE = "SAFE"
    REQUIRES_APPROVAL = "REQUIRES_APPROVAL"
    FORBIDDEN = "FORBIDDEN"


class Effort(StrEnum):
    LOW = "low"  # a local change: one query, one call site, one setting
    MEDIUM = "medium"  # a change across a module or an interface between two services
    HIGH = "high"  # a design change: new infrastructure, data model, ownership


#: What a suggestion asks someone to do, and how far up the pyramid that is.
ACTION_SAFETY: dict[str, Safety] = {
    "scale_out": Safety.SAFE,  # more replicas within the catalog's max_replicas
    "observe": Safety.SAFE,  # add instrumentation, a dashboard, an alert
    "code_change": Safety.REQUIRES_APPROVAL,
    "config_change": Safety.REQUIRES_APPROVAL,
    "schema_change": Safety.REQUIRES_APPROVAL,  # e.g. an index
    "architecture_change": Safety.REQUIRES_APPROVAL,
    "delete_data": Safety.FORBIDDEN,
    "disable_safeguard": Safety.FORBIDDEN,  # auth, TLS, rate limits, timeouts
    "remove_dependency": Safety.FORBIDDEN,  # cutting a live dependency in production
}


def kind_label(kind: str) -> str:
    """How a finding's kind reads in a picture or a list ("N+1", "fan-out"), as its source
    registered it (aiops.findings.kinds); `UnknownKindError` for a kind nobody registered,
    rather than a label made up from the name."""
    return KINDS.get(kind).label


def safety_for(action: str) -> Safety:
    """The safety class of an action; an unknown action is never assumed safe."""
    return ACTION_SAFETY.get(action, Safety.REQUIRES_APPROVAL)


def fingerprint(source: str, kind: str, service: str, operation: str, key: dict[str, Any]) -> str:
    """16 hex characters that stay the same for the same problem across runs and days."""
    identity = json.dumps(
        [source, kind, service, operation, key], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Impact:
    ms_per_request: float  # time the problem costs an affected request, on average
    requests_affected: int  # requests (sampled traces) the problem was seen in
    p95_share: float | None = None  # its share of the affected requests' p95 latency
    requests_per_day: float | None = None  # requests_affected scaled to a day and sampling

    def to_json(self) -> dict[str, Any]:
        return {
            "ms_per_request": round(self.ms_per_request, 3),
            "p95_share": None if self.p95_share is None else round(self.p95_share, 4),
            "requests_affected": self.requests_affected,
            "requests_per_day": (
                None if self.requests_per_day is None else round(self.requests_per_day, 1)
            ),
        }


@dataclass(frozen=True)
class Evidence:
    numbers: dict[str, float | int | str]  # the measurements behind the title
    trace_ids: tuple[str, ...] = ()  # example traces, the worst first
    links: tuple[str, ...] = ()  # one Jaeger UI link per example trace, when a UI is known
    # what the numbers look like (aiops.pictures): a forecast band, a chain, a map
    picture: Picture | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "numbers": dict(self.numbers),
            "trace_ids": list(self.trace_ids),
            "links": list(self.links),
        }
        if self.picture is not None:  # absent, not null: older documents stay byte-identical
            doc["picture"] = self.picture.to_json()
        return doc


@dataclass(frozen=True)
class Finding:
    source: str  # "traces", "logs", "incidents"
    kind: str  # e.g. "n_plus_one"
    service: str  # the service that owns the fix
    operation: str  # where in that service ("" when service-wide)
    title: str
    impact: Impact
    evidence: Evidence
    suggestion: str  # the concrete change, rule-based text
    expected_improvement: str
    action: str  # a key of ACTION_SAFETY
    effort: Effort
    confidence: float  # [0, 1]
    key: dict[str, Any] = field(default_factory=dict)  # identifying details beyond service/op
    expected_saving_ms: float | None = None

    @property
    def safety(self) -> Safety:
        return safety_for(self.action)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.source, self.kind, self.service, self.operation, self.key)

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "source": self.source,
            "kind": self.kind,
            "service": self.service,
            "operation": self.operation,
            "title": self.title,
            "impact": self.impact.to_json(),
            "evidence": self.evidence.to_json(),
            "suggestion": self.suggestion,
            "expected_improvement": self.expected_improvement,
            "expected_saving_ms": (
                None if self.expected_saving_ms is None else round(self.expected_saving_ms, 3)
            ),
            "action": self.action,
            "effort": str(self.effort),
            "confidence": round(self.confidence, 3),
            "safety": str(self.safety),
            "key": self.key,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Finding:
        impact, evidence = doc["impact"], doc["evidence"]
        return cls(
            source=doc["source"],
            kind=doc["kind"],
            service=doc["service"],
            operation=doc["operation"],
            title=doc["title"],
            impact=Impact(
                ms_per_request=float(impact["ms_per_request"]),
                requests_affected=int(impact["requests_affected"]),
                p95_share=impact.get("p95_share"),
                requests_per_day=impact.get("requests_per_day"),
            ),
            evidence=Evidence(
                numbers=dict(evidence.get("numbers") or {}),
                trace_ids=tuple(evidence.get("trace_ids") or ()),
                links=tuple(evidence.get("links") or ()),
                picture=picture_from_json(evidence["picture"]) if evidence.get("picture") else None,
            ),
            suggestion=doc["suggestion"],
            expected_improvement=doc["expected_improvement"],
            action=doc["action"],
            effort=Effort(doc["effort"]),
            confidence=float(doc["confidence"]),
            key=dict(doc.get("key") or {}),
            expected_saving_ms=doc.get("expected_saving_ms"),
        )


def finding_row(doc: dict[str, Any]) -> dict[str, Any]:
    """A `findings` table row (without the interval) from `Finding.to_json()`."""
    impact = doc["impact"]
    return {
        "source": doc["source"],
        "fingerprint": doc["fingerprint"],
        "kind": doc["kind"],
        "service": doc["service"],
        "operation": doc["operation"],
        "title": doc["title"],
        "ms_per_request": impact["ms_per_request"],
        "requests_affected": impact["requests_affected"],
        "requests_per_day": impact["requests_per_day"],
        "p95_share": impact["p95_share"],
        "expected_saving_ms": doc["expected_saving_ms"],
        "safety": doc["safety"],
        "effort": doc["effort"],
        "confidence": doc["confidence"],
        "finding": doc,
    }
