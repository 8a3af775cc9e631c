"""Move finished runs to an archive store and back, never leaving a run in neither place.

The archive is itself a store (it has `store.json`, the experiment's records, and each run's
events and artifacts where a store keeps them), so `tracker-report build --store ARCHIVE` and
`search_runs` read it as they read any store. Beside each archived run it holds a manifest,
`runs/<exp>/<run>/archive.json`: the part ids of its events and the size and SHA-256 of every
file, written last, once every byte has been read back and checked.

In the source, an archived run is a summary: its params, tags, attributes, inputs, outputs and
the latest value of each metric, under one summary part id, in a file of
`runs/<exp>/_archived/` whose footer notes, per summary part, the run, where it went, when,
and the part ids it replaces. Readers leave those part ids out wherever they still are.

Each step leaves every run readable; a rerun of an interrupted pass finishes it:
* archive: copy and verify (nothing changes in the source) -> publish the summary (the run
  reads as archived; its old events are ignored) -> remove its events and artifacts;
* restore: copy artifacts back and verify -> publish the events (still ignored: the summary
  holds) -> remove the summary (the run reads in full again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reporter.core import system_tags
from reporter.core.errors import NotFoundError, StoreFormatError
from reporter.store.archiving import TAG_ARCHIVE_LOCATION, TAG_ARCHIVE_TIME, RunMove
from reporter.store.parquet import compaction, events, reader, schema
from reporter.store.parquet.fs import TMP_PREFIX, StoreFS, check_rel

if TYPE_CHECKING:
    import pyarrow as pa

MANIFEST_FILE = "archive.json"
MANIFEST_FORMAT = "tracker-report-archived-run"
BATCH_RUNS = 500  # runs per summary file (and per pass over an experiment's files)


def summary_part(run_id: str, parts: Collection[str]) -> str:
    """Return the summary's part id: the same for the same archived parts, so two archive
    passes racing over one run publish one summary between them (readers take it once).

    It sorts right after the newest part it replaces (part names begin with their time), so
    an event written to the run after it was archived (a tag, a rename, a deletion) comes
    after the summary and wins, as it would have over the original rows."""
    digest = hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]
    newest = max((p.split("/", 1)[1] for p in parts), default="")
    return f"{run_id}/{newest}-archived-{digest}"


NON_PERSISTENT = ("memory",)  # schemes whose files end with the process
SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs", "abfs": "az", "abfss": "az"}


def check_apart(fs: StoreFS, other: StoreFS, what: str) -> None:
    """Raise InvalidArgumentError unless `other` is a store of its own: not this one, not
    inside it, not holding it, however spelled (`//path`, a symbolic link, `s3a://`, `./`),
    and one whose files outlive this process."""
    import os
    import posixpath

    from reporter.core.errors import InvalidArgumentError

    def refuse(why: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"Cannot {what} {other.uri}: {why}. An archive is another folder or bucket, "
            "such as /mnt/cold/tracker or s3://ml-archive/team."
        )

    if other.scheme in NON_PERSISTENT:
        raise refuse(f"{other.scheme}:// files vanish when this command ends")
    if fs.local != other.local:
        return
    if fs.local:
        a, b = os.path.realpath(fs.root), os.path.realpath(other.root)
        sep = os.sep
    else:
        a = SCHEME_ALIASES.get(fs.scheme, fs.scheme) + "://" + posixpath.normpath(fs.root)
        b = SCHEME_ALIASES.get(other.scheme, other.scheme) + "://" + posixpath.normpath(other.root)
        sep = "/"
    if a == b or b.startswith(a.rstrip(sep) + sep) or a.startswith(b.rstrip(sep) + sep):
        raise refuse(f"it is this store ({fs.uri}), or inside it, or holds it")


def probe_apart(fs: StoreFS, other: StoreFS, what: str) -> None:
    """Raise InvalidArgumentError if a file written here shows up there: the same store
    under another name (an alias the spelling checks cannot see)."""
    import uuid

    from reporter.core.errors import InvalidArgumentError

    name = f"{TMP_PREFIX}archive-probe-{uuid.uuid4().hex}"
    fs.write_atomic(name, b"")
    try:
        if other.exists(name):
            raise InvalidArgumentError(
                f"Cannot {what} {other.uri}: it is this store ({fs.uri}) under another name"
            )
    finally:
        fs.delete(name)


def manifest_rel(exp_id: str, run_id: str) -> str:
    """Return where an archived run's manifest lives in the archive store."""
    return StoreFS.join(schema.RUNS_FOLDER, exp_id, run_id, MANIFEST_FILE)


