"""What archiving and restoring runs report (records only; the work is the store's)."""

from __future__ import annotations

from dataclasses import dataclass, field

# tags an archived run's summary carries (ours: MLflow has no archive)
TAG_ARCHIVE_LOCATION = "reporter.archive.location"  # the archive store's URI
TAG_ARCHIVE_TIME = "reporter.archive.time"  # when it was archived (ms since the epoch)


@dataclass(frozen=True)
class RunMove:
    """One run archived or restored (or that would be, in a dry run)."""

    run_id: str
    experiment_id: str
    event_rows: int  # rows of its events moved
    event_bytes: int  # bytes of the event file written for it (the archive's copy)
    artifact_files: int
    artifact_bytes: int


@dataclass
class ArchiveReport:
    """What one `archive` or `restore` did: the runs moved, those left as they were and why,
    and the runs whose leftovers an interrupted earlier pass left behind, now finished."""

    location: str  # the archive store
    dry_run: bool = False
    moved: list[RunMove] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # run ids completed from a prior pass
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (run id, why)
    freed_bytes: int = 0  # bytes removed from the source (archive) or written back (restore)
