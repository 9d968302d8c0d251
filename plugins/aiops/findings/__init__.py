"""Findings: what the analyses found, with evidence, a suggestion and a stable fingerprint.

Every analysis (traces, logs, incidents) reports through the same `Finding` record, so the
GitHub sink, the markdown dry-run and the LLM narrator handle one shape.
"""

from aiops.findings.model import Effort, Evidence, Finding, Impact, Safety, fingerprint

__all__ = ["Effort", "Evidence", "Finding", "Impact", "Safety", "fingerprint"]
