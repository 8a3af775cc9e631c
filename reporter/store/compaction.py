"""Merge the part files of finished runs into one compacted file per experiment.

Safe while others write and while other compactions run, with no lock:
1. list and read the experiment (the same plan readers use: each part id from one file);
2. keep the rows of runs that are terminal (FINISHED, FAILED, KILLED) plus every row already
   in a compacted file, and publish them as a new compacted file whose footer lists its part ids;
3. only then delete the raw parts and older compacted files that the new file fully holds.
A reader that lists between 2 and 3 sees both and reads each part id once; one that lists before
2 and reads after 3 finds a file gone and lists again. Two racing compactions publish two files
that overlap; readers take each part id once, and the next compaction merges them.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from reporter.entities import RunStatus
from reporter.store import events, reader, schema
from reporter.store.fs import StoreFS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction of one experiment did."""

    experiment_id: str
    parts_merged: int
    files_deleted: int
    rows: int
    path: str | None


def compact_experiment(fs: StoreFS, exp_id: str, *, min_parts: int = 2) -> CompactionResult:
    """Compact the finished runs of one experiment; a no-op below `min_parts` raw parts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    listing = reader.list_experiment(fs, exp_id)
    plan = reader.make_plan(fs, listing)
    table = reader.read_plan(fs, plan)
    snap = events.reduce_events(table)
    done = {
        rid for rid, attrs in snap.attrs.items() if RunStatus.is_terminated(attrs.get("status", ""))
    }
    raw_parts = [p for p in listing.parts if p.split("/", 1)[0] in done]
    if len(raw_parts) + len(listing.compacted) < min_parts or (
        not raw_parts and len(listing.compacted) < 2
    ):
        return CompactionResult(exp_id, 0, 0, 0, None)
    keep_parts = set(raw_parts)
    for info in plan.whole + [info for info, _ in plan.filtered]:
        if info.path.split("/")[-2] == schema.COMPACTED_FOLDER:
            keep_parts.update(p for p, path in plan.covered.items() if path == info.path)
    part_col = pc.cast(table.column("part"), "string")
    merged = table.filter(pc.is_in(part_col, pa.array(sorted(keep_parts))))
    keys = pa.table(
        {name: pc.cast(merged.column(name), "string") for name in ("run_id", "kind", "key", "part")}
    ).append_column("row", pa.array(range(merged.num_rows), pa.int64()))
    order = pc.sort_indices(
        keys, sort_keys=[(name, "ascending") for name in ("run_id", "kind", "key", "part", "row")]
    )
    merged = merged.take(order)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
    rel = fs.join(schema.RUNS_FOLDER, exp_id, schema.COMPACTED_FOLDER, name)
    fs.write_atomic(rel, events.table_to_parquet(merged, keep_parts))
    deleted = 0
    for part in raw_parts:
        fs.delete(listing.parts[part].path)
        deleted += 1
    for info in listing.compacted:
        held = reader.FOOTERS.get(fs, info)
        if held is not None and set(held) <= keep_parts:
            fs.delete(info.path)
            deleted += 1
    log.debug("compacted %s: %d parts into %s", exp_id, len(keep_parts), rel)
    return CompactionResult(exp_id, len(raw_parts), deleted, merged.num_rows, rel)