def artifacts_rel(exp_id: str, run_id: str) -> str:
    """Return a run's artifact folder (the same in the source and the archive)."""
    return StoreFS.join(schema.RUNS_FOLDER, exp_id, run_id, schema.ARTIFACTS_FOLDER)


def _strings(table: pa.Table, name: str) -> list[Any]:
    import pyarrow as pa

    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    return column.to_pylist()


def summarize(
    run_rows: pa.Table, run_id: str, part: str, location: str, when: int, status: str
) -> pa.Table:
    """Return one run's summary rows: what a reader keeps of each param, tag, attribute,
    input and output, and each metric's latest point, all under the summary part id.

    `status` is the run's status as readers see it (a run whose process died reads KILLED
    though its last status event says RUNNING), so the summary reads the same."""
    import pyarrow as pa
    import pyarrow.compute as pc

    is_metric = events.kind_mask(run_rows, schema.KIND_METRIC)
    other = run_rows.filter(pc.invert(is_metric))
    rows: list[events.Row] = []
    cols = [_strings(other, n) for n in ("kind", "key", "value", "text", "step", "timestamp")]
    parts = _strings(other, "part")
    # tags older stores wrote under reporter. names read as MLflow's; within one part the
    # MLflow name wins (events.mlflow_names): ordered last, and kept under that name
    keys = [
        system_tags.LEGACY_NAMES.get(key, key) if kind == schema.KIND_TAG else key
        for kind, key in zip(cols[0], cols[1])
    ]
    rank = [int(k == key) for k, key in zip(keys, cols[1])]
    order = sorted(range(other.num_rows), key=lambda i: (parts[i], rank[i], i))
    chosen: dict[tuple[str, str], int] = {}
    for i in order:
        kind = cols[0][i]
        first = kind in (schema.KIND_PARAM, schema.KIND_INPUT, schema.KIND_OUTPUT)
        if not first or (kind, keys[i]) not in chosen:
            chosen[(kind, keys[i])] = i
    for (kind, key), i in sorted(chosen.items(), key=lambda item: item[1]):
        if kind == schema.KIND_TAG and cols[3][i] is None:
            continue  # a deleted tag: nothing to keep
        text = cols[3][i]
        if kind == schema.KIND_ATTR and key == "status":
            text = status
        rows.append((kind, key, cols[2][i], text, cols[4][i], cols[5][i]))
    latest = events.reduce_table(run_rows.filter(is_metric)).metrics
    for key, value, step, stamp in zip(
        latest.column("key").to_pylist(),
        latest.column("value").to_pylist(),
        latest.column("step").to_pylist(),
        latest.column("timestamp").to_pylist(),
    ):
        rows.append((schema.KIND_METRIC, key, value, None, step, stamp))
    rows.append((schema.KIND_TAG, TAG_ARCHIVE_LOCATION, None, location, 0, when))
    rows.append((schema.KIND_TAG, TAG_ARCHIVE_TIME, None, str(when), 0, when))
    table = events.rows_to_table(run_id, part, rows)
    return table.cast(pa.schema(table.schema))


def run_rows(table: pa.Table, run_id: str) -> pa.Table:
    """Return one run's rows of an event table."""
    import pyarrow.compute as pc

    return table.filter(pc.equal(pc.cast(table.column("run_id"), "string"), run_id))


def parts_in(table: pa.Table) -> list[str]:
    """Return the part ids of an event table's rows."""
    import pyarrow.compute as pc

    return sorted(pc.unique(pc.cast(table.column("part"), "string")).to_pylist())


@dataclass
class Copied:
    """One run copied into the archive and read back: its manifest and summary inputs."""

    move: RunMove
    parts: list[str]
    manifest: dict[str, Any]


