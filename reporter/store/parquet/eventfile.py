"""Read a compacted event file in pieces: its footer, then only the row groups and columns needed.

Compacted files are sorted by run id, so the `run_id` statistics of each row group say which
runs it holds: reading one run fetches the row groups that hold it, not the whole file. On an
object store each piece is one ranged GET (fetched concurrently); the footer's fetch is the last
`TAIL` bytes, which for a small file is the whole file, so it is never fetched twice.
"""

from __future__ import annotations

import mmap
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reporter.store.parquet.fs import FileInfo, StoreFS

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

TAIL = 64 * 1024  # bytes fetched from the end of a file to find its footer
MERGE_GAP = 256 * 1024  # ranges closer than this are fetched as one
MAGIC = b"PAR1"


@dataclass(frozen=True)
class Footer:
    """A Parquet file's metadata and the bytes at its end that were fetched to read it."""

    meta: pq.FileMetaData
    size: int
    tail_start: int
    tail: bytes


def read_footer(fs: StoreFS, info: FileInfo) -> Footer:
    """Fetch and parse a file's footer; ValueError if it is not a whole Parquet file.

    NotFoundError (from the filesystem) when the file vanished since it was listed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = info.size
    if size < 12:
        raise ValueError(f"{size} bytes is too small for a Parquet file")
    start = max(0, size - TAIL)
    (tail,) = fs.read_ranges(info.path, [(start, size)])
    if len(tail) != size - start or tail[-4:] != MAGIC:
        raise ValueError("no Parquet footer at the end (truncated, or not Parquet)")
    need = int.from_bytes(tail[-8:-4], "little") + 8
    if need > size - 4:
        raise ValueError(f"its footer claims {need} bytes of a {size}-byte file")
    if need > len(tail):
        (more,) = fs.read_ranges(info.path, [(size - need, start)])
        start, tail = size - need, more + tail
    buffer = pa.py_buffer(MAGIC + tail[len(tail) - need :])
    meta = pq.read_metadata(pa.BufferReader(buffer))
    return Footer(meta, size, start, tail)


def _row_groups(meta: pq.FileMetaData, runs: Collection[str] | None) -> list[int]:
    """Return the row groups that may hold rows of these runs (all when runs is None)."""
    if runs is None:
        return list(range(meta.num_row_groups))
    where = meta.schema.names.index("run_id")
    wanted = sorted(runs)
    out = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(where).statistics
        if stats is None or not stats.has_min_max:
            out.append(i)
            continue
        low, high = str(stats.min), str(stats.max)
        if any(low <= run <= high for run in wanted):
            out.append(i)
    return out


def _ranges(
    meta: pq.FileMetaData, groups: Sequence[int], columns: Sequence[str] | None
) -> list[tuple[int, int]]:
    """Return the merged byte ranges of these row groups' column chunks."""
    names = meta.schema.names
    wanted = [names.index(c) for c in columns] if columns is not None else range(len(names))
    spans = []
    for i in groups:
        group = meta.row_group(i)
        for c in wanted:
            chunk = group.column(c)
            start = chunk.data_page_offset
            if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                start = min(start, chunk.dictionary_page_offset)
            spans.append((start, start + chunk.total_compressed_size))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= MERGE_GAP:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def read(
    fs: StoreFS,
    info: FileInfo,
    footer: Footer,
    runs: Collection[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Read the row groups that may hold `runs` (all when None), only `columns` (all when None).

    Only the byte ranges those column chunks occupy are fetched, minus what the footer's fetch
    already holds. The caller still filters rows: a row group may hold other runs too.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = footer.meta
    groups = _row_groups(meta, runs)
    todo = []
    for start, end in _ranges(meta, groups, columns):
        end = min(end, footer.tail_start)  # the end of the file is already here
        if start < end:
            todo.append((start, end))
    # a file-sized space, written only where fetched: pyarrow reads no other bytes. Anonymous
    # memory: its untouched pages take no memory, and all of it is given back once nothing
    # refers to it (a pool's buffer kept the pages each read touched: a 645 MB file read a
    # batch of runs at a time grew the process by its whole size)
    space = mmap.mmap(-1, max(footer.size, 1))
    space[footer.tail_start : footer.size] = footer.tail
    for (start, end), data in zip(todo, fs.read_ranges(info.path, todo)):
        if len(data) != end - start:
            raise ValueError(f"short read of bytes {start}-{end} ({len(data)} bytes)")
        space[start:end] = data
    parquet = pq.ParquetFile(pa.BufferReader(pa.py_buffer(space)), metadata=meta)
    # decoded in this thread: an Arrow pool thread must never hold the last reference to this
    # Python-owned memory (dropped there once the interpreter finalizes, it aborts the
    # process: SIGABRT, "terminate called without an active exception"); no slower here
    return parquet.read_row_groups(
        groups, columns=list(columns) if columns else None, use_threads=False
    )
