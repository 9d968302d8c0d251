"""The log step on small inputs: unreadable lines quarantined with where and why, and
Elasticsearch end to end against a loopback server (the demo world's runs are in
tests/integration/test_log_pipeline_world.py)."""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.catalog import LogSettings
from aiops.logs.anomalies import service_log_anomalies
from aiops.logs.miner import TemplateMiner
from aiops.logs.window import (
    mine_window,
    miner_config,
)
from aiops.sources.elasticsearch_logs import ElasticsearchLogConfig, ElasticsearchLogSource
from aiops.store import Store
from fakes.es_server import FakeElasticsearch
from support.log_runs import mine_files

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def of_kind(rows: list[dict[str, Any]], kind: str, service: str | None = None) -> list[dict]:
    return [r for r in rows if r["kind"] == kind and service in (None, r["service"])]


# -- quarantine ----------------------------------------------------------------------------------


def test_unreadable_lines_are_quarantined_with_where_and_why(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "billing.log").write_text(
        "### rotated by logrotate, questions to ops.team@example.com ###\n"
        "   (a header line without a time)\n"
        "2026-10-31 12:00:05,000 INFO billing.api: invoice 17 sent\n"
        "2026-10-31 12:10:00,000 ERROR billing.api: invoice 18 failed\n"
    )
    good = [
        json.dumps({"@timestamp": f"2026-10-31T12:0{i}:00.000Z", "service": "events",
                    "level": "INFO", "message": f"batch {i}"})
        for i in (1, 2, 3)
    ]  # fmt: skip
    broken = good[1][:-1]  # the closing brace cut off
    (logs / "events.jsonl").write_text("\n".join([good[0], broken, good[2]]) + "\n")
    (logs / "nginx.log").write_text("Oct 31 12:00:01 web nginx[12]: GET / 200\n")
    start, end = utc(2026, 10, 31, 12), utc(2026, 10, 31, 13)

    totals = mine_files(logs, f"sqlite:///{tmp_path / 'results.db'}", tmp_path / "models", start,
                        end)  # fmt: skip

    assert totals["lines"] == 4
    with Store.open(f"sqlite:///{tmp_path / 'results.db'}") as store:
        stored = store.read("log_quarantine", interval_start=start, interval_end=end)
        volume = store.read("log_volume", at_least={"bucket_start": start})
    by_origin = {r["origin"]: r for r in stored}
    assert sorted(by_origin) == ["billing.log:1", "billing.log:2", "events.jsonl:2", "nginx.log:1"]
    assert "does not match format" in by_origin["billing.log:1"]["reason"]
    assert "ops.team@example.com" not in by_origin["billing.log:1"]["raw"]  # masked
    assert by_origin["events.jsonl:2"]["reason"].startswith("not valid JSON")
    assert "not understood" in by_origin["nginx.log:1"]["reason"]
    assert {r["service"] for r in stored} == {"billing", "events", "nginx"}

    quarantined = {r["service"]: 0 for r in volume}
    for r in volume:
        quarantined[r["service"]] += r["quarantined"]
    assert {s: n for s, n in quarantined.items() if n} == {"billing": 2, "events": 1, "nginx": 1}
    assert sum(r["lines"] for r in volume if r["service"] == "billing") == 2


# -- Elasticsearch, end to end -------------------------------------------------------------------

ES_SINCE = utc(2026, 10, 31, 0)
ES_START, ES_END = utc(2026, 10, 31, 8), utc(2026, 10, 31, 9)
PAGE = 40


def es_documents() -> list[dict[str, Any]]:
    """Nine hours of ECS documents for checkout and payment; in the last hour only, payment
    logs a new error naming a customer by email."""
    rng = random.Random(11)

    def doc(hour: int, service: str, level: str, message: str) -> dict[str, Any]:
        at = ES_SINCE + timedelta(hours=hour, milliseconds=rng.randrange(3_600_000))
        stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"@timestamp": stamp, "service": {"name": service}, "log": {"level": level},
                "message": message, "host": {"name": "node-1"}}  # fmt: skip

    def order() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    docs = []
    for hour in range(9):
        docs += [
            doc(hour, "checkout", "info",
                f"order {order()} placed total={rng.randint(5, 500)}.00 EUR "
                f"items={rng.randint(1, 9)}")
            for _ in range(20)
        ]  # fmt: skip
        docs += [
            doc(hour, "payment", "info",
                f"charge ok for order {order()} amount={rng.randint(5, 500)}.00 EUR")
            for _ in range(15)
        ]  # fmt: skip
    docs += [
        doc(8, "payment", "error",
            f"refund rejected for customer {rng.choice(['anna', 'ben'])}.smith@example.com: "
            f"ledger locked for order {order()}")
        for _ in range(12)
    ]  # fmt: skip
    rng.shuffle(docs)
    return docs


def test_a_new_error_in_elasticsearch_is_reported_with_its_sample(tmp_path: Path) -> None:
    settings = LogSettings()
    docs = es_documents()
    with FakeElasticsearch(major=9) as es:
        es.add_many("logs-shop", docs)
        config = ElasticsearchLogConfig(es.url, index="logs-*", page_size=PAGE)
        with ElasticsearchLogSource(config) as source:
            miner = TemplateMiner(miner_config(settings))
            mined = mine_window(source, miner, ES_SINCE, ES_START, ES_END,
                                ["checkout", "payment"], settings)  # fmt: skip
        searches = es.searches()
        assert es.pits == {}  # closed after reading

    assert mined.lines == len(docs) and mined.quarantined == []
    assert len(searches) == len(docs) // PAGE + 1 >= 5  # the last page is short
    for before, after in zip(searches, searches[1:], strict=False):
        assert after.body["pit"]["id"] == before.answer["pit_id"]
        assert after.body["search_after"] == before.answer["hits"]["hits"][-1]["sort"]

    with Store.open(f"sqlite:///{tmp_path / 'results.db'}") as store:
        store.upsert("log_volume", mined.volume)
        store.upsert("log_template_counts", mined.counts)
        rows = {
            service: service_log_anomalies(
                store,
                service,
                ES_START,
                ES_END,
                [c for s, c in mined.new if s == service],
                miner.services[service],
                settings,
            )  # fmt: skip
            for service in ("checkout", "payment")
        }

    assert of_kind(rows["checkout"], "new_template") == []
    (new,) = of_kind(rows["payment"], "new_template")
    assert new["level"] == "ERROR" and new["observed"] == 12
    assert new["template"].startswith("refund rejected for customer <*>")
    samples = new["detail"]["samples"]
    assert samples and all("ledger locked for order" in s for s in samples)
    assert all("<email>" in s and not EMAIL.search(s) for s in samples)
    assert of_kind(rows["payment"], "error_ratio", "payment")