def copy_run(
    src: StoreFS,
    dest: StoreFS,
    exp_id: str,
    run_id: str,
    rows: pa.Table,
    source_uri: str,
    when: int,
) -> Copied:
    """Copy one run's events, marker and artifacts into the archive store and verify them
    (read back: sizes and SHA-256), and return its manifest, which the caller writes
    (`write_manifest`) once no other pass archived the run meanwhile. The source is not
    changed. StoreFormatError if what the archive holds differs from what was written."""
    parts = parts_in(rows)
    ordered = compaction.sorted_for_storage(rows)
    data = events.table_to_parquet(ordered, parts)
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    events_rel = dest.join(
        schema.RUNS_FOLDER, exp_id, schema.COMPACTED_FOLDER, f"archive-{run_id}-{digest}.parquet"
    )
    if dest.write_atomic(events_rel, data, if_absent=True):
        _verify_bytes(dest, events_rel, data)
    else:  # an earlier or racing pass wrote it: it must hold exactly these rows
        _verify_rows(dest, events_rel, ordered)
    marker = src.join(schema.RUNS_FOLDER, exp_id, run_id, schema.RUN_MARKER_FILE)
    with contextlib.suppress(NotFoundError):  # absent: its process died before writing it
        dest.write_atomic(marker, src.read_bytes(marker), if_absent=True)
    files: dict[str, dict[str, Any]] = {}
    base = artifacts_rel(exp_id, run_id)
    for info in src.list_files(base):
        rel = info.path[len(base) + 1 :]
        size, sha = src.copy_to(info.path, dest, check_rel(info.path))  # NotFoundError: raced
        if dest.digest(info.path) != (size, sha):
            raise StoreFormatError(
                f"The archive's copy of {src.url(info.path)} at {dest.url(info.path)} differs "
                "from the original after writing; nothing was removed from the source"
            )
        files[rel] = {"size": size, "sha256": sha}
    manifest = {
        "format": MANIFEST_FORMAT,
        "run_id": run_id,
        "experiment_id": exp_id,
        "source": source_uri,
        "archived_at": when,
        "parts": parts,
        "events": {
            "path": events_rel,
            "rows": rows.num_rows,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        "artifacts": files,
    }
    move = RunMove(
        run_id,
        exp_id,
        rows.num_rows,
        len(data),
        len(files),
        sum(int(f["size"]) for f in files.values()),
    )
    return Copied(move, parts, manifest)


def write_manifest(dest: StoreFS, manifest: dict[str, Any]) -> None:
    """Publish a run's manifest in the archive: its copy there is complete and checked."""
    rel = manifest_rel(manifest["experiment_id"], manifest["run_id"])
    dest.write_atomic(rel, json.dumps(manifest, indent=1).encode())


def _verify_bytes(fs: StoreFS, rel: str, data: bytes) -> None:
    """Raise StoreFormatError unless the file holds exactly `data` (read back in full)."""
    if fs.digest(rel) != (len(data), hashlib.sha256(data).hexdigest()):
        raise StoreFormatError(
            f"{fs.url(rel)} differs from what was written to it; nothing was removed "
            "from the source"
        )


def _verify_rows(fs: StoreFS, rel: str, expected: pa.Table) -> None:
    """Raise StoreFormatError unless the event file holds exactly these rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        found = events.conform(
            pq.read_table(pa.BufferReader(fs.read_bytes(rel)), use_threads=False)
        )
    except NotFoundError:
        raise
    except Exception as exc:
        raise StoreFormatError(f"{fs.url(rel)} cannot be read back ({exc})") from None
    if not _plain(found).equals(_plain(expected)):
        raise StoreFormatError(
            f"{fs.url(rel)} holds other rows than this run's events; nothing was removed "
            "from the source"
        )


def _plain(table: pa.Table) -> pa.Table:
    """Return an event table with plain (not dictionary-encoded) columns and no metadata, so
    two tables compare by their values, not by how each happened to be encoded."""
    import pyarrow as pa

    table = events.conform(table)
    columns = [
        col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
        for col in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def publish_summaries(
    fs: StoreFS, exp_id: str, summaries: Sequence[tuple[pa.Table, dict[str, Any]]]
) -> str:
    """Publish one `_archived/` file holding these runs' summary rows and notes."""
    import pyarrow as pa

    table = pa.concat_tables([t for t, _ in summaries]).unify_dictionaries()
    notes = {note["summary_part"]: note for _, note in summaries}
    extra = {schema.ARCHIVED_METADATA_KEY: json.dumps(notes, sort_keys=True).encode()}
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
    rel = fs.join(schema.RUNS_FOLDER, exp_id, schema.ARCHIVED_FOLDER, name)
    ordered = compaction.sorted_for_storage(table)
    fs.write_atomic(rel, events.table_to_parquet(ordered, sorted(notes), extra))
    return rel


def clear_source(
    fs: StoreFS, exp_id: str, runs: Sequence[tuple[str, Collection[str], dict[str, Any]]]
) -> int:
    """Remove archived runs' events (of (run id, part ids, manifest artifacts) each) and the
    artifacts their manifests vouch for (same SHA-256); return the bytes freed. Artifacts added
    after a run was archived stay. One pass over the experiment's shared files for all."""
    parts = {p for _, run_parts, _ in runs for p in run_parts}
    freed = compaction.remove_parts(fs, exp_id, parts) if parts else 0
    for run_id, _, artifacts in runs:
        base = artifacts_rel(exp_id, run_id)
        for info in fs.list_files(base):
            kept = artifacts.get(info.path[len(base) + 1 :])
            if kept is None or int(kept.get("size", -1)) != info.size:
                continue  # logged after the run was archived: it stays
            try:
                same = fs.digest(info.path)[1] == kept.get("sha256")
            except NotFoundError:  # another pass removed it first
                continue
            if same:
                fs.delete(info.path)
                freed += info.size
        fs.delete(fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.HEARTBEAT_FILE))
    return freed


