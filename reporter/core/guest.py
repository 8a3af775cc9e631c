"""A library is a guest: what a dependency changes in the host process at import is put back.

Some dependencies configure the process they are imported into (detect-secrets calls
`logging.captureWarnings(True)` at import, which reroutes every warning of the user's program
into logging, where a root logger at ERROR swallows it). `reporter` imports its dependencies
lazily, inside `host_kept()`, which restores the warning filters and display hook, logging's
root level, handlers and warning capture, the signal handlers and the working directory.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any


def _signal_handlers() -> dict[signal.Signals, Any]:
    """Return the handler of every signal that has one we can read."""
    handlers = {}
    for sig in signal.Signals:
        with contextlib.suppress(OSError, ValueError):
            handlers[sig] = signal.getsignal(sig)
    return handlers


@contextlib.contextmanager
def host_kept() -> Iterator[None]:
    """Run a block (an import), then undo what it changed in the host process's global state."""
    filters = list(warnings.filters)
    showwarning = warnings.showwarning
    captured = logging._warnings_showwarning  # type: ignore[attr-defined]
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    main = threading.current_thread() is threading.main_thread()
    signals = _signal_handlers() if main else {}
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # the working directory was removed: nothing to restore
        cwd = None
    try:
        yield
    finally:
        warnings.filters[:] = filters  # type: ignore[index]  # in place: _warnings holds it
        warnings.showwarning = showwarning
        logging._warnings_showwarning = captured  # type: ignore[attr-defined]
        root.setLevel(level)
        root.handlers[:] = handlers
        for sig, handler in signals.items():
            if signal.getsignal(sig) is not handler and handler is not None:
                with contextlib.suppress(OSError, ValueError, TypeError):
                    signal.signal(sig, handler)
        if cwd is not None and os.getcwd() != cwd:
            os.chdir(cwd)


def import_dependency(name: str) -> ModuleType:
    """Import a third-party module as a guest: whatever it configures at import is undone."""
    with host_kept():
        return importlib.import_module(name)
