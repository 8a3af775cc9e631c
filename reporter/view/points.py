"""An experiment's published metric points, read a batch of runs at a time.

A build never holds every point of a store: the loader reads each experiment once in batches of
runs (for the runs frame and the facts below), and pages read the points of the runs they show
again, a batch at a time (`SeriesSource.read`). An experiment small enough for one batch is read
once and its points kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reporter.store.records import MetricPoints

T = TypeVar("T")
GROUP_BINS = 200  # x values of a grouped line: the exact values up to this many, else bins


@dataclass
class AxisFacts:
    """The x values one metric takes over every charted run, on one axis (step, or seconds
    since the run's start): its distinct values while there are few, and their range."""

    distinct: set[float] | None = field(default_factory=set)  # None once over GROUP_BINS
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, xs: Any) -> None:
        """Take in some finite x values (a numpy array)."""
        import numpy as np

        if not len(xs):
            return
        self.low = min(self.low, float(xs.min()))
        self.high = max(self.high, float(xs.max()))
        if self.distinct is not None:
            self.distinct.update(np.unique(xs).tolist())
            if len(self.distinct) > GROUP_BINS:
                self.distinct = None

    def columns(self) -> tuple[Any, int, Callable[[Any], Any]]:
        """Return (distinct x or None, columns, x -> column index) of the grouped lines: the
        distinct values when there are at most GROUP_BINS, else GROUP_BINS equal bins."""
        import numpy as np

        if self.distinct is not None:
            values = np.asarray(sorted(self.distinct), dtype=np.float64)
            return values, len(values), lambda x: np.searchsorted(values, x)
        low, high = self.low, self.high

        def binned(x: Any) -> Any:
            scaled = ((x - low) / (high - low) * GROUP_BINS).astype(np.int64)
            return np.minimum(scaled, GROUP_BINS - 1)

        return None, GROUP_BINS, binned


@dataclass
class KeyFacts:
    """What a metric looks like over an experiment's charted runs (archived runs left out)."""

    runs: int = 0  # runs that logged it
    single_valued: bool = True  # every run logged all its points at one step
    positive: bool = True  # every finite value is above 0
    step: AxisFacts = field(default_factory=AxisFacts)
    relative: AxisFacts = field(default_factory=AxisFacts)


@dataclass
class SeriesSource:
    """Where an experiment's published metric points are read from, and facts about them."""

    read_points: Callable[[list[str]], MetricPoints]  # a batch of run ids -> published points
    rows: dict[str, int]  # published run id -> its metric points
    batch_points: int  # points read at once
    facts: dict[str, KeyFacts] = field(default_factory=dict)  # key -> facts (charted runs)
    lengths: dict[str, list[int]] = field(default_factory=dict)  # run id -> its series' points
    first_time: dict[str, int] = field(default_factory=dict)  # key -> its earliest point (ms)
    cached: MetricPoints | None = None  # every published point, when one batch held them

    @classmethod
    def of(
        cls,
        points: MetricPoints,
        starts: dict[str, float] | None = None,
        charted: Collection[str] | None = None,
    ) -> SeriesSource:
        """Return a source of points already in memory (facts learnt from them)."""
        source = cls(lambda ids: points, {}, max(1, len(points)), cached=points)
        learn(source, points, starts or {}, set(points.runs) if charted is None else charted)
        return source

    @property
    def keys(self) -> list[str]:
        """Every metric key the published runs logged (archived runs' included), sorted."""
        return sorted(self.first_time)

    def read(self, run_ids: Collection[str]) -> MetricPoints:
        """Return every published point of these runs."""
        import numpy as np

        wanted = [r for r in run_ids if r in self.rows]
        if self.cached is not None:
            points = self.cached
            codes = [i for i, r in enumerate(points.runs) if r in set(wanted)]
            if len(codes) == len(points.runs):
                return points
            return points.where(np.isin(points.run, np.asarray(codes, dtype=points.run.dtype)))
        return self.read_points(wanted)

    def groups(self, run_ids: list[str]) -> list[list[str]]:
        """Split these runs, in order, into the batches `batches` reads."""
        groups: list[list[str]] = []
        batch: list[str] = []
        total = 0
        for run_id in run_ids:
            count = self.rows.get(run_id, 0)
            if batch and total + count > self.batch_points:
                groups.append(batch)
                batch, total = [], 0
            batch.append(run_id)
            total += count
        if batch:
            groups.append(batch)
        return groups

    def batches(self, run_ids: list[str]) -> Iterator[tuple[list[str], MetricPoints]]:
        """Yield (run ids, their points) for these runs in order, a batch at a time; the next
        batch is read (in a thread) while the caller works on this one."""
        return read_ahead((group, self.read(group)) for group in self.groups(run_ids))


_END = object()