def runs_in_archive(
    dest: StoreFS, run_ids: Sequence[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Group run ids by the experiment whose folder holds their manifest in the archive;
    return that and the ids it holds no manifest of."""
    from reporter.core.errors import InvalidArgumentError

    wanted: dict[str, list[str]] = {}
    missing = []
    folders = dest.list_dirs(schema.RUNS_FOLDER)
    for run_id in dict.fromkeys(run_ids):
        try:
            schema.check_run_id(run_id)
        except InvalidArgumentError:
            missing.append(run_id)
            continue
        found = [e for e in folders if dest.exists(manifest_rel(e, run_id))]
        if found:
            wanted.setdefault(found[0], []).append(run_id)
        else:
            missing.append(run_id)
    return wanted, missing


def read_manifest(dest: StoreFS, exp_id: str, run_id: str) -> dict[str, Any]:
    """Return an archived run's manifest from the archive store; NotFoundError if the archive
    holds no complete copy of it, StoreFormatError if the manifest is damaged or hostile."""
    rel = manifest_rel(exp_id, run_id)
    try:
        data = json.loads(dest.read_bytes(rel))
    except NotFoundError:
        raise NotFoundError(
            f"The archive {dest.uri} holds no complete copy of run {run_id} (no {rel})"
        ) from None
    except ValueError as exc:
        raise StoreFormatError(f"{dest.url(rel)} is not a readable manifest ({exc})") from None
    ok = (
        isinstance(data, dict)
        and data.get("format") == MANIFEST_FORMAT
        and data.get("run_id") == run_id
        and isinstance(data.get("parts"), list)
        and all(isinstance(p, str) and p.startswith(f"{run_id}/") for p in data["parts"])
        and isinstance(data.get("artifacts"), dict)
    )
    if not ok:
        raise StoreFormatError(
            f"{dest.url(rel)} is not a manifest of run {run_id}; nothing was restored"
        )
    for name, item in data["artifacts"].items():
        # a hostile manifest must not write outside the run's artifact folder
        check_rel(name)
        if "" in name.split("/"):
            raise StoreFormatError(f"{dest.url(rel)}: artifact name {name!r} has an empty part")
        if not (isinstance(item, dict) and isinstance(item.get("sha256"), str)):
            raise StoreFormatError(f"{dest.url(rel)}: artifact {name!r} has no checksum")
    return data


def copy_back(
    dest: StoreFS, fs: StoreFS, exp_id: str, run_id: str, manifest: dict[str, Any]
) -> tuple[pa.Table, int]:
    """Copy an archived run's artifacts and marker back into the source (verified against
    the manifest) and return its events from the archive, with the artifact bytes copied."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _archived_events(dest, exp_id, run_id, manifest)
    found = set(parts_in(table))
    missing = sorted(set(manifest["parts"]) - found)
    if missing:
        raise StoreFormatError(
            f"The archive {dest.uri} lacks {len(missing)} of run {run_id}'s event parts "
            f"(first: {missing[0]}); nothing was restored"
        )
    wanted = pa.array(sorted(manifest["parts"]), pa.string())
    table = table.filter(pc.is_in(pc.cast(table.column("part"), "string"), wanted))
    copied = 0
    base = artifacts_rel(exp_id, run_id)
    for name, item in sorted(manifest["artifacts"].items()):
        rel = f"{base}/{name}"
        if fs.exists(rel):  # restored before, or logged after the run was archived: kept
            continue
        size, sha = dest.copy_to(rel, fs, rel, expect=item["sha256"])
        if fs.digest(rel) != (size, sha):
            raise StoreFormatError(
                f"The store's copy of {dest.url(rel)} differs from it after writing; the run "
                "was left archived"
            )
        copied += size
    marker = fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.RUN_MARKER_FILE)
    with contextlib.suppress(NotFoundError):
        fs.write_atomic(marker, dest.read_bytes(marker), if_absent=True)
    return table, copied


