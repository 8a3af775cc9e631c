"""Event rows <-> Parquet part files, and the reduction of events to run state.

A part file holds rows of the event log (see schema.py). Order rule: within one
(run_id, kind, key), events are ordered by part id, then by position in the part; params keep
their first value, tags and attributes their last, metrics are a history, inputs (datasets a
run used) their first, in logging order.
"""

from __future__ import annotations

import itertools
import json
import operator
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from reporter.core import system_tags
from reporter.core.datasets import DatasetInput, RunInputs
from reporter.core.errors import StoreWarning
from reporter.core.model_links import LoggedModelInput, LoggedModelOutput
from reporter.store.parquet import schema
from reporter.store.records import MetricPoints as MetricPoints
from reporter.store.records import Row as Row

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP_ROWS = 256 * 1024  # rows per Parquet row group: the unit a one-run read fetches


def rows_to_table(run_id: str, part: str, rows: Sequence[Row]) -> pa.Table:
    """Build an event table for one run's buffered rows."""

    count = len(rows)
    return _event_table(_repeated(run_id, count), rows, _repeated(part, count))


def group_to_table(group: Sequence[tuple[str, str, Sequence[Row]]]) -> pa.Table:
    """Build one event table for several runs' rows, each run under its own part id, in the
    order compacted files keep (run, kind, key, then part and position): `group` holds
    (run_id, part, rows). Built once for the whole group, with no sort of the table."""

    runs: list[str] = []
    parts: list[str] = []
    ordered: list[Row] = []
    for run_id, part, rows in sorted(group, key=lambda item: item[0]):
        kept = sorted(rows, key=lambda row: (row[0], row[1]))  # stable: positions kept
        runs += [run_id] * len(kept)
        parts += [part] * len(kept)
        ordered += kept
    return _event_table(_dictionary(runs), ordered, _dictionary(parts))


def _event_table(run_ids: pa.Array, rows: Sequence[Row], parts: pa.Array) -> pa.Table:
    """Return the event table of these rows, with their run id and part id columns."""
    import pyarrow as pa

    kinds, keys, values, texts, steps, stamps = zip(*rows)
    return pa.table(
        [
            run_ids,
            _dictionary(kinds),
            _dictionary(keys),
            _floats(values),
            _strings(texts),
            _integers(steps, 64),
            _integers(stamps, 64),
            parts,
        ],
        schema=schema.event_schema(),
    )


# Columns are built from their buffers, not with `pa.array(list)`: pyarrow asks pandas whether
# a list is "array-like" first, which imports pandas (a third of a second) into every process
# that logs, and at exit, where a first import may fail. The tables equal those of
# `pa.array(...)` and `.dictionary_encode()`, and write the same bytes (test_light_logging.py).
# Each loop over the rows runs in C (numpy.fromiter, map, str.join), as pa.array's does.
_MAX_STRING_BYTES = 2**31 - 1  # a `string` array's int32 offsets


def _integers(values: Sequence[int], bits: int) -> pa.Array:
    """Return an int32/int64 array of Python ints (no nulls)."""
    import numpy as np
    import pyarrow as pa

    dtype, pa_type = (np.int32, pa.int32()) if bits == 32 else (np.int64, pa.int64())
    data = np.fromiter(values, dtype=dtype, count=len(values))
    return pa.Array.from_buffers(pa_type, len(data), [None, pa.py_buffer(data)])


def _validity(values: Sequence[object], nulls: int) -> pa.Buffer | None:
    """Return the validity bitmap of values holding `nulls` Nones (None when there are none)."""
    import numpy as np
    import pyarrow as pa

    if not nulls:
        return None
    valid = np.fromiter(map(operator.is_not, values, itertools.repeat(None)), np.bool_, len(values))
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _floats(values: Sequence[float | None]) -> pa.Array:
    """Return a float64 array; None is null, NaN stays NaN."""
    import numpy as np
    import pyarrow as pa

    count, nulls = len(values), values.count(None)
    if nulls == count:
        return pa.nulls(count, pa.float64())
    filled = [0.0 if v is None else v for v in values] if nulls else values
    data = np.fromiter(filled, dtype=np.float64, count=count)
    return pa.Array.from_buffers(
        pa.float64(), count, [_validity(values, nulls), pa.py_buffer(data)]
    )


