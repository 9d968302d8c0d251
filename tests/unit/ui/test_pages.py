"""The AIOps page as an SRE uses it: which services are unwell now, why, and what is coming,
served from the results store the DAGs fill (conftest: ``world`` says what is in it), read
over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient

from aiops.catalog import parse_catalog
from aiops.predictive.pictures import forecast_picture
from aiops.store import Store, StoreError
from aiops.ui.app import create_app, shared_store
from support.catalogs import catalog_yaml

HOSTILE = "<script>alert(1)</script>"
QUOTED_HOSTILE = "%3Cscript%3Ealert%281%29%3C%2Fscript%3E"


def opener(url: str):
    return lambda: Store.open(url, create=False)


@pytest.fixture(scope="module")
def client(store_url: str, world) -> Iterator[TestClient]:
    with TestClient(create_app(opener(store_url), now=lambda: world.now)) as c:
        yield c


def pages(world) -> tuple[str, ...]:
    return ("/", "/services/cart", f"/incidents/{world.incident}", "/graph")


class Anchors(HTMLParser):
    """Every href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


def hrefs(html: str) -> list[str]:
    parser = Anchors()
    parser.feed(html)
    return parser.hrefs


def row_of(html: str, service: str) -> str:
    """The table row whose first cell links to ``service``."""
    rows = re.findall(r"<tr>.*?</tr>", html, re.DOTALL)
    found = [r for r in rows if re.match(rf'<tr><td><a href="[^"]*/services/{service}">', r)]
    assert len(found) == 1, f"{service}: {len(found)} rows"
    return found[0]


def section_of(html: str, title: str) -> str:
    match = re.search(rf"<h2>{re.escape(title)}\b.*?</section>", html, re.DOTALL)
    assert match, f"no section {title!r}"
    return match.group(0)


# -- the overview ----------------------------------------------------------------------------


