"""Metric series: points indexed by run and key, chart plans and full-series downloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reporter.site import charts
from reporter.site.contract import ChartBlock, Crumb, MetricIndex, OutFile
from reporter.site.paths import csv_path
from reporter.store.records import MetricPoints
from reporter.view import text
from reporter.view.points import GROUP_BINS as GROUP_BINS
from reporter.view.points import AxisFacts, SeriesSource

if TYPE_CHECKING:
    import pandas as pd


def index_metrics(points: MetricPoints) -> MetricIndex:
    """Index sorted metric points (of some runs) by series."""
    return MetricIndex(points.slices(), points.value, points.step, points.time)


def single_valued(metrics: MetricIndex, spans: list[tuple[int, int]]) -> bool:
    """Return True when every series logged all its points at one step (a final `rmse`, `r2`):
    a value per run, drawn as ranked bars, never as a line of one dot."""
    step = metrics.step
    return bool(spans) and all(step[a] == step[b - 1] for a, b in spans)


def all_positive(metrics: MetricIndex, spans: list[tuple[int, int]]) -> bool:
    """Return True when every finite value of the series is above 0 (a log scale can show
    them); NaN and infinities are never drawn and do not count."""
    import numpy as np

    for a, b in spans:
        values = metrics.value[a:b]
        finite = values[np.isfinite(values)]
        if len(finite) and finite.min() <= 0:
            return False
    return True


def make_chart(
    chart_id: str,
    key: str,
    runs: list[tuple[str, str, int | None]],
    metrics: MetricIndex,
    max_points: int,
    lower_is_better: bool | None = None,
    offer_csv: bool = True,
) -> tuple[ChartBlock | None, list[OutFile]]:
    """Plan one chart of a metric over some runs: (run_id, run name, start ms) each.

    A metric every run logged at one step is a `bars` chart (its last value per run, ranked by
    the metric's direction: `lower_is_better`, else guessed from its name); others are `line`
    charts. Returns the chart (None if no run
    logged the metric) and the full-series CSV files its download links point to (one per
    series the chart shows thinned; none when `offer_csv` is False)."""
    found = [(r, n, s, metrics.slices[(r, key)]) for r, n, s in runs if (r, key) in metrics.slices]
    if not found:
        return None, []
    spans = [where for *_, where in found]
    kind = "bars" if single_valued(metrics, spans) else "line"
    series = []
    shown = total = 0
    downloads = []
    files = []
    for run_id, name, start, (a, b) in found:
        kept = b - a
        if kind == "line" and b - a > max_points:
            kept = len(metrics.kept(a, b, max_points))
        series.append((name, run_id, start, a, b))
        shown += kept
        total += b - a
        if kept < b - a and offer_csv:
            path = csv_path(run_id, key)
            files.append(OutFile(path, series_csv(metrics, a, b)))
            downloads.append(Crumb(f"{name}: full series (CSV)", path))
    note = f"{shown:,} of {total:,} points" if shown < total else ""
    lower = text.lower_is_better(key) if lower_is_better is None else lower_is_better
    block = ChartBlock(
        chart_id,
        key,
        note,
        downloads,
        series,
        metrics,
        max_points,
        kind=kind,
        lower_is_better=lower,
        log_ok=all_positive(metrics, spans),
    )
    return block, files


def series_csv(metrics: MetricIndex, a: int, b: int) -> bytes:
    """Return a full series as CSV bytes (step, value, timestamp), each value written so that
    it reads back exactly (NaN and infinities as nan, inf, -inf)."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pa.table(
        {
            "step": pa.array(metrics.step[a:b], pa.int64()),
            "value": pa.array(metrics.value[a:b], pa.float64()),
            "timestamp": pa.array(metrics.time[a:b], pa.int64()),
        }
    )
    out = io.BytesIO()
    out.write(b"step,value,timestamp\n")
    pcsv.write_csv(table, out, pcsv.WriteOptions(include_header=False))
    return out.getvalue()


