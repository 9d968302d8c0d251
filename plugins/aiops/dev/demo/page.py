"""The demo's last step: the AIOps page in a real Airflow API server, photographed.

It starts `airflow api-server` on the demo's Airflow and store (aiops.dev.api_server), logs a
headless Chromium in through Airflow's own login redirect, and saves screenshots of the
page's views under ``out/screenshots/``: what a user sees at ``/aiops/`` after `aiops page`.
Without Chromium it says so and how to install it; the rest of the demo stands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from aiops.dev.api_server import ApiServer, ApiServerError
from aiops.dev.browser import BrowserError, chromium_binary, screenshot
from aiops.dev.demo.traces import shown
from aiops.settings import PAGE_NOW_ENV
from aiops.store import Store

Say = Callable[[str], None]


def views(store: Store) -> list[tuple[str, str]]:
    """(file stem, path) of the views worth a picture: the overview, the newest incident, the
    service of the newest predictive alert (else the incident's root), the dependency map."""
    shots = [("aiops-services", "/aiops/")]
    incidents = store.read("incidents")
    root = None
    if incidents:
        newest = max(incidents, key=lambda r: (r["interval_end"], r["incident_id"]))
        shots.append(("aiops-incident", f"/aiops/incidents/{quote(newest['incident_id'])}"))
        root = newest["root_service"]
    alerts = store.read("predictive_alerts")
    service = max(alerts, key=lambda r: r["generated_at"])["service"] if alerts else root
    if service:
        shots.append(("aiops-service", f"/aiops/services/{quote(service)}"))
    shots.append(("aiops-graph", "/aiops/graph"))
    shots.append(("airflow-nav", "/plugin/aiops"))  # the page inside Airflow's own UI
    return shots


def show_page(
    env: Mapping[str, str], store_url: str, out: Path, now: datetime, say: Say
) -> list[Path]:
    """Serve the page from a real API server, save its screenshots, say where they are. The
    page's clock is pinned to ``now`` (the demo's last hour), so the demo world from weeks
    ago does not read as stale."""
    browser = chromium_binary()
    env = {**env, PAGE_NOW_ENV: now.isoformat()}
    with Store.open(store_url) as store:
        shots = views(store)
    saved: list[Path] = []
    try:
        with ApiServer(env, out / "logs" / "api-server.log") as server:
            say(f"      served by Airflow's API server at {server.url}/aiops/ "
                f"(log: {shown(out / 'logs' / 'api-server.log')})")  # fmt: skip
            if browser is None:
                say("      no Chromium here, so no screenshots (apt-get install chromium)")
            for stem, path in shots if browser else ():
                target = out / "screenshots" / f"{stem}.png"
                try:
                    saved.append(screenshot(server.login_url(path), target, height=1100))
                except BrowserError as exc:
                    say(f"      {stem}: no screenshot: {exc}")
    except ApiServerError as exc:
        say(f"      the API server did not start: {exc}")
        return saved
    for path in saved:
        say(f"      screenshot {shown(path)}")
    say("      browse it yourself: `.venv/bin/aiops page`, then open the printed /aiops/ URL")
    return saved
