"""Findings: what the analyses found, with evidence, a suggestion and a stable fingerprint.

Every analysis (traces, logs, incidents) reports through the same `Finding` record, so the
GitHub sink, the markdown dry-run and the LLM narrator handle one shape; and each kind of
finding is registered once (`FindingKind`: its label and why it matters), so they all call it
the same thing.
"""

from aiops.findings.kinds import KINDS, FindingKind, UnknownKindError
from aiops.findings.model import Effort, Evidence, Finding, Impact, Safety, fingerprint

__all__ = [
    "KINDS",
    "Effort",
    "Evidence",
    "Finding",
    "FindingKind",
    "Impact",
    "Safety",
    "UnknownKindError",
    "fingerprint",
]