def _archived_events(dest: StoreFS, exp_id: str, run_id: str, manifest: dict[str, Any]) -> pa.Table:
    """Return a run's events from the archive: from the file its manifest names when that is
    there (one read, however many runs the archive holds), else by reading the archive as a
    store (its files may have been compacted since)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rel = (manifest.get("events") or {}).get("path")
    expected = (manifest.get("events") or {}).get("sha256")
    prefix = dest.join(schema.RUNS_FOLDER, exp_id, schema.COMPACTED_FOLDER) + "/"
    if isinstance(rel, str) and rel.startswith(prefix) and "/" not in rel[len(prefix) :]:
        try:
            data = dest.read_bytes(check_rel(rel))
        except NotFoundError:  # compacted since: read the archive as a store
            return reader.read_events(dest, exp_id, run_id)[1]
        if hashlib.sha256(data).hexdigest() != expected:
            raise StoreFormatError(
                f"The archive's {dest.url(rel)} differs from its manifest's checksum; run "
                f"{run_id} was left archived"
            )
        try:
            return run_rows(
                events.conform(pq.read_table(pa.BufferReader(data), use_threads=False)), run_id
            )
        except Exception as exc:
            raise StoreFormatError(f"{dest.url(rel)} cannot be read ({exc})") from None
    return reader.read_events(dest, exp_id, run_id)[1]


def held_parts(fs: StoreFS, exp_id: str) -> set[str]:
    """Return the part ids the source's event files hold (raw parts and compacted files)."""
    listing = reader.list_experiment(fs, exp_id)
    out = set(listing.parts)
    for info in listing.compacted:
        held = reader.FOOTERS.get(fs, info)
        out.update(held or ())
    return out


def notes_by_run(fs: StoreFS, exp_id: str) -> dict[str, list[dict[str, Any]]]:
    """Return the archive notes of an experiment's runs, each with its summary part id,
    oldest first: {run_id: [note, ...]} (racing passes can leave more than one)."""
    out: dict[str, list[dict[str, Any]]] = {}
    notes = reader.archive_notes(fs, reader.list_archived(fs, exp_id))
    for part, note in sorted(notes.items(), key=lambda item: (_time(item[1]), item[0])):
        out.setdefault(note["run_id"], []).append({**note, "summary_part": part})
    return out


def _time(note: dict[str, Any]) -> int:
    try:
        return int(note.get("time") or 0)
    except (TypeError, ValueError):
        return 0


def copy_experiment(src: StoreFS, dest: StoreFS, exp_id: str, *, only_new: bool = False) -> None:
    """Copy an experiment's creation record and edit records where they are missing (they
    are written once and never changed, so a copy is the same record). `only_new`: only
    when `dest` has no record of it at all (a restore never edits an experiment the store
    has: an archive's edit files cannot rename, tag or delete it)."""
    record = src.join(schema.EXPERIMENTS_FOLDER, f"{exp_id}.json")
    if only_new and dest.exists(record):
        return
    try:
        dest.write_atomic(record, src.read_bytes(record), if_absent=True)
    except NotFoundError:
        return
    edits = src.join(schema.EXPERIMENTS_FOLDER, exp_id)
    have = {i.path for i in dest.list_files(edits)}
    for info in src.list_files(edits):
        if info.path.endswith(schema.EDIT_SUFFIX) and info.path not in have:
            try:
                dest.write_atomic(info.path, src.read_bytes(info.path), if_absent=True)
            except NotFoundError:
                continue
