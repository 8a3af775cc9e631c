"""The experiment page's explore views: a scatter of any param or metric against another
(coloured by the primary metric, or by a field the reader picks) and parallel coordinates of
the params against the primary metric.

The page script (explore.js) draws both from runs.js; this module decides what they show and
lays the parallel coordinates out, so the page script only places runs:

* Axes: the params that vary over the runs (a run without the param counts as a value of its
  own), at most MAX_AXES of them, in name order, then the primary metric, which also colours
  the lines. Params left out are listed with the reason (the same on every run, too many
  different texts to read, past the axis limit), and the page says so.
* Scales: a param whose values are numbers is a numeric axis (log when they are all positive,
  span MIN_LOG_RATIO or more and bunch at the low end), with nice ticks labelled in the site's
  number format; a few texts among the numbers (`None`, `auto`) get places of their own below
  the range. Any other param is a category axis, its texts in natural order (numbers by value,
  then text). The primary metric's axis is numeric the same way.
* Every run is drawn: a run without the value goes to a "(missing)" place below the axis.
* Positions run from 0 (bottom of the range) to 1 (top); places below the range are negative.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reporter.site import explore_charts
from reporter.site.contract import ExperimentPageContext, json_block
from reporter.view.numbers import human

if TYPE_CHECKING:
    import pandas as pd

MAX_AXES = 12  # param axes; the primary metric comes on top of them
MAX_CATEGORIES = 20  # more different texts than this are unreadable on one axis
MAX_TICKS = 6  # on a numeric axis
MAX_TEXTS = 3  # texts among numbers that still leave a numeric axis (None, auto, ...)
MIN_LOG_RATIO = 100.0  # positive values spanning this much are drawn on a log axis
GAP = 0.12  # distance between the places below an axis' range, in axis heights
MISSING = "(missing)"
# What both sides (this module and explore.js) read as a number; anything else is text.
NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")

Value = str | float | None  # a param's text, a metric's value, or None when the run lacks it


def _is_number(text: str) -> bool:
    """Return True if a param's text reads as a number (the same test as explore.js)."""
    return NUMBER.fullmatch(text) is not None


def _numeric(column: pd.Series) -> bool:
    """Return True if some value of a column reads as a number (the numeric views skip the
    rest); a param column with none is text (categories on the scatter)."""
    return any(_is_number(str(v)) for v in column.dropna())


def _values(column: pd.Series, kind: str) -> list[Value]:
    """Return a column's values as the page script sees them in runs.js: a param's text, a
    metric's finite value, None when a run lacks it."""
    out: list[Value] = []
    for v in column.tolist():
        if kind == "metrics":
            ok = isinstance(v, (int, float)) and math.isfinite(v)
            out.append(float(v) if ok else None)
        else:
            out.append(v if isinstance(v, str) else None)
    return out


def _numbers(values: list[Value]) -> list[float]:
    """Return the values that are numbers (a metric's, or a param's text that reads as one)."""
    return [float(v) for v in values if v is not None and (not isinstance(v, str) or _is_number(v))]


def _round(pos: float) -> float:
    """Return a position rounded for the page (a tenth of a pixel on any chart)."""
    return round(pos, 5)


def _natural(text: str) -> tuple[int, float, str]:
    """Return the sort key of a category: numbers by value first, then texts."""
    if _is_number(text):
        return (0, float(text), text)
    return (1, 0.0, text.casefold())


def _nice_ticks(lo: float, hi: float, whole: bool) -> list[float]:
    """Return ticks covering lo..hi: the smallest step of 1, 2 or 5 times a power of ten that
    needs at most MAX_TICKS of them (a whole step for whole numbers)."""
    power = 10.0 ** math.floor(math.log10((hi - lo) / MAX_TICKS))
    steps = [m * power * 10**k for k in range(3) for m in (1, 2, 5)]
    step = next(s for s in steps if (not whole or s >= 1) and _count(lo, hi, s) <= MAX_TICKS)
    start, end = math.floor(lo / step), math.ceil(hi / step)
    return [float(f"{k * step:.12g}") for k in range(start, end + 1)]


