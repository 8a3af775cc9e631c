"""Rebuild a site whenever its store, settings, theme or reports change (`serve`, `server`).

Each check calls the ordinary build, which costs one listing of the store, theme and reports
when nothing changed (see build.fingerprint), so a second's interval is cheap. A rebuild
replaces files atomically, so a reader never gets half a page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from reporter.core.errors import ReporterError

if TYPE_CHECKING:
    from reporter.view.config import BuildConfig


def watch(
    config: BuildConfig, stop: threading.Event, interval: float, say: Callable[[str], None]
) -> None:
    """Rebuild until `stop` is set; tell `say` what changed and what failed (once each)."""
    from reporter.site.build import build

    last_failure = ""
    while not stop.wait(interval):
        try:
            result = build(config)
        except Exception as exc:  # a report being edited, a bad value: say once, keep serving
            text = str(exc) if isinstance(exc, ReporterError) else f"{type(exc).__name__}: {exc}"
            if text != last_failure:
                say(f"Rebuild failed: {text}")
                last_failure = text
            continue
        if last_failure:
            say("Rebuilt after the failure above was fixed.")
            last_failure = ""
        if result.stats.written:
            say(f"Rebuilt: {result.stats.written} files changed ({result.seconds:.1f} s)")
