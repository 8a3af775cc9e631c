"""The metric charts in a real browser (Debian's chromium through Playwright), on the store of
tests/site/test_charts_model.py made to provoke each chart defect of issue 16: axis labels
in the site's number format, single values as ranked bars, dark mode in the card's colours,
grouping over every run, log scale only where it can draw, nearest-point hover.

Every test also checks that the page logged no error and asked for nothing outside the site.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

import reporter as mlflow
from reporter.site.build import build
from reporter.view.config import BuildConfig
from tests.site.browser import DESKTOP, Recorder, serve, wait_for_charts
from tests.site.test_charts_model import ADAM, LONG, log_sweep

EXPONENT = re.compile(r"^-?\d+(\.\d+)?e[+-]?\d+$")


@dataclass(frozen=True)
class Built:
    """The built sweep site and its run ids."""

    out: Path
    ids: dict[str, str]

    @property
    def root(self) -> str:
        """The site's file:// root URL, with a trailing slash."""
        return self.out.resolve().as_uri() + "/"

    @property
    def experiment(self) -> str:
        """The sweep's experiment page."""
        return self.root + "experiments/sweep/index.html"

    def run(self, name: str) -> str:
        """The page of a run, by name."""
        return self.root + f"runs/{self.ids[name]}/index.html"


@pytest.fixture(scope="module")
def cache() -> dict[str, Built]:
    """The site, built by the first test that needs it."""
    return {}


@pytest.fixture
def sweep(
    request: pytest.FixtureRequest,
    cache: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
) -> Built:
    """The sweep of test_charts_model.log_sweep, and an experiment whose one run logs only a
    metric below 0, built once for the module."""
    if "sweep" not in cache:
        store = request.getfixturevalue("store_uri")
        ids = log_sweep()
        mlflow.set_experiment("negative")
        with mlflow.start_run(run_name="below") as run:
            for step in range(10):
                mlflow.log_metric("margin", step - 5.0, step=step)
        ids["below"] = run.info.run_id
        out = tmp_path_factory.mktemp("charts") / "site"
        build(BuildConfig(store=store, out=str(out), max_points=200))
        cache["sweep"] = Built(out, ids)
    return cache["sweep"]


@contextmanager
def tab_of(browser: Any, scheme: str = "light") -> Iterator[tuple[Any, Recorder]]:
    """A desktop page in a fresh context of the given colour scheme, with its recorder."""
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    try:
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        recorder = Recorder()
        recorder.attach(tab)
        yield tab, recorder
    finally:
        context.close()


def figure(tab: Any, key: str) -> Any:
    """The chart of a metric."""
    return tab.locator(f"figure.chart:has(figcaption:text-is('{key}'))")


def chart_data(tab: Any, key: str) -> dict[str, Any]:
    """The JSON block a chart is drawn from."""
    return figure(tab, key).evaluate(
        "f => JSON.parse(f.querySelector('script.chart-data').textContent)"
    )


def axis_labels(tab: Any, key: str, axis: str) -> list[str]:
    """The texts of an axis' labels ("X" or "Y") as the SVG shows them."""
    return (
        figure(tab, key)
        .locator(f"svg g.role-axis[aria-label^='{axis}-axis'] g.role-axis-label text")
        .all_text_contents()
    )


def wait_for_kind(tab: Any, key: str, kind: str) -> None:
    """Wait until a metric's chart is drawn as the given kind (line, bars, band)."""
    figure(tab, key).and_(tab.locator(f"[data-kind='{kind}'][data-drawn='true']")).wait_for()


def sorted_texts(tab: Any, key: str, nth: int) -> list[str]:
    """The texts of a bar chart's nth text layer (0: names, 1: values), top to bottom."""
    return figure(tab, key).evaluate(
        """(f, nth) => Array.from(f.querySelectorAll('svg g.mark-text.role-mark'))[nth]
             .querySelectorAll('text').values().toArray()
             .map(t => [t.getBoundingClientRect().top, t.textContent])
             .sort((a, b) => a[0] - b[0]).map(p => p[1])""",
        nth,
    )


def is_exponent_in_range(label: str) -> bool:
    """True for exponent notation of a value between 1e-3 and 1e6 (or any 'e+')."""
    text = label.replace(",", "")
    return "e+" in text or (bool(EXPONENT.match(text)) and abs(float(text)) >= 1e-3)


