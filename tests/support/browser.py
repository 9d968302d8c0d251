"""What the browser tests need (Debian's Chromium, the Mermaid npm package), or the reason
they cannot run: a skip on a developer's machine, a failure in CI (CI=true), since a CI run
must not pass by checking nothing."""

from __future__ import annotations

import os

import pytest

from aiops.dev.browser import APT_INSTALL, BrowserToolMissing, chromium_binary, mermaid_script


def require_browser(*, mermaid: bool = False) -> str:
    """The Chromium binary (and, with ``mermaid``, the Mermaid script present), else skip or
    fail the test with what to install."""
    try:
        found = chromium_binary()
        if found is None:
            raise BrowserToolMissing(f"chromium not installed ({APT_INSTALL})")
        if mermaid:
            mermaid_script()
    except BrowserToolMissing as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser checks: {missing}")
        pytest.skip(str(missing))
    return found
