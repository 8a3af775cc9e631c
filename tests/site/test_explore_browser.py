"""Exploration on the experiment page in a real browser: the scatter with axis menus, parallel
coordinates, and the metric charts' smoothing, log scale, grouping and the legend that hides
runs."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.site.browser import wait_for_charts


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


def test_parallel_coordinates_draw_one_line_per_complete_run(page, built):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    tab.wait_for_selector("figure.explore-parallel[data-drawn='true'] svg")
    lines = tab.locator("figure.explore-parallel svg g.mark-line.role-mark path")
    expect(lines).to_have_count(1)  # depth and loss are both numbers only for the parent
    assert rec.errors == []


def test_smoothing_log_scale_and_legend(page, built):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    wait_for_charts(tab)
    loss = tab.locator("figure.chart").filter(has_text="loss")
    path = loss.locator("svg g.mark-line.role-mark path").first
    raw = path.get_attribute("d")
    tab.locator("input.smoothing").fill("0.9")
    tab.locator("input.smoothing").dispatch_event("change")
    tab.wait_for_function(
        "d => { const p = [...document.querySelectorAll('figure.chart')].find(f =>"
        " f.textContent.includes('loss')).querySelector('svg g.mark-line.role-mark path');"
        " return p && p.getAttribute('d') !== d; }",
        arg=raw,
    )
    expect(tab.locator("output.smoothing-value")).to_have_text("0.90")
    tab.locator("input.log-scale").check()
    tab.wait_for_function(
        "() => [...document.querySelectorAll('figure.chart svg')].every(s =>"
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
    rmse = tab.locator("figure.chart").filter(has_text="rmse")
    lines = rmse.locator("svg g.mark-line.role-mark path")
    expect(lines).to_have_count(3)  # depth 8, 4 and the evil run's text: one line each
    expect(rmse.locator("svg g.mark-area.role-mark path")).to_have_count(3)
    legend = rmse.locator("svg g.role-legend-label text").all_text_contents()
    assert sorted(legend)[:2] == ["4", "8"]  # the third, the evil text, is cut with an ellipsis
    assert sorted(legend)[2].startswith("<script>window.__pwned=1")
    assert tab.evaluate("typeof window.__pwned") == "undefined"
    note = tab.locator(".group-note")
    expect(note).to_have_text(
        "Each group's mean and min-max band over the runs in these charts (3 runs)."
    )
    tab.get_by_label("x axis").select_option("time")
    expect(note).to_contain_text("wall time is shown as time since each run's start")
    tab.wait_for_function(
        "() => [...document.querySelectorAll('figure.chart svg g.role-axis-title text')]"
        ".some(t => t.textContent === 'relative time (s)')"
    )
    tab.get_by_label("group runs by").select_option(value="")
    expect(rmse.locator("svg g.mark-area.role-mark path")).to_have_count(0)
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
    expect(child).to_have_attribute("aria-pressed", "true")
    rmse = tab.locator("figure.chart").filter(has_text="rmse")
    lines = rmse.locator("svg g.mark-line.role-mark path")
    expect(lines).to_have_count(3)
    colour_before = tab.evaluate(
        "() => [...document.querySelectorAll('.run-toggle .swatch')]"
        ".map(s => s.style.backgroundColor)"
    )
    child.click()
    expect(child).to_have_attribute("aria-pressed", "false")
    expect(lines).to_have_count(2)
    assert f"hidden={site_store['child']}" in tab.url
    # the evil run name is text in its button, never markup
    evil = toggles.filter(has_text="<script>")
    expect(evil).to_have_count(1)
    assert tab.evaluate("typeof window.__pwned") == "undefined"
    tab.reload()
    wait_for_charts(tab)
    expect(toggles.filter(has_text="child")).to_have_attribute("aria-pressed", "false")
    expect(lines).to_have_count(2)
    toggles.filter(has_text="child").click()
    expect(lines).to_have_count(3)
    colour_after = tab.evaluate(
        "() => [...document.querySelectorAll('.run-toggle .swatch')]"
        ".map(s => s.style.backgroundColor)"
    )
    assert colour_after == colour_before and len(set(colour_before)) == 3
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
    labels = parallel.locator("svg g.role-axis-label text").all_text_contents()
    assert {"if", "constructor", "toString"} <= set(labels)
    expect(parallel.locator("svg g.role-mark path")).to_have_count(3)
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
    parallel.locator("svg g.role-mark path").first.click(force=True)
    tab.wait_for_url("**/runs/*/index.html")
    assert tab.url.split("/runs/")[1].split("/")[0] in ids
    assert rec.errors == []
