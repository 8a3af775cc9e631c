"""Compare two dumps value by value and say each difference readably.

A difference is a key path (experiment, run, field, ...), MLflow's value and ours; a key one
side lacks shows as `(absent)`. Lists (metric histories, search results) are compared whole:
their order is part of the answer.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


class _Absent:
    """A key one dump has and the other lacks."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT = _Absent()


@dataclass(frozen=True)
class Difference:
    """One value that differs: where, MLflow's value, ours."""

    path: tuple[str, ...]
    mlflow: Any
    ours: Any

    def __str__(self) -> str:
        return (
            f"  {' › '.join(self.path)}\n"
            f"      mlflow: {_show(self.mlflow)}\n"
            f"      ours:   {_show(self.ours)}"
        )


def _show(value: Any) -> str:
    """Return a value on one line, as JSON where it is JSON."""
    if value is ABSENT:
        return repr(value)
    return json.dumps(value, sort_keys=True)


def differences(mlflow: Any, ours: Any, path: tuple[str, ...] = ()) -> list[Difference]:
    """Return every difference between two JSON values, dicts compared key by key."""
    if isinstance(mlflow, Mapping) and isinstance(ours, Mapping):
        found = []
        for key in sorted(set(mlflow) | set(ours)):
            found += differences(mlflow.get(key, ABSENT), ours.get(key, ABSENT), (*path, key))
        return found
    return [] if mlflow == ours else [Difference(path, mlflow, ours)]


def matches(path: Sequence[str], pattern: Sequence[str]) -> bool:
    """Whether a key path matches a pattern: one glob per key, `a|b` for either, `**` last for
    anything below."""
    if pattern and pattern[-1] == "**":
        head = pattern[:-1]
        return len(path) >= len(head) and matches(path[: len(head)], head)
    if len(path) != len(pattern):
        return False
    return all(
        any(fnmatch.fnmatchcase(key, alt) for alt in glob.split("|"))
        for key, glob in zip(path, pattern)
    )


def report(name: str, found: Sequence[Difference]) -> str:
    """Return a readable list of differences for one script."""
    lines = [f"{name}: {len(found)} difference(s) from MLflow (MLflow's value, then ours):"]
    lines += [str(d) for d in found]
    return "\n".join(lines)


def load_dump(root: Path, label: str, script: str) -> dict[str, object]:
    """Return a script's dump from `root/<label>/<script>/`, or fail with its traceback and
    output (the runner writes error.txt and output.txt for a script that failed)."""
    folder = root / label / script
    error = folder / "error.txt"
    if error.exists():
        output = (folder / "output.txt").read_text(errors="replace")[-3000:]
        pytest.fail(f"{script} failed ({label}):\n{error.read_text()}\n{output}")
    data: dict[str, object] = json.loads((folder / "dump.json").read_text())
    return data
