"""Find and read an experiment's event files: raw parts and compacted files.

Every part id is read from exactly one file, so a reader never sees a row twice, even while a
compaction races with it: compacted files are written before the parts they replace are deleted,
and a file deleted between listing and reading makes the reader list again.

A directory listing is no snapshot: a merge that publishes a compacted file and deletes the one
it replaces while the folder is being listed can hide both from that listing (measured on ext4:
43 of 328,000 listings of a folder with one file being replaced in a loop). So a read lists the
compacted files once more at the end and reads again what that listing shows that it had not
seen; it returns only when a listing shows nothing new.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.core.errors import NotFoundError, StoreWarning
from reporter.store.parquet import eventfile, events, schema
from reporter.store.parquet.eventfile import Footer
from reporter.store.parquet.fs import FileInfo, StoreFS

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
MAX_RETRIES = 50


_QUIET = threading.local()  # this thread reads again what it reported: skips are not said


def warn_skip(fs: StoreFS, rel: str, reason: str) -> None:
    """Warn that a file was skipped, naming it and why (unless this thread is `quiet`)."""
    if getattr(_QUIET, "on", False):
        return
    warnings.warn(StoreWarning(f"Skipped {fs.url(rel)}: {reason}"), stacklevel=3)


@contextmanager
def quiet() -> Iterator[None]:
    """Read without warning about skipped files in this thread (a second read of data
    whose first read said so)."""
    before = getattr(_QUIET, "on", False)
    _QUIET.on = True
    try:
        yield
    finally:
        _QUIET.on = before


@dataclass
class Listing:
    """What one listing of an experiment's event folders found."""

    parts: dict[str, FileInfo] = field(default_factory=dict)  # part id -> raw part file
    compacted: list[FileInfo] = field(default_factory=list)
    archived: list[FileInfo] = field(default_factory=list)  # summaries of archived runs


def list_experiment(fs: StoreFS, exp_id: str, run_id: str | None = None) -> Listing:
    """List an experiment's raw parts (or one run's), then its compacted files.

    The order matters: a compaction publishes its file before it deletes the parts it holds,
    so a part missing from the first listing is in a compacted file of the second.
    """
    base = fs.join(schema.RUNS_FOLDER, exp_id)
    parts: dict[str, FileInfo] = {}
    prefix = f"{run_id}-" if run_id else ""
    for info in fs.list_files(fs.join(base, schema.PARTS_FOLDER)):
        file_name = info.path.rsplit("/", 1)[-1]
        if not file_name.startswith(prefix):
            continue
        part = schema.part_id_of_file(file_name)
        if part is not None:
            parts[part] = info
        elif not run_id:
            warn_skip(fs, info.path, "not a part file name (<run_id>-<part>.parquet)")
    out = list_compacted(fs, exp_id)
    out.parts = parts
    # last: an archive publishes a run's summary before it removes the run's events, so a
    # run whose events this listing missed has its summary in this one
    out.archived = list_archived(fs, exp_id)
    return out


SKEW_TOLERANCE_MS = 5 * 60 * 1000  # how far ahead of the reader a writer's clock may be


def is_dead(
    fs: StoreFS, exp_id: str, run_id: str, last_event_ms: float, now_ms: float, timeout_ms: float
) -> bool:
    """Return True if a RUNNING run's process stopped showing signs of life (readers and
    compaction share this rule).

    Signs of life: its newest store-stamped event (the writer's clock) and its heartbeat file's
    time (the store's clock). An event stamped more than SKEW_TOLERANCE_MS ahead of the reader
    is not trusted: a writer whose clock runs a day ahead would otherwise read RUNNING for a day
    after it died. Its run marker's time (the store's clock) stands in for it."""
    if last_event_ms > now_ms + SKEW_TOLERANCE_MS:
        marker = fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.RUN_MARKER_FILE)
        last_event_ms = (fs.mtime(marker) or 0.0) * 1000
    if now_ms - last_event_ms <= timeout_ms:
        return False
    return now_ms - heartbeat_ms(fs, exp_id, run_id) > timeout_ms


