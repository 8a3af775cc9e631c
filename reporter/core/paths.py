"""Where a path leads: one answer to "is this inside that folder?" for every layer."""

from __future__ import annotations

import os


def within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True if `path`, links resolved, is `folder` (links resolved) or below it.

    The one check behind every "stay inside your folder" promise: a model's MLmodel naming a
    file, a symlink in a folder being logged, an import's source and store.
    """
    real = os.path.realpath(path)
    root = os.path.realpath(folder)
    return os.path.commonpath([real, root]) == root
