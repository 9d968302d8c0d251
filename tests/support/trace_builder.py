"""Hand-built traces in Jaeger's query-API JSON, for tests that need one exact shape.

Times are in milliseconds from the trace's start, which keeps the tests readable; the JSON
carries microseconds like Jaeger's.
"""

from __future__ import annotations

from typing import Any

T0_US = 1_761_800_000_000_000  # 2025-10-30T04:53:20Z


def tag(key: str, value: Any) -> dict[str, Any]:
    kind = {bool: "bool", int: "int64", float: "float64"}.get(type(value), "string")
    return {"key": key, "type": kind, "value": value}


class TraceBuilder:
    def __init__(self, trace_id: str = "t1", start_us: int = T0_US) -> None:
        self.trace_id = trace_id
        self.start_us = start_us
        self.spans: list[dict[str, Any]] = []
        self.pids: dict[str, str] = {}

    def span(
        self,
        service: str,
        operation: str,
        start_ms: float,
        duration_ms: float,
        parent: str | None = None,
        *,
        kind: str | None = None,
        follows: bool = False,
        error: bool = False,
        tags: list[dict[str, Any]] | None = None,
        logs: list[dict[str, Any]] | None = None,
    ) -> str:
        span_id = f"{len(self.spans) + 1:016x}"
        pid = self.pids.setdefault(service, f"p{len(self.pids) + 1}")
        all_tags = list(tags or [])
        if kind:
            all_tags.append(tag("span.kind", kind))
        if error:
            all_tags.append(tag("error", True))
        refs = []
        if parent:
            ref = "FOLLOWS_FROM" if follows else "CHILD_OF"
            refs.append({"refType": ref, "traceID": self.trace_id, "spanID": parent})
        self.spans.append(
            {
                "traceID": self.trace_id,
                "spanID": span_id,
                "operationName": operation,
                "references": refs,
                "startTime": self.start_us + round(start_ms * 1000),
                "duration": round(duration_ms * 1000),
                "tags": all_tags,
                "logs": logs or [],
                "processID": pid,
                "warnings": None,
            }
        )
        return span_id

    def call(
        self,
        parent: str,
        caller: str,
        callee: str,
        operation: str,
        start_ms: float,
        duration_ms: float,
        *,
        error: bool = False,
        method: str | None = None,
    ) -> str:
        """A client span in the caller and the callee's server span under it; returns the
        server span's ID (to hang the callee's own calls under)."""
        tags = [tag("peer.service", callee)]
        if method:
            tags.append(tag("http.method", method))
        client = self.span(
            caller, operation, start_ms, duration_ms, parent, kind="client", error=error, tags=tags
        )
        return self.span(
            callee, operation, start_ms + 0.1, duration_ms - 0.2, client, kind="server", error=error
        )

    def query(
        self,
        parent: str,
        caller: str,
        statement: str,
        start_ms: float,
        duration_ms: float,
        *,
        db: str = "postgres",
        error: bool = False,
    ) -> str:
        """A database client span (the database records no span of its own)."""
        operation = " ".join(statement.split()[:1] + [statement.split("FROM ")[-1].split()[0]])
        tags = [
            tag("peer.service", db),
            tag("db.system", "postgresql"),
            tag("db.statement", statement),
        ]
        return self.span(
            caller, operation, start_ms, duration_ms, parent, kind="client", error=error, tags=tags
        )

    def to_json(self) -> dict[str, Any]:
        processes = {pid: {"serviceName": s, "tags": []} for s, pid in self.pids.items()}
        return {
            "traceID": self.trace_id,
            "spans": self.spans,
            "processes": processes,
            "warnings": None,
        }


def envelope(traces: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": traces, "total": 0, "limit": 0, "offset": 0, "errors": None}
