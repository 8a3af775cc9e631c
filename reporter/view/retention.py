"""Which runs an archive pass takes: by age, by filter, by the [retention] policy.

Shared by `tracker-report archive` and the site's storage page (what the policy would free),
so both answer with one rule. Running runs are never chosen, nor runs the keep rule selects,
nor runs already archived (their summaries carry `reporter.archive.location`), nor the run
that holds the store's usage series (`du --log`, tagged `reporter.usage = du`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reporter.core import clock
from reporter.core.entities import RunStatus
from reporter.store.archiving import TAG_ARCHIVE_LOCATION
from reporter.store.protocol import AbstractStore
from reporter.view.loader import select_experiments
from reporter.view.usage_log import TAG_USAGE, TAG_USAGE_VALUE


@dataclass(frozen=True)
class Selection:
    """What to archive, and how many runs were left out and why."""

    run_ids: list[str]
    kept: int  # selected by the keep rule
    running: int  # not finished
    archived: list[str]  # already archived (a pass finishes what an interrupted one left)


def select_runs(
    store: AbstractStore,
    *,
    experiments: Sequence[str] = (),
    filter_string: str | None = None,
    older_than_ms: int | None = None,
    keep: str | None = None,
    now_ms: float | None = None,
) -> Selection:
    """Return the active runs matching `filter_string` that ended (or, never ended, started)
    at least `older_than_ms` ago, minus those `keep` selects, running runs and archived ones."""
    from reporter.query import search

    chosen = select_experiments(store, tuple(experiments))
    frame = store.runs_frame([e.experiment_id for e in chosen])
    if len(frame) == 0:
        return Selection([], 0, 0, [])
    frame = search.search_frame(frame, filter_string)
    if older_than_ms is not None:
        now = clock.now_ms() if now_ms is None else now_ms
        when = frame["end_time"].fillna(frame["start_time"])
        frame = frame[when.notna() & (when <= now - older_than_ms)]
    tag = f"tags.{TAG_ARCHIVE_LOCATION}"
    archived = frame[tag].notna() if tag in frame else frame["run_id"].isna()
    usage = f"tags.{TAG_USAGE}"
    if usage in frame:  # the store's usage series (du --log) stays where it is charted
        frame = frame[frame[usage] != TAG_USAGE_VALUE]
        archived = archived[frame.index]
    running = ~frame["status"].map(RunStatus.is_terminated).astype(bool)
    kept = frame["run_id"].isin(search.search_frame(frame, keep)["run_id"]) if keep else None
    out = frame[~archived & ~running & (~kept if kept is not None else True)]
    return Selection(
        sorted(out["run_id"]),
        int(kept.sum()) if kept is not None else 0,
        int((running & ~archived).sum()),
        sorted(frame[archived]["run_id"]),
    )