def heartbeat_ms(fs: StoreFS, exp_id: str, run_id: str) -> float:
    """Return when a run's process last showed it was alive (ms), 0 if never."""
    mtime = fs.mtime(fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.HEARTBEAT_FILE))
    return (mtime or 0.0) * 1000


def list_compacted(fs: StoreFS, exp_id: str) -> Listing:
    """List only an experiment's compacted files."""
    folder = fs.join(schema.RUNS_FOLDER, exp_id, schema.COMPACTED_FOLDER)
    infos = [i for i in fs.list_files(folder) if i.path.endswith(".parquet")]
    return Listing(compacted=infos)


def list_archived(fs: StoreFS, exp_id: str) -> list[FileInfo]:
    """List an experiment's archive summary files (`_archived/*.parquet`)."""
    folder = fs.join(schema.RUNS_FOLDER, exp_id, schema.ARCHIVED_FOLDER)
    return [i for i in fs.list_files(folder) if i.path.endswith(".parquet")]


def archive_notes(fs: StoreFS, infos: Sequence[FileInfo]) -> dict[str, dict[str, Any]]:
    """Return the notes of these summary files: {summary part id: {"run_id", "location",
    "time", "parts"}}; unreadable files are skipped with a warning (FooterCache).
    NotFoundError when a file vanished since it was listed."""
    out: dict[str, dict[str, Any]] = {}
    for info in infos:
        found = FOOTERS.footer(fs, info)
        if found is None:
            continue
        notes = events.archive_notes(found[0].meta.metadata) or {}
        held = set(found[1])
        out.update({part: note for part, note in notes.items() if part in held})
    return out


def replaced_parts(
    notes: dict[str, dict[str, Any]], run_id: str | Collection[str] | None = None
) -> set[str]:
    """Return the part ids that archive summaries replace (of one run, some runs, or all)."""
    runs = wanted_runs(run_id)
    out: set[str] = set()
    for note in notes.values():
        if runs is None or note["run_id"] in runs:
            out.update(note["parts"])
    return out