def int_or_none(value: Any) -> int | None:
    """Return an int, or None for missing/NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else int(number)


# --- runs grouped by a param or tag: aggregates over every run, made at build time --------
# Grouping draws every run of an experiment, not only the charted ones. The page never holds
# every run's series: the build writes, per groupable param or tag, one small script of each
# group's mean, min and max per metric (experiments/<slug>/groups/<n>.js), and the page loads
# it with a <script> tag (file:// allows no fetch) only when the reader picks that grouping.
MAX_GROUPS = 10  # a param of more values keeps its largest groups and one "other" group
NO_VALUE = "(none)"


def group_runs(values: list[Any]) -> tuple[list[str], list[int]]:
    """Split runs by their values of a param or tag: return the group names (values in
    natural order, then one "other (N values)" group for the smaller groups of a param of
    many values, then "(none)" for runs without it) and each run's group index."""
    from collections import Counter

    labels = [v if isinstance(v, str) else NO_VALUE for v in values]
    counts = Counter(label for label in labels if label != NO_VALUE)
    kept = list(counts)
    if len(counts) > MAX_GROUPS:
        kept = sorted(counts, key=lambda n: (-counts[n], n))[: MAX_GROUPS - 1]
    kept.sort(key=_natural)
    names = list(kept)
    rest = len(counts) - len(kept)
    other = f"other ({rest} values)" if rest else ""
    if other:
        names.append(other)
    if NO_VALUE in labels:
        names.append(NO_VALUE)
    index = {name: i for i, name in enumerate(names)}
    return names, [index[label] if label in index else index[other] for label in labels]


def _natural(value: str) -> tuple[int, float, str]:
    """Sort key: numbers by value, before text in case-insensitive order."""
    import math

    try:
        number = float(value)
    except ValueError:
        return (1, 0.0, value.lower())
    return (0, number, "") if math.isfinite(number) else (1, 0.0, value.lower())


def _stats(rows: Any) -> tuple[Any, Any, Any, Any]:
    """Return the mean, min, max and count of the non-NaN values of each column."""
    import numpy as np

    if not len(rows):
        nothing = np.full(rows.shape[1], np.nan)
        return nothing, nothing, nothing, np.zeros(rows.shape[1])
    present = ~np.isnan(rows)
    count = present.sum(axis=0)
    total = np.where(present, rows, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.full(len(count), np.nan), where=count > 0)
    return mean, np.fmin.reduce(rows, axis=0), np.fmax.reduce(rows, axis=0), count


def _number(value: float) -> float | None:
    """Return a JSON number, None for NaN and infinities."""
    import math

    return float(value) if math.isfinite(value) else None


