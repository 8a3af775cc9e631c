"""Measure a store: bytes and files per experiment, run and kind, from one listing.

What it costs, and what each figure rests on:
* one recursive listing of the store (on an object store: one paginated listing) gives every
  file's size; every size is the exact sum of those sizes;
* one footer fetch per shared event file (`_compacted/`, `_archived/`: few files, cached by
  `reader.FOOTERS`) says which runs' parts it holds, and, for files compaction wrote since
  `tracker.part_rows` existed, how many rows each part has: a run's share of a shared file is
  apportioned by rows (else by part count), in whole bytes that add up to the file's size;
* optionally (`lifecycles=True`) the attribute rows of every experiment, read with the columns
  `kind, key, text, timestamp` only: which runs are deleted and since when, which logged
  models each run produced. That is a read of every raw part file (small) and of four columns
  of the compacted files; `du --quick` skips it.

Nothing is written. A file that vanishes while it is measured (a compaction replaced it) makes
its experiment be listed again.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.core.entities import Experiment, LifecycleStage
from reporter.core.errors import NotFoundError
from reporter.store.parquet import compaction, events, reader, schema
from reporter.store.parquet.fs import FileInfo, StoreFS
from reporter.store.usage import ExperimentUsage, RunUsage, Size, StoreUsage, total

if TYPE_CHECKING:
    import pyarrow as pa

LIFECYCLE_ATTR = "lifecycle_stage"
LIFECYCLE_COLUMNS = ("kind", "key", "text", "timestamp")  # plus run_id and part, always read


def sizes(infos: Collection[FileInfo]) -> Size:
    """Return the bytes and count of these files."""
    return Size(sum(i.size for i in infos), len(infos))


def run_of(part: str) -> str:
    """Return the run id of a part id (`<run_id>/<part>`)."""
    return part.split("/", 1)[0]


# the listing ---------------------------------------------------------------------------------
@dataclass
class SharedFile:
    """A file holding parts of several runs: a compacted file or an archive summary file."""

    info: FileInfo
    parts: list[str]  # the part ids it holds (its footer's `tracker.parts`), sorted
    rows: list[int] | None  # rows of each part, when the footer records them
    notes: dict[str, dict[str, Any]]  # an archive summary's notes: summary part id -> note

    def shares(self) -> dict[str, int]:
        """Return {run id: bytes of this file apportioned to it}, adding up to its size."""
        weights: dict[str, int] = {}
        rows = self.rows if self.rows and sum(self.rows) else [1] * len(self.parts)
        for part, count in zip(self.parts, rows):
            weights[run_of(part)] = weights.get(run_of(part), 0) + count
        return apportion(self.info.size, weights)


def apportion(amount: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `amount` in whole units by weight; the parts add up to `amount` exactly
    (largest remainders first, then by key)."""
    whole = sum(weights.values())
    if not weights or whole <= 0:
        return {}
    out = {key: amount * weight // whole for key, weight in weights.items()}
    left = amount - sum(out.values())
    order = sorted(weights, key=lambda k: (-(amount * weights[k] % whole), k))
    for key in order[:left]:
        out[key] += 1
    return out


@dataclass
class ExperimentFiles:
    """Every file of one experiment id that a listing found, by what it is."""

    exp_id: str
    raw: dict[str, FileInfo] = field(default_factory=dict)  # part id -> raw part file
    compacted: list[FileInfo] = field(default_factory=list)
    archived: list[FileInfo] = field(default_factory=list)
    run_files: dict[str, list[FileInfo]] = field(default_factory=dict)  # runs/<exp>/<run>/...
    model_files: dict[str, list[FileInfo]] = field(default_factory=dict)  # model id -> files
    records: list[FileInfo] = field(default_factory=list)  # experiments/<id>.json and edits
    stray: list[FileInfo] = field(default_factory=list)  # anything else under its folders
    shared: dict[str, SharedFile] = field(default_factory=dict)  # path -> footer facts
    unreadable: list[FileInfo] = field(default_factory=list)  # shared files with a bad footer
    _events: dict[str, tuple[int, int, int]] | None = field(default=None, repr=False)

    def run_events(self, run_id: str) -> tuple[int, int, int]:
        """Return a run's event bytes (its raw parts, its shares of shared files), the files
        holding them, and how many of those are its own raw parts (indexed once)."""
        if self._events is None:
            index: dict[str, tuple[int, int, int]] = {}
            for part, info in self.raw.items():
                size, files, raw = index.get(run_of(part), (0, 0, 0))
                index[run_of(part)] = (size + info.size, files + 1, raw + 1)
            for shared in self.shared.values():
                for run, share in shared.shares().items():
                    size, files, raw = index.get(run, (0, 0, 0))
                    index[run] = (size + share, files + 1, raw)
            self._events = index
        return self._events.get(run_id, (0, 0, 0))

    def run_ids(self) -> set[str]:
        """Return every run id its files name: raw parts, shared files, run folders."""
        out = {run_of(p) for p in self.raw}
        for shared in self.shared.values():
            out.update(run_of(p) for p in shared.parts)
        out.update(self.run_files)
        return out

    def parts_of(self, run_ids: Collection[str]) -> set[str]:
        """Return every part id of these runs found anywhere (raw, compacted, summaries)."""
        wanted = set(run_ids)
        out = {p for p in self.raw if run_of(p) in wanted}
        for shared in self.shared.values():
            out.update(p for p in shared.parts if run_of(p) in wanted)
        return out

    def all_files(self) -> list[FileInfo]:
        """Return every file of the experiment id."""
        out = [*self.raw.values(), *self.compacted, *self.archived, *self.records, *self.stray]
        for files in (*self.run_files.values(), *self.model_files.values()):
            out += files
        return out


def _classify(out: dict[str, ExperimentFiles], other: list[FileInfo], info: FileInfo) -> None:
    """File one listed file under its experiment (or the store's other files)."""
    pieces = info.path.split("/")
    top = pieces[0]
    if top == schema.EXPERIMENTS_FOLDER and len(pieces) >= 2:
        exp_id = pieces[1][: -len(".json")] if len(pieces) == 2 else pieces[1]
        if len(pieces) > 2 or pieces[1].endswith(".json"):
            out.setdefault(exp_id, ExperimentFiles(exp_id)).records.append(info)
            return
    if top not in (schema.RUNS_FOLDER, schema.MODELS_FOLDER) or len(pieces) < 3:
        other.append(info)
        return
    exp = out.setdefault(pieces[1], ExperimentFiles(pieces[1]))
    rest = pieces[2:]
    if top == schema.MODELS_FOLDER:
        if rest[0] == schema.RECORDS_FOLDER and len(rest) == 2 and rest[1].endswith(".json"):
            exp.model_files.setdefault(rest[1][: -len(".json")], []).append(info)
        elif rest[0] == schema.EDITS_FOLDER and len(rest) >= 3:
            exp.model_files.setdefault(rest[1], []).append(info)
        elif len(rest) >= 2 and not rest[0].startswith("_"):
            exp.model_files.setdefault(rest[0], []).append(info)
        else:
            exp.stray.append(info)
        return
    folder = rest[0]
    if folder == schema.PARTS_FOLDER and len(rest) == 2:
        part = schema.part_id_of_file(rest[1])
        if part is not None:
            exp.raw[part] = info
            return
    elif folder in (schema.COMPACTED_FOLDER, schema.ARCHIVED_FOLDER):
        if len(rest) == 2 and rest[1].endswith(".parquet"):
            target = exp.compacted if folder == schema.COMPACTED_FOLDER else exp.archived
            target.append(info)
            return
    elif len(rest) >= 2 and not folder.startswith("_"):
        exp.run_files.setdefault(folder, []).append(info)
        return
    exp.stray.append(info)


def _read_footers(fs: StoreFS, exp: ExperimentFiles) -> None:
    """Read the footer of each shared file (cached); NotFoundError if one vanished."""
    for info in [*exp.compacted, *exp.archived]:
        found = reader.FOOTERS.footer(fs, info)  # a damaged one warns and gives None
        if found is None:
            exp.unreadable.append(info)
            continue
        footer, parts = found
        metadata = footer.meta.metadata
        rows = compaction.part_rows_of(metadata, parts)
        notes = events.archive_notes(metadata) or {}
        exp.shared[info.path] = SharedFile(info, list(parts), rows, notes)


def list_experiment_only(fs: StoreFS, exp_id: str) -> ExperimentFiles:
    """List one experiment id's files (runs/, models/, its record and edits); no footers."""
    out: dict[str, ExperimentFiles] = {}
    other: list[FileInfo] = []
    record = fs.join(schema.EXPERIMENTS_FOLDER, f"{exp_id}.json")
    infos = [
        *fs.list_files(fs.join(schema.RUNS_FOLDER, exp_id)),
        *fs.list_files(fs.join(schema.MODELS_FOLDER, exp_id)),
        *fs.list_files(fs.join(schema.EXPERIMENTS_FOLDER, exp_id)),
        *[i for i in fs.list_files(schema.EXPERIMENTS_FOLDER) if i.path == record],
    ]
    for info in infos:
        _classify(out, other, info)
    return out.get(exp_id, ExperimentFiles(exp_id))


def with_footers(fs: StoreFS, exp: ExperimentFiles) -> ExperimentFiles:
    """Return the experiment's files with its shared files' footers read; when one vanished
    (a compaction replaced it) the experiment is listed again, up to MAX_RETRIES times."""
    for _attempt in range(reader.MAX_RETRIES):
        try:
            _read_footers(fs, exp)
            return exp
        except NotFoundError:
            exp = list_experiment_only(fs, exp.exp_id)
    raise NotFoundError(
        f"Files of experiment {exp.exp_id} kept vanishing while it was measured "
        f"({reader.MAX_RETRIES} attempts); is a compaction running in a loop?"
    )


def list_experiment_files(fs: StoreFS, exp_id: str) -> ExperimentFiles:
    """List one experiment id's files afresh, with the footers of its shared files."""
    return with_footers(fs, list_experiment_only(fs, exp_id))


def list_store(
    fs: StoreFS, experiment_ids: Sequence[str] | None = None
) -> tuple[dict[str, ExperimentFiles], list[FileInfo]]:
    """List the store (or these experiments) once and read the footers of shared files.

    Returns every experiment id's files and the store's files that belong to no experiment
    (store.json, access records, the audit trail; empty when experiments were chosen)."""
    if experiment_ids is not None:
        return {e: list_experiment_files(fs, e) for e in experiment_ids}, []
    out: dict[str, ExperimentFiles] = {}
    other: list[FileInfo] = []
    for info in fs.list_files(""):
        _classify(out, other, info)
    return {exp_id: with_footers(fs, exp) for exp_id, exp in out.items()}, other


# lifecycles: the attribute rows ---------------------------------------------------------------
@dataclass(frozen=True)
class Lifecycle:
    """A run's lifecycle as readers see it: its latest `lifecycle_stage` event."""

    stage: str
    time: int | None  # ms: the event's timestamp (None: the run has no such event)
    part: str | None  # the part holding that event (removed last by gc)


@dataclass
class ExperimentEvents:
    """What the attribute rows of an experiment say: each run's lifecycle and the logged
    models each run produced (its `output` events), and the part ids they were read from."""

    lifecycles: dict[str, Lifecycle] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # model id -> run id
    names: dict[str, str] = field(default_factory=dict)  # run id -> its run name
    parts: set[str] = field(default_factory=set)  # every part id read
    # model id -> (time, run id) of its earliest output event: a model output by two runs
    # belongs to the one that said so first, however the events were read in batches
    made_at: dict[str, tuple[int, str]] = field(default_factory=dict)

    def made(self, model_id: str, run_id: str, stamp: int) -> None:
        """Take in an output event: the earliest (then the lowest run id) names the owner."""
        if model_id not in self.made_at or (stamp, run_id) < self.made_at[model_id]:
            self.made_at[model_id] = (stamp, run_id)
            self.outputs[model_id] = run_id

    def add(self, share: ExperimentEvents) -> None:
        """Take in what another batch of runs' events say."""
        self.lifecycles.update(share.lifecycles)
        self.names.update(share.names)
        self.parts |= share.parts
        for model_id, (stamp, run_id) in share.made_at.items():
            self.made(model_id, run_id, stamp)

    def of_runs(self, run_ids: set[str], parts: set[str]) -> ExperimentEvents | None:
        """Return what these events say of these runs, None unless they were read from
        every part a listing now shows of them (`parts`): a run logged, deleted or renamed
        since they were read is read again."""
        if not run_ids <= self.lifecycles.keys() or not parts <= self.parts:
            return None
        return ExperimentEvents(
            {r: life for r, life in self.lifecycles.items() if r in run_ids},
            {m: r for m, r in self.outputs.items() if r in run_ids},
            {r: name for r, name in self.names.items() if r in run_ids},
            set(parts),
            {m: made for m, made in self.made_at.items() if made[1] in run_ids},
        )


def _strings(table: pa.Table, name: str) -> list[Any]:
    """Return a column as Python strings."""
    import pyarrow as pa

    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    return column.to_pylist()


BATCH_ROWS = 2_000_000  # event rows read at once: bounds memory on experiments of any size


def read_experiment_events(fs: StoreFS, exp_id: str) -> ExperimentEvents:
    """Read an experiment's lifecycle and output events (four columns, each part once), a
    batch of runs at a time."""
    out = ExperimentEvents()
    rows = reader.run_rows(fs, reader.list_experiment(fs, exp_id))
    for batch in reader.batches_of(rows, BATCH_ROWS):
        _, table = reader.read_events(fs, exp_id, batch, columns=LIFECYCLE_COLUMNS)
        take_events(table, out)
    return out


def take_events(table: pa.Table, out: ExperimentEvents) -> None:
    """Add what some runs' events say (all of each run's events) to `out`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return
    out.parts.update(_part_ids(table))
    table = table.append_column("pos", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    # attributes and outputs only (before any text is cast: metric rows are most rows)
    is_attr = events.kind_mask(table, schema.KIND_ATTR)
    table = table.filter(pc.or_(is_attr, events.kind_mask(table, schema.KIND_OUTPUT)))
    is_attr = events.kind_mask(table, schema.KIND_ATTR)
    for run_id in pc.unique(pc.cast(table.filter(is_attr).column("run_id"), "string")).to_pylist():
        out.lifecycles[run_id] = Lifecycle(LifecycleStage.ACTIVE, None, None)
    keys = pc.cast(table.column("key"), "string")
    wanted = pc.is_in(keys, pa.array([LIFECYCLE_ATTR, "run_name"]))
    attrs = table.filter(pc.and_(is_attr, wanted))
    rows = zip(
        *(_strings(attrs, n) for n in ("run_id", "key", "text", "part")),
        attrs.column("timestamp").to_pylist(),
        attrs.column("pos").to_pylist(),
    )
    for run_id, key, text, part, stamp, _pos in sorted(rows, key=lambda r: (r[3], r[5])):
        if text is None:
            continue  # the last one by (part, position) wins, as readers decide
        if key == LIFECYCLE_ATTR:
            out.lifecycles[run_id] = Lifecycle(text, int(stamp), part)
        else:
            out.names[run_id] = text
    made = table.filter(events.kind_mask(table, schema.KIND_OUTPUT))
    stamps = made.column("timestamp").to_pylist()
    for run_id, model_id, stamp in zip(_strings(made, "run_id"), _strings(made, "key"), stamps):
        out.made(model_id, run_id, int(stamp))


def _part_ids(table: pa.Table) -> set[str]:
    """Return the part ids a table's rows hold (a dictionary column: its used values)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column("part")
    if not pa.types.is_dictionary(column.type):
        return set(pc.unique(column).to_pylist()) - {None}
    out: set[str] = set()
    for chunk in column.chunks:
        codes = chunk.indices.to_numpy(zero_copy_only=False)
        if chunk.null_count:
            codes = codes[chunk.is_valid().to_numpy(zero_copy_only=False)]
        used = np.bincount(codes, minlength=len(chunk.dictionary)) > 0
        out.update(chunk.dictionary.filter(pa.array(used)).to_pylist())
    return out


@functools.lru_cache(maxsize=1)
def part_file_overhead() -> int:
    """Return the bytes a part file costs beyond its rows (magic, schema, footer, page
    headers): the size of a part holding one short attribute row, ids as long as real ones."""
    run_id = "0" * 32
    part = f"{run_id}/{0:020d}-{'0' * 12}-{0:06d}"
    row: events.Row = (schema.KIND_ATTR, "status", None, "FINISHED", 0, 1_764_000_000_000)
    return len(events.table_to_parquet(events.rows_to_table(run_id, part, [row]), [part]))


# the measure ---------------------------------------------------------------------------------
def _run_usage(
    exp: ExperimentFiles,
    run_id: str,
    models: Size,
    read: ExperimentEvents | None,
    archived: set[str],
) -> RunUsage:
    """Return one run's figures from its experiment's files (and its events, if read)."""
    events_bytes, event_files, raw_files = exp.run_events(run_id)
    artifacts, other = split_run_folder(exp, run_id)
    life = read.lifecycles.get(run_id) if read is not None else None
    return RunUsage(
        run_id=run_id,
        experiment_id=exp.exp_id,
        events_bytes=events_bytes,
        event_files=event_files,
        raw_part_files=raw_files,
        artifacts=sizes(artifacts),
        models=models,
        other=sizes(other),
        lifecycle_stage=(life.stage if life else None) if read is not None else None,
        deleted_time=life.time if life and life.stage == LifecycleStage.DELETED else None,
        archived=run_id in archived,
    )


def split_run_folder(exp: ExperimentFiles, run_id: str) -> tuple[list[FileInfo], list[FileInfo]]:
    """Return a run folder's artifact files and its other files (run.json, heartbeat)."""
    inside = f"{schema.RUNS_FOLDER}/{exp.exp_id}/{run_id}/{schema.ARTIFACTS_FOLDER}/"
    artifacts: list[FileInfo] = []
    other: list[FileInfo] = []
    for info in exp.run_files.get(run_id, []):
        (artifacts if info.path.startswith(inside) else other).append(info)
    return artifacts, other


def compaction_frees(exp: ExperimentFiles, live_runs: Collection[str]) -> tuple[int, int]:
    """Return (estimated bytes compaction would free, of which exact leftovers): raw parts a
    compacted file already holds go whole; each other raw part of a run not still logging
    saves about a part file's overhead (its rows move into a shared file)."""
    compacted_parts: set[str] = set()
    for shared in exp.shared.values():
        if shared.info.path.split("/")[-2] == schema.COMPACTED_FOLDER:
            compacted_parts.update(shared.parts)
    overhead = part_file_overhead()
    leftovers = sum(info.size for part, info in exp.raw.items() if part in compacted_parts)
    saved = sum(
        min(info.size, overhead)
        for part, info in exp.raw.items()
        if part not in compacted_parts and run_of(part) not in live_runs
    )
    return leftovers + saved, leftovers


def live_runs(exp: ExperimentFiles, now_ms: float, timeout_ms: float) -> set[str]:
    """Return the runs whose heartbeat file is younger than the timeout (a process logs)."""
    out = set()
    for run_id, files in exp.run_files.items():
        for info in files:
            beat = info.path.endswith("/" + schema.HEARTBEAT_FILE)
            if beat and now_ms - info.mtime * 1000 <= timeout_ms:
                out.add(run_id)
    return out


def measure_experiment(
    exp: ExperimentFiles,
    record: Experiment | None,
    read: ExperimentEvents | None,
    now_ms: float,
    timeout_ms: float,
) -> tuple[ExperimentUsage, list[RunUsage]]:
    """Return an experiment's figures and its runs', from its files (and its events)."""
    archived = {note["run_id"] for s in exp.shared.values() for note in s.notes.values()}
    models: dict[str, Size] = {}  # run id -> the files of the models it produced
    for model_id, owner in (read.outputs if read is not None else {}).items():
        models[owner] = models.get(owner, Size()) + sizes(exp.model_files.get(model_id, []))
    runs = [
        _run_usage(exp, run_id, models.get(run_id, Size()), read, archived)
        for run_id in sorted(exp.run_ids())
    ]
    frees, leftovers = compaction_frees(exp, live_runs(exp, now_ms, timeout_ms))
    artifacts = total([r.artifacts for r in runs])
    usage = ExperimentUsage(
        experiment_id=exp.exp_id,
        name=record.name if record else None,
        lifecycle_stage=record.lifecycle_stage if record else None,
        last_update_time=record.last_update_time if record else None,
        runs=len(runs),
        deleted_runs=(
            None
            if read is None
            else sum(1 for r in runs if r.lifecycle_stage == LifecycleStage.DELETED)
        ),
        archived_runs=len(archived),
        raw_parts=sizes(list(exp.raw.values())),
        compacted=sizes(exp.compacted),
        archived=sizes(exp.archived),
        artifacts=artifacts,
        models=sizes([i for files in exp.model_files.values() for i in files]),
        other=sizes(exp.records) + sizes(exp.stray) + total([r.other for r in runs]),
        compaction_frees=frees,
        leftover_part_bytes=leftovers,
    )
    return usage, runs


def measure(
    fs: StoreFS,
    experiments: Sequence[Experiment],
    listing: tuple[dict[str, ExperimentFiles], list[FileInfo]],
    *,
    lifecycles: dict[str, ExperimentEvents] | None,
    now_ms: float,
    timeout_ms: float,
) -> StoreUsage:
    """Return the usage of every listed experiment id (records from `experiments`).

    `lifecycles` (per experiment id) are the attribute rows read by `read_experiment_events`,
    or None when they were not read (no deleted or per-run model figures then)."""
    files, other = listing
    records = {e.experiment_id: e for e in experiments}
    exp_usages: list[ExperimentUsage] = []
    run_usages: list[RunUsage] = []
    by_parts = 0
    notes: list[str] = []
    for exp_id in sorted(files):
        exp = files[exp_id]
        read = lifecycles.get(exp_id, ExperimentEvents()) if lifecycles is not None else None
        usage, runs = measure_experiment(exp, records.get(exp_id), read, now_ms, timeout_ms)
        exp_usages.append(usage)
        run_usages += runs
        by_parts += sum(1 for s in exp.shared.values() if s.rows is None and len(s.parts) > 1)
        for info in exp.unreadable:
            notes.append(
                f"{fs.url(info.path)}: unreadable footer; its bytes count for its experiment only"
            )
        if exp_id not in records:
            notes.append(
                f"experiment id {exp_id}: files with no experiment record "
                f"({sizes(exp.all_files()).bytes} bytes)"
            )
    return StoreUsage(
        uri=fs.uri,
        measured_at=int(now_ms),
        experiments=tuple(exp_usages),
        runs=tuple(run_usages),
        other=sizes(other),
        lifecycle_read=lifecycles is not None,
        shares_by_parts=by_parts,
        notes=tuple(notes),
    )
