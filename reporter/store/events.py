"""Event rows <-> Parquet part files, and the reduction of events to run state.

A part file holds rows of the event log (see schema.py). Order rule: within one
(run_id, kind, key), events are ordered by part id, then by position in the part; params keep
their first value, tags and attributes their last, metrics are a history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.store import schema

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# (kind, key, value, text, step, timestamp)
Row = tuple[str, str, "float | None", "str | None", int, int]


def rows_to_table(run_id: str, part: str, rows: Sequence[Row]) -> pa.Table:
    """Build an event table for one run's buffered rows."""
    import pyarrow as pa

    kinds, keys, values, texts, steps, stamps = zip(*rows)
    count = len(rows)
    sch = schema.event_schema()
    const = pa.DictionaryArray.from_arrays(pa.array([0] * count, pa.int32()), pa.array([run_id]))
    part_arr = pa.DictionaryArray.from_arrays(pa.array([0] * count, pa.int32()), pa.array([part]))
    return pa.table(
        [
            const,
            pa.array(kinds, pa.string()).dictionary_encode(),
            pa.array(keys, pa.string()).dictionary_encode(),
            pa.array(values, pa.float64()),
            pa.array(texts, pa.string()),
            pa.array(steps, pa.int64()),
            pa.array(stamps, pa.int64()),
            part_arr,
        ],
        schema=sch,
    )


def table_to_parquet(table: pa.Table, parts: Iterable[str]) -> bytes:
    """Serialise an event table to Parquet bytes, recording the part ids it holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {
        schema.VERSION_METADATA_KEY: str(schema.FORMAT_VERSION).encode(),
        schema.PARTS_METADATA_KEY: json.dumps(sorted(parts)).encode(),
    }
    table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        use_dictionary=["run_id", "kind", "key", "part", "text"],
        column_encoding={"step": "DELTA_BINARY_PACKED", "timestamp": "DELTA_BINARY_PACKED"},
        row_group_size=256 * 1024,
    )
    return bytes(sink.getvalue().to_pybytes())


def parts_of(metadata: dict[bytes, bytes] | None, fallback: str) -> list[str]:
    """Return the part ids a file's metadata says it holds (a raw part holds itself)."""
    if metadata and schema.PARTS_METADATA_KEY in metadata:
        value = json.loads(metadata[schema.PARTS_METADATA_KEY])
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return [fallback]


def conform(table: pa.Table) -> pa.Table:
    """Cast a table read from disk to the event schema; raise ValueError if it is foreign."""
    sch = schema.event_schema()
    missing = [name for name in schema.COLUMNS if name not in table.column_names]
    if missing:
        raise ValueError(f"not an event file: missing columns {missing}")
    table = table.select(list(schema.COLUMNS))
    try:
        return table.cast(sch)
    except Exception as exc:  # pyarrow raises several types for a bad cast
        raise ValueError(f"columns have foreign types ({exc})") from None


@dataclass
class Snapshot:
    """Run state reduced from events: attributes, params, tags, latest metrics."""

    attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    last_seen: dict[str, int] = field(default_factory=dict)


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort events by (run_id, key, part) keeping position order inside a part."""
    return frame.sort_values(["run_id", "key", "part"], kind="stable")


def _nested(frame: pd.DataFrame, value: str) -> dict[str, dict[str, Any]]:
    """Turn (run_id, key, value) rows into {run_id: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    columns = (frame["run_id"].tolist(), frame["key"].tolist(), frame[value].tolist())
    for run_id, key, val in zip(*columns):
        out.setdefault(run_id, {})[key] = val
    return out


def latest_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """Return each (run_id, key)'s latest point: max step, then timestamp, then value."""
    if metrics.empty:
        return metrics
    frame = metrics.sort_values(["run_id", "key", "step", "timestamp", "value"], kind="stable")
    return frame.drop_duplicates(["run_id", "key"], keep="last")


def reduce_events(table: pa.Table) -> Snapshot:
    """Reduce an event table (any number of runs) to a Snapshot."""
    import pyarrow.compute as pc

    snap = Snapshot()
    if table.num_rows == 0:
        return snap
    table = table.combine_chunks() if table.num_rows else table
    kind = pc.cast(table.column("kind"), "string")
    frames = {}
    for name in schema.KINDS:
        sub = table.filter(pc.equal(kind, name))
        cols = ["run_id", "key", "value", "step", "timestamp"]
        if name != schema.KIND_METRIC:
            cols = ["run_id", "key", "text", "part"]
        frames[name] = _plain(sub.select(cols))
    params = ordered(frames[schema.KIND_PARAM]).drop_duplicates(["run_id", "key"], keep="first")
    snap.params = _nested(params, "text")
    tags = ordered(frames[schema.KIND_TAG]).drop_duplicates(["run_id", "key"], keep="last")
    snap.tags = _nested(tags[tags["text"].notna()], "text")
    attrs = ordered(frames[schema.KIND_ATTR]).drop_duplicates(["run_id", "key"], keep="last")
    snap.attrs = _nested(attrs[attrs["text"].notna()], "text")
    snap.metrics = _nested(latest_metrics(frames[schema.KIND_METRIC]), "value")
    stamps = _plain(table.select(["run_id", "timestamp"]))
    snap.last_seen = {
        str(k): int(v) for k, v in stamps.groupby("run_id")["timestamp"].max().items()
    }
    return snap


def _plain(table: pa.Table) -> pd.DataFrame:
    """Convert to pandas with dictionary columns as plain strings."""
    import pyarrow as pa

    cols = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names).to_pandas()
