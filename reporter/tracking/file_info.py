"""MLflow's `FileInfo` and the listing of one artifact folder's direct children."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reporter.core import validation


@dataclass(frozen=True)
class FileInfo:
    """An artifact: its path relative to the owner's artifact root, folder flag and size."""

    path: str
    is_dir: bool
    file_size: int | None


def children(files: Iterable[tuple[str, int]], path: str | None) -> list[FileInfo]:
    """Return the files and folders directly under `path` of a recursive (path, size) listing."""
    prefix = validation.artifact_path(path)
    out: dict[str, FileInfo] = {}
    for rel, size in files:
        if prefix and not rel.startswith(prefix + "/"):
            continue
        rest = rel[len(prefix) + 1 :] if prefix else rel
        head, sep, _ = rest.partition("/")
        full = f"{prefix}/{head}" if prefix else head
        out[full] = FileInfo(full, True, None) if sep else FileInfo(full, False, size)
    return [out[k] for k in sorted(out)]