# --- numbers -------------------------------------------------------------------------------
def test_axis_labels_and_values_read_as_the_site_writes_numbers(browser, sweep):
    with tab_of(browser) as (tab, rec):
        tab.goto(sweep.experiment)
        assert wait_for_charts(tab) == 7
        labels = {}
        for key in ("loss", "lr", "margin", "r2", "rmse", "score", "throughput"):
            labels[key] = axis_labels(tab, key, "X") + axis_labels(tab, key, "Y")
            assert labels[key], f"{key}: no axis labels"
            assert [t for t in labels[key] if is_exponent_in_range(t)] == [], key
        throughput = axis_labels(tab, "throughput", "Y")
        assert all(t.endswith("M") for t in throughput) and len(set(throughput)) == len(throughput)
        assert {"80", "100", "120"} <= set(axis_labels(tab, "score", "Y"))
        assert "0.5" in axis_labels(tab, "lr", "Y")
        # bar values: one number of decimals for the column, as the runs table writes them
        assert sorted_texts(tab, "rmse", 1)[:3] == ["60.00", "64.50", "69.00"]
        # grouped charts too (they once read 0.000000)
        tab.get_by_label("group runs by").select_option(value="params:opt")
        wait_for_kind(tab, "loss", "band")
        wait_for_charts(tab)
        for key in ("loss", "score", "throughput", "rmse"):
            grouped = axis_labels(tab, key, "X") + axis_labels(tab, key, "Y")
            assert grouped and [t for t in grouped if is_exponent_in_range(t)] == [], key
        assert rec.problems(sweep.root) == []


# --- single values ---------------------------------------------------------------------------
def test_one_value_metrics_are_ranked_bars_with_full_names(browser, sweep):
    with tab_of(browser) as (tab, rec):
        tab.goto(sweep.experiment)
        wait_for_charts(tab)
        rmse, loss = figure(tab, "rmse"), figure(tab, "loss")
        assert chart_data(tab, "rmse")["kind"] == "bars"
        assert chart_data(tab, "loss")["kind"] == "line"
        expect(rmse).to_have_attribute("data-kind", "bars")
        expect(rmse.locator("svg g.mark-rect.role-mark path")).to_have_count(10)
        expect(rmse.locator("svg g.mark-line")).to_have_count(0)
        expect(loss.locator("svg g.mark-line.role-mark path")).to_have_count(10)
        expect(loss.locator("svg g.mark-rect")).to_have_count(0)
        # best first: rmse is lower-is-better, r2 higher-is-better; names whole
        assert sorted_texts(tab, "rmse", 0)[:5] == ["run-00", "run-01", "run-02", LONG, "run-04"]
        assert sorted_texts(tab, "r2", 0)[:2] == ["run-09", "run-08"]
        expect(rmse.locator(".chart-info")).to_have_text(
            "final values, best first (lower is better)"
        )
        # the page's run legend shows the long name whole
        name = tab.locator(".run-legend .run-toggle .run-name", has_text=LONG)
        assert name.evaluate("n => n.textContent === n.closest('button').textContent")
        assert name.evaluate("n => n.scrollWidth <= n.clientWidth")
        # a run page charts only the histories; single values are in its metrics table
        tab.goto(sweep.run("run-05"))
        assert wait_for_charts(tab) == 5
        # its lines are drawn from the run's series.js: the page itself holds no points
        html = tab.content()
        assert '"series":[]' in html and '"series_of"' in html
        drawn = tab.locator("figure.chart .mark-line path").evaluate_all(
            "paths => paths.map(p => (p.getAttribute('d') || '').split('L').length - 1)"
        )
        assert len(drawn) >= 5 and min(drawn) >= 2, drawn
        expect(tab.locator("figure.chart[data-kind='bars']")).to_have_count(0)
        expect(tab.locator("table.metrics td", has_text="rmse")).to_have_count(1)
        assert rec.problems(sweep.root) == []


# --- dark mode -----------------------------------------------------------------------------
CARD_AND_CHART = """f => {
  let card = f.querySelector('.chart-view'), bg = 'rgba(0, 0, 0, 0)';
  while (card && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
    bg = getComputedStyle(card).backgroundColor;
    card = card.parentElement;
  }
  const svg = f.querySelector('.chart-view svg');
  const label = f.querySelector('svg g.role-axis-label text');
  return {card: bg, chart: svg && getComputedStyle(svg).backgroundColor,
          label: label && label.getAttribute('fill')};
}"""


