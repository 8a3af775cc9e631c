"""Helpers for the real-browser tests: Debian's chromium driven by Playwright, a recorder of
what a page did (console errors, requests, failed loads, dialogs), a local HTTP server that
puts the site under a sub-path, and small DOM probes.

Playwright's own browser download is never used: tests launch the system chromium, started as
`make screenshots` starts it (`tools/chromium.py`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tools import chromium

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DRAW_TIMEOUT_MS = 15_000
# URL schemes a page may use without leaving the site.
INTERNAL_SCHEMES = ("data:", "blob:", "about:")


def chromium_path() -> str:
    """Return the system chromium, or fail (on CI) / skip (elsewhere) when it is missing."""
    path = chromium.find_chromium()
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(
            "chromium is not installed: .ci/run should have installed Debian's chromium "
            "(apt-get install chromium) before `make test`; the browser tests need it"
        )
    pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped")


@contextmanager
def launch() -> Iterator[Any]:
    """Start Playwright and a headless system chromium; close both afterwards. Playwright's
    `expect` waits DRAW_TIMEOUT_MS too (its own default, 5 s, is not the pages' timeout: a
    redraw of every chart on a loaded machine may take longer)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=DRAW_TIMEOUT_MS)
    with chromium.launch(chromium_path()) as browser:
        yield browser