class _Lines:
    """The grouped lines of one metric on one x axis, gathered a run at a time: for each
    grouping and group, the sum, count, min and max of the runs' mean values per column.
    The groups of every grouping are rows of one matrix, so adding a run is four operations
    whatever the number of groupings."""

    def __init__(self, axis: AxisFacts, splits: list[tuple[list[str], Any]]) -> None:
        import numpy as np

        self.distinct, self.width, self.column = axis.columns()
        self.x_sum = np.zeros(self.width)
        self.x_count = np.zeros(self.width, dtype=np.int64)
        sizes = [len(names) for names, _ in splits]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        rows = int(self.offsets[-1])
        self.total = np.zeros((rows, self.width))
        self.count = np.zeros((rows, self.width))
        self.low = np.full((rows, self.width), np.nan)
        self.high = np.full((rows, self.width), np.nan)
        # each run's row in every grouping: (runs, groupings)
        self.rows_of = (
            np.stack([of_run for _, of_run in splits], axis=1) + self.offsets[:-1]
            if splits
            else np.zeros((0, 0), dtype=np.int64)
        )

    def add(self, runs: Any, run_of_point: Any, x: Any, value: Any) -> None:
        """Take in some runs' points: `runs` their indices among the charted runs,
        `run_of_point` each point's position in `runs`. Sums gather in the runs' order, so
        they are the same however the runs come in batches."""
        self.take(runs, self.measure(runs, run_of_point, x, value))

    def measure(self, runs: Any, run_of_point: Any, x: Any, value: Any) -> Any:
        """Return what `take` adds for these runs' points: each run's x sums and mean value
        per column (None when no point is finite). Made where the points were read."""
        import numpy as np

        ok = np.isfinite(x) & np.isfinite(value)
        if not ok.all():  # (most series are finite throughout: no copy then)
            x, value, run_of_point = x[ok], value[ok], run_of_point[ok]
        count, width = len(runs), self.width
        if not len(x):
            return None
        cell = run_of_point * width + self.column(x)
        x_sums = np.bincount(cell, weights=x, minlength=count * width).reshape(count, width)
        points = np.bincount(cell, minlength=count * width).reshape(count, width)
        sums = np.bincount(cell, weights=value, minlength=count * width).reshape(count, width)
        present = points > 0
        mean = np.divide(sums, points, out=np.full((count, width), np.nan), where=present)
        return x_sums, points.sum(axis=0), mean, present

    def take(self, runs: Any, measured: Any) -> None:
        """Add what `measure` returned for these runs (in the runs' order, batch after
        batch: the sums are then the same bits however the batches were measured)."""
        import numpy as np

        if measured is None:
            return
        x_sums, x_count, mean, present = measured
        # arrays that came through a pipe carry dtypes equal to numpy's own but not them,
        # which takes ufunc.at off its fast path (20x slower fmin.at): numpy's own, no copy
        mean = np.asarray(mean, dtype=np.float64)
        width = self.width
        for row in x_sums:
            self.x_sum += row
        self.x_count += x_count
        rows = self.rows_of[runs]  # (runs, groupings): a run's row in each grouping
        groupings = rows.shape[1]
        # one flat cell per (run, grouping, column), run by run, so that each cell's sum
        # gathers in the runs' order (ufunc.at on a 1-D index takes numpy's fast path)
        cells = (rows[:, :, None] * width + np.arange(width)).ravel()

        def spread(values: Any) -> Any:  # each run's columns once per grouping
            return np.repeat(values, groupings, axis=0).ravel()

        np.add.at(self.total.reshape(-1), cells, spread(np.where(present, mean, 0.0)))
        np.add.at(self.count.reshape(-1), cells, spread(present.astype(np.float64)))
        np.fmin.at(self.low.reshape(-1), cells, spread(mean))
        np.fmax.at(self.high.reshape(-1), cells, spread(mean))

    def entries(self) -> list[dict[str, Any]]:
        """Return, per grouping, the x values and each group's columns (used columns only)."""
        import numpy as np

        used = self.x_count > 0
        xs = self.x_sum[used] / self.x_count[used]
        out = []
        for start, stop in zip(self.offsets[:-1], self.offsets[1:], strict=True):
            columns = []
            for row in range(int(start), int(stop)):
                n = self.count[row][used]
                total = self.total[row][used]
                mean = np.divide(total, n, out=np.full(len(n), np.nan), where=n > 0)
                columns.append(
                    {
                        "mean": charts.encode(mean),
                        "lo": charts.encode(self.low[row][used]),
                        "hi": charts.encode(self.high[row][used]),
                        "n": charts.encode(n),
                    }
                )
            out.append({"x": charts.encode(xs), "groups": columns})
        return out


GATHER_BYTES = 256 * 1024 * 1024  # grouped-line sums held at once; more: a pass per share


