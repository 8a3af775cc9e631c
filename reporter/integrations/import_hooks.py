"""Post-import hooks: run a callback once a library finishes importing, or now if it has.

`reporter.autolog()` turns on each framework's autologging when the script imports the
framework, before or after the call (MLflow's `register_post_import_hook`), without importing
any framework itself: a script that never imports Lightning never pays its seconds of import.

While a hook waits, one finder sits first on `sys.meta_path`. It answers only for the names
waited for, by asking the finders after it for the real spec (a finder that asks back, as a
delegating one does, gets no answer: no recursion) and wrapping its loader, which answers as
the real one (`get_data`, `is_package`, ...): the module executes as it would have, its
`__loader__` and `__spec__.loader` are the real loader again before its code runs, and the
callbacks run right after, in the importing thread, before the `import` statement returns, so
no code sees the module unpatched. A module another thread is half-way through importing when
a hook is made is waited for. A failed import runs nothing and keeps the hook. The finder
leaves `sys.meta_path` when no hook waits; `sys.meta_path` is rebound, never mutated in place,
so a concurrent import iterating the old list sees every finder it started with. Namespace
packages (no loader to wrap) are not hooked; no autologged framework is one.
"""

from __future__ import annotations

import importlib
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
    when one is imported already). A later call with the same `key` replaces the hook.

    A module another thread is importing right now is waited for (its import passed the
    finder before this hook existed): the callback then runs here, after it."""
    with _lock:
        _waiting.pop(key, None)
    if not any(_imported(name) for name in names):
        with _lock:
            _waiting[key] = (tuple(names), callback)
            _install()
        return
    with _lock:
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
    """True when the module is imported; one being imported by another thread is waited for
    (its module lock), and counts if its import succeeds."""
    module = sys.modules.get(name)
    if module is None:
        return False
    if not getattr(getattr(module, "__spec__", None), "_initializing", False):
        return True
    try:  # importlib waits for the importing thread (or, in that same thread, returns at once)
        importlib.import_module(name)
    except Exception:
        return False
    return not getattr(getattr(sys.modules.get(name), "__spec__", None), "_initializing", True)


def _take(name: str) -> list[Callable[[], None]]:
    """The callbacks of the hooks waiting for `name`, removed (each runs once)."""
    with _lock:
        keys = [key for key, (names, _) in _waiting.items() if name in names]
        callbacks = [_waiting.pop(key)[1] for key in keys]
        _uninstall_if_idle()
        return callbacks


class _Resolving(threading.local):
    names: frozenset[str] = frozenset()  # the names this thread is finding a spec for


_resolving = _Resolving()


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of a module a hook waits for."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in _resolving.names:  # asked again by a finder we asked: not ours to answer
            return None
        with _lock:
            if not any(fullname in names for names, _ in _waiting.values()):
                return None
        before = _resolving.names
        _resolving.names = before | {fullname}
        try:
            spec = _real_spec(self, fullname, path, target)
        finally:
            _resolving.names = before
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, fullname)
        return spec


def _real_spec(
    finder: _Finder, fullname: str, path: Sequence[str] | None, target: ModuleType | None
) -> importlib.machinery.ModuleSpec | None:
    """The spec the finders after ours give (the first that answers)."""
    for other in list(sys.meta_path):
        if other is finder or isinstance(other, _Finder):
            continue
        find = getattr(other, "find_spec", None)
        if find is None:
            continue
        spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _Loader(importlib.abc.Loader):
    """The real loader, then the hooks waiting for the module it executed. Everything else
    (`get_data`, `is_package`, `get_resource_reader`, ...) is the real loader's."""

    def __init__(self, loader: Any, name: str) -> None:
        self.loader = loader
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.loader, attribute)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    # exec_module: set below, compiled on its own


# `_Loader.exec_module` (the real loader's, then the hooks) is compiled under a file name of
# the import machinery's kind ("importlib" and "_bootstrap" in it): `warnings` steps over such
# frames when it counts `stacklevel`, as over importlib's own, so a warning a module raises at
# import with `stacklevel=2` still names the line that imported it.
_SOURCE = """
def exec_module(self, module):
    module.__loader__ = self.loader
    if module.__spec__ is not None:
        module.__spec__.loader = self.loader
    self.loader.exec_module(module)
    for callback in take(self.name):
        try:
            callback()
        except Exception:  # the user's import must not fail for autologging's sake
            log.exception("reporter: a post-import hook for %s failed", self.name)
"""
_namespace: dict[str, Any] = {"take": _take, "log": log}
exec(compile(_SOURCE, "<reporter importlib._bootstrap post-import hooks>", "exec"), _namespace)
_Loader.exec_module = _namespace["exec_module"]  # type: ignore[method-assign]
_FINDER = _Finder()


def _install() -> None:
    if not any(finder is _FINDER for finder in sys.meta_path):
        sys.meta_path = [_FINDER, *sys.meta_path]


def _uninstall_if_idle() -> None:
    if not _waiting and any(finder is _FINDER for finder in sys.meta_path):
        sys.meta_path = [finder for finder in sys.meta_path if finder is not _FINDER]
