"""Vega-Lite specs of the experiment page's explore views (made with Altair; the page script
puts the runs in): the run scatter and parallel coordinates."""

from __future__ import annotations

import functools
from typing import Any

from reporter.site.charts import DATASET

# The parallel coordinates' datasets (filled by explore.js) and layers (named, so the page
# script and tests find them: Vega names each layer's marks `<layer>_marks`).
PARALLEL_DATA = ("axes", "lines", "ticks")
PARALLEL_LAYERS = ("axis", "below", "lines", "ticks", "halo", "labels", "heads")
HUMAN = "humanNumber(datum.value)"  # the site's number format (static/numbers.js)
GREY = "#9aa0a6"  # a run without the colour field's value


def colour_by_c(title: str, **legend: Any) -> Any:
    """Return the colour encoding of both views: the `c` field on viridis, grey where `g` is
    true (a run without the colour field's value)."""
    import altair as alt

    return alt.condition(
        "datum.g",
        alt.value(GREY),
        alt.Color(
            "c:Q",
            title=title,
            scale=alt.Scale(scheme="viridis"),
            legend=alt.Legend(labelExpr=HUMAN, **legend),
        ),
    )


@functools.cache
def scatter_spec() -> dict[str, Any]:
    """Return the Vega-Lite spec of the run scatter: any param or metric against another,
    coloured by the primary metric (the page may colour by another field or status).

    The page names the axes and puts the runs in: `x`, `y` hold the chosen fields' values, `c`
    the colour field's, `g` true for a run without it (drawn grey: Vega-Lite would drop a
    point whose `c` is null), `tip` the tooltip, `url` the run's page."""
    import altair as alt

    chart = (
        alt.Chart(alt.NamedData(name=DATASET))
        .mark_point(
            filled=True,
            size=70,
            opacity=0.85,
            cursor="pointer",
            tooltip={"expr": "datum.tip"},
            aria=False,  # the figure is one image to a screen reader; thousands of labels less
        )
        .encode(
            x=alt.X("x:Q", title="x", scale=alt.Scale(zero=False), axis=alt.Axis(labelExpr=HUMAN)),
            y=alt.Y("y:Q", title="y", scale=alt.Scale(zero=False), axis=alt.Axis(labelExpr=HUMAN)),
            color=colour_by_c("colour"),
        )
        .properties(width="container", height=320)
    )
    spec = chart.to_dict()
    spec.pop("datasets", None)
    return spec


@functools.cache
def parallel_spec() -> dict[str, Any]:
    """Return the parallel-coordinates spec: one line per run across the axes, each axis with
    its ticks and name, the lines coloured by the primary metric (grey without it).

    The page fills three datasets: `axes` (axis, low: the lowest place below the range, name:
    its lines of text, full: the whole name), `lines` (a run's segment from one axis to the
    next: axis, to, pos, pos2; c: the colour value, g: true for a run without it, url, tip: the
    run's tooltip; in drawing order) and `ticks` (axis, pos, label, kind: value, text or
    missing). Positions run from 0 (bottom of the range) to 1 (top); places below the range are
    negative. User text is only ever data, never an expression."""
    import altair as alt

    x = alt.X("axis:N", title=None, axis=None, scale=alt.Scale(type="point", padding=0.35))
    y = alt.Y("pos:Q", title=None, axis=None, scale=alt.Scale(zero=False, nice=False))

    def layer(name: str) -> alt.Chart:
        return alt.Chart(alt.NamedData(name=name))

    def rule_down(name: str, axes: alt.Chart, top: str, **mark: Any) -> alt.Chart:
        # a rule on each axis from the `top` field down to the bottom of the range (0)
        return (
            axes.mark_rule(aria=False, **mark)
            .encode(x=x, y=alt.Y(f"{top}:Q", title=None, axis=None), y2="bottom:Q")
            .transform_calculate(bottom="0")
            .properties(name=name)
        )

    axis = rule_down("axis", layer("axes").transform_calculate(top="1"), "top", strokeWidth=1.2)
    below = rule_down(
        "below",
        layer("axes").transform_filter("datum.low < 0"),
        "low",
        strokeWidth=1,
        strokeDash=[2, 3],
    )
    # A run is a chain of segments, one between each pair of neighbouring axes: rules draw
    # 10,000 runs several times faster than a line per run (a group per run). Hovering a
    # segment brings out its run's whole chain (the page drops this past 200 runs).
    hover = alt.selection_point(name="hover", on="pointerover", clear="pointerout", fields=["url"])
    lines = (
        layer("lines")
        .mark_rule(cursor="pointer", tooltip={"expr": "datum.tip"}, aria=False)
        .add_params(hover)
        .encode(
            x=x,
            x2="to:N",
            y=y,
            y2="pos2:Q",
            strokeWidth=alt.condition(hover, alt.value(3), alt.value(1.3), empty=False),
            opacity=alt.condition(hover, alt.value(1), alt.value(0.75), empty=False),
            color=colour_by_c("metric", gradientLength=200),
        )
        .properties(name="lines")
    )
    ticks = (
        layer("ticks")
        .mark_tick(size=7, thickness=1.2, aria=False)
        .encode(x=x, y=y)
        .properties(name="ticks")
    )

    def tick_labels(name: str, halo: bool) -> alt.Chart:
        # the halo: the same text in the background's colour underneath, so a label stays
        # readable over the lines
        style: dict[str, Any] = {"strokeWidth": 3, "strokeJoin": "round"} if halo else {}
        return (
            layer("ticks")
            .mark_text(
                align="left",
                baseline="middle",
                dx=6,
                fontSize=11,
                fontStyle={"expr": "datum.kind === 'value' ? 'normal' : 'italic'"},
                aria=False,
                **style,
            )
            .encode(x=x, y=y, text="label:N", tooltip=alt.Tooltip("full:N", title="value"))
            .properties(name=name)
        )

    heads = (
        layer("axes")
        .mark_text(
            align="center",
            baseline="bottom",
            dy=-10,
            fontSize=12,
            fontWeight=600,
            lineHeight=14,
            aria=False,
        )
        .encode(
            x=x,
            y=alt.Y("top:Q", title=None, axis=None),
            text="name:N",
            tooltip=alt.Tooltip("full:N", title="axis"),
        )
        .transform_calculate(top="1")
        .properties(name="heads")
    )
    chart = alt.layer(
        axis, below, lines, ticks, tick_labels("halo", True), tick_labels("labels", False), heads
    ).properties(width="container", height=320, view=alt.ViewBackground(stroke=None))
    spec = chart.to_dict()
    spec.pop("datasets", None)
    return spec