class FooterCache:
    """Remember compacted files' footers (keyed by path, size and mtime: files are immutable)."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[tuple[str, int, float], tuple[Footer, list[str]]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()  # reads in threads (read-ahead) share it

    def clear(self) -> None:
        """Forget every cached footer."""
        with self._lock:
            self._items.clear()

    def footer(self, fs: StoreFS, info: FileInfo) -> tuple[Footer, list[str]] | None:
        """Return a compacted file's footer and the part ids it holds; None (and a warning)
        if it cannot be read. NotFoundError when it vanished since it was listed."""
        key = (info.path, info.size, info.mtime)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        try:
            footer = eventfile.read_footer(fs, info)
            meta = footer.meta.schema.to_arrow_schema().metadata
        except NotFoundError:
            raise
        except Exception as exc:
            warn_skip(fs, info.path, f"unreadable Parquet footer ({exc})")
            return None
        parts = events.parts_of(meta)
        if parts is None:
            warn_skip(fs, info.path, "no tracker.parts metadata: not a compacted event file")
            return None
        with self._lock:
            self._items[key] = (footer, parts)
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return footer, parts

    def get(self, fs: StoreFS, info: FileInfo) -> list[str] | None:
        """Return the part ids in a compacted file, or None if it cannot be read."""
        found = self.footer(fs, info)
        return None if found is None else found[1]


FOOTERS = FooterCache()


# Rows per part, a JSON list aligned with the sorted `tracker.parts` of the same file: lets
# `du` apportion a shared file's bytes to its runs by rows without reading the file. Optional
# (files written before it have none; readers of the events never need it).
PART_ROWS_METADATA_KEY = b"tracker.part_rows"


def part_rows_of(metadata: dict[bytes, bytes] | None, parts: Sequence[str]) -> list[int] | None:
    """Return the rows of each of `parts` (a file's sorted `tracker.parts`) that its metadata
    records, or None when it records none (or not for exactly these parts)."""
    raw = (metadata or {}).get(PART_ROWS_METADATA_KEY)
    if raw is None:
        return None
    try:
        rows = json.loads(raw)
    except ValueError:
        return None
    ok = isinstance(rows, list) and len(rows) == len(parts)
    return rows if ok and all(isinstance(r, int) and r >= 0 for r in rows) else None


RAW_BYTES_PER_ROW = 12  # a raw part's rows, estimated from its size (no read)


def run_rows(fs: StoreFS, listing: Listing) -> dict[str, int]:
    """Estimate each run's event rows from a listing without reading events: compacted and
    summary files from their footers (rows per part when recorded, else shared equally),
    raw parts from their size. For sizing batches of runs, not for counting."""
    out: dict[str, int] = {}
    for info in [*listing.compacted, *listing.archived]:
        found = FOOTERS.footer(fs, info)
        if found is None:
            continue
        footer, parts = found
        rows = part_rows_of(footer.meta.metadata, sorted(parts))
        if rows is None:
            share = footer.meta.num_rows // max(1, len(parts))
            rows = [share] * len(parts)
        for part, count in zip(sorted(parts), rows, strict=True):
            run = part.split("/", 1)[0]
            out[run] = out.get(run, 0) + count
    for part, info in listing.parts.items():
        run = part.split("/", 1)[0]
        out[run] = out.get(run, 0) + max(1, info.size // RAW_BYTES_PER_ROW)
    return out


def batches_of(rows: dict[str, int], budget: int) -> list[list[str]]:
    """Split runs (sorted by id, the order of compacted files) into batches of at most
    `budget` rows each; a run larger than the budget is a batch of its own."""
    out: list[list[str]] = []
    batch: list[str] = []
    total = 0
    for run in sorted(rows):
        if batch and total + rows[run] > budget:
            out.append(batch)
            batch, total = [], 0
        batch.append(run)
        total += rows[run]
    if batch:
        out.append(batch)
    return out


@dataclass
class ReadPlan:
    """Which file to read for every part id: whole files, and filtered compacted files."""

    whole: list[FileInfo] = field(default_factory=list)
    filtered: list[tuple[FileInfo, list[str]]] = field(default_factory=list)
    covered: dict[str, str] = field(default_factory=dict)  # part id -> file path

    def steps(self) -> list[tuple[FileInfo, list[str] | None, list[str]]]:
        """Return (file, only these parts or None for all, part ids it provides) to read."""
        provides: dict[str, list[str]] = {}
        for part, path in self.covered.items():
            provides.setdefault(path, []).append(part)
        out: list[tuple[FileInfo, list[str] | None, list[str]]] = []
        out += [(info, None, provides.get(info.path, [])) for info in self.whole]
        out += [(info, parts, parts) for info, parts in self.filtered]
        return out


def wanted_runs(run_id: str | Collection[str] | None) -> frozenset[str] | None:
    """Return the runs a read asks for: one run id, a collection of them, or None for all."""
    if run_id is None:
        return None
    return frozenset([run_id]) if isinstance(run_id, str) else frozenset(run_id)


def make_plan(
    fs: StoreFS,
    listing: Listing,
    run_id: str | Collection[str] | None = None,
    exclude: set[str] | None = None,
) -> ReadPlan:
    """Choose one file per part id (biggest compacted files first), skipping `exclude`; only
    the parts of `run_id` (one run id or a collection of them) when given."""
    runs = wanted_runs(run_id)
    plan = ReadPlan()
    done = exclude or set()
    holders = []
    for info in listing.compacted:
        parts = FOOTERS.get(fs, info)
        if parts is None:
            continue
        if runs is not None:
            parts = [p for p in parts if p.split("/", 1)[0] in runs]
        if parts:
            holders.append((info, parts))
    holders.sort(key=lambda item: (-len(item[1]), item[0].path))
    for info, parts in holders:
        new = [p for p in parts if p not in plan.covered and p not in done]
        if not new:
            continue
        if len(new) == len(parts):  # all it holds (of the runs asked for: the caller keeps
            plan.whole.append(info)  # their rows, no part-by-part filter needed)
        else:
            plan.filtered.append((info, new))
        plan.covered.update(dict.fromkeys(new, info.path))
    for part, info in sorted(listing.parts.items()):
        if runs is not None and part.split("/", 1)[0] not in runs:
            continue
        if part not in plan.covered and part not in done:
            plan.whole.append(info)
            plan.covered[part] = info.path
    return plan


def _read_file(
    fs: StoreFS,
    info: FileInfo,
    only_parts: list[str] | None,
    columns: Sequence[str] | None = None,
    run_id: str | Collection[str] | None = None,
) -> pa.Table | None:
    """Read one event file (optionally only some part ids, one run's row groups, some columns);
    None and a warning if damaged. NotFoundError when it vanished since it was listed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if schema.COMPACTED_FOLDER in info.path.split("/"):
            found = FOOTERS.footer(fs, info)
            if found is None:
                return None
            runs = wanted_runs(run_id)
            if only_parts is not None:
                runs = frozenset(p.split("/", 1)[0] for p in only_parts)
            table = eventfile.read(fs, info, found[0], runs, _with_ids(columns))
        else:  # a raw part: one small file, fetched whole
            # decoded in this thread: an Arrow pool worker that drops the last reference to
            # the bytes (a Python object) once the interpreter is exiting cannot take the GIL
            # and aborts the process (SIGABRT, seen in a core dump of a short writer)
            data = fs.read_bytes(info.path)
            table = pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)
        table = events.conform(table, columns)
    except NotFoundError:
        raise  # the caller lists again
    except Exception as exc:
        warn_skip(fs, info.path, str(exc) or type(exc).__name__)
        return None
    if only_parts is not None:
        table = rows_in(table, "part", only_parts)
    return table


def rows_in(table: pa.Table, name: str, values: Collection[str]) -> pa.Table:
    """Return the rows whose `name` column holds one of `values`: the table itself when a
    dictionary column's every value is wanted (most reads: no row is looked at)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        wanted = pa.array(sorted(values), pa.string())
        if all(
            chunk.null_count == 0
            and pc.all(pc.is_in(chunk.dictionary.cast(pa.string()), value_set=wanted)).as_py()
            is not False
            for chunk in column.chunks
        ):
            return table
    return keep_rows(table, is_in(column, values))


def keep_rows(table: pa.Table, mask: pa.ChunkedArray) -> pa.Table:
    """Return the rows a mask selects (the table itself when it selects every row: no copy).
    Rows of a compacted file come sorted by run, so a mask of runs selects a few stretches of
    rows: those are sliced out (no copy) rather than filtered."""
    import numpy as np
    import pyarrow as pa

    keep = np.concatenate([c.to_numpy(zero_copy_only=False) for c in mask.chunks] or [[]])
    if keep.all():
        return table
    found = events.stretches(keep)
    if found is None:
        return table.filter(mask)
    pieces = [table.slice(a, b - a) for a, b in found]
    return pa.concat_tables(pieces) if pieces else table.slice(0, 0)


MAX_STRETCHES = events.MAX_STRETCHES  # (the stretches' limit: events.stretches)


def is_in(column: pa.ChunkedArray, values: Collection[str]) -> pa.ChunkedArray:
    """Return a mask of the rows of a string (or dictionary) column whose value is in
    `values`: a dictionary column is matched on its dictionary, never cast row by row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = pa.array(sorted(values), pa.string())
    if not pa.types.is_dictionary(column.type):
        return pc.is_in(column, value_set=wanted)
    chunks = []
    for chunk in column.chunks:
        hit = pc.is_in(chunk.dictionary.cast(pa.string()), value_set=wanted)
        found = hit.to_numpy(zero_copy_only=False)
        codes = chunk.indices.to_numpy(zero_copy_only=False)
        if chunk.null_count:  # a null row is never wanted
            found = np.append(found, False)
            codes = np.where(chunk.is_null().to_numpy(zero_copy_only=False), len(hit), codes)
        chunks.append(pa.array(found[codes], pa.bool_()))
    return pa.chunked_array(chunks, pa.bool_())


def _with_ids(columns: Sequence[str] | None) -> list[str] | None:
    """Return the columns to read: these plus the ids every read filters on."""
    if columns is None:
        return None
    return [c for c in schema.COLUMNS if c in columns or c in ("run_id", "part")]


def read_plan(fs: StoreFS, plan: ReadPlan) -> tuple[pa.Table, set[str], list[FileInfo]]:
    """Read every file of a plan: the events, the part ids read, the files read.

    Damaged files are skipped with a warning (and are not among the files read);
    NotFoundError if a file vanished.
    """
    tables = []
    read: set[str] = set()
    files = []
    for info, only, parts in plan.steps():
        table = _read_file(fs, info, only)
        if table is not None:
            tables.append(table)
            read.update(parts)
            files.append(info)
    return _concat(tables), read, files


def _concat(tables: list[pa.Table]) -> pa.Table:
    """Concatenate event tables (an empty event table when there are none)."""
    import pyarrow as pa

    if not tables:
        return schema.event_schema().empty_table()
    return pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()


def read_events(
    fs: StoreFS,
    exp_id: str,
    run_id: str | Collection[str] | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[Listing, pa.Table]:
    """List and read an experiment's (or one run's, or some runs') events, each part id exactly
    once.

    `columns` reads only those event columns (plus `run_id` and `part`); runs' events are
    read from the row groups of compacted files that hold those runs.

    When a file vanishes (a compaction replaced it), list again and read only the part ids not
    read yet, from wherever they now are: every retry makes progress. A compacted file that
    cannot be read is skipped with a warning and its part ids are read from their raw parts
    if those still exist.
    """
    tables: list[pa.Table] = []
    done: set[str] = set()
    bad: set[str] = set()
    seen: set[str] = set()  # compacted files some listing showed
    for _attempt in range(MAX_RETRIES):
        listing = list_experiment(fs, exp_id, run_id if isinstance(run_id, str) else None)
        listing.compacted = [i for i in listing.compacted if i.path not in bad]
        listing.archived = [i for i in listing.archived if i.path not in bad]
        seen.update(i.path for i in listing.compacted)
        raw_paths = {info.path for info in listing.parts.values()}
        again = False
        try:
            # an archived run reads as its summary: the parts it replaces are left out
            # wherever they still are (an archive removes them after publishing the summary)
            replaced = replaced_parts(archive_notes(fs, listing.archived), run_id)
            with_summaries = Listing(listing.parts, [*listing.compacted, *listing.archived])
            plan = make_plan(fs, with_summaries, run_id, exclude=done | replaced)
        except NotFoundError:
            log.debug("a file vanished while planning %s; listing again", exp_id)
            continue
        for info, only, parts in plan.steps():
            try:
                table = _read_file(fs, info, only, columns, run_id)
            except NotFoundError:  # replaced by a compaction: read the rest, then list again
                log.debug("%s vanished while reading %s", info.path, exp_id)
                again = True
                continue
            if table is None and info.path not in raw_paths:
                bad.add(info.path)  # its parts may still exist as raw parts
                again = True
                continue
            if table is not None:
                tables.append(table)
            done.update(parts)
        if again:
            continue
        if any(
            i.path not in seen and i.path not in bad for i in list_compacted(fs, exp_id).compacted
        ):
            log.debug("a compacted file of %s appeared while it was read; reading again", exp_id)
            continue  # the next pass reads only part ids not read yet
        table = _concat(tables)
        runs = wanted_runs(run_id)
        if runs is not None:  # files hold other runs too; row groups of these were read
            table = rows_in(table, "run_id", runs)
        return listing, table
    raise NotFoundError(
        f"Files kept vanishing while reading experiment {exp_id} ({MAX_RETRIES} attempts); "
        "is a compaction running in a loop?"
    )
