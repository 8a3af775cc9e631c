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
from collections.abc import Sequence
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


def merge_tiers(fs: StoreFS, exp_id: str) -> CompactionResult:
    """Merge compacted files of similar size once a size tier holds TIER_FILES of them.

    A server adds one small file per commit; merging small files with small ones (and big
    with big) keeps the file count logarithmic in the data without rewriting the whole
    experiment each time (size-tiered, as LSM trees do)."""
    import math

    result = CompactionResult(exp_id, 0, 0, 0, None)
    for _ in range(16):  # a merge may fill the next tier: go on while one is full
        tiers: dict[int, list[FileInfo]] = {}
        for info in reader.list_compacted(fs, exp_id).compacted:
            tier = int(math.log(max(info.size, 1), TIER_FACTOR))
            tiers.setdefault(tier, []).append(info)
        full = [t for t in sorted(tiers) if len(tiers[t]) >= TIER_FILES]
        if not full:
            break
        merged, _ = merge_compacted(fs, exp_id, reader.Listing(compacted=tiers[full[0]]))
        if merged.path is None:
            break
        result = CompactionResult(
            exp_id, 0, result.files_deleted + merged.files_deleted, merged.rows, merged.path
        )
    return result


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
    rel = publish(fs, exp_id, merged, held)
    for part in held:
        fs.delete(parts[part].path)
    log.debug("compacted %d parts of %s into %s", len(held), exp_id, rel)
    return CompactionResult(exp_id, len(held), len(held), merged.num_rows, rel)


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
    rel = publish(fs, exp_id, table, sorted(read))
    deleted = 0
    for info in listing.compacted:  # every file whose rows the new one now holds
        held = reader.FOOTERS.get(fs, info)
        if held is not None and set(held) <= read:
            fs.delete(info.path)
            deleted += 1
    return CompactionResult(exp_id, 0, deleted, table.num_rows, rel), read


def terminal_runs(
    fs: StoreFS, exp_id: str, read: dict[str, pa.Table], timeout_s: float
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
    now_ms = clock.now_ms()
    done = set()
    for run_id in {p.split("/", 1)[0] for p in read}:
        status = snap.attrs.get(run_id, {}).get("status")
        if status is None or RunStatus.is_terminated(status):
            done.add(run_id)  # no status event in raw parts: the run was compacted when ended
        elif reader.is_dead(fs, exp_id, run_id, snap.last_seen.get(run_id, 0), now_ms, timeout_ms):
            done.add(run_id)  # its process died: it reads as KILLED (the readers' own rule)
    return done


def compact_experiment(
    fs: StoreFS,
    exp_id: str,
    *,
    timeout_s: float = 60.0,
    min_parts: int = 1,
    merge_all: bool = True,
) -> CompactionResult:
    """Compact finished runs' parts, then merge compacted files (all, or when many)."""
    listing = reader.list_experiment(fs, exp_id)
    try:
        plan = reader.make_plan(fs, listing)
    except NotFoundError:  # another compaction replaced a file: leave this round to it
        return CompactionResult(exp_id, 0, 0, 0, None)
    # raw parts that a compacted file already holds: left by an interrupted compaction
    leftovers = {p for p, info in listing.parts.items() if plan.covered.get(p) != info.path}
    raw = {p: i for p, i in listing.parts.items() if p not in leftovers}
    tables = read_parts(fs, raw)  # each part read once, for the status and for the merge
    done = terminal_runs(fs, exp_id, tables, timeout_s)
    todo = {p: i for p, i in raw.items() if p.split("/", 1)[0] in done}
    result = CompactionResult(exp_id, 0, 0, 0, None)
    if len(todo) >= min_parts:
        result = compact_parts(fs, exp_id, todo, tables)
    compacted = reader.list_compacted(fs, exp_id)
    many = len(compacted.compacted) > MAX_COMPACTED_FILES
    if (len(compacted.compacted) > 1 and (merge_all or many)) or leftovers:
        merged, read = merge_compacted(fs, exp_id, compacted)
        removed = 0
        for part in sorted(leftovers & read):  # now safely held by the merged file
            fs.delete(listing.parts[part].path)
            removed += 1
        result = CompactionResult(
            exp_id,
            result.parts_merged,
            result.files_deleted + merged.files_deleted + removed,
            merged.rows or result.rows,
            merged.path or result.path,
        )
    return result


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