class GroupGatherer:
    """Gathers an experiment's grouped lines a batch of runs at a time (`add`), for the group
    scripts (`scripts`): fed by the pass that makes the run pages, so that grouping reads no
    point again. `frame` holds the charted runs; `keys` the metrics to gather."""

    def __init__(
        self,
        frame: pd.DataFrame,
        choices: list[tuple[str, str]],
        source: SeriesSource,
        keys: list[str],
    ) -> None:
        import numpy as np

        self.choices = choices
        self.run_ids = [str(r) for r in frame["run_id"]]
        self.splits = []  # (group names, each run's group) per choice
        for kind, key in choices:
            column = frame[f"{kind}.{key}"] if f"{kind}.{key}" in frame.columns else None
            names, of_run = group_runs(list(column) if column is not None else [None] * len(frame))
            self.splits.append((names, np.asarray(of_run, dtype=np.int64)))
        self.starts = np.asarray([_start_ms(v) for v in frame["start_time"]], dtype=np.float64)
        self.position = {r: i for i, r in enumerate(self.run_ids)}
        self.facts = {
            k: source.facts[k] for k in keys if k in source.facts and source.facts[k].runs
        }
        runs = len(self.run_ids)
        self.logged = {k: np.zeros(runs, dtype=bool) for k in self.facts}
        self.last = {k: np.full(runs, np.nan) for k, f in self.facts.items() if f.single_valued}
        self.lines = {
            k: {"step": _Lines(f.step, self.splits), "relative": _Lines(f.relative, self.splits)}
            for k, f in self.facts.items()
            if not f.single_valued
        }

    @staticmethod
    def cost(choices: list[tuple[str, str]], groups: int, keys: int) -> int:
        """Bytes the sums of `keys` metrics take for these choices (at most `groups` each)."""
        from reporter.view.points import GROUP_BINS

        return keys * 2 * len(choices) * groups * GROUP_BINS * 4 * 8

    def add(self, index: MetricIndex, batch: list[str]) -> None:
        """Take in a batch of runs' points (runs not charted are left out)."""
        self.take(self.measure(index, batch))

    def measure(self, index: MetricIndex, batch: list[str]) -> dict[str, Any]:
        """Return a batch's share of the grouped lines, for `take`: made where the batch's
        points were read (a page worker's share is a few MB, not its points)."""
        import numpy as np

        out: dict[str, Any] = {}
        for key in self.facts:
            spans = [
                (self.position[r], index.slices[(r, key)])
                for r in batch
                if r in self.position and (r, key) in index.slices
            ]
            if not spans:
                continue
            runs = np.asarray([i for i, _ in spans], dtype=np.int64)
            if key in self.last:
                out[key] = (runs, index.value[[b - 1 for _, (_, b) in spans]])
                continue
            lengths = [b - a for _, (a, b) in spans]
            where = np.concatenate([np.arange(a, b) for _, (a, b) in spans])
            run_of_point = np.repeat(np.arange(len(spans)), lengths)
            times = index.time[where]
            starts = self.starts[runs]
            firsts = index.time[[a for _, (a, _) in spans]].astype(np.float64)
            origin = np.where(np.isnan(starts), firsts, starts)[run_of_point]
            value = index.value[where]
            lines = self.lines[key]
            step = lines["step"].measure(
                runs, run_of_point, index.step[where].astype(np.float64), value
            )
            relative = lines["relative"].measure(
                runs, run_of_point, (times - origin) / 1000.0, value
            )
            out[key] = (runs, step, relative)
        return out

    def take(self, measured: dict[str, Any]) -> None:
        """Add a batch's share (`measure`); batches must come in the runs' order."""
        for key, share in measured.items():
            runs = share[0]
            self.logged[key][runs] = True
            if key in self.last:
                self.last[key][runs] = share[1]
                continue
            self.lines[key]["step"].take(runs, share[1])
            self.lines[key]["relative"].take(runs, share[2])

    def payloads(self, keys: list[str], lower_is_better: Callable[[str], bool]) -> list[Any]:
        """Return each choice's payload for these metrics (of those gathered)."""
        payloads: list[dict[str, Any]] = [
            {
                "choice": f"{kind}:{key}",
                "runs": len(self.run_ids),
                "groups": [
                    {"name": n, "runs": int((of_run == g).sum())} for g, n in enumerate(names)
                ],
                "metrics": {},
            }
            for (kind, key), (names, of_run) in zip(self.choices, self.splits, strict=True)
        ]
        for key in (k for k in keys if k in self.facts):
            fact = self.facts[key]
            head = {"lower_is_better": lower_is_better(key), "log_ok": fact.positive}
            if key in self.last:
                entries = [
                    _bars_entry(self.last[key], len(names), of_run) for names, of_run in self.splits
                ]
            else:
                axes = {axis: gathered.entries() for axis, gathered in self.lines[key].items()}
                logged = self.logged[key]
                entries = [
                    {
                        "kind": "line",
                        "runs": [int((logged & (of_run == g)).sum()) for g in range(len(names))],
                        "step": axes["step"][s],
                        "relative": axes["relative"][s],
                    }
                    for s, (names, of_run) in enumerate(self.splits)
                ]
            for payload, entry in zip(payloads, entries, strict=True):
                payload["metrics"][key] = {**head, **entry}
        return payloads


