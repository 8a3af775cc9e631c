"""Metric series: points indexed by run and key, chart plans and full-series downloads."""

from __future__ import annotations

from typing import Any

from reporter.site.contract import ChartBlock, Crumb, MetricIndex, OutFile
from reporter.site.paths import csv_path
from reporter.view.loader import ExperimentData


def index_metrics(data: ExperimentData) -> MetricIndex:
    """Index the experiment's sorted metric points by series."""
    points = data.metrics
    return MetricIndex(points.slices(), points.value, points.step, points.time)


def make_chart(
    chart_id: str,
    key: str,
    runs: list[tuple[str, str, int | None]],
    metrics: MetricIndex,
    max_points: int,
) -> tuple[ChartBlock | None, list[OutFile]]:
    """Plan one chart of a metric over some runs: (run_id, run name, start ms) each.

    Returns the chart (None if no run logged the metric) and the full-series CSV files its
    download links point to (one per series the chart shows thinned)."""
    from reporter.site.downsample import minmax_indices

    series = []
    shown = total = 0
    downloads = []
    files = []
    for run_id, name, start in runs:
        where = metrics.slices.get((run_id, key))
        if where is None:
            continue
        a, b = where
        kept = b - a if b - a <= max_points else len(minmax_indices(metrics.value[a:b], max_points))
        series.append((name, run_id, start, a, b))
        shown += kept
        total += b - a
        if kept < b - a:
            path = csv_path(run_id, key)
            files.append(OutFile(path, series_csv(metrics, a, b)))
            downloads.append(Crumb(f"{name}: full series (CSV)", path))
    if not series:
        return None, []
    note = f"{shown:,} of {total:,} points" if shown < total else ""
    return ChartBlock(chart_id, key, note, downloads, series, metrics, max_points), files


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
