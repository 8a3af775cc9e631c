"""The explore views in Chromium, on a sweep made to provoke issue 16's defects (the primary
metric missing on some runs, text params, a `None` param, a param set on half the runs): the
parallel coordinates draw one line per run with ticks on every axis, no "NaN" and no exponent
notation between 1e-3 and 1e6; the scatter is coloured by the primary metric and its colour
menu works; on a phone the chart scrolls inside its card."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from reporter.site.build import build
from tests.site.browser import PHONE, horizontal_overflow, open_page
from tests.site.test_explore_layout import (
    LONG,
    SWEEP_RUNS,
    exponent_out_of_range,
    log_sweep,
    sweep_config,
)

GREY = "#9aa0a6"

# What the parallel coordinates drew: the segments between neighbouring axes (x, x2 and the
# stroke colour), the axis names (x, their lines), the tick labels (x, text) and every text.
PARALLEL = """fig => {
  const svg = fig.querySelector('.chart-view svg');
  const at = el => {
    const m = /translate\\(([-\\d.e]+),([-\\d.e]+)\\)/.exec(el.getAttribute('transform') || '');
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  return {
    segments: [...svg.querySelectorAll('g.lines_marks > line')].map(l => ({
      x: Math.round(at(l)[0]), x2: Math.round(at(l)[0] + Number(l.getAttribute('x2'))),
      stroke: l.getAttribute('stroke')})),
    heads: [...svg.querySelectorAll('g.heads_marks > text')].map(t => ({
      x: Math.round(at(t)[0]),
      lines: t.querySelector('tspan')
        ? [...t.querySelectorAll('tspan')].map(s => s.textContent).filter(s => s)
        : [t.textContent]})),
    labels: [...svg.querySelectorAll('g.labels_marks > text')].map(t => ({
      x: Math.round(at(t)[0]), text: t.textContent})),
    legend: [...svg.querySelectorAll('g.role-legend-label text')].map(t => t.textContent),
    text: svg.textContent,
  };
}"""

SCATTER_FILLS = """() => [...document.querySelectorAll(
  'figure.explore-scatter .chart-view svg g.role-mark path')].map(p => p.getAttribute('fill'))"""


@pytest.fixture(scope="module")
def sweep_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """The sweep built once for this module: the site folder and the run ids."""
    root = tmp_path_factory.mktemp("explore-sweep")
    store = str(root / "store")
    ids = log_sweep(store)
    out = root / "site"
    build(sweep_config(store, str(out)))
    yield out, ids


def open_sweep(tab: Any, out: Path) -> None:
    """Open the sweep's page and wait until both explore views are drawn."""
    tab.goto((out / "experiments/sweep/index.html").resolve().as_uri())
    tab.wait_for_selector("figure.explore-parallel[data-drawn='true'] svg")
    tab.wait_for_selector("figure.explore-scatter[data-drawn='true'] svg")


def parallel(tab: Any) -> dict[str, Any]:
    """Return what the parallel coordinates drew (see PARALLEL)."""
    return tab.locator("figure.explore-parallel").evaluate(PARALLEL)


def test_parallel_coordinates_draw_one_line_per_run_with_ticks_on_every_axis(page, sweep_site):
    tab, rec = page
    out, _ = sweep_site
    open_sweep(tab, out)
    drawn = parallel(tab)
    axes = sorted(h["x"] for h in drawn["heads"])
    assert len(axes) == 7  # alpha, hidden, LONG, max_depth, opt, penalty and f1
    # one line per run: every run has a segment between every pair of neighbouring axes
    pairs = Counter((s["x"], s["x2"]) for s in drawn["segments"])
    assert pairs == {(a, b): SWEEP_RUNS for a, b in pairwise(axes)}
    # runs without f1 are grey, the others coloured by f1 (each value its own colour)
    strokes = Counter(s["stroke"] for s in drawn["segments"] if s["x2"] == axes[-1])
    assert strokes[GREY] == 3 and len(strokes) == 1 + 9
    # tick labels on every axis, the text param's categories and the places below included
    by_axis = {a: [t["text"] for t in drawn["labels"] if a <= t["x"] <= a + 12] for a in axes}
    assert all(len(labels) >= 2 for labels in by_axis.values()), by_axis
    texts = [t["text"] for t in drawn["labels"]]
    assert {"elasticnet", "l1", "l2", "adam", "sgd", "None", "(missing)"} <= set(texts)
    assert {"1e-4", "0.001", "0.01", "0.1", "1.5M"} <= set(texts)
    assert exponent_out_of_range(texts + drawn["legend"]) == []
    assert "NaN" not in drawn["text"] and not any("NaN" in t for t in drawn["legend"])
    # the long name wraps between its words (whole name in its tooltip), never inside one
    names = {"".join(h["lines"]) for h in drawn["heads"]}
    assert {"alpha", "hidden", "max_depth", "opt", "penalty", "f1"} <= names
    long_lines = next(h["lines"] for h in drawn["heads"] if h["lines"][0].startswith("learning"))
    assert len(long_lines) > 1 and "".join(long_lines) == LONG
    assert all(line.endswith("_") for line in long_lines[:-1])
    note = tab.locator("figure.explore-parallel .explore-note")
    expect(note).to_contain_text(f"Grey lines: 3 of {SWEEP_RUNS} runs without f1.")
    expect(note).to_contain_text("solver (the same on every run)")
    assert rec.errors == []


def test_hovering_a_line_brings_out_its_run_and_a_click_opens_it(page, sweep_site):
    tab, rec = page
    out, ids = sweep_site
    open_sweep(tab, out)
    segment = tab.locator("figure.explore-parallel svg g.lines_marks > line").nth(SWEEP_RUNS - 1)
    segment.scroll_into_view_if_needed()
    box = segment.bounding_box()
    assert box is not None
    point = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.mouse.move(*point)
    tooltip = tab.locator("#vg-tooltip-element")
    expect(tooltip).to_be_visible()
    name = tooltip.locator("h2").text_content() or ""
    assert name in {f"r{i}" for i in range(SWEEP_RUNS)}
    keys = tooltip.locator("td.key").all_text_contents()
    assert keys == ["alpha", "hidden", LONG, "max_depth", "opt", "penalty", "f1"]
    # the whole run (a segment between each pair of axes) is drawn bold
    bold = tab.locator("figure.explore-parallel svg g.lines_marks > line[stroke-width='3']")
    expect(bold).to_have_count(6)
    tab.mouse.click(*point)
    tab.wait_for_url("**/runs/*/index.html")
    assert tab.url.split("/runs/")[1].split("/")[0] == ids[int(name[1:])]
    assert rec.errors == []


def test_the_scatter_is_coloured_by_the_primary_metric_and_the_menu_recolours_it(page, sweep_site):
    tab, rec = page
    out, _ = sweep_site
    open_sweep(tab, out)
    colour = tab.get_by_label("Scatter: colour")
    expect(colour.locator("option:checked")).to_have_text("f1 (primary metric)")
    expect(tab.get_by_label("Scatter: vertical").locator("option:checked")).to_have_text(
        "f1 (metrics)"
    )
    # the 9 runs with f1 each have their own f1, so their own colour
    fills = tab.evaluate(SCATTER_FILLS)
    assert len(fills) == 9 and len(set(fills)) == 9 and GREY not in fills
    legend = tab.locator("figure.explore-scatter svg g.role-legend-title text")
    expect(legend).to_have_text("f1 (metrics)")

    def redrawn(expected: int) -> list[str]:
        tab.wait_for_function(
            "n => document.querySelector('figure.explore-scatter').dataset.drawn === 'true'"
            " && new Set((" + SCATTER_FILLS + ")()).size === n",
            arg=expected,
        )
        return tab.evaluate(SCATTER_FILLS)

    colour.select_option(label="penalty (params)")  # a text param: one colour per category
    assert len(redrawn(3)) == 9
    labels = tab.locator("figure.explore-scatter svg g.role-legend-label text")
    expect(labels).to_have_text(["elasticnet", "l1", "l2"])
    colour.select_option(label="status")  # every run FINISHED: one colour
    redrawn(1)
    expect(labels).to_have_text(["FINISHED"])
    # rmse against alpha, coloured by f1: the runs without f1 are grey, and the note says so
    tab.get_by_label("Scatter: vertical").select_option(label="rmse (metrics)")
    tab.get_by_label("Scatter: horizontal").select_option(label="alpha (params)")
    colour.select_option(label="f1 (primary metric)")
    fills = redrawn(10)
    assert len(fills) == SWEEP_RUNS and fills.count(GREY) == 3
    note = tab.locator("figure.explore-scatter .explore-note")
    expect(note).to_have_text("Grey: 3 runs without f1 (metrics).")
    axis = tab.locator("figure.explore-scatter svg g.role-axis-label text").all_text_contents()
    assert exponent_out_of_range(axis) == [] and "NaN" not in "".join(axis)
    assert {"1e-4", "0.001", "0.01", "0.1"} <= set(axis)  # alpha on a log axis, as in parallel
    assert rec.errors == []


def test_on_a_phone_the_parallel_coordinates_scroll_inside_their_card(browser, sweep_site):
    out, _ = sweep_site
    with open_page(browser, PHONE, mobile=True) as (tab, rec):
        open_sweep(tab, out)
        figure = tab.locator("figure.explore-parallel")
        expect(figure).to_have_class("explore-chart explore-parallel scrolls")
        expect(figure.locator(".explore-note")).to_contain_text("Scroll sideways")
        view = figure.locator(".chart-view")
        assert view.evaluate("v => v.scrollWidth > v.clientWidth")
        overflow = horizontal_overflow(tab)
        assert not [c for c in overflow["culprits"] if "explore" in c or "chart" in c], overflow
        # the names still read whole: the widest axis name fits its column
        drawn = parallel(tab)
        assert len(drawn["heads"]) == 7 and "NaN" not in drawn["text"]
        assert rec.errors == []
