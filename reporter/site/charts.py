"""Chart specs: each kind is defined once with Altair; pages inject data per chart.

A chart on a page is a small JSON block: the kind's Vega-Lite spec is embedded once per page and
the page script zips each chart's columnar series into the spec's named dataset `points`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

DATASET = "points"


@functools.cache
def metric_spec() -> dict[str, Any]:
    """Return the Vega-Lite spec of a metric line chart (runs as colours)."""
    import altair as alt

    legend = alt.selection_point(fields=["run"], bind="legend", name="shown_runs")
    chart = (
        alt.Chart(alt.NamedData(name=DATASET))
        .mark_line(point=False, interpolate="linear")
        .add_params(legend)
        .encode(
            opacity=alt.condition(legend, alt.value(1.0), alt.value(0.12)),
            x=alt.X("step:Q", title="step"),
            y=alt.Y("value:Q", title="value", scale=alt.Scale(zero=False)),
            color=alt.Color("run:N", title="run", legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("run:N", title="run"),
                alt.Tooltip("step:Q", title="step"),
                alt.Tooltip("value:Q", title="value", format=".6~g"),
                alt.Tooltip("time:T", title="time", format="%Y-%m-%d %H:%M:%S"),
            ],
        )
        .properties(width="container", height=220)
    )
    spec = chart.to_dict()
    spec.pop("datasets", None)
    return spec


@functools.cache
def band_spec() -> dict[str, Any]:
    """Return the spec of a grouped metric chart: the mean line and min-max band per group."""
    import altair as alt

    base = alt.Chart(alt.NamedData(name=DATASET)).encode(
        x=alt.X("x:Q", title="step"),
        color=alt.Color("group:N", title="group", legend=alt.Legend(orient="bottom")),
    )
    band = base.mark_area(opacity=0.2).encode(y=alt.Y("lo:Q", title="value"), y2="hi:Q")
    line = base.mark_line().encode(
        y=alt.Y("mean:Q", title="value", scale=alt.Scale(zero=False)),
        tooltip=[
            alt.Tooltip("group:N"),
            alt.Tooltip("x:Q", title="x"),
            alt.Tooltip("mean:Q", format=".6~g"),
            alt.Tooltip("lo:Q", format=".6~g"),
            alt.Tooltip("hi:Q", format=".6~g"),
            alt.Tooltip("runs:Q"),
        ],
    )
    spec = alt.layer(band, line).properties(width="container", height=220).to_dict()
    spec.pop("datasets", None)
    return spec


def encode(values: Any) -> str:
    """Return a numeric column as base64 of little-endian float64 (decoded by the page script).

    Binary columns are exact, compact (32 characters a point for step, value and time) and far
    faster to write than decimal JSON; NaN and infinities survive and are dropped when drawn.
    """
    import base64

    import numpy as np

    return base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode("ascii")


def decode(text: str) -> list[float]:
    """Inverse of `encode` (for tests and tools)."""
    import base64

    import numpy as np

    return [float(v) for v in np.frombuffer(base64.b64decode(text), dtype="<f8")]


@dataclass
class Series:
    """One run's points of one metric, already downsampled (numpy columns)."""

    run: str
    run_id: str
    start: int | None
    step: Any
    value: Any
    time: Any

    def to_json(self) -> dict[str, Any]:
        """Return the form the page script expects: base64 float64 columns."""
        return {
            "run": self.run,
            "run_id": self.run_id,
            "start": self.start,
            "n": len(self.step),
            "step": encode(self.step),
            "value": encode(self.value),
            "time": encode(self.time),
        }


@dataclass
class ChartData:
    """What one chart shows: its metric, series, and how many points were kept of how many."""

    key: str
    series: list[Series] = field(default_factory=list)
    shown: int = 0
    total: int = 0
    csv: list[tuple[str, str]] = field(default_factory=list)  # (run name, site-relative path)

    @property
    def downsampled(self) -> bool:
        """True when some points were left out."""
        return self.shown < self.total

    def to_json(self) -> dict[str, Any]:
        """Return the chart's JSON block (without the spec)."""
        return {
            "key": self.key,
            "shown": self.shown,
            "total": self.total,
            "series": [s.to_json() for s in self.series],
        }


def make_series(
    run: str, run_id: str, start: int | None, steps: Any, values: Any, times: Any, keep: Any
) -> Series:
    """Build a Series from numpy columns and the indices to keep."""
    return Series(run, run_id, start, steps[keep], values[keep], times[keep])
