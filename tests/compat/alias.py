"""Make `import mlflow` (and every `mlflow.*` submodule) import `reporter` instead.

Test machinery, not product: the compatibility suite runs one unchanged MLflow script under
both libraries, and only this finder differs between the two runs. A module-level
`sys.modules["mlflow"] = reporter` would cover `import mlflow` but not `import mlflow.sklearn`
or `from mlflow.tracking import MlflowClient`, which ask the import system for a submodule;
a meta-path finder answers those too, with the very module object reporter uses (so
`mlflow.sklearn is reporter.sklearn`, and patching one patches the other).

Names reporter resolves lazily as attributes (`reporter.artifacts` is
`reporter.tracking.artifacts`) are found that way when no module of that name exists. A name
reporter lacks fails as `ModuleNotFoundError: No module named 'reporter.models'`, which is
the incompatibility stated plainly.

Standard library only: it runs inside a child Python before the script it aliases for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence

SOURCE = "mlflow"
TARGET = "reporter"


def target_name(fullname: str) -> str | None:
    """Return reporter's name for an `mlflow` module name, or None for any other name."""
    if fullname == SOURCE:
        return TARGET
    if fullname.startswith(SOURCE + "."):
        return TARGET + fullname[len(SOURCE) :]
    return None


def resolve(target: str) -> types.ModuleType:
    """Import reporter's module `target`, or take it from its parent's lazy attributes."""
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name != target:
            raise  # the module exists and failed to import something of its own
        parent_name, _, child = target.rpartition(".")
        if parent_name:
            value = getattr(importlib.import_module(parent_name), child, None)
            if isinstance(value, types.ModuleType):
                return value
        raise


class _AliasLoader(importlib.abc.Loader):
    """Hand back reporter's already-imported module instead of creating a new one."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return resolve(self.target)

    def exec_module(self, module: types.ModuleType) -> None:
        """Run nothing: the module was executed when reporter imported it."""


class AliasFinder(importlib.abc.MetaPathFinder):
    """Answer `mlflow` and `mlflow.*` with `reporter` and `reporter.*`."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        name = target_name(fullname)
        if name is None:
            return None
        resolve(name)  # raise ModuleNotFoundError now, naming reporter's missing module
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(name))


def install() -> None:
    """Put the finder first on sys.meta_path, ahead of any installed mlflow."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
