"""Debian's chromium driven by Playwright, for the screenshot tool and the real-browser tests
(`tests/site/browser.py`): where the browser is, and how it is started.

Playwright's own browser download is never used: both launch the system chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium(given: str | None = None) -> str | None:
    """Return the chromium to drive: the given path, Debian's, or chromium on PATH; None when
    there is none."""
    for candidate in (given, CHROMIUM, shutil.which("chromium")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@contextmanager
def launch(chromium: str) -> Iterator[Any]:
    """Start Playwright and a headless chromium; close both afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