def _strings(values: Sequence[str | None]) -> pa.Array | pa.ChunkedArray:
    """Return a string array; None is null."""
    import numpy as np
    import pyarrow as pa

    count, nulls = len(values), values.count(None)
    if nulls == count:
        return pa.nulls(count, pa.string())
    texts = cast("Sequence[str]", ["" if v is None else v for v in values] if nulls else values)
    joined = "".join(texts)
    if joined.isascii():  # one byte a character
        data, lengths = joined.encode("ascii"), map(len, texts)
    else:
        encoded = [v.encode() for v in texts]
        data, lengths = b"".join(encoded), map(len, encoded)
    if len(data) > _MAX_STRING_BYTES:  # over 2 GiB: pyarrow splits it into chunks
        return pa.array(values, pa.string())
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.fromiter(lengths, np.int32, count), out=offsets[1:])
    buffers = [_validity(values, nulls), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), count, buffers)


def _dictionary(values: Sequence[str]) -> pa.DictionaryArray:
    """Dictionary-encode strings (no nulls), the dictionary in order of first appearance."""
    import numpy as np
    import pyarrow as pa

    words = list(dict.fromkeys(values))
    index = {word: i for i, word in enumerate(words)}
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int32, count=len(values))
    indices = pa.Array.from_buffers(pa.int32(), len(codes), [None, pa.py_buffer(codes)])
    return pa.DictionaryArray.from_arrays(indices, _strings(words))


def _repeated(value: str, count: int) -> pa.DictionaryArray:
    """Return `count` times one string, dictionary-encoded."""
    import numpy as np
    import pyarrow as pa

    zeros = pa.py_buffer(np.zeros(count, dtype=np.int32))
    indices = pa.Array.from_buffers(pa.int32(), count, [None, zeros])
    return pa.DictionaryArray.from_arrays(indices, _strings([value]))


OWN_METADATA = (schema.VERSION_METADATA_KEY, schema.PARTS_METADATA_KEY, b"ARROW:schema")


def table_to_parquet(
    table: pa.Table, parts: Iterable[str], extra: dict[bytes, bytes] | None = None
) -> bytes:
    """Serialise an event table to Parquet bytes, recording the part ids it holds (and any
    `extra` key-value metadata, such as an archive summary's notes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {
        **(extra or {}),
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
        row_group_size=ROW_GROUP_ROWS,
    )
    return bytes(sink.getvalue().to_pybytes())


def parts_of(metadata: dict[bytes, bytes] | None) -> list[str] | None:
    """Return the part ids a compacted file's metadata says it holds (None if it says none)."""
    if metadata and schema.PARTS_METADATA_KEY in metadata:
        try:
            value = json.loads(metadata[schema.PARTS_METADATA_KEY])
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return None


def archive_notes(metadata: dict[bytes, bytes] | None) -> dict[str, dict[str, Any]] | None:
    """Return an archive summary file's notes: {summary part id: {"run_id", "location",
    "time", "parts"}} (None if the metadata has none or they cannot be read)."""
    if not metadata or schema.ARCHIVED_METADATA_KEY not in metadata:
        return None
    try:
        value = json.loads(metadata[schema.ARCHIVED_METADATA_KEY])
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    out = {}
    for key, note in value.items():
        if (
            isinstance(note, dict)
            and isinstance(note.get("run_id"), str)
            and isinstance(note.get("location"), str)
            and isinstance(note.get("parts"), list)
            and all(isinstance(p, str) for p in note["parts"])
        ):
            out[key] = note
    return out