def luminance(rgb: str) -> float:
    """Relative brightness (0 black, 1 white) of an rgb()/#hex colour."""
    if rgb.startswith("#"):
        parts = [int(rgb[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        parts = [int(float(p)) for p in re.findall(r"[\d.]+", rgb)[:3]]
    return sum(parts) / (3 * 255)


@pytest.mark.parametrize("path", ["experiment", "run"])
def test_dark_mode_draws_charts_on_the_cards_colour_and_follows_the_system(browser, sweep, path):
    url = sweep.experiment if path == "experiment" else sweep.run("run-05")
    with tab_of(browser, "dark") as (tab, rec):
        tab.goto(url)
        count = wait_for_charts(tab)
        for i in range(count):
            seen = tab.locator("figure.chart").nth(i).evaluate(CARD_AND_CHART)
            assert seen["chart"] == seen["card"], seen
            assert luminance(seen["card"]) < 0.2 and luminance(seen["label"]) > 0.5, seen
        tab.emulate_media(color_scheme="light")  # the reader's system turns light
        tab.wait_for_function(
            f"""() => Array.from(document.querySelectorAll('figure.chart')).every(f => {{
                  const seen = ({CARD_AND_CHART})(f);
                  return seen.chart === seen.card; }})"""
        )  # drawn again in the light card's colour
        seen = tab.locator("figure.chart").first.evaluate(CARD_AND_CHART)
        assert luminance(seen["card"]) > 0.8 and luminance(seen["label"]) < 0.5, seen
        assert rec.problems(sweep.root) == []


# --- grouping ------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["file", "http"])
def test_group_by_draws_every_run_and_counts_each_group(browser, sweep, where):
    """The ten charted runs all use ADAM; the sgd group, of runs outside the charts, is
    drawn anyway, with its run count (from the group script, loaded when chosen)."""
    with tab_of(browser) as (tab, rec), serve(sweep.out.parent, f"/{sweep.out.name}/") as server:
        root = sweep.root if where == "file" else server.url
        tab.goto(root + "experiments/sweep/index.html")
        wait_for_charts(tab)
        assert not [u for u in rec.requests if "/groups/" in u]  # loaded only when chosen
        tab.get_by_label("group runs by").select_option(value="params:opt")
        wait_for_kind(tab, "loss", "band")
        wait_for_charts(tab)
        loss = figure(tab, "loss")
        legend = loss.locator("svg g.role-legend-label text").all_text_contents()
        assert legend == [f"{ADAM} (10 runs)", "sgd (4 runs)"]  # whole, with counts
        expect(loss.locator("svg g.mark-line.role-mark path")).to_have_count(2)
        expect(loss.locator("svg g.mark-area.role-mark path")).to_have_count(2)
        note = tab.locator(".group-note")
        expect(note).to_contain_text(f"over all 14 runs: {ADAM} (10), sgd (4)")
        expect(tab.locator(".run-legend")).to_be_hidden()
        wait_for_kind(tab, "rmse", "bars")
        assert sorted_texts(tab, "rmse", 0) == [f"{ADAM} (10 runs)", "sgd (4 runs)"]
        assert sorted_texts(tab, "rmse", 1) == ["80.3", "111.8"]  # 4 digits, one column
        tab.get_by_label("x axis").select_option("time")
        expect(note).to_contain_text("seconds since each run's start")
        tab.get_by_label("group runs by").select_option(value="")
        wait_for_kind(tab, "loss", "line")
        expect(note).to_be_hidden()
        expect(loss.locator("svg g.mark-line.role-mark path")).to_have_count(10)
        assert [u for u in rec.requests if "/groups/" in u]
        assert rec.problems(root) == []


def test_group_by_draws_groups_named_like_object_members(browser, store_uri, tmp_path):
    """A param's values are group names: "constructor", "toString" and "__proto__" name
    members of every JavaScript object, and must still be groups like any other."""
    mlflow.set_experiment("protos")
    for i, opt in enumerate(["constructor", "toString", "__proto__", "constructor"]):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_param("opt", opt)
            mlflow.log_metric("score", 0.5 + i / 10)  # one value: bars
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    with tab_of(browser) as (tab, rec):
        root = out.resolve().as_uri() + "/"
        tab.goto(root + "experiments/protos/index.html")
        wait_for_charts(tab)
        tab.get_by_label("group runs by").select_option(value="params:opt")
        wait_for_kind(tab, "score", "bars")
        wait_for_kind(tab, "loss", "band")
        wait_for_charts(tab)
        names = sorted(sorted_texts(tab, "score", 0))
        assert names == ["__proto__ (1 run)", "constructor (2 runs)", "toString (1 run)"]
        expect(figure(tab, "score").locator("svg g.mark-rect.role-mark path")).to_have_count(3)
        assert rec.problems(root) == []


# --- log scale -----------------------------------------------------------------------------
def test_log_scale_draws_only_where_every_value_is_above_zero(browser, sweep):
    with tab_of(browser) as (tab, rec):
        tab.goto(sweep.experiment)
        wait_for_charts(tab)
        tab.locator("input.log-scale").check()
        wait_for_charts(tab)
        expect(figure(tab, "loss")).to_have_attribute("data-scale", "log")
        for key in ("margin", "lr"):  # below 0, reaching 0: drawn linear, and it says why
            chart = figure(tab, key)
            expect(chart).to_have_attribute("data-scale", "linear")
            expect(chart.locator(".chart-info")).to_have_text(
                "linear: log scale needs values above 0"
            )
            expect(chart.locator("svg g.mark-line.role-mark path")).to_have_count(10)
            assert len(axis_labels(tab, key, "Y")) >= 3
        labels = axis_labels(tab, "loss", "Y")
        assert len(labels) >= 3 and not [t for t in labels if is_exponent_in_range(t)]
        # a log scale keeps the data's own range (the lines span the plot's height)
        span = figure(tab, "loss").evaluate(
            """f => { const boxes = Array.from(f.querySelectorAll('svg g.mark-line.role-mark'))
                        .map(g => g.getBoundingClientRect());
                      const top = Math.min(...boxes.map(b => b.top));
                      const bottom = Math.max(...boxes.map(b => b.bottom));
                      const plot = f.querySelector('svg path.background').getBoundingClientRect();
                      return (bottom - top) / plot.height; }"""
        )
        assert span > 0.9
        # a page where no chart can take a log scale does not offer it
        tab.goto(sweep.run("below"))
        wait_for_charts(tab)
        expect(tab.locator("input.log-scale")).to_be_disabled()
        why = tab.locator("label.log-label").get_attribute("title") or ""
        assert "values reach 0 or below" in why
        assert rec.problems(sweep.root) == []


# --- hover ---------------------------------------------------------------------------------
def test_hovering_near_a_line_lists_every_runs_value_at_that_step(browser, sweep):
    with tab_of(browser) as (tab, rec):
        tab.goto(sweep.experiment)
        wait_for_charts(tab)
        figure(tab, "loss").scroll_into_view_if_needed()
        plot = figure(tab, "loss").locator("svg path.background").first.bounding_box()
        x, y = plot["x"] + plot["width"] * 0.62, plot["y"] + plot["height"] * 0.08
        # high above the decayed lines: no line (nor its point) is under the pointer
        under = tab.evaluate(
            "([x, y]) => { const e = document.elementFromPoint(x, y);"
            " return e.closest('g.mark-line, g.mark-symbol') === null; }",
            [x, y],
        )
        assert under
        tab.mouse.move(x, y)
        tip = tab.locator("#vg-tooltip-element.visible")
        expect(tip).to_be_visible()
        expect(tip.locator("h2")).to_have_text(re.compile(r"^step \d+$"))
        keys = tip.locator("td.key").all_text_contents()
        values = tip.locator("td.value").all_text_contents()
        assert len(keys) == 10 and keys[0] == "run-00" and LONG in keys  # best first
        cut = tip.locator("td.key").evaluate_all(
            "cells => cells.filter(c => c.scrollWidth > c.clientWidth).map(c => c.textContent)"
        )
        assert cut == []  # names shown whole
        assert all(re.fullmatch(r"0\.\d{4}", v) for v in values), values
        tab.wait_for_function(  # the rule at the hovered step, and only there
            """f => Array.from(f.querySelectorAll('svg g.mark-rule.role-mark line'))
                 .filter(l => Number(l.getAttribute('opacity') || 1) > 0).length === 1""",
            arg=figure(tab, "loss").element_handle(),
        )
        # the grouped chart's hover lists each group
        tab.get_by_label("group runs by").select_option(value="params:opt")
        wait_for_kind(tab, "loss", "band")
        tab.mouse.move(x + 1, y)
        expect(tip.locator("td.key")).to_have_text([f"{ADAM} (10 runs)", "sgd (4 runs)"])
        assert rec.problems(sweep.root) == []
