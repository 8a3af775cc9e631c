"""Merge part files of finished runs into compacted files, and compacted files into one.

Safe while others write and while other compactions run, with no lock. Every step is
"publish the merged file, then delete what it holds":
* `compact_parts` merges raw part files of terminal runs (FINISHED, FAILED, KILLED) into one new
  file under `_compacted/`, whose footer lists the part ids it holds;
* `merge_compacted` merges compacted files into one when there are many (a small LSM tree, so
  no compaction rewrites the whole experiment every time).
A reader that lists between publish and delete sees both and reads each part id from one file
(reader.make_plan); one that lists before and reads after finds a file gone and lists again.
Two racing compactions publish overlapping files; readers still take each part id once, and
the next merge removes the overlap.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reporter.core import clock
from reporter.core.entities import RunStatus
from reporter.core.errors import NotFoundError
from reporter.store.parquet import events, reader, schema
from reporter.store.parquet.fs import FileInfo, StoreFS
from reporter.store.parquet.reader import PART_ROWS_METADATA_KEY as PART_ROWS_METADATA_KEY
from reporter.store.parquet.reader import part_rows_of as part_rows_of
from reporter.store.records import CompactionResult as CompactionResult

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
MAX_COMPACTED_FILES = 8
SORT_KEYS = ("run_id", "kind", "key", "part")


def sorted_for_storage(table: pa.Table) -> pa.Table:
    """Sort rows by run, kind, key, part, keeping the order inside a part (compresses well)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pa.table({name: pc.cast(table.column(name), "string") for name in SORT_KEYS})
    keys = keys.append_column("row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    order = pc.sort_indices(keys, sort_keys=[(n, "ascending") for n in (*SORT_KEYS, "row")])
    return table.take(order)


def part_rows_metadata(table: pa.Table, parts: Sequence[str]) -> dict[bytes, bytes]:
    """Return the `tracker.part_rows` metadata of a file holding `table` (rows of `parts`)."""
    import numpy as np

    found: dict[str, int] = {}
    if table.num_rows:
        codes, values = events.codes(table.column("part"))  # no string copy of every row
        counts = np.bincount(codes, minlength=len(values))
        for value, count in zip(values, counts.tolist()):
            found[value] = found.get(value, 0) + count
    return {PART_ROWS_METADATA_KEY: json.dumps([found.get(p, 0) for p in sorted(parts)]).encode()}


def publish(
    fs: StoreFS, exp_id: str, table: pa.Table, parts: Sequence[str], ordered: bool = False
) -> str:
    """Write a compacted file holding `parts` and return its path (`ordered`: the table is
    in storage order already)."""
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
    rel = fs.join(schema.RUNS_FOLDER, exp_id, schema.COMPACTED_FOLDER, name)
    stored = table if ordered else sorted_for_storage(table)
    extra = part_rows_metadata(stored, parts)
    fs.write_atomic(rel, events.table_to_parquet(stored, parts, extra))
    return rel


def publish_group(
    fs: StoreFS, exp_id: str, group: Sequence[tuple[str, str, Sequence[events.Row]]]
) -> str:
    """Write (run_id, part, rows) of several runs as one new compacted file (a server's
    shared commit), already in storage order; return its path."""
    table = events.group_to_table(group)
    return publish(fs, exp_id, table, sorted(part for _, part, _ in group), ordered=True)


TIER_FACTOR = 4  # files within this size ratio are one tier
TIER_FILES = 4  # a tier with this many files is merged into one file of the next tier
# the largest file a tier merge writes: a merge holds its rows in memory, about 36 times the
# file's size (a 61 MB file of 8 M points peaks at 2.2 GB), and the processes that merge by
# tier (a logging process, a detached compactor, a tracking server) must stay small.
# Files this big are left as they are; `tracker-report compact` merges everything.
TIER_MERGE_BYTES = 16 * 1024 * 1024


def merge_tiers(fs: StoreFS, exp_id: str) -> CompactionResult:
    """Merge compacted files of similar size once a size tier holds TIER_FILES of them.

    A server adds one small file per commit; merging small files with small ones (and big
    with big) keeps the file count logarithmic in the data without rewriting the whole
    experiment each time (size-tiered, as LSM trees do). A merge writes at most
    TIER_MERGE_BYTES: beyond that, the files grow in number with the data (one more per
    16 MB of events)."""
    import math

    result = CompactionResult(exp_id, 0, 0, 0, None)
    for _ in range(16):  # a merge may fill the next tier: go on while one is full
        tiers: dict[int, list[FileInfo]] = {}
        for info in reader.list_compacted(fs, exp_id).compacted:
            tier = int(math.log(max(info.size, 1), TIER_FACTOR))
            tiers.setdefault(tier, []).append(info)
        full = [chosen for t in sorted(tiers) if len(chosen := _within(tiers[t])) >= TIER_FILES]
        if not full:
            break
        merged, _ = merge_compacted(fs, exp_id, reader.Listing(compacted=full[0]))
        if merged.path is None:
            break
        result = CompactionResult(
            exp_id, 0, result.files_deleted + merged.files_deleted, merged.rows, merged.path
        )
    return result


def _within(files: list[FileInfo]) -> list[FileInfo]:
    """Return the smallest of these files whose sizes add up to at most TIER_MERGE_BYTES."""
    chosen, total = [], 0
    for info in sorted(files, key=lambda i: (i.size, i.path)):
        if total + info.size > TIER_MERGE_BYTES:
            break
        chosen.append(info)
        total += info.size
    return chosen


def read_parts(fs: StoreFS, parts: dict[str, FileInfo]) -> dict[str, pa.Table]:
    """Read raw part files once; vanished ones (another compaction took them) and damaged
    ones (skipped with a warning, left in place) are left out."""
    out = {}
    for part, info in sorted(parts.items()):
        try:
            data = fs.read_bytes(info.path)
        except Exception:
            continue
        table = _read_table(fs, info, data)
        if table is not None:
            out[part] = table
    return out


def compact_parts(
    fs: StoreFS, exp_id: str, parts: dict[str, FileInfo], read: dict[str, pa.Table] | None = None
) -> CompactionResult:
    """Merge these raw part files (of terminal runs) into one compacted file."""
    import pyarrow as pa

    read = read_parts(fs, parts) if read is None else read
    # a run some of whose parts vanished since they were listed is left out: either another
    # compaction holds them all, or gc removed the run, and publishing the parts read before
    # it did would bring part of that run back (without its deletion event: as active)
    vanished = [p for p in parts if p not in read and not fs.exists(parts[p].path)]
    gone = {p.split("/", 1)[0] for p in vanished}
    held = [p for p in sorted(parts) if p in read and p.split("/", 1)[0] not in gone]
    tables = [read[p] for p in held]
    if not tables:
        return CompactionResult(exp_id, 0, 0, 0, None)
    merged = pa.concat_tables(tables).unify_dictionaries()
    path, held = drop_orphans(fs, exp_id, publish(fs, exp_id, merged, held), merged, held)
    for part in held:
        fs.delete(parts[part].path)
    log.debug("compacted %d parts of %s into %s", len(held), exp_id, path)
    return CompactionResult(exp_id, len(held), len(held), merged.num_rows, path)


def drop_orphans(
    fs: StoreFS, exp_id: str, rel: str | None, table: pa.Table, parts: Collection[str]
) -> tuple[str | None, list[str]]:
    """After publishing `rel` (rows `table` of `parts`), before deleting what it was made
    from: make sure every part it holds is still held by another file (its raw part, another
    compacted file, an archive note). A part held nowhere else was removed meanwhile (gc
    removed its run after this compaction read it: a compaction paused or slow), and this
    copy would bring it back, as active. Such parts are dropped: `rel` is replaced by a file
    without them (or deleted). Returns the file and the parts it holds now.

    In the common case one listing, which finds every part still in place."""
    import pyarrow as pa
    import pyarrow.compute as pc

    held = sorted(parts)
    listing = reader.list_experiment(fs, exp_id)
    missing = set(held) - set(listing.parts)
    for info in listing.compacted:
        if not missing:
            break
        if info.path != rel:
            missing -= set(_footer_parts(fs, info) or ())
    if missing:
        try:
            notes = reader.archive_notes(fs, listing.archived)
        except NotFoundError:  # an archive at work: its summaries say nothing yet
            notes = {}
        missing -= reader.replaced_parts(notes)
    if not missing or rel is None:
        return rel, held
    log.debug("dropping %d parts removed while %s was written", len(missing), rel)
    kept = [p for p in held if p not in missing]
    wanted = pc.is_in(pc.cast(table.column("part"), pa.string()), pa.array(kept, pa.string()))
    replacement = publish(fs, exp_id, table.filter(wanted), kept) if kept else None
    fs.delete(rel)
    return replacement, kept


def _read_table(fs: StoreFS, info: FileInfo, data: bytes) -> pa.Table | None:
    """Parse a part file; damaged files are skipped with a warning and left in place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # in this thread: a pool worker could drop the last reference to `data` (a Python
        # object) after the interpreter began to exit, which aborts it (see reader._read_file)
        return events.conform(pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False))
    except Exception as exc:
        reader.warn_skip(fs, info.path, str(exc) or type(exc).__name__)
        return None


def merge_compacted(
    fs: StoreFS, exp_id: str, listing: reader.Listing
) -> tuple[CompactionResult, set[str]]:
    """Merge the readable compacted files of an experiment into one (each part id once).

    Returns what it did and the part ids it read. A file is deleted only when every part id it
    holds was read from a readable file: a damaged or foreign file is left in place.
    """
    only = reader.Listing(compacted=listing.compacted)
    try:
        plan = reader.make_plan(fs, only)
        table, read, files = reader.read_plan(fs, plan)
    except NotFoundError:  # another compaction is merging these files right now
        return CompactionResult(exp_id, 0, 0, 0, None), set()
    if not files:
        return CompactionResult(exp_id, 0, 0, 0, None), set()
    rel, kept = drop_orphans(fs, exp_id, publish(fs, exp_id, table, sorted(read)), table, read)
    read = set(kept)
    deleted = 0
    for info in listing.compacted:  # every file whose rows the new one now holds
        held = _footer_parts(fs, info)  # (None: gone meanwhile, or unreadable)
        if held is not None and set(held) <= read:
            fs.delete(info.path)
            deleted += 1
    return CompactionResult(exp_id, 0, deleted, table.num_rows, rel), read


def terminal_runs(
    fs: StoreFS,
    exp_id: str,
    read: dict[str, pa.Table],
    timeout_s: float,
    now_ms: float | None = None,
) -> set[str]:
    """Return runs whose raw parts say they ended, or that read as KILLED (same rule as
    readers: no heartbeat and no store-stamped event within the timeout)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # the rows the store stamps itself (not user metric times)
    tables = [t.filter(pc.invert(events.kind_mask(t, schema.KIND_METRIC))) for t in read.values()]
    if not tables:
        return set()
    snap = events.reduce_events(pa.concat_tables(tables).unify_dictionaries())
    timeout_ms = timeout_s * 1000
    now_ms = clock.now_ms() if now_ms is None else now_ms
    done = set()
    for run_id in {p.split("/", 1)[0] for p in read}:
        status = snap.attrs.get(run_id, {}).get("status")
        if status is None or RunStatus.is_terminated(status):
            done.add(run_id)  # no status event in raw parts: the run was compacted when ended
        elif reader.is_dead(fs, exp_id, run_id, snap.last_seen.get(run_id, 0), now_ms, timeout_ms):
            done.add(run_id)  # its process died: it reads as KILLED (the readers' own rule)
    return done


@dataclass
class RawRound:
    """What one merge of finished runs' raw parts saw and did."""

    result: CompactionResult
    listing: reader.Listing  # what it listed first
    leftovers: set[str]  # raw parts a compacted file already held (an interrupted compaction)
    running: set[str]  # runs whose raw parts say they are still running (left raw)


def compact_finished(
    fs: StoreFS,
    exp_id: str,
    timeout_s: float,
    min_parts: int = 1,
    max_bytes: int | None = None,
    now_ms: float | None = None,
) -> RawRound | None:
    """Merge the raw parts of ended runs (at least `min_parts` of them) into one new file;
    with `max_bytes`, only the first runs (by id) whose raw part files add up to that much
    (at least one run): a round's memory stays bounded however many parts wait. None when a
    file vanished while planning (another compaction is at work: leave it)."""
    listing = reader.list_experiment(fs, exp_id)
    try:
        plan = reader.make_plan(fs, listing)
    except NotFoundError:
        return None
    # raw parts that a compacted file already holds: left by an interrupted compaction
    leftovers = {p for p, info in listing.parts.items() if plan.covered.get(p) != info.path}
    raw = {p: i for p, i in listing.parts.items() if p not in leftovers}
    if max_bytes is not None:
        raw = _first_runs(raw, max_bytes)
    tables = read_parts(fs, raw)  # each part read once, for the status and for the merge
    done = terminal_runs(fs, exp_id, tables, timeout_s, now_ms)
    todo = {p: i for p, i in raw.items() if p.split("/", 1)[0] in done}
    running = {p.split("/", 1)[0] for p in tables} - done
    result = CompactionResult(exp_id, 0, 0, 0, None)
    if todo and len(todo) >= min_parts:
        result = compact_parts(fs, exp_id, todo, tables)
    return RawRound(result, listing, leftovers, running)


def _first_runs(parts: dict[str, FileInfo], max_bytes: int) -> dict[str, FileInfo]:
    """Return the raw parts of the first runs (by id) whose files add up to `max_bytes`,
    whole runs only, at least one."""
    by_run: dict[str, dict[str, FileInfo]] = {}
    for part, info in sorted(parts.items()):
        by_run.setdefault(part.split("/", 1)[0], {})[part] = info
    out: dict[str, FileInfo] = {}
    total = 0
    for run_parts in by_run.values():
        size = sum(i.size for i in run_parts.values())
        if out and total + size > max_bytes:
            break
        out.update(run_parts)
        total += size
    return out


def _merge_leftovers(
    fs: StoreFS, exp_id: str, done: RawRound, compacted: reader.Listing
) -> CompactionResult:
    """Merge these compacted files into one, then delete the leftover raw parts it read
    (only now: a copy is never deleted on the strength of another copy alone)."""
    merged, read = merge_compacted(fs, exp_id, compacted)
    removed = 0
    for part in sorted(done.leftovers & read):  # now safely held by the merged file
        fs.delete(done.listing.parts[part].path)
        removed += 1
    return CompactionResult(
        exp_id,
        done.result.parts_merged,
        done.result.files_deleted + merged.files_deleted + removed,
        merged.rows or done.result.rows,
        merged.path or done.result.path,
    )


def compact_experiment(
    fs: StoreFS,
    exp_id: str,
    *,
    timeout_s: float = 60.0,
    min_parts: int = 1,
    merge_all: bool = True,
) -> CompactionResult:
    """Compact finished runs' parts, then merge compacted files (all, or when many)."""
    done = compact_finished(fs, exp_id, timeout_s, min_parts)
    if done is None:
        return CompactionResult(exp_id, 0, 0, 0, None)
    compacted = reader.list_compacted(fs, exp_id)
    many = len(compacted.compacted) > MAX_COMPACTED_FILES
    if (len(compacted.compacted) > 1 and (merge_all or many)) or done.leftovers:
        return _merge_leftovers(fs, exp_id, done, compacted)
    return done.result


def compact_in_tiers(
    fs: StoreFS, exp_id: str, *, timeout_s: float = 60.0, now_ms: float | None = None
) -> RawRound | None:
    """Compact finished runs' parts into one new file, then merge compacted files by size
    tier (`merge_tiers`), so that no round rewrites the whole experiment: what a background
    compaction does every few runs. Leftover raw parts are merged with the files holding
    them only. None when another compaction replaced a file meanwhile (see compact_finished)."""
    done = compact_finished(fs, exp_id, timeout_s, max_bytes=TIER_MERGE_BYTES, now_ms=now_ms)
    if done is None:
        return None
    if done.leftovers:
        listing = reader.list_compacted(fs, exp_id)
        holders = [
            info
            for info in listing.compacted
            if done.leftovers.intersection(_footer_parts(fs, info) or ())
        ]
        if holders:
            done.result = _merge_leftovers(fs, exp_id, done, reader.Listing(compacted=holders))
    merged = merge_tiers(fs, exp_id)
    if merged.path is not None:
        done.result = CompactionResult(
            exp_id,
            done.result.parts_merged,
            done.result.files_deleted + merged.files_deleted,
            done.result.rows,
            merged.path,
        )
    return done


def _footer_parts(fs: StoreFS, info: FileInfo) -> list[str] | None:
    """Return the part ids a compacted file holds (None if it is unreadable or gone)."""
    try:
        return reader.FOOTERS.get(fs, info)
    except NotFoundError:
        return None


def remove_parts(
    fs: StoreFS, exp_id: str, parts: set[str], folder: str = schema.COMPACTED_FOLDER
) -> int:
    """Remove the rows of these part ids from an experiment's shared files for good; return
    the bytes of the files rewritten or deleted.

    Only for rows that may go (gc of deleted runs; archived runs whose copy was verified).
    Each file holding any of them is replaced by one without them (published first, then the
    old one deleted), so the other runs' rows are never absent; raw part files of these parts
    (in `_parts/`, when `folder` is `_compacted`) are deleted. Idempotent, and safe beside
    writers and compactions: one that merged a file holding these parts while this ran keeps
    them in its output, which a rerun removes.
    """
    freed = 0
    if folder == schema.COMPACTED_FOLDER:
        raw = fs.join(schema.RUNS_FOLDER, exp_id, schema.PARTS_FOLDER)
        for info in fs.list_files(raw):
            part = schema.part_id_of_file(info.path.rsplit("/", 1)[-1])
            if part in parts:
                fs.delete(info.path)
                freed += info.size
    for _attempt in range(reader.MAX_RETRIES):
        vanished = False
        base = fs.join(schema.RUNS_FOLDER, exp_id, folder)
        for info in [i for i in fs.list_files(base) if i.path.endswith(".parquet")]:
            try:
                held = reader.FOOTERS.get(fs, info)
            except NotFoundError:
                vanished = True
                continue
            if held is None or not parts.intersection(held):
                continue
            try:
                freed += _rewrite_without(fs, exp_id, info, held, parts, folder)
            except NotFoundError:  # another rewrite or a merge replaced it: list again
                vanished = True
        if not vanished:
            return freed
    raise NotFoundError(
        f"Files of experiment {exp_id} kept vanishing while parts were removed from them "
        f"({reader.MAX_RETRIES} attempts); is a compaction running in a loop?"
    )


def _rewrite_without(
    fs: StoreFS, exp_id: str, info: FileInfo, held: list[str], parts: set[str], folder: str
) -> int:
    """Publish `info`'s rows minus those of `parts` (if any rows remain), then delete it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    data = fs.read_bytes(info.path)
    file = pq.ParquetFile(pa.BufferReader(data))
    meta = dict(file.schema_arrow.metadata or {})
    table = file.read(use_threads=False)
    keep = [p for p in held if p not in parts]
    if keep:
        mask = pc.invert(pc.is_in(pc.cast(table.column("part"), "string"), pa.array(sorted(parts))))
        kept = events.conform(table.filter(mask))
        extra = {k: v for k, v in meta.items() if k not in events.OWN_METADATA}
        if PART_ROWS_METADATA_KEY in extra:  # recounted: the removed parts' rows are gone
            extra.update(part_rows_metadata(kept, keep))
        if schema.ARCHIVED_METADATA_KEY in extra:  # a summary file: drop the removed notes
            notes = events.archive_notes(meta) or {}
            kept_notes = {k: v for k, v in notes.items() if k not in parts}
            extra[schema.ARCHIVED_METADATA_KEY] = json.dumps(kept_notes, sort_keys=True).encode()
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
        rel = fs.join(schema.RUNS_FOLDER, exp_id, folder, name)
        fs.write_atomic(rel, events.table_to_parquet(kept, keep, extra))
    fs.delete(info.path)
    return info.size
