"""Vega-Lite specs of the experiment page's explore views (made with Altair; the page script
puts the runs in): the run scatter and parallel coordinates."""

from __future__ import annotations

import functools
from typing import Any

from reporter.site.charts import DATASET


@functools.cache
def scatter_spec() -> dict[str, Any]:
    """Return the Vega-Lite spec of the run scatter: any param or metric against another.

    The page names the axes (`x`, `y` fields hold the chosen columns' values)."""
    import altair as alt

    chart = (
        alt.Chart(alt.NamedData(name=DATASET))
        .mark_point(filled=True, size=60, cursor="pointer")
        .encode(
            x=alt.X("x:Q", title="x", scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", title="y", scale=alt.Scale(zero=False)),
            color=alt.Color("status:N", title="status"),
            tooltip=[
                alt.Tooltip("run:N", title="run"),
                alt.Tooltip("x:Q", format=".6~g"),
                alt.Tooltip("y:Q", format=".6~g"),
            ],
        )
        .properties(width="container", height=300)
    )
    spec = chart.to_dict()
    spec.pop("datasets", None)
    return spec


def parallel_spec(fields: list[tuple[str, str]], color: str | None) -> dict[str, Any]:
    """Return a parallel-coordinates spec over (row field, label) pairs, coloured by `color`.

    Each axis is scaled to its own min..max; a line is a run (click opens it)."""
    import altair as alt

    names = [f for f, _ in fields]
    # Axis names are user text: they travel as a parameter's value, never inside an expression
    encode: dict[str, Any] = {
        "x": alt.X(
            "key:N",
            title=None,
            sort=names,
            axis=alt.Axis(labelExpr="axis_names[datum.value]", labelAngle=0),
        ),
        "y": alt.Y("norm:Q", axis=None),
        "detail": alt.Detail("index:N"),
        "tooltip": [alt.Tooltip("run:N"), alt.Tooltip("value:Q", format=".6~g")],
    }
    if color:
        encode["color"] = alt.Color(
            f"{color}:Q", title="primary metric", scale=alt.Scale(scheme="viridis")
        )
    chart = (
        alt.Chart(alt.NamedData(name=DATASET))
        .transform_window(index="count()")
        .transform_fold(names, as_=["key", "value"])
        .transform_joinaggregate(lo="min(value)", hi="max(value)", groupby=["key"])
        .transform_calculate(
            norm="datum.hi > datum.lo ? (datum.value - datum.lo) / (datum.hi - datum.lo) : 0.5"
        )
        .mark_line(opacity=0.6, cursor="pointer")
        .encode(**encode)
        .properties(width="container", height=300)
    )
    spec = chart.to_dict()
    spec.pop("datasets", None)
    spec.setdefault("params", []).append(
        {"name": "axis_names", "value": {f: label for f, label in fields}}
    )
    return spec
