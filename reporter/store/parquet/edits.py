"""Edit events: one JSON file per change of a record (an experiment, a logged model).

An edit file is named `<time_ns>-<unique>.edit`, published with put-if-absent and never
rewritten, so processes changing one record at once never lose each other's changes; a record
reads as its edits applied in name order (time, then the unique part). Files never change, so
each is read once per process and kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from reporter.store.parquet import schema
from reporter.store.parquet.fs import StoreFS

T = TypeVar("T")
CACHE_LIMIT = 100_000  # parsed edits kept per store object before the cache starts over


def publish_edit(fs: StoreFS, folder: str, edit: dict[str, Any], now_ns: int) -> None:
    """Write one edit file into a record's edit folder."""
    name = f"{now_ns:020d}-{uuid.uuid4().hex[:12]}{schema.EDIT_SUFFIX}"
    data = json.dumps(edit, sort_keys=True).encode()
    fs.write_atomic(fs.join(folder, name), data, if_absent=True)


def ordered_edits(
    fs: StoreFS,
    cache: dict[str, T | None],
    paths: Sequence[str],
    parse: Callable[[str, bytes], T | None],
) -> list[T]:
    """Return the parsed edits among `paths` in name order, reading the ones not cached
    together (concurrently on an object store); damaged ones (parse gives None) are left out."""
    names = sorted((p.rsplit("/", 1)[-1], p) for p in paths if p.endswith(schema.EDIT_SUFFIX))
    missing = [rel for _, rel in names if rel not in cache]
    if missing:
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        found = fs.read_many(missing)
        for rel in missing:
            if rel in found:  # else folded away by a concurrent writer: nothing is lost
                cache[rel] = parse(rel, found[rel])
    return [edit for _, rel in names if (edit := cache.get(rel)) is not None]
