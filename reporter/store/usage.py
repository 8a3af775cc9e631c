"""What `du` (a store's usage) and `gc` (removing deleted runs for good) report.

Records only: the measuring and the removing are the store's (`reporter/store/parquet/usage.py`
and `gc.py`). Sizes are exact sums of file sizes from a listing, except one figure per run: a
run's share of the files it shares with other runs (compacted event files, archive summaries),
apportioned by rows where the file records them per part, else by part count. Every `to_dict`
has stable keys, for `du --format json` and `gc --format json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reporter.core.durations import DAY_MS

DEFAULT_GC_AGE_MS = 30 * DAY_MS  # `gc` and du's "gc would free" default: deleted 30 days ago
KINDS = ("events", "artifacts", "models", "other")  # what `du --by kind` shows


@dataclass(frozen=True)
class Size:
    """Bytes and files."""

    bytes: int = 0
    files: int = 0

    def __add__(self, other: Size) -> Size:
        return Size(self.bytes + other.bytes, self.files + other.files)

    def to_dict(self) -> dict[str, int]:
        """Return {"bytes": ..., "files": ...}."""
        return {"bytes": self.bytes, "files": self.files}


def total(sizes: list[Size] | tuple[Size, ...]) -> Size:
    """Return the sum of sizes."""
    out = Size()
    for size in sizes:
        out = out + size
    return out


@dataclass(frozen=True)
class RunUsage:
    """What one run holds.

    `events_bytes` is exact for the run's own part files plus its apportioned share of shared
    files (`event_files` counts every file holding some of its events). `lifecycle_stage` and
    `deleted_time` are None when lifecycles were not read (`du --quick`)."""

    run_id: str
    experiment_id: str
    events_bytes: int = 0
    event_files: int = 0
    raw_part_files: int = 0  # of event_files: its own part files, not compacted yet
    artifacts: Size = Size()
    models: Size = Size()  # logged models the run produced (its `outputs`)
    other: Size = Size()  # run.json, heartbeat and other files of the run folder
    lifecycle_stage: str | None = None
    deleted_time: int | None = None  # ms: when its latest lifecycle event said deleted
    archived: bool = False

    @property
    def total_bytes(self) -> int:
        """Every byte of the run (its share of shared files included)."""
        return self.events_bytes + self.artifacts.bytes + self.models.bytes + self.other.bytes

    def to_dict(self) -> dict[str, Any]:
        """Return every figure, JSON-ready."""
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "lifecycle_stage": self.lifecycle_stage,
            "deleted_time": self.deleted_time,
            "archived": self.archived,
            "events_bytes": self.events_bytes,
            "event_files": self.event_files,
            "raw_part_files": self.raw_part_files,
            "artifacts": self.artifacts.to_dict(),
            "models": self.models.to_dict(),
            "other": self.other.to_dict(),
            "total_bytes": self.total_bytes,
        }


@dataclass(frozen=True)
class ExperimentUsage:
    """What one experiment holds; every size is exact.

    `name` and `lifecycle_stage` are None for files of an experiment id that has no record
    (left by hand, or by a copy). `deleted_runs` is None when lifecycles were not read."""

    experiment_id: str
    name: str | None
    lifecycle_stage: str | None
    last_update_time: int | None = None
    runs: int = 0
    deleted_runs: int | None = None
    archived_runs: int = 0
    raw_parts: Size = Size()  # runs/<id>/_parts/
    compacted: Size = Size()  # runs/<id>/_compacted/
    archived: Size = Size()  # runs/<id>/_archived/ (summaries of archived runs)
    artifacts: Size = Size()
    models: Size = Size()
    other: Size = Size()  # its record and edits, run.json and heartbeat files, stray files
    compaction_frees: int = 0  # estimate, see StoreUsage.compaction_frees
    leftover_part_bytes: int = 0  # raw parts a compacted file holds too (exact, freed)

    @property
    def events(self) -> Size:
        """Every event file: raw parts, compacted files and archive summaries."""
        return self.raw_parts + self.compacted + self.archived

    @property
    def total(self) -> Size:
        """Every file of the experiment."""
        return self.events + self.artifacts + self.models + self.other

    def to_dict(self) -> dict[str, Any]:
        """Return every figure, JSON-ready."""
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "lifecycle_stage": self.lifecycle_stage,
            "last_update_time": self.last_update_time,
            "runs": self.runs,
            "deleted_runs": self.deleted_runs,
            "archived_runs": self.archived_runs,
            "events": self.events.to_dict(),
            "raw_parts": self.raw_parts.to_dict(),
            "compacted": self.compacted.to_dict(),
            "archived": self.archived.to_dict(),
            "artifacts": self.artifacts.to_dict(),
            "models": self.models.to_dict(),
            "other": self.other.to_dict(),
            "total": self.total.to_dict(),
            "compaction_frees_bytes": self.compaction_frees,
            "leftover_part_bytes": self.leftover_part_bytes,
        }


@dataclass(frozen=True)
class GcItem:
    """One run or experiment that gc removes (or would, in a dry run)."""

    kind: str  # "run" or "experiment"
    id: str
    experiment_id: str
    name: str | None  # its run or experiment name (None: unknown, or a gc's leftovers)
    deleted_time: int | None  # ms: the deletion (a run's event; an experiment's last update)
    size: Size  # what it frees; a run's share of shared event files is apportioned
    runs: int = 0  # an experiment's runs, removed with it

    def to_dict(self) -> dict[str, Any]:
        """Return every figure, JSON-ready."""
        return {
            "kind": self.kind,
            "id": self.id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "deleted_time": self.deleted_time,
            "bytes": self.size.bytes,
            "files": self.size.files,
            "runs": self.runs,
        }


@dataclass(frozen=True)
class GcReport:
    """What one `gc` removed (or would remove, `dry_run`): runs deleted at least
    `older_than_ms` before `now_ms`, experiments likewise, and what was left alone and why."""

    uri: str
    older_than_ms: int
    now_ms: int
    dry_run: bool
    items: tuple[GcItem, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (run or experiment id, why)
    too_recent: int = 0  # deleted runs and experiments not old enough yet

    @property
    def runs(self) -> tuple[GcItem, ...]:
        """The runs removed on their own (not with their experiment)."""
        return tuple(i for i in self.items if i.kind == "run")

    @property
    def experiments(self) -> tuple[GcItem, ...]:
        """The experiments removed, each with every run it held."""
        return tuple(i for i in self.items if i.kind == "experiment")

    @property
    def freed(self) -> Size:
        """What every item frees."""
        return total([i.size for i in self.items])

    def to_dict(self) -> dict[str, Any]:
        """Return every figure, JSON-ready."""
        return {
            "uri": self.uri,
            "older_than_ms": self.older_than_ms,
            "now_ms": self.now_ms,
            "dry_run": self.dry_run,
            "freed": self.freed.to_dict(),
            "runs": [i.to_dict() for i in self.runs],
            "experiments": [i.to_dict() for i in self.experiments],
            "skipped": [{"id": i, "reason": why} for i, why in self.skipped],
            "too_recent": self.too_recent,
        }


@dataclass(frozen=True)
class StoreUsage:
    """What a store (or some of its experiments) holds, measured at `measured_at` (ms).

    `compaction_frees` is an estimate: the raw part files a compacted file already holds
    (exact) plus, for the others, the bytes a Parquet file costs beyond its rows (schema,
    footer, page headers), measured by writing a one-row part. `gc` is what `gc` with
    `older_than_ms` would remove now (None when lifecycles were not read)."""

    uri: str
    measured_at: int
    experiments: tuple[ExperimentUsage, ...] = ()
    runs: tuple[RunUsage, ...] = ()
    other: Size = Size()  # store.json, access records, audit trail: files of no experiment
    lifecycle_read: bool = True
    gc: GcReport | None = None
    shares_by_parts: int = 0  # shared files without row counts: run shares by part count
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Size:
        """Every file measured."""
        return total([e.total for e in self.experiments]) + self.other

    def kinds(self) -> dict[str, Size]:
        """Return {kind: size} of events, artifacts, models and other files."""
        exps = self.experiments
        return {
            "events": total([e.events for e in exps]),
            "artifacts": total([e.artifacts for e in exps]),
            "models": total([e.models for e in exps]),
            "other": total([e.other for e in exps]) + self.other,
        }

    @property
    def compaction_frees(self) -> int:
        """Estimated bytes `tracker-report compact` would free (see the class docstring)."""
        return sum(e.compaction_frees for e in self.experiments)

    @property
    def archived_runs(self) -> int:
        """Runs whose events were moved to an archive (a summary stays here)."""
        return sum(e.archived_runs for e in self.experiments)

    @property
    def deleted_runs(self) -> int | None:
        """Runs whose lifecycle is deleted (None when not read)."""
        if not self.lifecycle_read:
            return None
        return sum(e.deleted_runs or 0 for e in self.experiments)

    def to_dict(self) -> dict[str, Any]:
        """Return every figure, JSON-ready, with stable keys."""
        deleted = [r for r in self.runs if r.lifecycle_stage == "deleted"]
        deleted_exps = [e for e in self.experiments if e.lifecycle_stage == "deleted"]
        read = self.lifecycle_read
        return {
            "uri": self.uri,
            "measured_at": self.measured_at,
            "total": self.total.to_dict(),
            "kinds": {kind: size.to_dict() for kind, size in self.kinds().items()},
            "store_files": self.other.to_dict(),
            "runs_count": len(self.runs),
            "experiments_count": len(self.experiments),
            "lifecycle_read": self.lifecycle_read,
            "deleted": {
                "runs": len(deleted) if read else None,
                "runs_bytes": sum(r.total_bytes for r in deleted) if read else None,
                "experiments": len(deleted_exps),
                "experiments_bytes": sum(e.total.bytes for e in deleted_exps),
            },
            "archived": {
                "runs": self.archived_runs,
                "summary_bytes": sum(e.archived.bytes for e in self.experiments),
            },
            "compaction": {
                "would_free_bytes": self.compaction_frees,
                "raw_part_files": sum(e.raw_parts.files for e in self.experiments),
                "raw_part_bytes": sum(e.raw_parts.bytes for e in self.experiments),
                "leftover_part_bytes": sum(e.leftover_part_bytes for e in self.experiments),
                "estimate": True,
            },
            "gc": None if self.gc is None else self.gc.to_dict(),
            "shares_by_part_count": self.shares_by_parts,
            "experiments": [e.to_dict() for e in self.experiments],
            "runs": [r.to_dict() for r in self.runs],
            "notes": list(self.notes),
        }