def _count(lo: float, hi: float, step: float) -> int:
    """Return how many ticks a step needs to cover lo..hi."""
    return math.ceil(hi / step) - math.floor(lo / step) + 1


def _logarithmic(numbers: Sequence[float]) -> bool:
    """Return True if values read better on a log axis: all positive, spanning MIN_LOG_RATIO
    or more, and bunched at the low end (a sweep's 1e-4, 1e-3, 0.01, 0.1 is; uniform values
    between 0.001 and 1 are not)."""
    distinct = sorted(set(numbers))
    lo, hi = distinct[0], distinct[-1]
    if len(distinct) < 3 or lo <= 0 or hi / lo < MIN_LOG_RATIO:
        return False
    return distinct[len(distinct) // 2] <= lo + (hi - lo) * 0.1


def numeric_scale(numbers: Sequence[float]) -> tuple[str, list[float], list[float]]:
    """Return the scale ("linear" or "log"), domain and ticks of a numeric axis: the domain is
    the values' range widened to whole ticks (to decades on a log axis)."""
    lo, hi = min(numbers), max(numbers)
    if _logarithmic(numbers):
        first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        every = max(1, math.ceil((last - first) / 6))
        ticks = [10.0**e for e in range(first, last + 1, every)]
        return "log", [10.0**first, 10.0**last], ticks
    if lo == hi:
        half = abs(lo) or 1.0
        return "linear", [lo - half, hi + half], [lo]
    ticks = _nice_ticks(lo, hi, all(n == int(n) for n in numbers))  # seeds get whole ticks
    return "linear", [ticks[0], ticks[-1]], ticks


def position(value: float, scale: str, domain: Sequence[float]) -> float:
    """Return where a number goes on a numeric axis (0 bottom, 1 top)."""
    lo, hi = domain
    if scale == "log":
        return (math.log10(value) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return (value - lo) / (hi - lo)


def _tick(pos: float, label: str, kind: str) -> dict[str, Any]:
    """Return a tick: its position, its text and what it marks (value, text or missing)."""
    return {"pos": _round(pos), "label": label, "kind": kind}


def axis_layout(values: list[Value]) -> dict[str, Any] | str:
    """Return an axis' layout (scale, domain, ticks, the places of texts and of runs without
    a value), or why it cannot be drawn."""
    texts = sorted({v for v in values if isinstance(v, str) and not _is_number(v)}, key=_natural)
    numbers = _numbers(values)
    layout: dict[str, Any]
    if numbers and len(texts) <= MAX_TEXTS:
        scale, domain, ticks = numeric_scale(numbers)
        layout = {"scale": scale, "domain": domain}
        marks = [_tick(position(t, scale, domain), human(t), "value") for t in ticks]
        # values closer than 4 digits apart would repeat a label: keep the first of each
        marks = [m for i, m in enumerate(marks) if i == 0 or m["label"] != marks[i - 1]["label"]]
        places: list[tuple[str, float]] = [(t, -GAP * (i + 1)) for i, t in enumerate(texts)]
        marks += [_tick(p, t, "text") for t, p in places]
    else:
        names = sorted({str(v) for v in values if v is not None}, key=_natural)
        if len(names) > MAX_CATEGORIES:
            return f"{len(names)} different values"
        step = 1 / (len(names) - 1) if len(names) > 1 else 0.0
        places = [(t, i * step if len(names) > 1 else 0.5) for i, t in enumerate(names)]
        layout = {"scale": "category"}
        marks = [_tick(p, t, "value") for t, p in places]
    layout["places"] = [[t, _round(p)] for t, p in places]
    lowest = min([0.0] + [p for _, p in places])
    layout["missing"] = _round(lowest - GAP) if None in values else None
    if layout["missing"] is not None:
        marks.append(_tick(layout["missing"], MISSING, "missing"))
    layout["ticks"] = marks
    return layout


def parallel_axes(
    choices: list[dict[str, Any]], columns: dict[str, list[Value]], primary: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Return the parallel coordinates' axes (varying params, then the primary metric) and the
    params left out, each with the reason."""
    left_out: list[list[str]] = []
    drawn: list[dict[str, Any]] = []
    for choice in (c for c in choices if c["kind"] == "params"):
        values = columns[choice["id"]]
        if len(set(values)) < 2:
            left_out.append([choice["key"], "the same on every run"])
            continue
        layout = axis_layout(values)
        if isinstance(layout, str):
            left_out.append([choice["key"], layout])
            continue
        coverage = sum(v is not None for v in values)
        drawn.append({**_axis_head(choice), **layout, "coverage": coverage})
    # past the limit, the params most runs have win
    keep = sorted(drawn, key=lambda a: (-a["coverage"], a["key"]))[:MAX_AXES]
    left_out += [[a["key"], f"past {MAX_AXES} axes"] for a in drawn if a not in keep]
    axes = [{k: v for k, v in a.items() if k != "coverage"} for a in drawn if a in keep]
    if primary is not None:
        values = columns[primary["id"]]
        metric = axis_layout(values) if any(v is not None for v in values) else None
        if isinstance(metric, dict):
            axes.append({**_axis_head(primary), **metric})
    return axes, left_out


def _axis_head(choice: dict[str, Any]) -> dict[str, Any]:
    """Return what names an axis: the field's id (as in choices), kind, key and label."""
    return {"id": choice["id"], "kind": choice["kind"], "key": choice["key"]}


def _color_domain(values: list[Value]) -> list[float] | None:
    """Return the range of the primary metric's values (the colour scale), None if no run has
    it."""
    numbers = _numbers(values)
    return [min(numbers), max(numbers)] if numbers else None


def explore_views(context: ExperimentPageContext, frame: pd.DataFrame, metric: str | None) -> None:
    """Describe the scatter (any param or metric) and parallel coordinates (params against
    the primary metric) of an experiment page."""
    if frame.empty:
        return
    fields = sorted(c for c in frame.columns if c.startswith(("params.", "metrics.")))
    choices: list[dict[str, Any]] = [
        {
            "id": f"f{i}",
            "kind": col.split(".", 1)[0],
            "key": col.split(".", 1)[1],
            "label": f"{col.split('.', 1)[1]} ({col.split('.', 1)[0]})",
            "numeric": col.startswith("metrics.") or _numeric(frame[col]),
        }
        for i, col in enumerate(fields)
    ]
    if not any(c["numeric"] for c in choices):
        return
    columns = {c["id"]: _values(frame[f"{c['kind']}.{c['key']}"], str(c["kind"])) for c in choices}
    for c in choices:  # the scatter draws a field on the scale its parallel axis would have
        numbers = _numbers(columns[c["id"]])
        c["log"] = bool(c["numeric"] and numbers and _logarithmic(numbers))
    primary = next((c for c in choices if c["kind"] == "metrics" and c["key"] == metric), None)
    axes, left_out = parallel_axes(choices, columns, primary)
    if primary is not None and (not axes or axes[-1]["id"] != primary["id"]):
        left_out.append([primary["key"], "no run has logged it"])
    colored = primary is not None and bool(axes) and axes[-1]["id"] == primary["id"]
    # the scatter's x: the numeric param with the most values (the sweep's main knob)
    params = sorted(
        (a for a in axes if a["kind"] == "params" and a["scale"] != "category"),
        key=lambda a: -len({v for v in columns[a["id"]] if isinstance(v, str) and _is_number(v)}),
    )
    context.explore = json_block(
        {
            "runs": len(frame),
            "choices": choices,
            "primary": primary["id"] if primary else None,
            "scatter_x": params[0]["id"] if params else None,
            "parallel": {
                "axes": axes,
                "left_out": left_out,
                "color": primary["id"] if colored and primary else None,
                "color_domain": _color_domain(columns[primary["id"]]) if primary else None,
            }
            if len(axes) >= 2
            else None,
        }
    )
    context.scatter_spec = json_block(explore_charts.scatter_spec())
    if len(axes) >= 2:
        context.parallel_spec = json_block(explore_charts.parallel_spec())
