"""The pages that say something is missing: a 404 naming what was asked for, and the page
shown when the results store cannot be read, naming the store and why.
"""

from __future__ import annotations

from aiops.ui.layout import Links, esc, link, page


def not_found_page(what: str, name: str, links: Links, *, hint: str = "") -> str:
    """The 404 page, naming the missing thing (``what`` is "service", "incident", "page")."""
    body = (
        f"<h1>No {esc(what)} {esc(name)}</h1>"
        f'<p class="lede">There is no {esc(what)} called <code>{esc(name)}</code> in the '
        f"results store{esc(hint)}.</p>"
        f"<p>{link(links.home(), 'Back to the services')}</p>"
    )
    return page(f"No {what} {name}", body, links)


def store_error_page(message: str, links: Links) -> str:
    """What the page says when the results store cannot be read: which store, and why."""
    body = (
        "<h1>The results store cannot be read</h1>"
        f'<div class="banner bad">{esc(message)}</div>'
        '<p class="muted">The pages show what the hourly and nightly DAGs stored; check the '
        "store URL (<code>AIOPS_STORE_URL</code>) and that the database is reachable from "
        "the API server.</p>"
    )
    return page("Store unavailable", body, links)