def conform(table: pa.Table, columns: Sequence[str] | None = None) -> pa.Table:
    """Cast a table read from disk to the event schema (or its `columns`, in schema order);
    raise ValueError if it is foreign."""
    sch = schema.event_schema()
    raw = (table.schema.metadata or {}).get(schema.VERSION_METADATA_KEY, b"1")
    try:
        version = int(raw)
    except ValueError:
        raise ValueError(f"unreadable format version {raw!r}") from None
    if version > schema.FORMAT_VERSION:
        raise ValueError(
            f"written in format version {version}; this tracker-report reads up to "
            f"{schema.FORMAT_VERSION} (upgrade it to read this file)"
        )
    wanted = [
        c for c in schema.COLUMNS if columns is None or c in columns or c in ("run_id", "part")
    ]
    missing = [name for name in wanted if name not in table.column_names]
    if missing:
        raise ValueError(f"not an event file: missing columns {missing}")
    table = table.select(wanted)
    try:  # a damaged page can decode into out-of-range dictionary indices or bad offsets
        validate(table)
    except Exception as exc:
        raise ValueError(f"damaged column data ({exc})") from None
    if columns is not None:
        sch = pa_schema_of(sch, wanted)
    if table.schema.equals(sch, check_metadata=False):
        return table  # our own files: nothing to cast
    try:
        return table.cast(sch)
    except Exception as exc:  # pyarrow raises several types for a bad cast
        raise ValueError(f"columns have foreign types ({exc})") from None


def validate(table: pa.Table) -> None:
    """Check every value of a table as `table.validate(full=True)` does (ArrowInvalid when
    damaged), a dictionary column's indices with one min/max pass each (the full check looks
    at them one by one: most of a read's time in it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table.validate()
    for column in table.columns:
        if not pa.types.is_dictionary(column.type):
            column.validate(full=True)
            continue
        for chunk in column.chunks:
            chunk.dictionary.validate(full=True)
            chunk.indices.validate()
            if chunk.null_count == len(chunk):
                continue
            bounds = pc.min_max(chunk.indices)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if low < 0 or high >= len(chunk.dictionary):
                raise pa.ArrowInvalid(
                    f"dictionary index out of range: {low}..{high} of {len(chunk.dictionary)}"
                )


def pa_schema_of(sch: pa.Schema, names: Sequence[str]) -> pa.Schema:
    """Return the sub-schema of these field names."""
    import pyarrow as pa

    return pa.schema([sch.field(n) for n in names])


@dataclass
class Snapshot:
    """Run state reduced from events: attributes, params, tags, latest metrics."""

    attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    metric_steps: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    last_seen: dict[str, int] = field(default_factory=dict)
    inputs: dict[str, list[str]] = field(default_factory=dict)  # texts, see reduce_inputs
    outputs: dict[str, list[LoggedModelOutput]] = field(default_factory=dict)  # see reduce_outputs


@dataclass
class Reduced:
    """Events reduced per (run_id, key), as Arrow tables with plain string columns."""

    attrs: pa.Table  # run_id, key, text: the last value
    params: pa.Table  # run_id, key, text: the first value
    tags: pa.Table  # run_id, key, text: the last value (deleted tags removed)
    metrics: pa.Table  # run_id, key, value, step, timestamp: the latest point
    last_seen: pa.Table  # run_id, timestamp: the newest event of each run
    points: MetricPoints


def codes(column: pa.ChunkedArray | pa.Array) -> tuple[Any, list[str]]:
    """Return integer codes and the distinct values of a string (or dictionary) column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    return arr.indices.to_numpy(zero_copy_only=False), arr.dictionary.to_pylist()


