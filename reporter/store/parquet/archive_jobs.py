"""Archive and restore passes over a store, experiment by experiment (steps in archive.py).

A pass reads an experiment's events once per batch of runs, copies and verifies each run,
publishes the batch's summaries in one file, then removes what the summaries replace in one
pass over the experiment's shared files. Every step is safe to interrupt; a rerun finishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.core import clock
from reporter.core.entities import RunStatus
from reporter.core.errors import NotFoundError, ReporterError
from reporter.store.archiving import ArchiveReport, RunMove
from reporter.store.parquet import archive, compaction, events, reader, schema
from reporter.store.parquet.fs import StoreFS

if TYPE_CHECKING:
    import pyarrow as pa

# (experiment id, listing, its events) -> {run id: status as readers see it}
Statuses = Callable[[str, reader.Listing, "pa.Table"], dict[str, str]]


def _batches(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + archive.BATCH_RUNS] for i in range(0, len(ids), archive.BATCH_RUNS)]


def archive_runs(
    fs: StoreFS,
    source_uri: str,
    dest: StoreFS,
    by_experiment: dict[str, list[str]],
    statuses: Statuses,
    report: ArchiveReport,
) -> None:
    """Archive these runs ({experiment id: run ids}) into `dest`, filling `report`.

    Per experiment: one read of its events; runs copied and verified, and their summaries
    published, a batch at a time; then one pass over its shared files removes the rows of
    every run archived (a file is rewritten once, not once per batch)."""
    for exp_id, run_ids in sorted(by_experiment.items()):
        if not report.dry_run:
            archive.copy_experiment(fs, dest, exp_id)
        listing, table = reader.read_events(fs, exp_id)
        seen = _Seen(
            archive.notes_by_run(fs, exp_id),
            statuses(exp_id, listing, table),
            archive.held_parts(fs, exp_id),
        )
        if any(run_id in seen.notes for run_id in run_ids):
            seen.files = _run_files(fs, exp_id)
        gone: list[tuple[str, Sequence[str], dict[str, Any]]] = []
        for batch in _batches(sorted(set(run_ids))):
            gone += _archive_batch(fs, source_uri, dest, exp_id, batch, table, seen, report)
        del table
        if gone and not report.dry_run:
            report.freed_bytes += archive.clear_source(fs, exp_id, gone)


@dataclass
class _Seen:
    """What one read of an experiment found: archive notes, run statuses, held part ids,
    and artifact sizes per run (listed only when an archived run needs them)."""

    notes: dict[str, list[dict[str, Any]]]
    status: dict[str, str]
    held: set[str]
    files: dict[str, dict[str, int]] = field(default_factory=dict)


def _archive_batch(
    fs: StoreFS,
    source_uri: str,
    dest: StoreFS,
    exp_id: str,
    run_ids: Sequence[str],
    table: pa.Table,
    seen: _Seen,
    report: ArchiveReport,
) -> list[tuple[str, Sequence[str], dict[str, Any]]]:
    """Copy and verify a batch of runs and publish their summaries; return what of theirs
    (and of runs archived before, left by an interrupted pass) to remove from the source."""
    when = int(clock.now_ms())
    copies: list[tuple[archive.Copied, pa.Table, str]] = []
    out: list[tuple[str, Sequence[str], dict[str, Any]]] = []
    for run_id in run_ids:
        if run_id in seen.notes:  # archived before: finish what an interrupted pass left
            rest = _leftovers(exp_id, run_id, seen.notes[run_id], seen.held, seen.files, report)
            if rest is not None:
                out.append(rest)
                report.finished.append(run_id)
            continue
        state = seen.status.get(run_id)
        if state is None:
            report.skipped.append((run_id, "it has no events in this store"))
            continue
        if not RunStatus.is_terminated(state):
            report.skipped.append((run_id, f"it is {state}: running runs are never archived"))
            continue
        rows = archive.run_rows(table, run_id)
        if report.dry_run:
            report.moved.append(_would_move(fs, exp_id, run_id, rows))
            continue
        try:
            copies.append(
                (archive.copy_run(fs, dest, exp_id, run_id, rows, source_uri, when), rows, state)
            )
        except NotFoundError as exc:  # a file went: another pass may be archiving it
            if run_id not in archive.notes_by_run(fs, exp_id):
                raise
            report.skipped.append((run_id, f"archived meanwhile by another pass ({exc})"))
    if not copies:
        return out
    # Another pass may have archived some of these runs while they were copied, and then
    # removed their artifacts before this pass listed them: a manifest written now could
    # miss files. A pass publishes summaries before it removes anything, so a run with no
    # summary now had nothing removed before its copy was listed: its copy is whole.
    fresh = archive.notes_by_run(fs, exp_id)
    summaries: list[tuple[pa.Table, dict[str, Any]]] = []
    for done, rows, state in copies:
        run_id = done.move.run_id
        if run_id in fresh:
            where = fresh[run_id][-1]["location"]
            report.skipped.append((run_id, f"archived meanwhile by another pass, at {where}"))
            continue
        archive.write_manifest(dest, done.manifest)
        part = archive.summary_part(run_id, done.parts)
        note = {
            "run_id": run_id,
            "location": report.location,
            "time": when,
            "parts": done.parts,
            "summary_part": part,
        }
        summary = archive.summarize(rows, run_id, part, report.location, when, state)
        summaries.append((summary, note))
        out.append((run_id, done.parts, done.manifest["artifacts"]))
        report.moved.append(done.move)
    if summaries:  # from here on these runs read as archived
        archive.publish_summaries(fs, exp_id, summaries)
    return out


def _run_files(fs: StoreFS, exp_id: str) -> dict[str, dict[str, int]]:
    """Return {run id: {artifact path: size}} of an experiment's runs (one listing)."""
    skip = frozenset({schema.PARTS_FOLDER, schema.COMPACTED_FOLDER, schema.ARCHIVED_FOLDER})
    base = fs.join(schema.RUNS_FOLDER, exp_id)
    prefix = schema.ARTIFACTS_FOLDER + "/"
    out: dict[str, dict[str, int]] = {}
    for info in fs.list_files(base, skip):
        run_id, _, rest = info.path[len(base) + 1 :].partition("/")
        if rest.startswith(prefix):
            out.setdefault(run_id, {})[rest[len(prefix) :]] = info.size
    return out


