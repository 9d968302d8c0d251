"""After the nightly files an interval's findings (aiops.sinks.pipeline), the catalog's
notifiers hear what was filed: a registered notifier gets the report, a failing one never
fails the filing, and a misspelt name stops the run before anything is filed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

from aiops.catalog import parse_catalog
from aiops.findings.model import finding_row
from aiops.sinks.dry_run import DryRunSink
from aiops.sinks.filing import FilingReport
from aiops.sinks.notify import register_notifier, unregister_notifier
from aiops.sinks.pipeline import file_interval
from support.catalogs import catalog_yaml
from support.findings import CHECKOUT, DAY1, PRODUCTS

SERVICES = """  catalog: {owner: acme-shop/catalog, team: discovery}
  checkout: {owner: acme-shop/checkout, team: commerce}
"""


def catalog(*notifiers: str):
    names = ", ".join(notifiers)
    return parse_catalog(catalog_yaml(SERVICES) + f"issues:\n  notifiers: [{names}]\n")


class Recorder:
    heard: list[tuple[FilingReport, tuple[datetime, datetime]]] = []

    def notify(self, report: FilingReport, interval: tuple[datetime, datetime]) -> None:
        Recorder.heard.append((report, interval))


class Broken:
    def notify(self, report: FilingReport, interval: tuple[datetime, datetime]) -> None:
        raise ConnectionError("chat service down")


@pytest.fixture
def notifiers() -> Iterator[None]:
    Recorder.heard = []
    register_notifier("recorder", Recorder)
    register_notifier("broken", Broken)
    yield
    unregister_notifier("recorder")
    unregister_notifier("broken")


@pytest.fixture
def stored(store):
    window = {"interval_start": DAY1[0], "interval_end": DAY1[1]}
    rows = [{**window, **finding_row(f.to_json())} for f in (PRODUCTS, CHECKOUT)]
    store.replace("findings", rows, **window)
    return store


def test_a_registered_notifier_hears_what_was_filed(notifiers, stored, tmp_path) -> None:
    tracker = DryRunSink(tmp_path / "issues")
    report = file_interval(stored, catalog("log", "recorder"), tracker, *DAY1, tmp_path)
    assert report.counts() == {"created": 2}
    ((heard, interval),) = Recorder.heard
    assert heard is report and interval == DAY1
    assert {o.fingerprint for o in heard.outcomes} == {PRODUCTS.fingerprint, CHECKOUT.fingerprint}


def test_a_failing_notifier_is_logged_and_the_issues_stay_filed(
    notifiers, stored, tmp_path, caplog
) -> None:
    tracker = DryRunSink(tmp_path / "issues")
    with caplog.at_level(logging.ERROR, logger="aiops.sinks.notify"):
        report = file_interval(stored, catalog("broken", "recorder"), tracker, *DAY1, tmp_path)
    assert report.counts() == {"created": 2} and report.errors == []
    assert "notifier 'broken' failed" in caplog.text and "chat service down" in caplog.text
    assert len(Recorder.heard) == 1  # the next notifier is still told


def test_an_unknown_notifier_stops_the_run_before_anything_is_filed(stored, tmp_path) -> None:
    tracker = DryRunSink(tmp_path / "issues")
    with pytest.raises(ValueError, match=r"issues.notifiers: \['slack'\] not registered"):
        file_interval(stored, catalog("slack"), tracker, *DAY1, tmp_path)
    assert not (tmp_path / "issues").exists() and stored.read("issue_ledger") == []
