"""Who hears about a filing run: notifiers, called once the run's issues are filed.

Issues are where findings live; a notifier tells people that a run filed some (a chat
message, a page, a line in the task log). Each implements :class:`Notifier` and is
registered by name with :func:`register_notifier`; the catalog's ``issues.notifiers`` lists
the names a run calls, ``["log"]`` by default. A notifier that fails is logged and skipped:
telling people must never undo or fail what was filed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from aiops.sinks.filing import FilingReport, file_summary
from aiops.sinks.render import interval_text

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def notify(self, report: FilingReport, interval: tuple[datetime, datetime]) -> None:
        """Tell people what the run filed for ``interval``; raise on failure."""
        ...


_NOTIFIERS: dict[str, Callable[[], Notifier]] = {}


def register_notifier(name: str, factory: Callable[[], Notifier]) -> None:
    """Make ``name`` usable in the catalog's ``issues.notifiers``; a name is registered once."""
    if name in _NOTIFIERS:
        raise ValueError(f"notifier {name!r} is already registered")
    _NOTIFIERS[name] = factory


def unregister_notifier(name: str) -> None:
    _NOTIFIERS.pop(name, None)


def notifier_names() -> tuple[str, ...]:
    return tuple(sorted(_NOTIFIERS))


def notify_all(
    names: Iterable[str], report: FilingReport, interval: tuple[datetime, datetime]
) -> list[str]:
    """Call each named notifier; the names that failed (each failure logged with its reason)."""
    failed = []
    for name in names:
        factory = _NOTIFIERS.get(name)
        if factory is None:
            log.error(
                "notifier %r is not registered (known: %s)", name, ", ".join(notifier_names())
            )
            failed.append(name)
            continue
        try:
            factory().notify(report, interval)
        except Exception:  # noqa: BLE001 - a notification never fails the filing it reports
            log.exception("notifier %r failed for %s", name, interval_text(interval))
            failed.append(name)
    return failed


class LogNotifier:
    """The filing summary and one line per finding in the run's log (the task log in Airflow)."""

    def notify(self, report: FilingReport, interval: tuple[datetime, datetime]) -> None:
        log.info("issues %s: %s", interval_text(interval), file_summary(report))
        for outcome in report.outcomes:
            log.info("  %s %s %s %s", outcome.action, outcome.repository or "-",
                     outcome.fingerprint, outcome.url or outcome.detail)  # fmt: skip


register_notifier("log", LogNotifier)
