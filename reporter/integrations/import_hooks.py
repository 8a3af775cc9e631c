"""Post-import hooks: run a callback once a library finishes importing, or now if it has.

`reporter.autolog()` turns on each framework's autologging when the script imports the
framework, before or after the call (MLflow's `register_post_import_hook`), without importing
any framework itself: a script that never imports Lightning never pays its seconds of import.

While a hook waits, one finder sits first on `sys.meta_path`. It answers only for the names
waited for, by asking the finders after it for the real spec and wrapping its loader: the
module executes as it would have, its `__loader__` and `__spec__.loader` are the real loader
again before its code runs, and the callbacks run right after (in the importing thread,
before the `import` statement returns, so no code sees the module unpatched). A failed import
runs nothing and keeps the hook. The finder leaves `sys.meta_path` when no hook waits;
`sys.meta_path` is rebound, never mutated in place, so a concurrent import iterating the old
list sees every finder it started with.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)
_lock = threading.RLock()
_waiting: dict[str, tuple[tuple[str, ...], Callable[[], None]]] = {}  # key -> (names, callback)


def when_imported(key: str, names: Sequence[str], callback: Callable[[], None]) -> None:
    """Call `callback` once, when the first of the modules `names` finishes importing (now,
    when one is imported already). A later call with the same `key` replaces the hook."""
    with _lock:
        _waiting.pop(key, None)
        if not any(_imported(name) for name in names):
            _waiting[key] = (tuple(names), callback)
            _install()
            return
        _uninstall_if_idle()
    callback()


def cancel(key: str) -> None:
    """Forget the hook `key` (if it has not run yet)."""
    with _lock:
        _waiting.pop(key, None)
        _uninstall_if_idle()


def waiting() -> list[str]:
    """The module names hooks wait for."""
    with _lock:
        return sorted({name for names, _ in _waiting.values() for name in names})


def _imported(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and not getattr(
        getattr(module, "__spec__", None), "_initializing", False
    )


def _take(name: str) -> list[Callable[[], None]]:
    """The callbacks of the hooks waiting for `name`, removed (each runs once)."""
    with _lock:
        keys = [key for key, (names, _) in _waiting.items() if name in names]
        callbacks = [_waiting.pop(key)[1] for key in keys]
        _uninstall_if_idle()
        return callbacks


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of a module a hook waits for."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        with _lock:
            if not any(fullname in names for names, _ in _waiting.values()):
                return None
        for finder in list(sys.meta_path):
            if finder is self or isinstance(finder, _Finder):
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is None:
                continue
            loader = spec.loader
            if loader is not None and hasattr(loader, "exec_module"):
                spec.loader = _Loader(loader, fullname)
            return spec
        return None


class _Loader(importlib.abc.Loader):
    """The real loader, then the hooks waiting for the module it executed."""

    def __init__(self, loader: Any, name: str) -> None:
        self.loader = loader
        self.name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        for callback in _take(self.name):
            try:
                callback()
            except Exception:  # the user's import must not fail for autologging's sake
                log.exception("reporter: a post-import hook for %s failed", self.name)


_FINDER = _Finder()


def _install() -> None:
    if not any(finder is _FINDER for finder in sys.meta_path):
        sys.meta_path = [_FINDER, *sys.meta_path]


def _uninstall_if_idle() -> None:
    if not _waiting and any(finder is _FINDER for finder in sys.meta_path):
        sys.meta_path = [finder for finder in sys.meta_path if finder is not _FINDER]