def test_the_overview_lists_every_service_with_its_state(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    services = section_of(page.text, "Services")
    assert 'class="pill incident">incident' in row_of(services, "payment")
    assert 'class="pill incident">incident' in row_of(services, "cart")
    search = row_of(services, "search")
    assert 'class="pill anomalous">anomalous' in search and "latency p95" in search
    inventory = row_of(services, "inventory")
    assert 'class="pill ok">ok' in inventory
    # its newest observed point is from 06:59, the clock says 12:20
    assert 'class="pill stale">stale · 5h 21m' in inventory
    assert "stale" not in row_of(services, "cart")
    # the ones needing a person first: incidents, then anomalous, then stale
    assert re.findall(r'/services/([a-z]+)">', services) == ["cart", "payment", "search",
                                                               "inventory"]  # fmt: skip


def test_an_event_the_newest_run_did_not_see_go_on_is_not_open(client: TestClient) -> None:
    cart = row_of(section_of(client.get("/").text, "Services"), "cart")
    assert "latency p95" in cart and "request rate" not in cart


def test_the_overview_shows_open_incidents_and_predicted_breaches(
    client: TestClient, world
) -> None:
    page = client.get("/").text
    incidents = section_of(page, "Open incidents")
    assert world.incident in incidents
    assert world.old_incident not in incidents  # stored open at 09:00, not stored since
    breaches = section_of(page, "Predicted breaches")
    assert "payment latency p95 will reach 500 ms" in row_of(breaches, "payment")
    assert "latency p95 in 2h 00m" in row_of(section_of(page, "Services"), "payment")


def test_the_overview_shows_the_replicas_the_scaler_will_ask_for(client: TestClient, world) -> None:
    rows = world.prediction_rows("cart", "request_rate", world.last_run)
    first, peak = rows[0]["desired_replicas"], max(r["desired_replicas"] for r in rows)
    assert first != peak
    cart = row_of(section_of(client.get("/").text, "Services"), "cart")
    assert f"{first} → {peak}</td></tr>" in cart


# -- a service -------------------------------------------------------------------------------


def test_a_service_page_has_a_chart_per_forecast_signal(client: TestClient) -> None:
    page = client.get("/services/payment")
    assert page.status_code == 200
    forecasts = section_of(page.text, "Forecasts")
    assert "chart unavailable" not in forecasts
    assert len(re.findall(r'<figure><div class="chart"><svg\b', forecasts)) == 2
    assert "request rate: the last day observed" in forecasts
    assert "latency p95: the last day observed" in forecasts
    assert "1 anomaly marked" in forecasts


def test_charts_on_one_page_keep_their_own_ids(client: TestClient) -> None:
    page = client.get("/services/cart").text
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert ids and len(ids) == len(set(ids))


def test_a_chart_that_cannot_be_drawn_says_why_and_the_page_stays(
    client: TestClient, monkeypatch
) -> None:
    def broken(picture):
        raise ValueError(f"cannot draw {picture.signal}")

    monkeypatch.setattr("aiops.ui.charts.svg_text", broken)
    page = client.get("/services/payment")
    assert page.status_code == 200
    forecasts = section_of(page.text, "Forecasts")
    assert forecasts.count("chart unavailable: ValueError: cannot draw") == 2
    assert "latency p95" in section_of(page.text, "Predictions")


def test_a_service_page_shows_predictions_events_and_findings(client: TestClient) -> None:
    page = client.get("/services/search").text
    predictions = section_of(page, "Predictions")
    assert "request rate" in predictions and "latency p95" in predictions
    events = section_of(page, "Anomaly events")
    assert events.index("2026-10-30 11:40 UTC") < events.index("2026-10-30 03:00 UTC")
    assert events.count("still running") == 1
    findings = section_of(page, "Findings")
    assert "N+1" in findings and "GET /search" in findings
    assert "12 of 60 points missing" in section_of(page, "Quarantined frames")
    assert '<div class="chart"><svg' in section_of(page, "Neighbourhood")


def test_a_service_page_links_to_its_open_incident(client: TestClient, world) -> None:
    page = client.get("/services/cart").text
    assert f"/incidents/{world.incident}" in section_of(page, "Open incidents")
    assert "request rate:" in section_of(page, "Now")  # its scaling metric and replicas


# -- an incident -----------------------------------------------------------------------------


def test_the_incident_page_ranks_candidates_and_shows_the_chain(client: TestClient, world) -> None:
    page = client.get(f"/incidents/{world.incident}")
    assert page.status_code == 200
    candidates = section_of(page.text, "Root-cause candidates")
    assert candidates.index(">payment</a>") < candidates.index(">cart</a>")
    assert "0.81" in candidates and "0.41" in candidates
    chain = section_of(page.text, "How it spread")
    assert '<div class="chart"><svg' in chain
    assert "through payment → cart" in chain and "(+10m 00s)" in chain
    assert 'class="pill open">open' in page.text.split("</h1>")[0]
    assert "payment latency p95 well above its band" in section_of(page.text, "Events")


def test_an_incident_no_run_stored_since_is_not_shown_open(client: TestClient, world) -> None:
    page = client.get(f"/incidents/{world.old_incident}").text
    assert 'class="pill open">open' not in page.split("</h1>")[0]
    assert "no longer reported" in page
    assert "no chain: one service" in section_of(page, "How it spread")


# -- the map ---------------------------------------------------------------------------------


def test_the_graph_page_draws_the_newest_map_with_findings_marked(client: TestClient) -> None:
    page = client.get("/graph")
    assert page.status_code == 200
    assert "trace window 2026-10-29 00:00 UTC to 2026-10-30 00:00 UTC" in page.text
    assert "960 traces" in page.text
    drawing = section_of(page.text, "Map")
    assert '<div class="chart"><svg' in drawing and "N+1" in drawing
    assert "<?xml" not in page.text and "<!DOCTYPE svg" not in page.text
    calls = section_of(page.text, "Calls")
    assert "postgres" in calls and "(uninstrumented)" in calls


# -- safety and shape ------------------------------------------------------------------------


def test_names_from_the_store_are_escaped_everywhere(tmp_path, world) -> None:
    url = f"sqlite:///{tmp_path}/hostile.db"
    with Store.open(url) as store:
        store.upsert("predictions", world.prediction_rows(HOSTILE, "request_rate", world.last_run))
        store.upsert(
            "anomaly_events",
            [world.event(HOSTILE, "latency_p95", world.last_run - timedelta(minutes=30),
                         world.last_run, world.last_run, 0.7,
                         explanation='<img src=x onerror="alert(2)">')],
        )  # fmt: skip
    client = TestClient(create_app(opener(url), now=lambda: world.now))
    overview, service = client.get("/"), client.get(f"/services/{QUOTED_HOSTILE}")
    for page in (overview, service):
        assert page.status_code == 200
        assert HOSTILE not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "script-src" not in page.headers["content-security-policy"]  # none may run
    assert f"/services/{QUOTED_HOSTILE}" in overview.text
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in service.text
    missing = client.get(f"/incidents/{QUOTED_HOSTILE}")
    assert missing.status_code == 404 and HOSTILE not in missing.text


def test_unknown_services_and_incidents_are_404_pages_naming_them(client: TestClient) -> None:
    service = client.get("/services/no-such-service")
    assert service.status_code == 404
    assert "No service no-such-service" in service.text
    incident = client.get("/incidents/deadbeef0000")
    assert incident.status_code == 404
    assert "No incident deadbeef0000" in incident.text
    page = client.get("/nowhere")
    assert page.status_code == 404 and "/nowhere" in page.text


def test_the_dependencies_given_guard_every_page(store_url: str, world) -> None:
    def refuse() -> None:
        raise HTTPException(status_code=401, detail="not signed in")

    guarded = TestClient(create_app(opener(store_url), now=lambda: world.now,
                                    dependencies=[Depends(refuse)]))  # fmt: skip
    for path in (*pages(world), "/services/no-such-service"):
        answer = guarded.get(path)
        assert answer.status_code == 401, path
        assert "payment" not in answer.text


def test_there_is_nothing_to_write_to(client: TestClient, world) -> None:
    methods = {m for route in client.app.routes for m in getattr(route, "methods", set())}
    assert methods <= {"GET", "HEAD"}
    for path in pages(world):
        assert client.post(path).status_code == 405
        assert client.put(path).status_code == 405
    assert client.get("/openapi.json").status_code == 404  # no schema or docs outside the guard


def test_links_resolve_under_a_mount_prefix(store_url: str, world) -> None:
    parent = FastAPI()
    parent.mount("/aiops", create_app(opener(store_url), now=lambda: world.now))
    client = TestClient(parent)
    seen: set[str] = set()
    todo = ["/aiops/", f"/aiops/incidents/{world.incident}"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        page = client.get(path)
        measured = not path.endswith("/postgres")  # on the map only: never measured itself
        assert page.status_code == (200 if measured else 404), path
        for href in hrefs(page.text):
            target = urljoin(f"http://testserver{path}", href).removeprefix("http://testserver")
            assert target.startswith("/aiops/"), f"{path}: {href}"
            todo.append(target)
    assert {"/aiops/", "/aiops/graph", "/aiops/services/search", "/aiops/services/inventory",
            f"/aiops/incidents/{world.incident}"} <= seen  # fmt: skip


def test_an_unreadable_store_is_a_page_saying_which_and_why(tmp_path, world) -> None:
    app = create_app(opener(f"sqlite:///{tmp_path}/none.db"), now=lambda: world.now)
    page = TestClient(app).get("/")
    assert page.status_code == 503
    assert "cannot be read" in page.text and "none.db" in page.text and "no such file" in page.text

    @contextmanager
    def unreachable():
        raise OSError("cannot reach postgresql://aiops:hunter2@db:5432/aiops")
        yield

    page = TestClient(create_app(unreachable, now=lambda: world.now)).get("/services/cart")
    assert page.status_code == 503
    assert "hunter2" not in page.text and "postgresql://aiops:***@db:5432/aiops" in page.text


def test_a_failing_read_is_that_page_not_a_traceback(store_url: str, world) -> None:
    @contextmanager
    def locked():
        with Store.open(store_url, create=False) as store:

            def read(*args, **kwargs):
                raise StoreError("store sqlite:///aiops.db: read from incidents failed: locked")

            store.read = read  # type: ignore[method-assign]
            yield store

    page = TestClient(create_app(locked, now=lambda: world.now)).get(f"/incidents/{world.incident}")
    assert page.status_code == 503 and "read from incidents failed: locked" in page.text


def test_a_shared_store_is_opened_once_and_again_after_a_failure(
    store_url: str, world, tmp_path, monkeypatch
) -> None:
    opened: list[str] = []
    real_open = Store.open

    def counting_open(url, **kwargs):
        opened.append(url)
        return real_open(url, **kwargs)

    monkeypatch.setattr(Store, "open", counting_open)
    client = TestClient(create_app(shared_store(store_url), now=lambda: world.now))
    assert [client.get(path).status_code for path in pages(world)] == [200] * 4
    assert opened == [store_url]

    later = tmp_path / "later.db"
    client = TestClient(create_app(shared_store(f"sqlite:///{later}"), now=lambda: world.now))
    assert client.get("/").status_code == 503  # not there yet
    real_open(f"sqlite:///{later}").close()
    assert client.get("/").status_code == 200


def test_an_empty_store_says_it_has_nothing_yet(tmp_path, world) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    Store.open(url).close()
    catalog = parse_catalog(catalog_yaml("  cart: {owner: acme/cart, team: shop}\n"))
    page = TestClient(create_app(opener(url), now=lambda: world.now, catalog=catalog)).get("/")
    assert page.status_code == 200
    assert "holds no results yet" in page.text
    assert 'class="pill stale">stale · no data' in row_of(page.text, "cart")
    empty = TestClient(create_app(opener(url), now=lambda: world.now))
    assert "no trace window analysed yet" in empty.get("/graph").text


# -- forecast_picture ------------------------------------------------------------------------


def test_the_forecast_picture_is_the_newest_forecast_with_a_day_of_history(
    store: Store, world
) -> None:
    picture = forecast_picture(store, "payment", "latency_p95", world.now)
    assert picture is not None
    assert picture.now == world.last_run
    step = timedelta(minutes=15)
    assert [p.time for p in picture.forecast[:2]] == [world.last_run + step,
                                                      world.last_run + 2 * step]  # fmt: skip
    first = picture.forecast[0]
    assert first.mean == world.level("payment", "latency_p95", first.time)
    assert first.lower == pytest.approx(0.9 * first.mean)
    # one observed point per hourly run of the day before, each the minute before its run
    minute = timedelta(minutes=1)
    assert [t for t, _ in picture.observed] == [r - minute for r in world.runs]
    assert picture.observed[-1][1] == world.level("payment", "latency_p95",
                                                  world.last_run - minute)  # fmt: skip
    assert picture.marks == ((world.last_run - timedelta(minutes=50), 0.9),)
    assert picture.unit == "s" and picture.threshold is None
    assert forecast_picture(store, "payment", "latency_p95", world.now) == picture


def test_the_forecast_picture_at_an_earlier_time_uses_the_forecast_made_by_then(
    store: Store, world
) -> None:
    at = world.last_run - timedelta(hours=3, minutes=30)
    picture = forecast_picture(store, "cart", "request_rate", at, history=timedelta(hours=6))
    assert picture is not None
    assert picture.now == world.last_run - timedelta(hours=4)
    assert len(picture.observed) == 6 and all(t <= at for t, _ in picture.observed)
    # the runs after it forecast its later targets again: what is left is its first hour
    assert [p.time for p in picture.forecast][-1] == picture.now + timedelta(hours=1)
    stale = forecast_picture(store, "inventory", "request_rate", world.now)
    assert stale is not None and stale.now == world.inventory_last_run


def test_the_forecast_picture_threshold_comes_from_the_catalog(store: Store, world) -> None:
    catalog = parse_catalog(
        catalog_yaml("  payment: {owner: acme/payment, team: pay, slo: {latency_p95: 400ms}}\n")
    )
    picture = forecast_picture(store, "payment", "latency_p95", world.now, catalog=catalog)
    assert picture is not None and picture.threshold == pytest.approx(0.4)
    given = forecast_picture(store, "payment", "latency_p95", world.now, catalog=catalog,
                             threshold=0.25, unit="seconds")  # fmt: skip
    assert given is not None and (given.threshold, given.unit) == (0.25, "seconds")


def test_no_forecast_no_picture(store: Store, world) -> None:
    assert forecast_picture(store, "payment", "cpu", world.now) is None
    assert forecast_picture(store, "nobody", "latency_p95", world.now) is None
    before = world.runs[0] - timedelta(days=2)
    assert forecast_picture(store, "payment", "latency_p95", before) is None