def group_scripts(
    base: str,
    frame: pd.DataFrame,
    choices: list[tuple[str, str]],
    source: SeriesSource,
    keys: list[str],
    lower_is_better: Callable[[str], bool],
    gathered: GroupGatherer | None = None,
) -> list[OutFile]:
    """Return the group scripts of an experiment (`<base>/groups/<n>.js`, one per choice of
    `choices`, in order): for each metric of `keys`, each group's mean, min, max and run
    count per x value (step, and seconds since each run's start), or, for a metric logged
    once per run, per group. `frame` holds the charted runs. What `gathered` holds is used
    as it is; other metrics are read again a batch at a time, as many at once as
    GATHER_BYTES of sums allow."""
    payloads: list[dict[str, Any]] | None = None
    if gathered is not None:
        payloads = gathered.payloads(keys, lower_is_better)
    todo = [k for k in keys if gathered is None or k not in gathered.facts]
    todo = [k for k in todo if k in source.facts and source.facts[k].runs]
    groups = max([len(names) for names, _ in gathered.splits] if gathered else [MAX_GROUPS + 2])
    share = max(1, GATHER_BYTES // max(1, GroupGatherer.cost(choices, groups, 1)))
    for first in range(0, len(todo), share) if todo else [0]:
        chunk = todo[first : first + share]
        gatherer = GroupGatherer(frame, choices, source, chunk)
        for batch, points in source.batches(gatherer.run_ids) if chunk else ():
            gatherer.add(index_metrics(points), batch)
        more = gatherer.payloads(chunk, lower_is_better)
        if payloads is None:
            payloads = more
        else:
            for payload, extra in zip(payloads, more, strict=True):
                payload["metrics"].update(extra["metrics"])
    assert payloads is not None
    for payload in payloads:  # the order of `keys`, whichever pass gathered a metric
        payload["metrics"] = {k: payload["metrics"][k] for k in keys if k in payload["metrics"]}
    return [_group_script(f"{base}/groups/{i}.js", p) for i, p in enumerate(payloads)]


def _bars_entry(last: Any, groups: int, of_run: Any) -> dict[str, Any]:
    """Return a metric logged once per run as one grouping shows it: each group's mean, min,
    max and run count (None where a group has no value)."""
    stats = [_stats(last[of_run == g][:, None]) for g in range(groups)]
    return {
        "kind": "bars",
        "runs": [int(count[0]) for *_, count in stats],
        "mean": [_number(mean[0]) for mean, *_ in stats],
        "lo": [_number(lo[0]) for _, lo, _, _ in stats],
        "hi": [_number(hi[0]) for _, _, hi, _ in stats],
    }


def _group_script(path: str, payload: dict[str, Any]) -> OutFile:
    """Return the script that files one grouping under window.TRACKER_GROUPS[choice]."""
    from reporter.site.compare import js_json

    choice = js_json(payload["choice"])
    script = (
        f"(window.TRACKER_GROUPS = window.TRACKER_GROUPS || {{}})[{choice}] = {js_json(payload)};\n"
    )
    return OutFile(path, script.encode())


def _start_ms(value: Any) -> float:
    """Return a run's start time in ms, NaN when missing."""
    start = int_or_none(value)
    return float("nan") if start is None else float(start)
