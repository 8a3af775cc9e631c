"""Artifact bytes fetched from the store once per build.

A build needs a small text artifact up to three times: the secret scan (reporter.view.publish),
its preview on the run page and its copy into the site. On an object store each read is a
request, so one `ArtifactBytes` made per build keeps what it fetched: files up to `file_limit`
bytes, until `budget` bytes are kept; then new files are read through. A build reads in passes
(every scan, then every preview, then every copy), so dropping the least recently used file would
drop each one just before its next use; keeping the first ones saves their reads. Larger files
are read through, never kept. Keys are (run id, artifact path); errors (NotFoundError) are not
kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reporter.store.protocol import AbstractStore

ArtifactKey = tuple[str, str]  # (run id, artifact path)

FILE_LIMIT = 1024 * 1024  # larger files are read through, not kept
BUDGET = 64 * 1024 * 1024  # bytes kept at most; files past it are read through


@dataclass
class FetchStats:
    """What an ArtifactBytes did: store reads, reads answered from memory, and more."""

    fetches: int = 0  # reads from the store
    hits: int = 0  # reads answered from memory
    uncached: int = 0  # fetches read through: over the per-file limit, or the budget was full
    fetched: Counter[ArtifactKey] = field(default_factory=Counter)  # store reads by artifact


class ArtifactBytes:
    """Read artifacts through a bounded in-memory cache for one build (single-threaded)."""

    def __init__(
        self, store: AbstractStore, file_limit: int = FILE_LIMIT, budget: int = BUDGET
    ) -> None:
        self.store = store
        self.file_limit = file_limit
        self.budget = budget
        self.stats = FetchStats()
        self._kept: dict[ArtifactKey, bytes] = {}
        self._size = 0

    def read(self, run_id: str, path: str, experiment_id: str | None = None) -> bytes:
        """Return an artifact's content, fetching it only if it is not kept; NotFoundError
        (from the store) when it does not exist."""
        key = (run_id, path)
        data = self._kept.get(key)
        if data is not None:
            self.stats.hits += 1
            return data
        data = self.store.read_artifact(run_id, path, experiment_id)
        self.stats.fetches += 1
        self.stats.fetched[key] += 1
        if len(data) > self.file_limit or self._size + len(data) > self.budget:
            self.stats.uncached += 1
            return data
        self._kept[key] = data
        self._size += len(data)
        return data

    def kept_of(self, run_ids: set[str]) -> dict[ArtifactKey, bytes]:
        """Return the kept bytes of these runs' artifacts (for a page worker to start with)."""
        return {k: v for k, v in self._kept.items() if k[0] in run_ids}

    def keep(self, files: dict[ArtifactKey, bytes]) -> None:
        """Keep these artifacts' bytes, as if fetched (within the budget)."""
        for key, data in files.items():
            if key not in self._kept and self._size + len(data) <= self.budget:
                self._kept[key] = data
                self._size += len(data)

    def __contains__(self, key: object) -> bool:
        """Return True when the (run id, path) artifact's bytes are held in memory."""
        return key in self._kept

    @property
    def kept_bytes(self) -> int:
        """Return how many bytes are held in memory."""
        return self._size

    def clear(self) -> None:
        """Drop every kept file (the counters stay)."""
        self._kept.clear()
        self._size = 0
