"""The AIOps page in a real Airflow API server: mounted by the plugin, listed in the UI's
navigation, behind Airflow's own authentication, and drawn by a real headless Chromium.

Two servers on the same migrated Airflow and the same fixture store (support.page_store):
one with named users and passwords, as a deployment runs it, for what the authentication
lets through; one in the all-admins development mode the demo uses, for the browser, whose
screenshots are saved under out/screenshots/ (the repository's out/, where people look).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from aiops.dev.api_server import ApiServer
from aiops.dev.browser import dump_dom, screenshot
from aiops.dev.local_airflow import PROJECT_ROOT
from aiops.store import Store
from support.browser import require_browser
from support.page_store import INCIDENT, SERVICES, fill

SHOTS = PROJECT_ROOT / "out" / "screenshots"
USER, PASSWORD = "sre", "correct horse battery staple"


@pytest.fixture(scope="module")
def page_env(airflow_home, tmp_path_factory) -> dict[str, str]:
    """The throwaway Airflow, its results store filled as a day of runs leaves it."""
    path = tmp_path_factory.mktemp("page") / "aiops.db"
    with Store.open(f"sqlite:///{path}") as store:
        fill(store)
    return {**airflow_home, "AIOPS_STORE_URL": f"sqlite:///{path}"}


@pytest.fixture(scope="module")
def secured(page_env, tmp_path_factory) -> Iterator[ApiServer]:
    log = tmp_path_factory.mktemp("api") / "api-server.log"
    with ApiServer(page_env, log, users={USER: PASSWORD}) as server:
        yield server


@pytest.fixture(scope="module")
def development(page_env, tmp_path_factory) -> Iterator[ApiServer]:
    log = tmp_path_factory.mktemp("api") / "api-server-dev.log"
    with ApiServer(page_env, log) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> str:
    return require_browser()


def test_the_page_is_mounted_and_listed_in_airflows_navigation(secured) -> None:
    token = secured.login(USER, PASSWORD)
    plugins = requests.get(f"{secured.url}/api/v2/plugins", timeout=30,
                           headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    (ours,) = [p for p in plugins["plugins"] if p["name"] == "aiops"]
    assert [a["url_prefix"] for a in ours["fastapi_apps"]] == ["/aiops"]
    (view,) = ours["external_views"]
    assert (view["name"], view["href"], view["destination"]) == ("AIOps", "/aiops/", "nav")


def test_without_airflows_session_nothing_of_the_page_is_served(secured) -> None:
    for path in ("/aiops/", f"/aiops/incidents/{INCIDENT}", "/aiops/services/cart", "/aiops/graph"):
        api = requests.get(secured.url + path, timeout=30, allow_redirects=False)
        assert api.status_code == 401, path
        assert "payment" not in api.text
        browser = requests.get(secured.url + path, timeout=30, allow_redirects=False,
                               headers={"Accept": "text/html"})  # fmt: skip
        assert browser.status_code == 303, path
        assert browser.headers["location"].startswith("/auth/login")  # Airflow's own login
        assert "next=" in browser.headers["location"] and "aiops" in browser.headers["location"]
    forged = requests.get(secured.url + "/aiops/", timeout=30, cookies={"_token": "x.y.z"})
    assert forged.status_code in (401, 403) and "payment" not in forged.text


def test_a_logged_in_user_reads_every_view_and_cannot_write(secured) -> None:
    cookies = {"_token": secured.login(USER, PASSWORD)}  # what the UI's login leaves
    overview = requests.get(f"{secured.url}/aiops/", timeout=30, cookies=cookies)
    assert overview.status_code == 200
    assert all(service in overview.text for service in SERVICES)
    incident = requests.get(f"{secured.url}/aiops/incidents/{INCIDENT}", timeout=30,
                            cookies=cookies)  # fmt: skip
    assert incident.status_code == 200 and "<svg" in incident.text
    service = requests.get(f"{secured.url}/aiops/services/payment", timeout=30, cookies=cookies)
    assert service.status_code == 200 and service.text.count("<svg") >= 2  # a chart a signal
    assert requests.get(f"{secured.url}/aiops/graph", timeout=30, cookies=cookies).ok
    missing = requests.get(f"{secured.url}/aiops/services/nope", timeout=30, cookies=cookies)
    assert missing.status_code == 404 and "nope" in missing.text
    posted = requests.post(f"{secured.url}/aiops/", timeout=30, cookies=cookies)
    assert posted.status_code == 405  # read-only


def test_chromium_draws_the_page_and_screenshots_land_under_out(development, browser) -> None:
    dom = dump_dom(development.login_url("/aiops/"))
    assert all(service in dom for service in SERVICES) and "stale" in dom
    shots = {
        "test-aiops-services": "/aiops/",
        "test-aiops-incident": f"/aiops/incidents/{INCIDENT}",
        "test-aiops-service": "/aiops/services/payment",
        "test-aiops-graph": "/aiops/graph",
    }
    for stem, path in shots.items():
        png = screenshot(development.login_url(path), SHOTS / f"{stem}.png", height=1100)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 20_000, f"{png}: too small to hold the page"


def test_the_page_shows_inside_airflows_own_ui(development, browser) -> None:
    dom = dump_dom(development.login_url("/plugin/aiops"), wait_ms=15000)
    frames = re.findall(r"<iframe\b[^>]*>", dom)  # Airflow's UI frames the page at its route
    assert any('src="/aiops/"' in f and 'title="AIOps"' in f for f in frames), frames
    png = screenshot(development.login_url("/plugin/aiops"), SHOTS / "test-airflow-nav.png",
                     height=1100, wait_ms=15000)  # fmt: skip
    assert png.stat().st_size > 20_000