def kind_mask(table: pa.Table, kind: str) -> pa.ChunkedArray:
    """Return a boolean mask of the rows of one kind (compares dictionary codes, not text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column("kind")
    if not pa.types.is_dictionary(column.type):
        return pc.equal(column, kind)
    chunks = []
    for chunk in column.chunks:
        where = chunk.dictionary.index(kind).as_py()  # -1 when absent: matches no row
        chunks.append(pc.equal(chunk.indices, where))
    return pa.chunked_array(chunks, pa.bool_())


def metric_points(table: pa.Table) -> MetricPoints:
    """Return the metric events of a table as sorted numpy columns (no string copies).

    Codes number runs and keys in their text order, so a compacted file's rows (sorted by
    run and key, each series in logging order) come out sorted as they are: no sort, no copy
    but the one that keeps the metric rows. Other inputs take a stable sort by series, close
    to linear on near-sorted rows, and the full lexicographic sort by step, time and value
    only when a series is out of order.
    """
    import numpy as np

    kind, kinds = codes(table.column("kind"))
    run, runs = codes(table.column("run_id"))
    key, keys = codes(table.column("key"))
    metric = kinds.index(schema.KIND_METRIC) if schema.KIND_METRIC in kinds else -1
    is_metric = kind == metric
    take = _taker(is_metric)  # the metric rows of an array (None: every row is one)
    del kind
    code = np.int32 if len(runs) < 2**31 and len(keys) < 2**31 else np.int64
    # each row's run and key as codes in text order (small lookups, no division later)
    run_code = _text_rank(runs).astype(code)[run]
    key_code = _text_rank(keys).astype(code)[key]
    del run, key
    if take is not None:
        run_code, key_code = take(run_code), take(key_code)
    order = None  # rows of the table, in the order the points come out (None: as taken)
    if len(run_code) > 1 and not _ascending(run_code, key_code):
        by_series = np.lexsort((key_code, run_code))  # stable: logging order kept
        run_code, key_code = run_code[by_series], key_code[by_series]
        order = by_series if take is None else np.flatnonzero(is_metric)[by_series]
        del by_series
    del is_metric

    def column(name: str) -> Any:
        whole = _numpy(table.column(name), order)
        return take(whole) if take is not None and order is None else whole

    # one column at a time, so that only one extra copy is alive at once
    step = column("step")
    time = column("timestamp")
    value = column("value")
    del order
    if len(step) > 1 and not _in_point_order(run_code, key_code, step, time, value):
        order = np.lexsort((value, time, step, key_code, run_code))
        run_code, key_code, value, step, time = (
            a[order] for a in (run_code, key_code, value, step, time)
        )
    return MetricPoints(sorted(runs), sorted(keys), run_code, key_code, value, step, time)


MAX_STRETCHES = 256  # more stretches of selected rows than this: gathered, not sliced


def stretches(mask: Any) -> list[tuple[int, int]] | None:
    """Return the (start, stop) stretches of rows a boolean numpy mask selects, None when
    there are more than MAX_STRETCHES (then rows are better gathered than sliced). A compacted
    file's rows come sorted by run: a run's rows, or its metric rows between its other events,
    make a few long stretches."""
    import numpy as np

    if not len(mask):
        return []
    turns = np.flatnonzero(mask[1:] != mask[:-1]) + 1  # where a stretch starts or ends
    edges = np.concatenate([[0] if mask[0] else [], turns, [len(mask)] if mask[-1] else []])
    if len(edges) > 2 * MAX_STRETCHES:
        return None
    return list(zip(edges[::2].astype(int).tolist(), edges[1::2].astype(int).tolist(), strict=True))


def _taker(mask: Any) -> Callable[[Any], Any] | None:
    """Return a function returning the rows of an array that a mask selects (None when it
    selects every row): stretches sliced out and joined (a copy at memory speed), else the
    rows gathered one by one."""
    import numpy as np

    if mask.all():
        return None
    found = stretches(mask)
    if found is None:
        rows = np.flatnonzero(mask)
        return lambda a: a[rows]
    return lambda a: np.concatenate([a[s:e] for s, e in found]) if found else a[:0]


def _ascending(run: Any, key: Any) -> bool:
    """Whether rows come sorted by (run, key) codes."""
    later_run = run[1:] > run[:-1]
    return bool((later_run | ((run[1:] == run[:-1]) & (key[1:] >= key[:-1]))).all())


def _in_point_order(run: Any, key: Any, step: Any, time: Any, value: Any) -> bool:
    """Whether rows sorted by series come sorted by step, time and value within each: the
    usual case (a step after the one before) is checked on every row, the rest only on the
    rows where a series' step does not grow."""
    import numpy as np

    odd = np.flatnonzero((step[1:] <= step[:-1]) & (run[1:] == run[:-1]) & (key[1:] == key[:-1]))
    if not len(odd):
        return True
    a, b = odd, odd + 1
    return bool(
        (
            (step[b] == step[a])
            & ((time[b] > time[a]) | ((time[b] == time[a]) & ~(value[b] < value[a])))
        ).all()
    )


