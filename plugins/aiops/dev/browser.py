"""Headless Chromium for the tests and the demo: a screenshot of a page, its DOM after the
scripts ran, and whether the real Mermaid library parses and renders a list of diagrams.

Why a real browser: the Mermaid blocks aiops.pictures.mermaid writes into GitHub issues are
drawn by GitHub with the Mermaid library in the reader's browser. A diagram that does not
parse shows as an error box in an issue a team is asked to act on, and no Python check of
our own can say what Mermaid's grammar accepts, so `check_mermaid` asks Mermaid itself: it
writes a page that loads the `mermaid` npm package from ``tests/browser/node_modules``
(``npm ci --prefix tests/browser``), parses and renders each diagram, and writes the outcome
into the page as JSON, which Chromium's ``--dump-dom`` hands back.

Every run gets a fresh profile directory and the flags that keep Chromium off the network
(no component updates, no sync, no background fetches): the pages are local files or
loopback servers. Chromium runs in its own session so that a timeout kills the whole
process group it started, not only the first process.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiops.dev.local_airflow import PROJECT_ROOT

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
APT_INSTALL = "apt-get install -y chromium"
MERMAID_JS = Path("tests/browser/node_modules/mermaid/dist/mermaid.min.js")
NPM_INSTALL = "npm ci --prefix tests/browser"
STDERR_TAIL = 2000  # characters of Chromium's stderr an error quotes
# flags every run passes: headless, no sandbox (containers run as root), nothing fetched
# that the page did not ask for
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
_RESULTS = re.compile(r'<pre id="results">(.*?)</pre>', re.DOTALL)


class BrowserError(RuntimeError):
    """Chromium did not produce what was asked of it (a screenshot, a DOM, check results)."""


class BrowserToolMissing(BrowserError):
    """Chromium or the Mermaid package is not installed; the message says how to install it."""


@dataclass(frozen=True)
class MermaidResult:
    """What Mermaid made of one diagram: ``ok`` when it parsed and rendered, else Mermaid's
    error message; ``svg_chars`` is the length of the SVG it rendered (0 when it failed) and
    ``svg`` the SVG itself, to look for what must not be in it (a ``<script>``)."""

    ok: bool
    error: str | None
    svg_chars: int
    svg: str = field(default="", repr=False)


def chromium_binary() -> str | None:
    """The first of chromium, chromium-browser, google-chrome on the PATH, or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def screenshot(
    url: str, path: Path | str, *, width: int = 1400, height: int = 1000, wait_ms: int = 5000
) -> Path:
    """A PNG screenshot of ``url`` at ``width`` x ``height`` pixels, taken after ``wait_ms``
    of (virtual) page time, written to ``path``. `BrowserError` naming the url and quoting
    Chromium's stderr when no file was written."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a stale file must not pass for this run's screenshot
    flags = [f"--window-size={width},{height}", f"--screenshot={path}"]
    _, stderr = _run_chromium(url, flags, wait_ms)
    if not path.is_file() or path.stat().st_size == 0:
        raise BrowserError(f"chromium wrote no screenshot of {url} to {path}: {_tail(stderr)}")
    return path


def dump_dom(url: str, wait_ms: int = 5000, *, extra_flags: Sequence[str] = ()) -> str:
    """The DOM of ``url`` as HTML after ``wait_ms`` of (virtual) page time, the page's
    scripts having run. `BrowserError` naming the url when Chromium printed nothing."""
    stdout, stderr = _run_chromium(url, ["--dump-dom", *extra_flags], wait_ms)
    if not stdout.strip():
        raise BrowserError(f"chromium dumped no DOM for {url}: {_tail(stderr)}")
    return stdout


def mermaid_script(root: Path = PROJECT_ROOT) -> Path:
    """The installed ``mermaid.min.js`` under ``root``; `BrowserToolMissing` saying how to
    install it when it is not there."""
    script = Path(root) / MERMAID_JS
    if not script.is_file():
        raise BrowserToolMissing(f"{script} not found: run `{NPM_INSTALL}` in {Path(root)}")
    return script


def check_mermaid(
    sources: Sequence[str], *, mermaid_js: Path | str | None = None, wait_ms: int = 20_000
) -> list[MermaidResult]:
    """Parse and render each Mermaid source with the real Mermaid library in headless
    Chromium, one result per source in order. ``mermaid_js`` defaults to the package
    installed under the repository (`mermaid_script`). `BrowserToolMissing` when Chromium
    or the package is missing; `BrowserError` when the page did not report every result."""
    script = Path(mermaid_js).resolve() if mermaid_js else mermaid_script()
    if not script.is_file():
        raise BrowserToolMissing(f"{script} not found: run `{NPM_INSTALL}`")
    if not sources:
        return []
    with tempfile.TemporaryDirectory(prefix="aiops-mermaid-") as folder:
        page = Path(folder) / "check.html"
        page.write_text(_check_page(script.as_uri(), list(sources)), encoding="utf-8")
        dom = dump_dom(page.as_uri(), wait_ms, extra_flags=["--allow-file-access-from-files"])
    found = _RESULTS.search(dom)
    try:
        results = json.loads(html.unescape(found.group(1))) if found else None
    except ValueError:  # the page wrote why instead ("mermaid did not load")
        results = None
    if not isinstance(results, list) or len(results) != len(sources):
        raise BrowserError(
            f"the Mermaid check page reported no results for {len(sources)} diagrams "
            f"(did {script} load?): {_tail(dom)}"
        )
    return [
        MermaidResult(bool(r["ok"]), r["error"], int(r["svg_chars"]), str(r["svg"]))
        for r in results
    ]


def _check_page(script_url: str, sources: list[str]) -> str:
    # the sources travel as JSON inside <script>: "<" as \u003c so no "</script>" in a
    # diagram can end the element early
    data = json.dumps(sources).replace("<", "\\u003c")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>mermaid check</title>
<script src="{html.escape(script_url)}"></script></head>
<body><div id="scratch"></div><pre id="results"></pre>
<script>
(async () => {{
  const sources = {data};
  const out = [];
  if (typeof mermaid === "undefined") {{
    document.getElementById("results").textContent = "mermaid did not load";
    return;
  }}
  mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});
  for (let i = 0; i < sources.length; i++) {{
    try {{
      await mermaid.parse(sources[i]);
      const {{svg}} = await mermaid.render("diagram" + i, sources[i]);
      out.push({{ok: svg.length > 0, error: svg.length ? null : "empty svg",
                svg_chars: svg.length, svg: svg}});
    }} catch (e) {{
      out.push({{ok: false, error: String((e && e.message) || e), svg_chars: 0, svg: ""}});
    }}
  }}
  document.getElementById("results").textContent = JSON.stringify(out);
}})();
</script></body></html>
"""


def _run_chromium(url: str, flags: Sequence[str], wait_ms: int) -> tuple[str, str]:
    """Chromium's stdout and stderr for one headless run of ``url`` with a fresh profile."""
    binary = chromium_binary()
    if binary is None:
        raise BrowserToolMissing(
            f"no {', '.join(CHROMIUM_NAMES)} on PATH: install one (`{APT_INSTALL}`)"
        )
    timeout = wait_ms / 1000 + 60  # virtual time runs ahead of the clock; startup does not
    with tempfile.TemporaryDirectory(prefix="aiops-chromium-") as profile:
        command = [binary, *_FLAGS, f"--user-data-dir={profile}",
                   f"--virtual-time-budget={int(wait_ms)}", *flags, url]  # fmt: skip
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # its own process group: a timeout ends all of it
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
            raise BrowserError(
                f"chromium did not finish {url} within {timeout:.0f} s: {_tail(stderr)}"
            ) from None
    return stdout, stderr


def _tail(text: str) -> str:
    text = text.strip()
    return ("..." + text[-STDERR_TAIL:]) if len(text) > STDERR_TAIL else (text or "(no output)")
