"""Rule-based suggestions: the concrete change each trace finding asks for.

These are the texts a finding carries without any LLM. They name the statement, the calls and
the services involved, and where a rewrite is mechanical (an N+1 `WHERE id = ?` becomes
`WHERE id IN (...)`), they show it.
"""

from __future__ import annotations

import re

_EQ_PARAM = re.compile(r"(\b[\w.]+)\s*=\s*\?")
_REDIS_BATCH = {"GET": "MGET", "SET": "MSET", "HGETALL": "pipelined HGETALL", "HGET": "HMGET"}


def batched_statement(statement: str) -> str | None:
    """`SELECT * FROM reviews WHERE product_id = ?` -> `... WHERE product_id IN (?, ?, ...)`:
    the last `column = ?` predicate becomes an IN list. None when there is none to rewrite."""
    matches = list(_EQ_PARAM.finditer(statement))
    if not matches:
        return None
    last = matches[-1]
    return f"{statement[: last.start()]}{last.group(1)} IN (?, ?, ...){statement[last.end() :]}"


def n_plus_one(target: str, operation: str, is_statement: bool, repeats: float) -> str:
    loop = f"{repeats:.0f} times"
    if is_statement:
        batched = batched_statement(operation)
        if batched:
            return (
                f"Replace the loop that runs `{operation}` {loop} with one query: "
                f"`{batched}` (collect the keys first, then map the rows back), or load the "
                "rows with a JOIN in the query that produced the keys."
            )
        return (
            f"`{operation}` runs {loop} per request: fetch all rows in one query (a JOIN or an IN "
            "list) instead of one query per row."
        )
    verb = operation.split(" ", 1)[0].upper()
    if verb in _REDIS_BATCH:
        return (
            f"`{operation}` on {target} runs {loop} per request: use {_REDIS_BATCH[verb]} (or a "
            "pipeline) to send them in one round trip."
        )
    return (
        f"{target} `{operation}` is called {loop} per request, once per item: add or use a batch "
        f"endpoint on {target} (one request with all the IDs), or cache the results per request."
    )


def sequential(service: str, operation: str, callees: tuple[str, ...]) -> str:
    names = ", ".join(callees[:-1]) + f" and {callees[-1]}"
    return (
        f"In {service} `{operation}`, the calls to {names} run one after another. If none of them "
        "needs another's result, start them together and wait for all (asyncio.gather, "
        "CompletableFuture.allOf, errgroup.Group, Promise.all), keeping each call's timeout; "
        "the request then waits for the slowest call instead of the sum."
    )


def fan_out(service: str, operation: str, services: list[str]) -> str:
    return (
        f"{service} `{operation}` calls {len(services)} services ({', '.join(services)}) for one "
        "request, so its latency follows the slowest of them and any one failing fails it. "
        "Serve the data from fewer calls (an aggregating read model, a cache of the slow-changing "
        "parts), make the optional calls best-effort with short timeouts, and hedge the slowest."
    )


def chatty(caller: str, callee: str, operations: list[str]) -> str:
    return (
        f"{caller} calls {callee} many times per request ({', '.join(operations)}). Combine them "
        f"into fewer, coarser calls (a batch or composite endpoint on {callee}), or cache "
        f"{callee}'s answers for the duration of the request."
    )


def hotspot(service: str, operation: str, entry: str, share: float) -> str:
    return (
        f"{service} `{operation}` is {100 * share:.0f}% of the critical path of the slowest "
        f"{entry} requests. Profile it under load first: look for a missing index or an "
        "unbounded query if it is a database call, lock or pool waits, and work that could be "
        "cached or moved off the request path."
    )


def single_point_of_failure(service: str, dependents: list[str]) -> str:
    return (
        f"{len(dependents)} services ({', '.join(dependents)}) depend on {service} directly. "
        f"Make sure {service} has no single instance or zone (replicas, failover), and give each "
        "caller a timeout, a circuit breaker and a degraded answer (a cached or default value) "
        f"so {service} failing does not fail them."
    )


def cycle(services: list[str]) -> str:
    loop = " → ".join([*services, services[0]])
    return (
        f"The services call each other in a loop ({loop}): a slowdown in one feeds back into "
        "itself, and a retry storm can circulate. Break the cycle: move the shared logic into "
        "the service that owns the data, or make one direction asynchronous (an event)."
    )


def error_origin(service: str, operation: str, message: str, propagated: list[str]) -> str:
    where = f"{service} `{operation}`" if operation else service
    reason = f" ({message})" if message else ""
    passed = f" and are passed up through {', '.join(propagated)}" if propagated else ""
    return (
        f"Failed requests start at {where}{reason}{passed}. Fix the cause there; in the callers, "
        "retry only idempotent calls with backoff and a budget, and answer with a degraded "
        "response where the feature is optional instead of failing the whole request."
    )
