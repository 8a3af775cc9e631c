"""The facts a build learns of an experiment's metric points (`reporter.view.points.learn`),
batch after batch, against a plain per-series oracle written from their definitions: rows and
series lengths of each run, each key's earliest time, and for charted runs each key's run
count, whether every series sits at one step, whether every finite value is above 0, and
the x values of both axes (step, and seconds since the run's start): their range, and their
distinct values while there are at most GROUP_BINS."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.store.records import MetricPoints
from reporter.view.points import GROUP_BINS, KeyFacts, SeriesSource, learn

RUNS = ["r0", "r1", "r2", "r3"]
KEYS = ["acc", "loss", "m"]
VALUES = st.one_of(
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e-300]),
)
# a series: its points' (value, step, time); a few of many steps push the distinct count over
point = st.tuples(VALUES, st.integers(-3, 400), st.integers(0, 10_000))
series = st.tuples(st.sampled_from(RUNS), st.sampled_from(KEYS), st.lists(point, min_size=1))


def points_of(chosen: list[tuple[str, str, list[tuple[float, int, int]]]]) -> MetricPoints:
    """Sorted points of these series (one per (run, key): the first of a pair is kept)."""
    kept: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for run, key, rows in chosen:
        kept.setdefault((run, key), rows)
    runs, keys = sorted({r for r, _ in kept}), sorted({k for _, k in kept})
    columns: list[list[Any]] = [[], [], [], [], []]
    for (run, key), rows in sorted(kept.items()):
        for value, step, time in sorted(rows, key=lambda p: (p[1], p[2])):
            for column, item in zip(
                columns, (runs.index(run), keys.index(key), value, step, time), strict=True
            ):
                column.append(item)
    types = (np.int32, np.int32, np.float64, np.int64, np.int64)
    arrays = [np.asarray(c, dtype=t) for c, t in zip(columns, types, strict=True)]
    return MetricPoints(runs, keys, *arrays)


def oracle(batches: list[MetricPoints], starts: dict[str, float], charted: set[str]) -> Any:
    """The facts, series by series, from their definitions."""
    rows: dict[str, int] = {}
    lengths: dict[str, list[int]] = {}
    first: dict[str, int] = {}
    facts: dict[str, dict[str, Any]] = {}
    for points in batches:
        for (run, key), (a, b) in points.slices().items():
            rows[run] = rows.get(run, 0) + b - a
            lengths.setdefault(run, []).append(b - a)
            first[key] = min(first.get(key, 2**62), int(points.time[a:b].min()))
            if run not in charted:
                continue
            f = facts.setdefault(key, {"runs": 0, "single": True, "positive": True})
            f["runs"] += 1
            steps, values, times = points.step[a:b], points.value[a:b], points.time[a:b]
            f["single"] &= bool(steps[0] == steps[-1])
            f["positive"] &= all(v > 0 for v in values if math.isfinite(v))
            start = starts.get(run, math.nan)
            origin = float(times[0]) if math.isnan(start) else start
            for name, xs in (
                (
                    "step",
                    [float(s) for s, v in zip(steps, values, strict=True) if math.isfinite(v)],
                ),
                (
                    "relative",
                    [
                        (t - origin) / 1000.0
                        for t, v in zip(times, values, strict=True)
                        if math.isfinite(v) and math.isfinite((t - origin) / 1000.0)
                    ],
                ),
            ):
                f.setdefault(name, []).extend(xs)
    out = {}
    for key, f in facts.items():
        axes = {}
        for name in ("step", "relative"):
            xs = f.get(name, [])
            distinct = set(xs)
            axes[name] = (
                min(xs, default=math.inf),
                max(xs, default=-math.inf),
                distinct if len(distinct) <= GROUP_BINS else None,
            )
        out[key] = (f["runs"], f["single"], f["positive"], axes)
    return rows, lengths, first, out


def learnt(facts: KeyFacts) -> tuple[Any, ...]:
    axes = {
        name: (axis.low, axis.high, axis.distinct)
        for name, axis in (("step", facts.step), ("relative", facts.relative))
    }
    return (facts.runs, facts.single_valued, facts.positive, axes)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(series, max_size=5), min_size=1, max_size=3),
    st.sets(st.sampled_from(RUNS)),
    st.dictionaries(
        st.sampled_from(RUNS),
        st.one_of(st.sampled_from([math.nan, math.inf, -math.inf]), st.integers(0, 9_000)),
    ),
)
def test_learnt_facts_are_the_per_series_definitions(batches_of, charted, starts) -> None:
    batches = [points_of(chosen) for chosen in batches_of if chosen]
    starts = {r: float(s) for r, s in starts.items()}
    source = SeriesSource(lambda ids: batches[0], {}, 1)
    for points in batches:
        learn(source, points, starts, charted)
    rows, lengths, first, facts = oracle(batches, starts, charted)
    assert source.rows == rows and source.lengths == lengths and source.first_time == first
    assert list(source.facts) == list(facts)  # first charted appearance order
    assert {k: learnt(f) for k, f in source.facts.items()} == facts


def test_many_steps_leave_the_distinct_values_for_bins() -> None:
    steps = np.arange(GROUP_BINS + 1, dtype=np.int64)
    one = lambda: np.zeros(len(steps), dtype=np.int32)  # noqa: E731
    points = MetricPoints(
        ["r"], ["loss"], one(), one(), np.ones(len(steps)), steps, steps * 1000 + 5
    )
    source = SeriesSource(lambda ids: points, {}, 1)
    learn(source, points, {"r": 5.0}, {"r"})
    axis = source.facts["loss"].step
    assert axis.distinct is None and (axis.low, axis.high) == (0.0, float(GROUP_BINS))
    relative = source.facts["loss"].relative
    assert relative.distinct is None and relative.high == float(GROUP_BINS)