def read_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """Yield what an iterator yields, making the next item in a thread while the caller works
    on this one: reading a batch of the store (Arrow and numpy, which leave the interpreter
    free) overlaps with making pages, on two cores. At most two items exist at once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="reporter-read-ahead") as pool:
        future = pool.submit(next, items, _END)
        while True:
            item = future.result()
            if item is _END:
                return
            future = pool.submit(next, items, _END)
            yield item  # type: ignore[misc]


def learn(
    source: SeriesSource,
    points: MetricPoints,
    starts: dict[str, float],
    charted: Collection[str],
) -> None:
    """Add a batch of published points to the source's facts: the rows of each run, each key's
    earliest time, and the facts of `charted` runs (`starts`: run id -> start ms, NaN if
    unknown). Whole-batch numpy: a Python step per series, none per point."""
    import numpy as np

    begin, end = points.bounds()
    if not len(begin):
        return
    runs = [points.runs[r] for r in points.run[begin].tolist()]
    keys = [points.keys[k] for k in points.key[begin].tolist()]
    lengths = (end - begin).tolist()
    firsts = np.minimum.reduceat(points.time, begin).tolist()
    for run_id, key, length, first in zip(runs, keys, lengths, firsts, strict=True):
        source.rows[run_id] = source.rows.get(run_id, 0) + length
        source.lengths.setdefault(run_id, []).append(length)
        if key not in source.first_time or first < source.first_time[key]:
            source.first_time[key] = int(first)
    shown = np.asarray([r in charted for r in runs], dtype=bool)
    if not shown.any():
        return
    value, step, time = points.value, points.step, points.time
    # each series' origin: its run's start, else its first point's time
    origin = np.asarray([starts.get(r, float("nan")) for r in runs], dtype=np.float64)
    origin = np.where(np.isnan(origin), time[begin].astype(np.float64), origin)
    finite = np.isfinite(value)
    whole = bool(finite.all())  # (most series: no copy below)

    def masked(xs: Any, fill: Any) -> Any:
        return xs if whole else np.where(finite, xs, fill)

    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    lowest = np.minimum.reduceat(masked(value, np.inf), begin)
    # ranges from integer steps and times: float(x) and (t - origin) / 1000 never decrease
    # as x and t grow, so the extremes of the converted values are the converted extremes
    first_step = np.minimum.reduceat(masked(step, big), begin)
    last_step = np.maximum.reduceat(masked(step, small), begin)
    first_time = np.minimum.reduceat(masked(time, big), begin)
    last_time = np.maximum.reduceat(masked(time, small), begin)
    counted = np.add.reduceat(finite, begin) > 0 if not whole else np.ones(len(begin), bool)
    timed = counted & np.isfinite(origin)  # an infinite start makes every second infinite
    ranges = {
        "step": (
            np.where(counted, first_step.astype(np.float64), np.inf),
            np.where(counted, last_step.astype(np.float64), -np.inf),
        ),
        "relative": (
            np.where(timed, (first_time - origin) / 1000.0, np.inf),
            np.where(timed, (last_time - origin) / 1000.0, -np.inf),
        ),
    }
    moving = (step[begin] != step[end - 1]).tolist()
    positive = (lowest > 0).tolist()
    gathered: dict[str, list[int]] = {}  # key -> its charted series
    for i in np.flatnonzero(shown).tolist():
        key = keys[i]
        facts = source.facts.setdefault(key, KeyFacts())
        facts.runs += 1
        if moving[i]:
            facts.single_valued = False
        if not positive[i]:
            facts.positive = False
        gathered.setdefault(key, []).append(i)
    for key, series in gathered.items():
        facts = source.facts[key]
        for name in ("step", "relative"):
            axis: AxisFacts = getattr(facts, name)
            low, high = ranges[name]
            axis.low = min(axis.low, float(low[series].min()))
            axis.high = max(axis.high, float(high[series].max()))
            if axis.distinct is not None:  # (while a key has few x values: a batch or two)
                axis.distinct.update(_x_values(points, begin, end, series, origin, name))
                if len(axis.distinct) > GROUP_BINS:
                    axis.distinct = None


def _x_values(
    points: MetricPoints, begin: Any, end: Any, series: list[int], origin: Any, axis: str
) -> list[float]:
    """Return the distinct x values on one axis of some series' points of finite value."""
    import numpy as np

    where = np.concatenate([np.arange(begin[i], end[i]) for i in series])
    values = points.value[where]
    if axis == "step":
        xs = points.step[where].astype(np.float64)
    else:
        lengths = np.asarray([end[i] - begin[i] for i in series])
        xs = (points.time[where] - np.repeat(origin[series], lengths)) / 1000.0
    return np.unique(xs[np.isfinite(values) & np.isfinite(xs)]).tolist()