def _text_rank(names: list[str]) -> Any:
    """Return each name's position in text order (code -> rank), as a numpy array."""
    import numpy as np

    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return rank


def _numpy(column: pa.ChunkedArray, order: Any) -> Any:
    """Return a numeric column as one numpy array (nulls as NaN), taking rows `order` (all
    when None): chunks are converted without a copy where they can be, then gathered once."""
    import numpy as np

    parts = [chunk.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    if not parts:
        whole = column.to_numpy()
    elif len(parts) == 1:
        whole = parts[0]
    else:
        whole = np.concatenate(parts)
    return whole if order is None else whole[order]


def _latest(points: MetricPoints) -> pa.Table:
    """Return each (run_id, key)'s latest point: max step, then timestamp, then value."""
    import pyarrow as pa

    names = ["run_id", "key", "value", "step", "timestamp"]
    if not len(points):
        return pa.table(
            [
                pa.array([], pa.string()),
                pa.array([], pa.string()),
                pa.array([], pa.float64()),
                pa.array([], pa.int64()),
                pa.array([], pa.int64()),
            ],
            names=names,
        )
    ends = points.bounds()[1] - 1  # each series' last point: the latest (see MetricPoints)
    runs = pa.array(points.runs, pa.string()).take(pa.array(points.run[ends]))
    keys = pa.array(points.keys, pa.string()).take(pa.array(points.key[ends]))
    return pa.table(
        [
            runs,
            keys,
            pa.array(points.value[ends]),
            pa.array(points.step[ends]),
            pa.array(points.time[ends]),
        ],
        names=names,
    )


def strings(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """Select columns, with dictionary columns cast to plain strings."""
    import pyarrow as pa

    cols = []
    for name in names:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=list(names))


def _pick(table: pa.Table, which: str) -> pa.Table:
    """Keep the first or last text of each (run_id, key) in (part, position) order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    table = table.append_column("pos", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    ranked = "rank" in table.column_names  # within a part, rank first (see mlflow_names)
    keys = [
        ("part", "ascending"),
        *([("rank", "ascending")] if ranked else []),
        ("pos", "ascending"),
    ]
    table = table.take(pc.sort_indices(table, sort_keys=keys))
    if ranked:
        table = table.drop_columns(["rank"])
    options = pc.ScalarAggregateOptions(skip_nulls=False)
    grouped = table.group_by(["run_id", "key"], use_threads=False).aggregate(
        [("text", which, options)]
    )
    return grouped.rename_columns(["run_id", "key", "text"])


def mlflow_names(tags: pa.Table) -> pa.Table:
    """Read tags an older store wrote under `reporter.` names as MLflow's (`reporter.runName`
    is `mlflow.runName`). Of two names for one tag, the one in the later part wins; within
    one part MLflow's name does (a compacted file keeps the order of events of one key, not
    across keys), so the answer is the same before and after compaction."""
    import pyarrow as pa
    import pyarrow.compute as pc

    legacy = pa.array(list(system_tags.LEGACY_NAMES), pa.string())
    where = pc.index_in(tags.column("key"), value_set=legacy)
    if where.null_count == len(where):
        return tags
    names = pa.array(list(system_tags.LEGACY_NAMES.values()), pa.string()).take(where)
    tags = tags.set_column(
        tags.schema.get_field_index("key"), "key", pc.coalesce(names, tags.column("key"))
    )
    return tags.append_column("rank", pc.cast(pc.is_null(where), pa.int8()))


def reduce_table(table: pa.Table) -> Reduced:
    """Reduce an event table of any number of runs, with Arrow and numpy (no row loop)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    other = ["run_id", "key", "text", "part"]

    def subset(name: str) -> pa.Table:
        return strings(table.filter(kind_mask(table, name)), other)

    tags = _pick(mlflow_names(subset(schema.KIND_TAG)), "last")
    attrs = _pick(subset(schema.KIND_ATTR), "last")
    points = metric_points(table)
    # liveness counts only events the store stamped itself, not user-given metric times
    stamped = table.select(["run_id", "timestamp"]).filter(
        pc.invert(kind_mask(table, schema.KIND_METRIC))
    )
    run, runs = codes(stamped.column("run_id"))
    seen = (
        pa.table({"r": run, "t": stamped.column("timestamp")})
        .group_by("r")
        .aggregate([("t", "max")])
    )
    last_seen = pa.table(
        {
            "run_id": pa.array(runs, pa.string()).take(seen.column("r")),
            "timestamp": seen.column("t_max"),
        }
    )
    return Reduced(
        attrs=attrs.filter(pc.is_valid(attrs.column("text"))),
        params=_pick(subset(schema.KIND_PARAM), "first"),
        tags=tags.filter(pc.is_valid(tags.column("text"))),
        metrics=_latest(points),
        last_seen=last_seen,
        points=points,
    )


