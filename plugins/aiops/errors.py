"""Which failures are worth retrying.

A rejected query, a query that returns three series where one was meant, or a catalog that
does not parse fail the same way on every attempt; retrying them for minutes only delays the
message. Transient ones (a server down, a timeout) deserve the orchestrator's retries. Domain
code raises :class:`PermanentError` (or a subclass) for the first kind; the Airflow layer
turns it into a failure without retries (:func:`is_permanent`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class PermanentError(Exception):
    """Retrying cannot fix this: the same input fails the same way every time."""


class BackendUnavailable(Exception):
    """The backend (Prometheus) could not be reached after the client's bounded retries.

    Not per service: every later service of a shard would wait out the same retries and fail
    the same way, so a shard stops at the first one and the task's retry redoes it."""


class ServicesFailed(Exception):
    """Some services of a shard failed; the others' results are stored already.

    Raised after the whole shard ran, so one failing service never costs its shard-mates.
    Permanent only when every failure is: one transient failure is worth a retry of the
    shard (the work is idempotent, the services that succeeded rewrite the same rows).
    """

    def __init__(self, step: str, failures: Mapping[str, BaseException]) -> None:
        self.step = step
        self.failures = dict(failures)
        lines = "; ".join(f"{svc}: {exc}" for svc, exc in sorted(self.failures.items()))
        super().__init__(f"{step}: {len(self.failures)} service(s) failed: {lines}")

    @property
    def permanent(self) -> bool:
        return all(is_permanent(exc) for exc in self.failures.values())


def is_permanent(exc: BaseException) -> bool:
    """True when retrying cannot help: a :class:`PermanentError`, or services that all failed
    permanently."""
    if isinstance(exc, ServicesFailed):
        return exc.permanent
    return isinstance(exc, PermanentError)


class PerService:
    """One step of a shard run service by service, with the failure policy in one place.

    A service that fails costs only itself: the others run and store their results, then
    :meth:`raise_failures` raises :class:`ServicesFailed` naming the ones that failed. An
    unreachable backend (:class:`BackendUnavailable`) is not one service's failure: it
    propagates at once, since every later service would wait out the same retries.
    """

    def __init__(self, step: str) -> None:
        self.step = step
        self.failures: dict[str, BaseException] = {}

    def run(self, services: Iterable[str], work: Callable[[str], T]) -> Iterator[tuple[str, T]]:
        """(service, result) for each service whose `work` succeeded, in order."""
        for service in services:
            try:
                result = work(service)
            except BackendUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - one service never costs its shard-mates
                log.exception("%s: %s failed", service, self.step)
                self.failures[service] = exc
                continue
            yield service, result

    def raise_failures(self) -> None:
        if self.failures:
            raise ServicesFailed(self.step, self.failures)
