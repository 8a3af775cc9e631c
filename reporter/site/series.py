"""Metric series: points indexed by run and key, chart plans and full-series downloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reporter.site import charts
from reporter.site.contract import ChartBlock, Crumb, MetricIndex, OutFile
from reporter.site.paths import csv_path
from reporter.view import text
from reporter.view.loader import ExperimentData

if TYPE_CHECKING:
    import pandas as pd


def index_metrics(data: ExperimentData) -> MetricIndex:
    """Index the experiment's sorted metric points by series."""
    points = data.metrics
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
) -> tuple[ChartBlock | None, list[OutFile]]:
    """Plan one chart of a metric over some runs: (run_id, run name, start ms) each.

    A metric every run logged at one step is a `bars` chart (its last value per run, ranked by
    the metric's direction: `lower_is_better`, else guessed from its name); others are `line`
    charts. Returns the chart (None if no run
    logged the metric) and the full-series CSV files its download links point to (one per
    series the chart shows thinned)."""
    from reporter.site.downsample import minmax_indices

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
            kept = len(minmax_indices(metrics.value[a:b], max_points))
        series.append((name, run_id, start, a, b))
        shown += kept
        total += b - a
        if kept < b - a:
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
    """Return a full series as CSV bytes (step, value, timestamp)."""
    lines = ["step,value,timestamp"]
    lines += [
        f"{int(s)},{float(v)!r},{int(t)}"
        for s, v, t in zip(metrics.step[a:b], metrics.value[a:b], metrics.time[a:b], strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


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
GROUP_BINS = 200  # x values of a group's line: the exact steps up to this many, else bins
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


def _by_run_and_x(run_of_point: Any, x: Any, value: Any, runs: int) -> tuple[Any, Any]:
    """Return the x of each column and a (runs, columns) matrix of each run's mean value
    there (NaN where it logged none). Columns are the distinct x values, or GROUP_BINS
    equal bins of x (x being each bin's mean) when there are more."""
    import numpy as np

    ok = np.isfinite(x) & np.isfinite(value)
    run_of_point, x, value = run_of_point[ok], x[ok], value[ok]
    if not len(x):
        return np.empty(0), np.empty((runs, 0))
    distinct = np.unique(x)
    if len(distinct) <= GROUP_BINS:
        column, width = np.searchsorted(distinct, x), len(distinct)
    else:
        low, high = distinct[0], distinct[-1]
        scaled = ((x - low) / (high - low) * GROUP_BINS).astype(np.int64)
        column, width = np.minimum(scaled, GROUP_BINS - 1), GROUP_BINS
    points = np.bincount(column, minlength=width)
    used = points > 0
    xs = np.bincount(column, weights=x, minlength=width)[used] / points[used]
    cell = run_of_point * width + column
    sums = np.bincount(cell, weights=value, minlength=runs * width)
    counts = np.bincount(cell, minlength=runs * width)
    means = np.divide(sums, counts, out=np.full(runs * width, np.nan), where=counts > 0)
    return xs, means.reshape(runs, width)[:, used]


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


def _metric_points(
    metrics: MetricIndex, run_ids: list[str], key: str
) -> tuple[Any, Any, list[tuple[int, tuple[int, int]]]]:
    """Return the point indices of a metric over the runs, each point's run index, and the
    spans [(run index, (a, b))]."""
    import numpy as np

    spans = [
        (i, metrics.slices[(r, key)]) for i, r in enumerate(run_ids) if (r, key) in metrics.slices
    ]
    if not spans:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), []
    index = np.concatenate([np.arange(a, b) for _, (a, b) in spans])
    run_of_point = np.repeat([i for i, _ in spans], [b - a for _, (a, b) in spans])
    return index, run_of_point, spans


def group_scripts(
    base: str,
    frame: pd.DataFrame,
    choices: list[tuple[str, str]],
    metrics: MetricIndex,
    keys: list[str],
    lower_is_better: Callable[[str], bool],
) -> list[OutFile]:
    """Return the group scripts of an experiment (`<base>/groups/<n>.js`, one per choice of
    `choices`, in order): for each metric of `keys`, each group's mean, min, max and run
    count per x value (step, and seconds since each run's start), or, for a metric logged
    once per run, per group."""
    import numpy as np

    run_ids = [str(r) for r in frame["run_id"]]
    splits = []  # (group names, each run's group) per choice
    for kind, key in choices:
        column = frame[f"{kind}.{key}"] if f"{kind}.{key}" in frame.columns else None
        names, of_run = group_runs(list(column) if column is not None else [None] * len(frame))
        splits.append((names, np.asarray(of_run, dtype=np.int64)))
    payloads: list[dict[str, Any]] = [
        {
            "choice": f"{kind}:{key}",
            "runs": len(run_ids),
            "groups": [{"name": n, "runs": int((of_run == g).sum())} for g, n in enumerate(names)],
            "metrics": {},
        }
        for (kind, key), (names, of_run) in zip(choices, splits, strict=True)
    ]
    starts = np.asarray([_start_ms(v) for v in frame["start_time"]], dtype=np.float64)
    for key in keys:
        index, run_of_point, spans = _metric_points(metrics, run_ids, key)
        if not spans:
            continue
        where = [span for _, span in spans]
        head = {"lower_is_better": lower_is_better(key), "log_ok": all_positive(metrics, where)}
        if single_valued(metrics, where):
            last = np.full(len(run_ids), np.nan)
            for i, (_, b) in spans:
                last[i] = metrics.value[b - 1]
            entries = [_bars_entry(last, len(names), of_run) for names, of_run in splits]
        else:
            axes = _run_matrices(metrics, index, run_of_point, spans, starts)
            logged = np.zeros(len(run_ids), dtype=bool)
            logged[[i for i, _ in spans]] = True
            entries = [_line_entry(axes, logged, len(names), of_run) for names, of_run in splits]
        for payload, entry in zip(payloads, entries, strict=True):
            payload["metrics"][key] = {**head, **entry}
    return [_group_script(f"{base}/groups/{i}.js", p) for i, p in enumerate(payloads)]


def _run_matrices(
    metrics: MetricIndex,
    index: Any,
    run_of_point: Any,
    spans: list[tuple[int, tuple[int, int]]],
    starts: Any,
) -> dict[str, tuple[Any, Any]]:
    """Return, for the x axes `step` and `relative` (seconds since the run's start, or since
    its first point when its start is unknown), the columns' x and each run's values there."""
    import numpy as np

    runs = len(starts)
    first = np.full(runs, np.nan)
    for i, (a, _) in spans:
        first[i] = metrics.time[a]
    start = np.where(np.isnan(starts), first, starts)[run_of_point]
    value = metrics.value[index]
    seconds = (metrics.time[index] - start) / 1000.0
    return {
        "step": _by_run_and_x(run_of_point, metrics.step[index].astype(np.float64), value, runs),
        "relative": _by_run_and_x(run_of_point, seconds, value, runs),
    }


def _line_entry(
    axes: dict[str, tuple[Any, Any]], logged: Any, groups: int, of_run: Any
) -> dict[str, Any]:
    """Return a metric with history as one grouping shows it: per x axis, each group's
    mean, min, max and run count at each x (base64 float64 columns)."""
    entry: dict[str, Any] = {
        "kind": "line",
        "runs": [int((logged & (of_run == g)).sum()) for g in range(groups)],
    }
    for axis, (xs, matrix) in axes.items():
        columns = []
        for g in range(groups):
            mean, lo, hi, count = _stats(matrix[of_run == g])
            columns.append(
                {
                    "mean": charts.encode(mean),
                    "lo": charts.encode(lo),
                    "hi": charts.encode(hi),
                    "n": charts.encode(count),
                }
            )
        entry[axis] = {"x": charts.encode(xs), "groups": columns}
    return entry


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