# --- what a page did ------------------------------------------------------------------------
@dataclass
class Recorder:
    """Everything a page reported while a test used it."""

    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)  # status >= 400
    failed: list[str] = field(default_factory=list)  # requests that never got a response
    dialogs: list[str] = field(default_factory=list)  # alert(), confirm(), prompt()

    def attach(self, page: Any) -> None:
        """Listen to a page's events."""

        def on_console(msg: Any) -> None:
            if msg.type == "error":
                self.errors.append(f"console: {msg.text} ({msg.location})")

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_response(response: Any) -> None:
            if response.status >= 400:
                self.bad_responses.append(f"{response.status} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("response", on_response)
        page.on("requestfailed", lambda req: self.failed.append(f"{req.url}: {req.failure}"))
        page.on("dialog", on_dialog)

    def outside(self, prefix: str) -> list[str]:
        """Return the requested URLs that are neither under prefix nor data:/blob:/about:."""
        return [
            u
            for u in self.requests
            if not u.startswith(prefix) and not u.startswith(INTERNAL_SCHEMES)
        ]

    def problems(self, prefix: str, ignore: tuple[str, ...] = ()) -> list[str]:
        """Return every sign of trouble, given the URL prefix the site lives under (minus the
        entries that mention one of the ignore strings)."""
        found = (
            self.errors
            + [f"outside the site: {u}" for u in self.outside(prefix)]
            + [f"bad response: {r}" for r in self.bad_responses]
            + [f"failed: {r}" for r in self.failed]
            + [f"dialog: {d}" for d in self.dialogs]
        )
        return [p for p in found if not any(i in p for i in ignore)]


@contextmanager
def open_page(
    browser: Any,
    viewport: dict[str, int] | None = None,
    mobile: bool = False,
    javascript: bool = True,
) -> Iterator[tuple[Any, Recorder]]:
    """Open a page in a fresh context (own cache and storage) with a recorder attached."""
    options: dict[str, Any] = {"viewport": viewport or DESKTOP, "java_script_enabled": javascript}
    if mobile:
        options.update(is_mobile=True, has_touch=True, device_scale_factor=1)
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        page.set_default_timeout(DRAW_TIMEOUT_MS)
        recorder = Recorder()
        recorder.attach(page)
        yield page, recorder
    finally:
        context.close()


# --- a local server with the site under a sub-path ----------------------------------------
@dataclass
class Served:
    """A running server: the site's URL and what the server was asked for."""

    origin: str  # http://127.0.0.1:PORT
    prefix: str  # /site/
    log: list[tuple[str, str, int]]  # (method, path, status) as the server saw them

    @property
    def url(self) -> str:
        """The site's root URL."""
        return self.origin + self.prefix


class QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that records requests instead of printing them."""

    log: list[tuple[str, str, int]]
    not_found_page: Path | None = None  # answer 404s under the site with this page, if set
    prefix = "/"

    def log_message(self, format: str, *args: Any) -> None:
        """Print nothing."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Record the request and its status."""
        self.log.append((self.command, self.path, int(code) if str(code).isdigit() else 0))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Serve the site's 404 page for missing files under the site, as static hosts do."""
        page = self.not_found_page
        if code != 404 or page is None or not self.path.startswith(self.prefix):
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@contextmanager
def serve(root: Path, prefix: str, not_found_page: Path | None = None) -> Iterator[Served]:
    """Serve root on 127.0.0.1 (ephemeral port) in a thread; the site lives at prefix."""
    log: list[tuple[str, str, int]] = []
    handler_class = type(
        "Handler", (QuietHandler,), {"log": log, "not_found_page": not_found_page, "prefix": prefix}
    )
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler_class, directory=str(root))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET address: (host, port)
        yield Served(f"http://{host}:{port}", prefix, log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- DOM probes ----------------------------------------------------------------------------
def wait_for_charts(page: Any) -> int:
    """Wait until vega-embed has drawn every chart of the page; return how many there are."""
    count = page.locator("figure.chart").count()
    if count:
        page.wait_for_function(
            "n => document.querySelectorAll('figure.chart[data-drawn=\"true\"]').length === n",
            arg=count,
            timeout=DRAW_TIMEOUT_MS,
        )
    return count


def settle(page: Any) -> None:
    """Wait for the charts and for the network to go quiet (late and lazy loads included)."""
    wait_for_charts(page)
    page.wait_for_load_state("networkidle")


def follow(page: Any, selector: str) -> None:
    """Click a link and wait until the page it opens has loaded and gone quiet: a click
    returns once the next page starts loading, and leaving it then (another click, a goto)
    aborts its scripts' requests, which the recorder rightly counts as failed."""
    page.click(selector)
    page.wait_for_load_state("load")
    settle(page)


CHART_STATE = """() => Array.from(document.querySelectorAll('figure.chart')).map(f => ({
  key: (JSON.parse(f.querySelector('script.chart-data').textContent) || {}).key,
  drawn: f.getAttribute('data-drawn'),
  svgs: f.querySelectorAll('.chart-view svg').length,
  marks: Array.from(f.querySelectorAll('.chart-view svg g.role-mark path'))
    .map(p => p.getAttribute('d') || '').filter(d => d.length > 0),
  shown: (JSON.parse(f.querySelector('script.chart-data').textContent) || {}).shown,
  lines: Array.from(f.querySelectorAll('.chart-view svg g.mark-line.role-mark path'))
    .map(p => (p.getAttribute('d') || '').split('L').length),
  xTitle: Array.from(f.querySelectorAll(
    '.chart-view svg g.role-axis[aria-label^="X-axis"] .role-axis-title text'))
    .map(t => t.textContent).join('|'),
  label: f.querySelector('.chart-view').getAttribute('aria-label'),
  failed: f.querySelector('.chart-view').textContent.startsWith('Chart failed'),
}))"""


def chart_state(page: Any) -> list[dict[str, Any]]:
    """Return, per chart: metric key, drawn flag, svg count, mark paths, x-axis title..."""
    return page.evaluate(CHART_STATE)


# Words (runs of non-space) of the selected elements that the layout split over two lines.
SPLIT_WORDS = """sel => {
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!el.getClientRects().length) continue;  // hidden
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g;
      for (let m = re.exec(node.textContent); m; m = re.exec(node.textContent)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set(Array.from(range.getClientRects())
          .filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) out.push(m[0]);
      }
    }
  }
  return out;
}"""


def split_words(page: Any, selector: str) -> list[str]:
    """Return the words inside selector's elements that are broken across lines."""
    return page.evaluate(SPLIT_WORDS, selector)


def run_order(page: Any) -> list[str]:
    """Return the run ids of the visible rows of the runs table, top to bottom."""
    return page.eval_on_selector_all(
        "table.runs tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.run)"
    )


def horizontal_overflow(page: Any) -> dict[str, Any]:
    """Return the document's scroll width, the window width, and what sticks out (not inside
    a scrolling table wrapper)."""
    return page.evaluate(
        """() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          culprits: Array.from(document.querySelectorAll('body *'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                         && !e.closest('.table-wrap'))
            .slice(0, 10).map(e => e.tagName.toLowerCase() + '.' + e.className),
        })"""
    )


def wait_for_x_title(page: Any, title: str) -> None:
    """Wait until every chart is drawn (once) with the given x-axis title."""
    page.wait_for_function(
        """title => Array.from(document.querySelectorAll('figure.chart')).every(f => {
             const t = f.querySelectorAll(
               '.chart-view svg g.role-axis[aria-label^="X-axis"] .role-axis-title text');
             return f.querySelectorAll('.chart-view svg').length === 1
               && t.length === 1 && t[0].textContent === title;
           })""",
        arg=title,
        timeout=DRAW_TIMEOUT_MS,
    )


def styled(page: Any) -> bool:
    """Return True when the theme's stylesheet applies (it sets the body font to system-ui)."""
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    return bool(str(font).startswith("system-ui"))


def inline_scripts(page: Any) -> list[str]:
    """Return the start of every executable inline script (pages should have none)."""
    return page.eval_on_selector_all(
        "script",
        "els => els.filter(s => !s.src && s.type !== 'application/json')"
        ".map(s => s.textContent.slice(0, 80))",
    )
