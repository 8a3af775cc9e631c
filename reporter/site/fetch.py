"""Artifact bytes fetched from the store once per build.

A build needs a small text artifact up to three times: the secret scan (reporter.site.publish),
its preview on the run page and its copy into the site. On an object store each read is a
request, so one `ArtifactBytes` made per build keeps what it fetched: files up to `file_limit`
bytes, until `budget` bytes are kept; then new files are read through. A build reads in passes
(every scan, then every preview, then every copy), so dropping the least recently used file would
drop each one just before its next use; keeping the first ones saves their reads. Larger files
are read through, never kept. Keys are store-relative paths; errors (NotFoundError) are not kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reporter.store.fs import StoreFS

FILE_LIMIT = 1024 * 1024  # larger files are read through, not kept
BUDGET = 64 * 1024 * 1024  # bytes kept at most; files past it are read through


@dataclass
class FetchStats:
    """What an ArtifactBytes did: store reads, reads answered from memory, and more."""

    fetches: int = 0  # reads from the store
    hits: int = 0  # reads answered from memory
    uncached: int = 0  # fetches read through: over the per-file limit, or the budget was full
    fetched: Counter[str] = field(default_factory=Counter)  # store reads by path


class ArtifactBytes:
    """Read store files through a bounded in-memory cache for one build (single-threaded)."""

    def __init__(self, fs: StoreFS, file_limit: int = FILE_LIMIT, budget: int = BUDGET) -> None:
        self.fs = fs
        self.file_limit = file_limit
        self.budget = budget
        self.stats = FetchStats()
        self._kept: dict[str, bytes] = {}
        self._size = 0

    def read(self, rel: str) -> bytes:
        """Return a store file's content, fetching it only if it is not kept; NotFoundError
        (from the store) when it does not exist."""
        data = self._kept.get(rel)
        if data is not None:
            self.stats.hits += 1
            return data
        data = self.fs.read_bytes(rel)
        self.stats.fetches += 1
        self.stats.fetched[rel] += 1
        if len(data) > self.file_limit or self._size + len(data) > self.budget:
            self.stats.uncached += 1
            return data
        self._kept[rel] = data
        self._size += len(data)
        return data

    def __contains__(self, rel: object) -> bool:
        """Return True when the file's bytes are held in memory."""
        return rel in self._kept

    @property
    def kept_bytes(self) -> int:
        """Return how many bytes are held in memory."""
        return self._size

    def clear(self) -> None:
        """Drop every kept file (the counters stay)."""
        self._kept.clear()
        self._size = 0
