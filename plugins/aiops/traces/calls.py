"""The calls a span makes: one record per outgoing request, however it was instrumented.

A call shows up in a trace in one of three ways: a client (or producer) span in the caller
with the callee's server span under it; a client span alone, naming the callee in
`peer.service` (a database, a cache, an uninstrumented API); or the callee's span directly
under the caller's (the caller did not record a client span). The detectors reason about
calls, not span shapes, so all three become the same `Call`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.traces.model import Span, Trace

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WRITE_SQL = ("INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE")


@dataclass(frozen=True, slots=True)
class Call:
    span: int  # the caller-side span: the client span, or the callee's span if there is none
    target: str  # the callee's service ("" when nothing names it)
    operation: str  # the callee's operation; the normalised statement for a database
    start: int  # microseconds, clipped to the calling span
    end: int
    error: bool
    asynchronous: bool  # a producer span or a FOLLOWS_FROM callee: the caller does not wait
    write: bool  # changes state (HTTP POST/PUT/PATCH/DELETE, SQL INSERT/UPDATE/DELETE ...)
    instrumented: bool  # the callee recorded its own span

    @property
    def duration(self) -> int:
        return self.end - self.start


def is_write(method: str, operation: str, statement: str) -> bool:
    if method:
        return method in _WRITE_METHODS
    if statement:
        return statement.lstrip().upper().startswith(_WRITE_SQL)
    verb = operation.split(" ", 1)[0].upper()
    return verb in _WRITE_METHODS or verb in _WRITE_SQL


def callee_span(trace: Trace, client: Span) -> Span | None:
    """The first span under a client span that belongs to another service."""
    spans = trace.spans
    for c in client.children:
        child = spans[c]
        if child.service != client.service:
            return child
    return None


def calls_of(trace: Trace, index: int) -> list[Call]:
    """Every call span ``index`` makes, in start order."""
    spans = trace.spans
    caller = spans[index]
    lo, hi = caller.start, caller.start + caller.duration
    out: list[Call] = []
    for c in caller.children:
        child = spans[c]
        kind = child.kind
        if kind == "client" or kind == "producer":
            callee = callee_span(trace, child)
            if callee is not None:
                target, operation = callee.service, child.statement or callee.operation
            else:
                target, operation = child.peer, child.statement or child.operation
            asynchronous = kind == "producer" or (callee is not None and callee.follows)
            method = child.http_method or (callee.http_method if callee is not None else "")
            error = child.error or (callee is not None and callee.error)
            instrumented = callee is not None
        elif child.service != caller.service:
            target, operation = child.service, child.operation
            asynchronous, method, error, instrumented = (
                child.follows,
                child.http_method,
                child.error,
                True,
            )
        else:
            continue  # in-process work, not a call
        start = child.start if child.start > lo else lo
        end = child.start + child.duration
        if end > hi and not asynchronous:
            end = hi
        if end < start:
            end = start
        out.append(
            Call(
                c,
                target,
                operation,
                start,
                end,
                error,
                asynchronous,
                is_write(method, operation, child.statement),
                instrumented,
            )
        )
    out.sort(key=lambda call: (call.start, call.end))
    return out