def _leftovers(
    exp_id: str,
    run_id: str,
    notes: list[dict[str, Any]],
    held: set[str],
    files: dict[str, dict[str, int]],
    report: ArchiveReport,
) -> tuple[str, Sequence[str], dict[str, Any]] | None:
    """Return what an archived run still has in the source, to remove (None: nothing).
    Artifacts count only if its manifest lists them with their size (others were logged
    after it was archived, and stay)."""
    note = notes[-1]
    parts = sorted({p for n in notes for p in n["parts"]} & held)
    where = note["location"]
    mine = files.get(run_id, {})
    manifest: dict[str, Any] = {"artifacts": {}}
    if mine:
        try:
            manifest = archive.read_manifest(StoreFS(where), exp_id, run_id)
        except ReporterError as exc:  # its archive is not reachable from here: leave it be
            report.skipped.append((run_id, f"archived, but its leftovers stay here: {exc}"))
            return None
    listed = manifest["artifacts"]
    if not parts and not any(int(listed.get(n, {}).get("size", -1)) == z for n, z in mine.items()):
        report.skipped.append((run_id, f"already archived at {where}"))
        return None
    if report.dry_run:
        report.finished.append(run_id)
        return None
    return run_id, parts, manifest["artifacts"]


def _would_move(fs: StoreFS, exp_id: str, run_id: str, rows: pa.Table) -> RunMove:
    """What archiving a run would move (the event bytes are those its archive file would
    have: the rows serialised as the archive writes them)."""
    ordered = compaction.sorted_for_storage(rows)
    size = len(events.table_to_parquet(ordered, archive.parts_in(rows)))
    files = fs.list_files(archive.artifacts_rel(exp_id, run_id))
    return RunMove(run_id, exp_id, rows.num_rows, size, len(files), sum(f.size for f in files))


def restore_runs(
    fs: StoreFS, dest: StoreFS, by_experiment: dict[str, list[str]], report: ArchiveReport
) -> None:
    """Bring these runs ({experiment id in the archive: run ids}) back from `dest`."""
    for exp_id, run_ids in sorted(by_experiment.items()):
        for batch in _batches(sorted(set(run_ids))):
            _restore_batch(fs, dest, exp_id, batch, report)


def _restore_batch(
    fs: StoreFS, dest: StoreFS, exp_id: str, run_ids: Sequence[str], report: ArchiveReport
) -> None:
    import pyarrow as pa

    notes = archive.notes_by_run(fs, exp_id)
    held = archive.held_parts(fs, exp_id)
    tables: list[pa.Table] = []
    parts: list[str] = []
    summaries: set[str] = set()
    for run_id in run_ids:
        try:
            manifest = archive.read_manifest(dest, exp_id, run_id)
        except NotFoundError as exc:
            report.skipped.append((run_id, str(exc)))
            continue
        mine = {n["summary_part"] for n in notes.get(run_id, [])}
        missing = sorted(set(manifest["parts"]) - held)
        if not mine and not missing:
            report.skipped.append((run_id, "it is not archived: its events are in this store"))
            continue
        replaced = {p for n in notes.get(run_id, []) for p in n["parts"]}
        if not replaced <= set(manifest["parts"]):  # archived again since, elsewhere
            where = notes[run_id][-1]["location"]
            report.skipped.append(
                (run_id, f"this archive holds an older copy; its newest is at {where}")
            )
            continue
        archive.copy_experiment(dest, fs, exp_id, only_new=True)  # the store lost it (gc)
        table, copied = archive.copy_back(dest, fs, exp_id, run_id, manifest)
        if missing:
            keep = pa.array(missing, pa.string())
            import pyarrow.compute as pc

            tables.append(table.filter(pc.is_in(pc.cast(table.column("part"), "string"), keep)))
            parts += missing
        summaries |= mine
        report.freed_bytes += copied
        report.moved.append(
            RunMove(
                run_id,
                exp_id,
                table.num_rows,
                int(manifest.get("events", {}).get("size") or 0),
                len(manifest["artifacts"]),
                copied,
            )
        )
    if tables:  # the events first: the summary still hides them until it goes
        merged = pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()
        compaction.publish(fs, exp_id, merged, sorted(parts))
    if summaries:
        compaction.remove_parts(fs, exp_id, summaries, folder=schema.ARCHIVED_FOLDER)
