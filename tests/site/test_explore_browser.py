"""Exploration on the experiment page in a real browser: the scatter with axis menus, parallel
coordinates, and the metric charts' smoothing, log scale, grouping and the legend that hides
runs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from playwright.sync_api import expect

from tests.site.browser import wait_for_charts
from tests.site.conftest import EVIL
from tests.site.test_explore_views import PARALLEL


def scatter_points(tab: Any) -> int:
    """Return how many points the scatter drew."""
    tab.wait_for_selector("figure.explore-scatter[data-drawn='true'] svg")
    return int(tab.locator("figure.explore-scatter svg g.role-mark path").count())


def test_scatter_menus_redraw_and_a_click_opens_the_run(page, built, site_store):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    # y defaults to the primary metric (loss); only the parent has loss and rmse
    assert scatter_points(tab) == 1
    tab.get_by_label("Scatter: vertical").select_option(label="rmse (metrics)")
    tab.get_by_label("Scatter: horizontal").select_option(label="depth (params)")
    tab.wait_for_function(
        "() => document.querySelectorAll('figure.explore-scatter svg g.role-mark path').length"
        " === 2"
    )  # parent (8) and child (4); the evil run's depth is not a number
    title = tab.locator("figure.explore-scatter svg g.role-axis-title text")
    expect(title.first).to_have_text("depth (params)")
    tab.locator("figure.explore-scatter svg g.role-mark path").first.click(force=True)
    tab.wait_for_url("**/runs/*/index.html")
    assert tab.url.split("/runs/")[1].split("/")[0] in (site_store["parent"], site_store["child"])
    assert rec.errors == []


def test_parallel_coordinates_draw_one_line_per_run(page, built):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    tab.wait_for_selector("figure.explore-parallel[data-drawn='true'] svg")
    drawn = tab.locator("figure.explore-parallel").evaluate(PARALLEL)
    names = ["".join(h["lines"]) for h in sorted(drawn["heads"], key=lambda h: h["x"])]
    assert names == ["depth", "lr", "loss"]
    # every run, also those whose depth is text (the evil run) or that lack lr and loss
    axes = sorted(h["x"] for h in drawn["heads"])
    pairs = Counter((s["x"], s["x2"]) for s in drawn["segments"])
    assert pairs == {(axes[0], axes[1]): 3, (axes[1], axes[2]): 3}
    assert EVIL in [t["text"] for t in drawn["labels"]]  # its own place below depth's range
    assert tab.evaluate("typeof window.__pwned") == "undefined"
    assert rec.errors == []


def test_smoothing_log_scale_and_legend(page, built):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    wait_for_charts(tab)
    loss = tab.locator("figure.chart").filter(has_text="loss")
    tab.locator("input.log-scale").check()
    tab.wait_for_function(
        "() => [...document.querySelectorAll(\"figure.chart[data-kind='line'] svg\")].every(s =>"
        " s.querySelector('g.role-axis[aria-label^=\"Y-axis\"]') !== null)"
    )
    labels = loss.locator("svg g.role-axis[aria-label^='Y-axis'] g.role-axis-label text")
    assert any(t in ("0.001", "0.01", "0.1", "1") for t in labels.all_text_contents())
    assert rec.errors == []


def test_grouping_runs_draws_a_mean_line_and_band_per_group(page, built):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    wait_for_charts(tab)
    tab.get_by_label("group runs by").select_option(value="params:depth")
    loss = tab.locator("figure.chart[data-kind='band']").filter(has_text="loss")
    expect(loss.locator("svg g.mark-line.role-mark path")).to_have_count(1)  # depth 8 only
    expect(loss.locator("svg g.mark-area.role-mark path")).to_have_count(1)
    expect(loss.locator("svg g.role-legend-label text")).to_have_text(["8 (1 run)"])
    # rmse, a value a run: a bar a group (depth 4, 8 and the evil run's text), best first
    rmse = tab.locator("figure.chart[data-kind='bars']").filter(has_text="rmse")
    expect(rmse.locator("svg g.mark-rect.role-mark path")).to_have_count(3)
    names = rmse.locator("svg g.mark-text.role-mark").first.locator("text")
    expect(names).to_have_text(["4 (1 run)", "8 (1 run)", f"{EVIL} (1 run)"])
    assert tab.evaluate("typeof window.__pwned") == "undefined"
    note = tab.locator(".group-note")
    expect(note).to_contain_text("Grouped by depth over all 3 runs: 4 (1), 8 (1)")
    tab.get_by_label("x axis").select_option("time")
    expect(note).to_contain_text("seconds since each run's start")
    expect(loss.locator("svg g.role-axis-title text").first).to_have_text("relative time (s)")
    tab.get_by_label("group runs by").select_option(value="")
    expect(tab.locator("figure.chart[data-kind='band']")).to_have_count(0)
    expect(note).to_be_hidden()
    assert rec.errors == []


def test_the_run_legend_hides_a_run_in_every_chart_and_the_link_keeps_it(page, built, site_store):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    wait_for_charts(tab)
    toggles = tab.locator(".run-legend button.run-toggle")
    expect(toggles).to_have_count(3)  # every run in some chart, named once
    child = toggles.filter(has_text="child")
    rmse = tab.locator("figure.chart").filter(has_text="rmse")
    lines = rmse.locator("svg g.mark-rect.role-mark path")  # rmse: a bar a run
    expect(lines).to_have_count(3)
    child.click()
    expect(lines).to_have_count(2)
    tab.reload()
    wait_for_charts(tab)
    expect(lines).to_have_count(2)
    toggles.filter(has_text="child").click()
    expect(lines).to_have_count(3)
    assert rec.errors == []


def test_awkward_names_draw_and_text_params_are_categories(page, store_uri, tmp_path):
    """Param and metric names that are words of Vega's expression language stay labels, a
    text param is a category axis on the scatter, and a click on a line opens its run."""
    import reporter as mlflow
    from reporter.site.build import build
    from reporter.view.config import BuildConfig

    mlflow.set_experiment("awkward")
    ids = []
    for i, optimizer in enumerate(["adam", "sgd", "adam"]):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_params({"if": i, "constructor": i * 2, "optimizer": optimizer})
            mlflow.log_metric("toString", 0.5 + i / 10)
        ids.append(run.info.run_id)
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    tab, rec = page
    tab.goto((out / "experiments/awkward/index.html").resolve().as_uri())
    parallel = tab.locator("figure.explore-parallel")
    expect(parallel).to_have_attribute("data-drawn", "true")
    labels = parallel.locator("svg g.heads_marks text").all_text_contents()
    assert labels == ["constructor", "if", "optimizer", "toString"]  # the text param too
    expect(parallel.locator("svg g.lines_marks line")).to_have_count(3 * 3)  # 3 runs, 4 axes
    tab.get_by_label("Scatter: horizontal").select_option(label="optimizer (params)")
    tab.get_by_label("Scatter: vertical").select_option(label="toString (metrics)")
    scatter = tab.locator("figure.explore-scatter")
    expect(scatter.locator("svg g.role-axis-title text").first).to_have_text("optimizer (params)")
    tab.wait_for_function(
        "() => [...document.querySelectorAll('figure.explore-scatter svg g.role-axis-label text')]"
        ".map(t => t.textContent).join(',').includes('sgd')"
    )
    expect(scatter.locator("svg g.role-mark path")).to_have_count(3)
    assert "Chart failed" not in (tab.locator("#explore").text_content() or "")
    parallel.locator("svg g.lines_marks line").first.click(force=True)
    tab.wait_for_url("**/runs/*/index.html")
    assert tab.url.split("/runs/")[1].split("/")[0] in ids
    assert rec.errors == []
