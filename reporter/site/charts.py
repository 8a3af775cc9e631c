"""Chart specs: each kind is defined once with Altair; pages inject data per chart.

A chart on a page is a small JSON block: the kind's Vega-Lite spec is embedded once per page and
the page script zips each chart's columnar series into the spec's named dataset `points`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

DATASET = "points"
HOVER = "hover"  # one row per x value: what the tooltip of the hover rule lists
HUMAN = "humanNumber(datum.value)"  # the site's number format (static/numbers.js)
BAR_STEP = 38  # pixels per bar: a line of its name over the bar
BAR_HEIGHT = 11
BAR_OFFSET = 7  # the bar, below the middle of its row
NAME_OFFSET = 8  # the name, above it


def _hover_rule(x: Any) -> Any:
    """Return the layer that finds the x nearest the pointer: a vertical rule whose tooltip
    lists every line's value there (the page script fills the `hover` rows)."""
    import altair as alt

    hover = alt.selection_point(
        name="hover",
        nearest=True,
        on="pointerover",
        clear="pointerout",
        encodings=["x"],
        empty=False,
    )
    return (
        alt.Chart(alt.NamedData(name=HOVER))
        .mark_rule(strokeWidth=1, aria=False)
        .encode(
            x=x,
            opacity=alt.condition(hover, alt.value(0.7), alt.value(0)),
            tooltip=alt.Tooltip("tip:N"),
        )
        .add_params(hover)
        .properties(name="hover_rule")
    ), hover


def _clean(spec: dict[str, Any]) -> dict[str, Any]:
    """Drop what the page script supplies (datasets) from an Altair spec."""
    spec.pop("datasets", None)
    return spec


def line_spec() -> dict[str, Any]:
    """Return the spec of a metric's line chart: one line per run (colour by run id), and a
    rule at the x nearest the pointer whose tooltip lists every run's value there."""
    import altair as alt

    x = alt.X("step:Q", title="step", axis=alt.Axis(labelExpr=HUMAN))
    y = alt.Y("value:Q", title="value", scale=alt.Scale(zero=False), axis=alt.Axis(labelExpr=HUMAN))
    color = alt.Color("run_id:N", legend=None)
    rule, hover = _hover_rule(x)
    base = alt.Chart(alt.NamedData(name=DATASET)).encode(x=x, y=y, color=color)
    lines = base.mark_line(interpolate="linear")
    dots = base.mark_point(filled=True, size=45, opacity=1).transform_filter(hover)
    chart = alt.layer(lines, dots, rule).properties(width="container", height=220)
    return _clean(chart.to_dict())


def band_spec() -> dict[str, Any]:
    """Return the spec of a grouped metric chart: each group's mean line and min-max band,
    and the hover rule listing every group's mean there."""
    import altair as alt

    x = alt.X("x:Q", title="step", axis=alt.Axis(labelExpr=HUMAN))
    legend = alt.Legend(orient="bottom", labelLimit=0, symbolOpacity=1, symbolType="stroke")
    color = alt.Color("group:N", title="group", legend=legend)
    rule, hover = _hover_rule(x)
    base = alt.Chart(alt.NamedData(name=DATASET)).encode(x=x, color=color)
    y = alt.Y("mean:Q", title="value", scale=alt.Scale(zero=False), axis=alt.Axis(labelExpr=HUMAN))
    band = base.mark_area(opacity=0.18).encode(y=alt.Y("lo:Q", title="value"), y2="hi:Q")
    line = base.mark_line().encode(y=y)
    dots = base.mark_point(filled=True, size=45, opacity=1).encode(y=y).transform_filter(hover)
    chart = alt.layer(band, line, dots, rule).properties(width="container", height=220)
    return _clean(chart.to_dict())


def bars_spec() -> dict[str, Any]:
    """Return the spec of a single-value metric: ranked horizontal bars, best first, one per
    run (or group) keyed by id. Each row is its name on a line of its own (the whole width, so
    names are not cut) over its bar, whose value is written at the right; a group's bar has a
    min-max whisker."""
    import altair as alt

    y = alt.Y("key:N", title=None, sort=alt.EncodingSortField("rank", op="min"), axis=None)
    x = alt.X("value:Q", title="value", scale=alt.Scale(zero=True), axis=alt.Axis(labelExpr=HUMAN))
    base = alt.Chart(alt.NamedData(name=DATASET)).encode(y=y)
    tip = alt.Tooltip("tip:N")
    bars = base.mark_bar(height=BAR_HEIGHT, yOffset=BAR_OFFSET, cornerRadiusEnd=2).encode(
        x=x, color=alt.Color("key:N", legend=None), tooltip=tip, description="label:N"
    )
    whisker = base.mark_rule(strokeWidth=1.5, opacity=0.7, yOffset=BAR_OFFSET, aria=False).encode(
        x=alt.X("lo:Q", title="value"), x2="hi:Q"
    )
    text = {"baseline": "middle", "fontSize": 12, "aria": False}  # the bars say it
    names = base.mark_text(align="left", dy=-NAME_OFFSET, **text).encode(
        x=alt.value(0), text=alt.Text("name:N"), tooltip=tip
    )
    values = base.mark_text(align="right", dy=BAR_OFFSET, fontWeight=600, **text).encode(
        x=alt.value("width"), text=alt.Text("text:N"), tooltip=tip
    )
    chart = alt.layer(bars, whisker, names, values).properties(
        width="container",
        height=alt.Step(BAR_STEP),
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
    )
    return _clean(chart.to_dict())


