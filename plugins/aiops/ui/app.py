"""The AIOps page as a FastAPI app: read-only views of the results store for people.

Airflow 3's API server mounts it (the AirflowPlugin, in aiops.airflow, passes Airflow's
authentication as ``dependencies``); nothing here imports Airflow, so the same app runs
under uvicorn for a demo or a test. Routes, all GET:

* ``/`` every service's state (ok / anomalous / incident, stale with its data's age), the
  open incidents and the newest predicted breaches;
* ``/services/{service}`` its forecast charts with anomalies marked, predictions and
  scaling values, events, incidents and findings;
* ``/incidents/{incident_id}`` ranked root-cause candidates, the chain, the events;
* ``/graph`` the newest trace window's dependency map, services with findings marked.

Each request borrows the store from ``open_store`` (`shared_store`: opened on first use,
then kept) and reads what its page needs with SELECTs only; the pages hold nothing between
requests. A store that cannot be read gives a page that says which store and why (URL
masked), not a traceback; an unknown service or incident a 404 page naming it. Every
response forbids scripts, frames and anything fetched from elsewhere
(Content-Security-Policy): the pages need none, so a name that slipped past escaping still
could not run.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiops.store import Store, StoreError, mask_url
from aiops.ui.error_pages import not_found_page, store_error_page
from aiops.ui.graph_page import graph_page
from aiops.ui.incident_page import incident_page
from aiops.ui.incident_queries import incident_detail
from aiops.ui.layout import Links
from aiops.ui.map_queries import newest_map
from aiops.ui.overview_page import overview_page
from aiops.ui.service_page import service_page
from aiops.ui.service_queries import service_detail
from aiops.ui.state_queries import STALE_AFTER, overview

if TYPE_CHECKING:
    from aiops.catalog import Catalog

log = logging.getLogger(__name__)

#: Headers of every page: nothing runs, nothing is fetched, nothing is cached.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.IGNORECASE)


def utc_now() -> datetime:
    """The clock's now, in UTC: what staleness is measured against."""
    return datetime.now(UTC)


def create_app(
    open_store: Callable[[], AbstractContextManager[Store]],
    *,
    now: Callable[[], datetime] = utc_now,
    dependencies: Sequence[Any] = (),
    catalog: Catalog | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> FastAPI:
    """The AIOps page app. ``open_store`` lends a store to each request (`shared_store`
    opens one and keeps it); ``dependencies`` (``fastapi.Depends``) run
    before every route, so an authentication dependency guards every page. With a
    ``catalog``, services it lists show even before the store has data on them, and forecast
    charts draw the SLO threshold from it (else from the newest predicted breach)."""
    app = FastAPI(
        title="AIOps",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=list(dependencies),
    )

    def respond(request: Request, build: Callable[[Store, Links, datetime], Response]) -> Response:
        links = links_for(request)
        try:
            with open_store() as store:
                return build(store, links, now())
        except (StoreError, SQLAlchemyError, OSError) as exc:
            message = masked(
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreError) else str(exc)
            )
            log.warning("AIOps page %s: %s", request.url.path, message)
            return html_response(store_error_page(message, links), 503)

    @app.get("/", response_class=HTMLResponse)
    def services(request: Request) -> Response:
        def build(store: Store, links: Links, at: datetime) -> Response:
            found = overview(store, at, catalog=catalog, stale_after=stale_after)
            return html_response(overview_page(found, links))

        return respond(request, build)

    @app.get("/services/{service:path}", response_class=HTMLResponse)
    def service(request: Request, service: str) -> Response:
        def build(store: Store, links: Links, at: datetime) -> Response:
            found = service_detail(store, service, at, catalog=catalog, stale_after=stale_after)
            if found is None:
                return html_response(not_found_page("service", service, links), 404)
            return html_response(service_page(found, links))

        return respond(request, build)

    @app.get("/incidents/{incident_id:path}", response_class=HTMLResponse)
    def incident(request: Request, incident_id: str) -> Response:
        def build(store: Store, links: Links, at: datetime) -> Response:
            found = incident_detail(store, incident_id, at)
            if found is None:
                return html_response(not_found_page("incident", incident_id, links), 404)
            return html_response(incident_page(found, links, at))

        return respond(request, build)

    @app.get("/graph", response_class=HTMLResponse)
    def graph(request: Request) -> Response:
        def build(store: Store, links: Links, at: datetime) -> Response:
            return html_response(graph_page(newest_map(store, at), links, at))

        return respond(request, build)

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            page = not_found_page("page", request.url.path, links_for(request))
            return html_response(page, 404)
        return await http_exception_handler(request, exc)

    return app


def shared_store(
    url: str | Callable[[], str] | None = None,
) -> Callable[[], AbstractContextManager[Store]]:
    """An ``open_store`` for `create_app` that opens the store (``url``, or the function
    that finds it, called on the first request; default ``$AIOPS_STORE_URL``; never created)
    on the first request and lends it to every later one: its engine pools connections,
    whereas `Store.open` checks the schema under the database's write lock, too much for
    every page view. An open that fails is tried again on the next request, so the API
    server can start before the database is reachable."""
    lock = threading.Lock()
    opened: list[Store] = []

    @contextmanager
    def open_store() -> Iterator[Store]:
        with lock:
            if not opened:
                opened.append(Store.open(url() if callable(url) else url, create=False))
            store = opened[0]
        yield store

    return open_store


def links_for(request: Request) -> Links:
    """Links under the path the app is mounted at (``/aiops`` in Airflow's API server)."""
    return Links(str(request.scope.get("root_path", "")).rstrip("/"))


def html_response(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def masked(message: str) -> str:
    """``message`` with the password of any URL in it masked (aiops.store.mask_url)."""
    return _URL.sub(lambda m: mask_url(m.group(0)), message)