def pivot(table: pa.Table, value: str, runs: pa.Array) -> dict[str, pa.Array]:
    """Spread (run_id, key, value) rows into one Arrow column per key, aligned with `runs`.

    Each (run_id, key) appears at most once in `table`; absent cells are null.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, pa.Array] = {}
    if table.num_rows == 0:
        return out
    rows = pc.index_in(table.column("run_id"), value_set=runs).to_numpy(zero_copy_only=False)
    keys = pc.dictionary_encode(table.column("key")).combine_chunks()
    codes = keys.indices.to_numpy(zero_copy_only=False)
    col = table.column(value).combine_chunks()
    for code, key in enumerate(keys.dictionary.to_pylist()):
        where = np.flatnonzero(codes == code)
        positions = np.full(len(runs), -1, dtype=np.int64)
        positions[rows[where]] = where
        out[key] = col.take(pa.array(positions, mask=positions < 0))
    return out


def _nested(table: pa.Table, value: str) -> dict[str, dict[str, Any]]:
    """Turn (run_id, key, value) rows into {run_id: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    columns = (
        table.column("run_id").to_pylist(),
        table.column("key").to_pylist(),
        table.column(value).to_pylist(),
    )
    for run_id, key, val in zip(*columns):
        out.setdefault(run_id, {})[key] = val
    return out


def _latest_steps(table: pa.Table) -> dict[str, dict[str, tuple[int, int]]]:
    """Turn latest-point rows into {run_id: {key: (step, timestamp)}}."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    columns = (
        table.column("run_id").to_pylist(),
        table.column("key").to_pylist(),
        table.column("step").to_pylist(),
        table.column("timestamp").to_pylist(),
    )
    for run_id, key, step, stamp in zip(*columns):
        out.setdefault(run_id, {})[key] = (int(step), int(stamp))
    return out


def reduce_events(table: pa.Table) -> Snapshot:
    """Reduce an event table (any number of runs) to a Snapshot of Python dicts."""
    if table.num_rows == 0:
        return Snapshot()
    red = reduce_table(table)
    seen = red.last_seen
    return Snapshot(
        attrs=_nested(red.attrs, "text"),
        params=_nested(red.params, "text"),
        tags=_nested(red.tags, "text"),
        metrics=_nested(red.metrics, "value"),
        metric_steps=_latest_steps(red.metrics),
        last_seen=dict(
            zip(seen.column("run_id").to_pylist(), seen.column("timestamp").to_pylist())
        ),
        inputs=reduce_inputs(table),
        outputs=reduce_outputs(table),
    )


# inputs: the datasets (and models) a run used -----------------------------------------------
def input_key(item: DatasetInput | LoggedModelInput) -> str:
    """Return the event key of an input: what a run holds once (a dataset's name and digest)."""
    if isinstance(item, DatasetInput):
        return json.dumps(["dataset", item.dataset.name, item.dataset.digest], ensure_ascii=False)
    return json.dumps(["model", item.model_id])


def input_text(item: DatasetInput | LoggedModelInput) -> str:
    """Return the event text of an input: its JSON (docs/store-format.md, "Datasets")."""
    if isinstance(item, DatasetInput):
        return json.dumps(item.to_dictionary(), ensure_ascii=False)
    return json.dumps({"model_id": item.model_id})


def reduce_inputs(table: pa.Table) -> dict[str, list[str]]:
    """Return each run's input texts in logging order, the first event of each key.

    Order is (part, step, position): the writer numbers a process's input events in `step`,
    because a compacted file keeps the order of one key's events, not of a part's rows."""
    import pyarrow.compute as pc

    mask = kind_mask(table, schema.KIND_INPUT)
    if not pc.any(mask).as_py():
        return {}
    sub = strings(table.filter(mask), ["run_id", "key", "text", "part", "step"])
    columns = [sub.column(name).to_pylist() for name in sub.column_names]
    rows = zip(*columns, range(sub.num_rows))
    out: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for run_id, key, text, _part, _step, _pos in sorted(rows, key=lambda r: r[3:]):
        if text is None or (run_id, key) in seen:
            continue
        seen.add((run_id, key))
        out.setdefault(run_id, []).append(text)
    return out


def run_inputs(texts: Sequence[str], where: str) -> RunInputs:
    """Parse a run's input texts; one that does not parse is skipped with a warning."""
    datasets: list[DatasetInput] = []
    models: list[LoggedModelInput] = []
    for text in texts:
        try:
            data = json.loads(text)
            if "dataset" in data:
                item = DatasetInput.from_dict(data)  # tags by key, as MLflow's stores read them
                datasets.append(replace(item, tags=sorted(item.tags, key=lambda t: t.key)))
            else:
                models.append(LoggedModelInput(str(data["model_id"])))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            message = f"Skipped an unreadable input of {where}: {type(exc).__name__} {exc}"
            warnings.warn(StoreWarning(message), stacklevel=2)
    return RunInputs(datasets, models)


# outputs: the logged models a run produced ----------------------------------------------------
def output_row(output: LoggedModelOutput, timestamp: int) -> Row:
    """Return the event of a run's output: key the model id, text its JSON."""
    text = json.dumps({"model_id": output.model_id, "step": int(output.step)})
    return (schema.KIND_OUTPUT, output.model_id, None, text, int(output.step), timestamp)


def reduce_outputs(table: pa.Table) -> dict[str, list[LoggedModelOutput]]:
    """Return each run's outputs (the first event of each model), ordered by step, model id."""
    import pyarrow.compute as pc

    mask = kind_mask(table, schema.KIND_OUTPUT)
    if not pc.any(mask).as_py():
        return {}
    sub = strings(table.filter(mask), ["run_id", "key", "part"])
    steps = table.filter(mask).column("step").to_pylist()
    rows = zip(*(sub.column(n).to_pylist() for n in sub.column_names), steps, range(len(steps)))
    first: dict[tuple[str, str], int] = {}
    for run_id, key, _part, step, _pos in sorted(rows, key=lambda r: (r[2], r[4])):
        first.setdefault((run_id, key), int(step))
    out: dict[str, list[LoggedModelOutput]] = {}
    for (run_id, key), step in sorted(first.items(), key=lambda kv: (kv[1], kv[0][1])):
        out.setdefault(run_id, []).append(LoggedModelOutput(key, step))
    return out