@functools.cache
def metric_spec() -> dict[str, Any]:
    """Return the Vega-Lite specs of the metric charts, one per kind: `line` (a metric with
    history), `bars` (a metric logged once per run: ranked final values) and `band` (runs
    grouped by a param: mean and min-max band); grouped single values use `bars` too."""
    return {"line": line_spec(), "bars": bars_spec(), "band": band_spec()}


# --- the storage page -------------------------------------------------------------------------
# Sizes are drawn in one unit per chart (the build picks it: "MB", "GB"), so the axis reads as
# the site writes numbers; each row's tooltip says its size as `du` does.
USAGE_BAR_STEP = 28  # pixels per experiment


def usage_spec() -> dict[str, Any]:
    """Return the spec of the usage by experiment chart: a horizontal bar per experiment
    (largest first), stacked by kind of file (events, artifacts, models, other)."""
    import altair as alt

    kinds = ["events", "artifacts", "models", "other"]
    y = alt.Y(
        "name:N",
        title=None,
        sort=alt.EncodingSortField("rank", op="min"),
        axis=alt.Axis(labelLimit=220, labelFontSize=12),
    )
    x = alt.X("value:Q", title="size", stack="zero", axis=alt.Axis(labelExpr=HUMAN, tickCount=5))
    legend = alt.Legend(orient="bottom", title=None, labelLimit=0)
    color = alt.Color("kind:N", sort=kinds, scale=alt.Scale(domain=kinds), legend=legend)
    chart = (
        alt.Chart(alt.NamedData(name=DATASET))
        .mark_bar(height=16)
        .encode(
            y=y,
            x=x,
            color=color,
            order=alt.Order("order:Q"),
            tooltip=alt.Tooltip("tip:N"),
            description="tip:N",
        )
        .properties(
            width="container",
            height=alt.Step(USAGE_BAR_STEP),
            autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
        )
    )
    return _clean(chart.to_dict())


def growth_spec() -> dict[str, Any]:
    """Return the spec of the growth chart: the size by day (UTC) of each series `du --log`
    recorded, a line per series with a dot per day."""
    import altair as alt

    x = alt.X(
        "day:T",
        title="day (UTC)",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(
            labelExpr="utcFormat(datum.value, '%Y-%m-%d')", labelAngle=0, labelOverlap=True
        ),
    )
    y = alt.Y("value:Q", title="size", scale=alt.Scale(zero=True), axis=alt.Axis(labelExpr=HUMAN))
    legend = alt.Legend(orient="bottom", title=None, labelLimit=0)
    color = alt.Color("series:N", sort=alt.EncodingSortField("rank", op="min"), legend=legend)
    base = alt.Chart(alt.NamedData(name=DATASET)).encode(x=x, y=y, color=color)
    lines = base.mark_line(interpolate="linear")
    dots = base.mark_point(filled=True, size=30).encode(
        tooltip=alt.Tooltip("tip:N"), description="tip:N"
    )
    chart = alt.layer(lines, dots).properties(width="container", height=260)
    return _clean(chart.to_dict())


def versions_spec() -> dict[str, Any]:
    """Return the spec of a metric across a registered model's versions: a line through a dot
    per version (in version order), each aliased version labelled with its aliases."""
    import altair as alt

    x = alt.X(
        "version:O",
        title="version",
        sort="ascending",
        axis=alt.Axis(labelAngle=0, labelExpr="'v' + datum.value", labelOverlap=True),
    )
    y = alt.Y("value:Q", title="value", scale=alt.Scale(zero=False), axis=alt.Axis(labelExpr=HUMAN))
    base = alt.Chart(alt.NamedData(name=DATASET)).encode(x=x, y=y)
    line = base.mark_line(interpolate="linear", opacity=0.6)
    dots = base.mark_point(filled=True, size=70).encode(
        tooltip=alt.Tooltip("tip:N"), description="tip:N"
    )
    labels = base.mark_text(dy=-12, fontWeight="bold").encode(text="alias:N")
    chart = alt.layer(line, dots, labels).properties(width="container", height=220)
    return _clean(chart.to_dict())


@functools.cache
def models_spec() -> dict[str, Any]:
    """Return the Vega-Lite spec of a registered model page's charts: `versions`."""
    return {"versions": versions_spec()}


@functools.cache
def storage_spec() -> dict[str, Any]:
    """Return the Vega-Lite specs of the storage page's charts: `usage` and `growth`."""
    return {"usage": usage_spec(), "growth": growth_spec()}


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
    kind: str = "line"  # line, or bars for a metric logged once per run
    lower_is_better: bool = False
    log_ok: bool = True  # every value above 0

    @property
    def downsampled(self) -> bool:
        """True when some points were left out."""
        return self.shown < self.total

    def to_json(self) -> dict[str, Any]:
        """Return the chart's JSON block (without the spec)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "lower_is_better": self.lower_is_better,
            "log_ok": self.log_ok,
            "shown": self.shown,
            "total": self.total,
            "series": [s.to_json() for s in self.series],
        }


def make_series(
    run: str, run_id: str, start: int | None, steps: Any, values: Any, times: Any, keep: Any
) -> Series:
    """Build a Series from numpy columns and the indices to keep."""
    return Series(run, run_id, start, steps[keep], values[keep], times[keep])
