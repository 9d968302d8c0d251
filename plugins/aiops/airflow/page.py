"""The AIOps page inside Airflow: the read-only app of aiops.ui, mounted by Airflow's own API
server, behind Airflow's own authentication, and listed in the UI's navigation.

Nothing new to run or secure: the API server that already serves Airflow's UI mounts the app
under ``/aiops`` (an Airflow 3 plugin's ``fastapi_apps``), and every route requires what
Airflow's UI requires (``requires_access_view(AccessView.WEBSITE)``, the same JWT cookie the
UI's login sets). A browser that arrives without it is sent to Airflow's login page and back;
an API client gets the 401. The results store is the tasks' own (`aiops_store`, else
AIOPS_STORE_URL, else the SQLite default), opened once per API-server process (never
created), on the first request rather than at import, so a plugin import never touches a
database.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiops.catalog import Catalog, CatalogError, load_catalog
from aiops.settings import PAGE_NOW_ENV
from aiops.ui.app import create_app, shared_store, utc_now

log = logging.getLogger(__name__)

URL_PREFIX = "/aiops"
NAV_VIEW = {
    "name": "AIOps",
    "href": f"{URL_PREFIX}/",
    "destination": "nav",
    "url_route": "aiops",
}


def page_app() -> FastAPI:
    """The app Airflow's API server mounts at `URL_PREFIX`, every route behind Airflow's
    authentication."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view

    from aiops.airflow.hooks import store_url

    app = create_app(
        shared_store(store_url),
        now=page_clock(os.environ.get(PAGE_NOW_ENV)),
        dependencies=[Depends(requires_access_view(AccessView.WEBSITE))],
        catalog=_catalog(),
    )
    pages_answer = app.exception_handlers[StarletteHTTPException]

    async def login_for_browsers(request: Request, exc: Exception) -> Response:
        """A browser without Airflow's session goes to Airflow's login page and comes back;
        anything else gets the page's own answer (its 404 page, the plain 401)."""
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
            from airflow.api_fastapi.app import get_auth_manager

            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            login = get_auth_manager().get_url_login(next_url=back)
            return RedirectResponse(login, status_code=303)
        return await pages_answer(request, exc)

    app.add_exception_handler(StarletteHTTPException, login_for_browsers)
    return app


def page_clock(pinned: str | None) -> Callable[[], datetime]:
    """What "now" is for staleness: the wall clock, or the time ``pinned`` names (ISO 8601
    with a timezone, `$AIOPS_PAGE_NOW`), for a demo or a backfill reviewed as of its end."""
    if not pinned:
        return utc_now
    try:
        at = datetime.fromisoformat(pinned)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ValueError(f"{PAGE_NOW_ENV}: needs an ISO 8601 time with a timezone, like "
                         f"2026-10-31T16:00:00+00:00, got {pinned!r}")  # fmt: skip
    return lambda: at


def _catalog() -> Catalog | None:
    """The catalog, for thresholds and services without data yet; the page still serves what
    the store holds when it cannot be read (the reason is logged)."""
    try:
        return load_catalog()
    except (CatalogError, OSError) as exc:
        log.warning("AIOps page: catalog not loaded, thresholds come from the alerts: %s", exc)
        return None
