"""Event tables into metric points, and rows kept by run: the fast paths (rows already sorted,
wanted rows in stretches) give what the plain definitions give, whatever the input's order,
chunking, encoding and kinds."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.store.parquet import events, reader, schema

RUNS = ["r0", "r1", "r10", "r2", "zz"]
KEYS = ["acc", "loss", "loss/val", "m_10", "m_2"]
KINDS = [schema.KIND_METRIC, schema.KIND_METRIC, schema.KIND_METRIC, schema.KIND_PARAM, "tag"]

event = st.tuples(
    st.sampled_from(RUNS),
    st.sampled_from(KINDS),
    st.sampled_from(KEYS),
    st.one_of(st.floats(allow_nan=True, width=32), st.none()),
    st.integers(-3, 3),
    st.integers(0, 3),
)


def table_of(rows: list[tuple[Any, ...]], chunks: int, dictionary: bool) -> pa.Table:
    """An event table of these rows in `chunks` pieces, its text columns dictionary-encoded
    (each piece with its own dictionary, as row groups read) or plain."""
    pieces = []
    bounds = np.linspace(0, len(rows), chunks + 1).astype(int)
    for a, b in itertools.pairwise(bounds):
        part = rows[a:b]
        cols: dict[str, pa.Array] = {}
        for i, name in enumerate(["run_id", "kind", "key"]):
            values = pa.array([r[i] for r in part], pa.string())
            cols[name] = values.dictionary_encode() if dictionary else values
        cols["value"] = pa.array([r[3] for r in part], pa.float64())
        cols["step"] = pa.array([r[4] for r in part], pa.int64())
        cols["timestamp"] = pa.array([r[5] for r in part], pa.int64())
        pieces.append(pa.table(cols))
    whole = pa.concat_tables(pieces)
    return whole.unify_dictionaries() if dictionary else whole


def metric_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The metric rows as points (run, key, value, step, time); a null value reads as NaN."""
    return [
        (r, k, math.nan if v is None else v, s, t)
        for r, kind, k, v, s, t in rows
        if kind == schema.KIND_METRIC
    ]


def as_rows(points: events.MetricPoints) -> list[tuple[Any, ...]]:
    return [
        (points.runs[r], points.keys[k], float(v), int(s), int(t))
        for r, k, v, s, t in zip(
            points.run, points.key, points.value, points.step, points.time, strict=True
        )
    ]


def counted(points: list[tuple[Any, ...]]) -> list[str]:
    return sorted(map(repr, points))  # NaN's repr is equal to itself


@settings(max_examples=300, deadline=None)
@given(
    st.lists(event, max_size=60),
    st.integers(1, 4),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0, 2, events.MAX_STRETCHES]),
)
def test_metric_points_are_the_metric_rows_sorted_by_series(
    rows: list[tuple[Any, ...]], chunks: int, dictionary: bool, presorted: bool, stretches: int
) -> None:
    if presorted:  # a compacted file's order: by run and key, each series in logging order
        rows = sorted(rows, key=lambda r: (r[0], r[2]))
    before = events.MAX_STRETCHES  # (few allowed: the metric rows gathered, not sliced)
    events.MAX_STRETCHES = stretches
    try:
        points = events.metric_points(table_of(rows, chunks, dictionary))
    finally:
        events.MAX_STRETCHES = before
    got = as_rows(points)
    assert counted(got) == counted(metric_rows(rows))  # every metric row, nothing else
    # series by run, then key, in text order; each series by step, then time, then value
    assert [p[:2] for p in got] == sorted(p[:2] for p in got)
    for a, b in itertools.pairwise(got):
        if a[:2] == b[:2]:
            assert (a[3], a[4]) <= (b[3], b[4])
            if (a[3], a[4]) == (b[3], b[4]) and not (math.isnan(a[2]) or math.isnan(b[2])):
                assert a[2] <= b[2]
    # each (run, key) is one slice, and the slices cover every point
    spans = points.slices()
    assert sum(b - a for a, b in spans.values()) == len(points)
    assert list(spans) == sorted(spans)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(RUNS), max_size=80),
    st.sets(st.sampled_from(RUNS)),
    st.integers(1, 4),
    st.booleans(),
    st.booleans(),
)
def test_rows_in_keeps_the_rows_of_the_wanted_runs_in_order(
    runs: list[str], wanted: set[str], chunks: int, dictionary: bool, presorted: bool
) -> None:
    if presorted:
        runs = sorted(runs)
    rows = [(r, schema.KIND_METRIC, "k", float(i), i, i) for i, r in enumerate(runs)]
    table = table_of(rows, chunks, dictionary) if rows else table_of([rows_stub()], 1, dictionary)
    kept = reader.rows_in(table, "run_id", wanted)
    expected = table.filter(
        pc.is_in(table.column("run_id").cast(pa.string()), pa.array(sorted(wanted), pa.string()))
    )
    assert kept.column("step").to_pylist() == expected.column("step").to_pylist()
    assert kept.column("run_id").cast(pa.string()).to_pylist() == [
        r for r in table.column("run_id").cast(pa.string()).to_pylist() if r in wanted
    ]


def rows_stub() -> tuple[Any, ...]:
    return ("r0", schema.KIND_METRIC, "k", 0.0, 0, 0)


def test_rows_in_takes_many_stretches_by_filtering() -> None:
    """Wanted rows scattered in more stretches than are worth slicing: filtered, same rows."""
    runs = [RUNS[i % 2] for i in range(4 * reader.MAX_STRETCHES)]
    rows = [(r, schema.KIND_METRIC, "k", float(i), i, i) for i, r in enumerate(runs)]
    kept = reader.rows_in(table_of(rows, 2, True), "run_id", {"r0"})
    assert kept.column("step").to_pylist() == list(range(0, len(runs), 2))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.integers(-3, 6), st.none()), min_size=1, max_size=30),
    st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True),
)
def test_validation_refuses_what_arrow_full_validation_refuses(
    indices: list[int | None], dictionary: list[str]
) -> None:
    """A damaged page can decode into dictionary indices out of range: the one-pass check
    refuses exactly the tables Arrow's full validation refuses."""
    column = pa.DictionaryArray.from_arrays(
        pa.array(indices, pa.int32()), pa.array(dictionary), safe=False
    )
    table = pa.table({"run_id": column, "step": pa.array(range(len(indices)), pa.int64())})
    try:
        table.validate(full=True)
        arrow_ok = True
    except pa.ArrowInvalid:
        arrow_ok = False
    try:
        events.validate(table)
        ours_ok = True
    except pa.ArrowInvalid:
        ours_ok = False
    assert ours_ok == arrow_ok
