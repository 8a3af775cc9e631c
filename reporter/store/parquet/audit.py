"""The audit trail: who changed what, when and from where, appended to the store.

Records are JSON objects, one per line, in files `audit/<YYYY-MM-DD>/<time_ns>-<writer>-<seq>
.jsonl` (the UTC day of their first record), published atomically and never rewritten. Each
record has a unique "id", so a reader takes each record once even when a file and the file it
was merged into are both listed.

In a folder store each writer appends to its own file of the day (`<writer>.jsonl`), one
write per commit: what a commit appended is in the file (the operating system's) when the
commit answers, as a published event file is. A write cut short by a kill leaves a partial last
line, which readers skip. An object store cannot append, so there each commit publishes a file,
and each writer merges its own files of a day by tiers: MERGE_FILES files of one tier become
one file of the next (publish the merged file, then delete its sources; a kill in between
leaves duplicates that readers drop). No writer touches another's files, so neither needs
coordination between replicas.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from reporter.store.parquet.fs import StoreFS, local_write_errors

log = logging.getLogger(__name__)
AUDIT_FOLDER = "audit"
SUFFIX = ".jsonl"
MERGE_FILES = 16


_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode  # one line each


@functools.lru_cache(maxsize=64)
def _day(number: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=number)).isoformat()


def day_of(ms: int) -> str:
    """Return the UTC day (YYYY-MM-DD) of a time in milliseconds since the epoch."""
    return _day(ms // 86_400_000)


class AuditWriter:
    """Appends records for one process; durable when `append` returns."""

    def __init__(self, fs: StoreFS) -> None:
        self.fs = fs
        self.writer_id = uuid.uuid4().hex[:12]
        self._seq = 0
        self._lock = threading.Lock()
        self._tiers: dict[tuple[str, int], list[str]] = {}  # (day, tier) -> own files
        self._paths: dict[str, str] = {}  # day -> this writer's file (folder store)

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Write records (each needs "id" and "time" in ms): appended to this writer's file of
        the day in a folder store, published as a file on an object store."""
        if not records:
            return
        with self._lock:
            day = day_of(int(records[0]["time"]))
            if self.fs.local:
                self._append_local(day, records)
                return
            rel = self._publish(day, records)
            self._tiers.setdefault((day, 0), []).append(rel)
            self._merge(day)

    def _append_local(self, day: str, records: Sequence[dict[str, Any]]) -> None:
        path = self._paths.get(day)
        if path is None:  # checked once a day (no symbolic link out of the store)
            path = self.fs.full(self.fs.join(AUDIT_FOLDER, day, f"{self.writer_id}{SUFFIX}"))
            self._paths = {day: path}
        # a leading newline ends a line a kill cut short, so it cannot swallow the next one
        data = "".join("\n" + _ENCODE(r) for r in records)
        folder = os.path.dirname(path)
        with local_write_errors(folder):
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            try:
                fd = os.open(path, flags, 0o600)
            except FileNotFoundError:  # the day's first record: make its folder
                os.makedirs(folder, exist_ok=True)
                fd = os.open(path, flags, 0o600)
            try:
                view = memoryview(data.encode())
                while view:  # one write in practice; a short write goes on where it stopped
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)

    def _publish(self, day: str, records: Sequence[dict[str, Any]]) -> str:
        self._seq += 1
        name = f"{time.time_ns():020d}-{self.writer_id}-{self._seq:06d}{SUFFIX}"
        rel = self.fs.join(AUDIT_FOLDER, day, name)
        data = "".join(_ENCODE(r) + "\n" for r in records)
        self.fs.write_atomic(rel, data.encode())
        return rel

    def _merge(self, day: str) -> None:
        tier = 0
        while len(self._tiers.get((day, tier), [])) >= MERGE_FILES:
            sources = self._tiers.pop((day, tier))
            try:
                found = self.fs.read_many(sources)
                records = [r for rel in sources for r in _parse(found.get(rel, b""))]
                merged = self._publish(day, records)
                for rel in sources:
                    self.fs.delete(rel)
            except Exception as exc:  # the small files stay: nothing is lost
                log.warning("merging audit files failed: %s", exc)
                return
            self._tiers.setdefault((day, tier + 1), []).append(merged)
            tier += 1


def _parse(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a damaged line is skipped; the others are read
        if isinstance(record, dict) and "id" in record:
            yield record


def read(fs: StoreFS, since_ms: int | None = None) -> list[dict[str, Any]]:
    """Return every record (at or after since_ms), each once, in time order."""
    days = fs.list_dirs(AUDIT_FOLDER)
    if since_ms is not None:
        first = day_of(since_ms)
        days = [d for d in days if d >= first]
    seen: dict[str, dict[str, Any]] = {}
    for day in days:
        files = [f.path for f in fs.list_files(fs.join(AUDIT_FOLDER, day))]
        found = fs.read_many([p for p in files if p.endswith(SUFFIX)])
        for rel in sorted(found):
            for record in _parse(found[rel]):
                seen.setdefault(str(record["id"]), record)
    out = [r for r in seen.values() if since_ms is None or int(r.get("time", 0)) >= since_ms]
    return sorted(out, key=lambda r: (int(r.get("time", 0)), str(r["id"])))
