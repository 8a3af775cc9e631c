"""The built site in a real browser (Debian's chromium through Playwright): pages load from
file:// and under an HTTP sub-path without errors or outside requests, charts draw, the runs
table sorts, filters and hides columns, the x-axis switch redraws, untrusted names stay text,
and a phone-sized screen does not scroll sideways.

One browser per module, a fresh context and page per test. See tests/site/browser.py.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

import reporter as mlflow
from reporter.site.build import build
from reporter.view.config import BuildConfig
from tests.site.browser import (
    PHONE,
    chart_state,
    horizontal_overflow,
    inline_scripts,
    open_page,
    run_order,
    serve,
    settle,
    split_words,
    styled,
    wait_for_charts,
)
from tests.site.conftest import EVIL

PAGES = {
    "index": "index.html",
    "experiment": "experiments/forecast/index.html",
    "run": "runs/{parent}/index.html",
    "404": "404.html",
}


def page_path(kind: str, ids: dict[str, str]) -> str:
    """Return the site-relative path of a page of the example store."""
    return PAGES[kind].format(**ids)


@dataclass(frozen=True)
class Site:
    """A built site: its folder and the ids of the example store's runs."""

    out: Path
    ids: dict[str, str]

    @property
    def root(self) -> str:
        """The site's file:// root URL, with a trailing slash."""
        return self.out.resolve().as_uri() + "/"

    def url(self, kind: str) -> str:
        """Return the file:// URL of a page type (see PAGES)."""
        return self.root + page_path(kind, self.ids)


@pytest.fixture(scope="module")
def site_cache() -> dict[str, Site]:
    """Sites built once for the module: the tests only read their pages."""
    return {}


@pytest.fixture
def site(
    request: pytest.FixtureRequest,
    site_cache: dict[str, Site],
    tmp_path_factory: pytest.TempPathFactory,
) -> Site:
    """The example site (tests/site/conftest.py `built`), built by the first test that needs it
    and copied aside for the module's other tests."""
    if "example" not in site_cache:
        _, out = request.getfixturevalue("built")
        ids = dict(request.getfixturevalue("site_store"))
        copy = tmp_path_factory.mktemp("browser-example") / "site"
        shutil.copytree(out, copy)
        site_cache["example"] = Site(copy, ids)
    return site_cache["example"]


@pytest.fixture
def evil_site(
    request: pytest.FixtureRequest,
    site_cache: dict[str, Site],
    tmp_path_factory: pytest.TempPathFactory,
) -> Site:
    """The example store plus an experiment named EVIL with a run named EVIL, so that the
    index shows the name too; built once for the module."""
    if "evil" not in site_cache:
        ids = dict(request.getfixturevalue("site_store"))
        mlflow.set_experiment(EVIL)
        with mlflow.start_run(run_name=EVIL):
            mlflow.log_metric("accuracy", 0.5)
        out = tmp_path_factory.mktemp("browser-evil") / "site"
        build(BuildConfig(store=ids["store"], out=str(out), max_points=200))
        site_cache["evil"] = Site(out, ids)
    return site_cache["evil"]


# --- 1, 2: every page type loads cleanly --------------------------------------------------
@pytest.mark.parametrize("kind", list(PAGES))
def test_page_loads_cleanly_from_file(page, site, kind):
    tab, rec = page
    tab.goto(site.url(kind))
    settle(tab)
    expect(tab.locator("main > h1")).to_have_count(1)
    assert styled(tab), "the theme's stylesheet did not apply"
    assert rec.problems(site.root) == []
    assert rec.requests[0] == site.url(kind)


@pytest.mark.parametrize("kind", list(PAGES))
def test_page_loads_cleanly_under_an_http_sub_path(page, site, kind):
    tab, rec = page
    with serve(site.out.parent, f"/{site.out.name}/") as server:
        response = tab.goto(server.url + page_path(kind, site.ids))
        assert response is not None and response.status == 200
        settle(tab)
        assert styled(tab), "the theme's stylesheet did not apply"
        # The browser's own guess at /favicon.ico (origin root, outside the site) is left to
        # test_pages_declare_their_own_icon.
        assert rec.problems(server.url) == []
    seen = [(path, status) for _, path, status in server.log if path != "/favicon.ico"]
    assert seen, "the server saw no request"
    assert [s for s in seen if not s[0].startswith(server.prefix) or s[1] >= 400] == []


def test_every_page_and_link_works_under_an_http_sub_path(page, site):
    """Crawl from the index: every page loads cleanly, every link stays in the site and works."""
    tab, rec = page
    with serve(site.out.parent, f"/{site.out.name}/") as server:
        todo, pages, files = [server.url + "index.html"], set(), set()
        while todo:
            url = todo.pop()
            if url in pages:
                continue
            pages.add(url)
            response = tab.goto(url)
            assert response is not None and response.status == 200, url
            settle(tab)
            for link in tab.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                target = link.split("#", 1)[0]
                if not target.startswith(server.origin + "/"):
                    continue  # another site, e.g. a commit on the git host
                assert target.startswith(server.url), f"{url} links outside the site: {link}"
                if target.endswith(".html"):
                    todo.append(target)
                else:
                    files.add(target)
        for target in sorted(files):
            assert tab.request.get(target).status == 200, target
        assert rec.problems(server.url) == []
    runs = [site.ids[k] for k in ("parent", "child", "evil", "cnn")]
    expected = {
        "index.html",
        "experiments/forecast/index.html",
        "experiments/vision/index.html",
        "experiments/forecast/compare.html",
        "experiments/vision/compare.html",
        "storage/index.html",  # linked from every page's top bar
    }
    expected |= {f"runs/{r}/index.html" for r in runs}
    assert {p[len(server.url) :] for p in pages} == expected  # the deleted run is not linked
    assert any(f.endswith(".csv") for f in files) and any("/artifacts/" in f for f in files)


# --- 3: charts ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["experiment", "run"])
def test_every_chart_draws_every_point(page, site, kind):
    tab, rec = page
    tab.goto(site.url(kind))
    # rmse, logged once per run, is ranked bars on the experiment page and only in the run
    # page's metrics table
    keys = ["loss", "rmse"] if kind == "experiment" else ["loss"]
    assert wait_for_charts(tab) == len(keys)
    charts = chart_state(tab)
    assert [c["key"] for c in charts] == keys
    for chart in charts:
        assert chart["drawn"] == "true" and chart["svgs"] == 1 and not chart["failed"], chart
        assert chart["marks"], f"no mark drawn in {chart['key']}"
    # every kept point is a vertex of a line (one line per run): 200 for the long loss
    assert sum(charts[0]["lines"]) == charts[0]["shown"] == 200
    expect(tab.locator("figure.chart").first).to_contain_text("200 of 5,000 points")
    bars = tab.locator("figure.chart[data-kind='bars'] svg g.mark-rect.role-mark path")
    expect(bars).to_have_count(3 if kind == "experiment" else 0)  # a bar a run
    assert rec.errors == []


def test_charts_keep_their_accessible_name(page, site):
    tab, _ = page
    tab.goto(site.url("experiment"))
    wait_for_charts(tab)
    labels = {c["key"]: c["label"] for c in chart_state(tab)}
    assert all(key in (label or "") for key, label in labels.items()), labels


# --- 4: the runs table --------------------------------------------------------------------
def test_runs_table_sorts_numerically_with_missing_values_last(page, site):
    tab, rec = page
    ids = site.ids
    tab.goto(site.url("experiment"))
    rmse = tab.locator("table.runs thead th").filter(has_text="rmse")
    rmse.get_by_role("button").click()
    expect(rmse).to_have_attribute("aria-sort", "ascending")
    assert run_order(tab) == [ids["parent"], ids["evil"]]  # 3.25, 4; the child folded under it
    rmse.get_by_role("button").click()
    expect(rmse).to_have_attribute("aria-sort", "descending")
    assert run_order(tab) == [ids["evil"], ids["parent"]]
    # loss: only the parent has it; the runs without it stay last in both directions
    loss = tab.locator("table.runs thead th").filter(has_text="loss")
    for direction in ("ascending", "descending"):
        loss.get_by_role("button").click()
        expect(loss).to_have_attribute("aria-sort", direction)
        expect(rmse).to_have_attribute("aria-sort", "none")
        assert run_order(tab)[0] == ids["parent"]
    assert rec.errors == []


def test_runs_table_filter_and_empty_note(page, site):
    tab, rec = page
    tab.goto(site.url("experiment"))
    box = tab.get_by_role("searchbox", name="Filter runs")
    rows = tab.locator("table.runs tbody tr:visible")
    note = tab.locator(".empty-note")
    expect(rows).to_have_count(2)  # the child run is folded under its parent
    expect(note).to_be_hidden()
    box.press_sequentially("child")
    expect(rows).to_have_count(1)
    assert run_order(tab) == [site.ids["child"]]
    expect(note).to_be_hidden()
    box.fill("no run has this text")
    expect(rows).to_have_count(0)
    expect(note).to_be_visible()
    box.fill("")
    expect(rows).to_have_count(2)
    expect(note).to_be_hidden()
    assert rec.errors == []


def test_column_picker_hides_and_shows_a_column(page, site):
    tab, rec = page
    tab.goto(site.url("experiment"))
    tab.locator(".column-picker summary").click()
    box = tab.locator(".column-picker label").filter(has_text="rmse").locator("input")
    col = int(box.get_attribute("data-col") or "-1")
    header = tab.locator(f"table.runs thead th[data-col='{col}']")
    cells = tab.locator(f"table.runs tbody tr > td:nth-child({col + 1})")
    expect(header).to_have_text("rmse")
    expect(cells).to_have_count(2)  # the child run is folded under its parent
    box.uncheck()
    expect(header).to_be_hidden()
    for i in range(2):
        expect(cells.nth(i)).to_be_hidden()
    expect(tab.locator("table.runs thead th").filter(has_text="loss")).to_be_visible()
    expect(tab.locator("table.runs tbody tr > td:first-child").first).to_be_visible()
    box.check()
    expect(header).to_be_visible()
    for i in range(2):
        expect(cells.nth(i)).to_be_visible()
    assert rec.errors == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_runs_table_never_breaks_a_header_or_number_mid_word(browser, site, size, tmp_path):
    """The table scrolls inside its wrapper rather than squeezing 'Duration' into 'Duratio|n'
    or '0.0002' into '0.000|2' (as it did with `overflow-wrap: anywhere` on every cell)."""
    phone = size == "phone"
    with open_page(browser, PHONE if phone else None, mobile=phone) as (tab, _):
        tab.goto(site.url("experiment"))
        tab.screenshot(path=str(tmp_path / f"runs-table-{size}.png"), full_page=True)
        assert split_words(tab, "table.runs th, table.runs td.num") == []


# --- 5: the x-axis switch -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["experiment", "run"])
def test_x_axis_switch_redraws_every_chart(page, site, kind):
    tab, rec = page
    tab.goto(site.url(kind))
    wait_for_charts(tab)
    lines = tab.locator("figure.chart[data-kind='line'] svg g.role-axis[aria-label^='X-axis']")
    title = lines.locator(".role-axis-title text")
    expect(title).to_have_text(["step"])  # loss; rmse's bars have no x axis of steps
    select = tab.get_by_label("x axis")
    for value, text in [
        ("time", "wall time (UTC)"),
        ("relative", "relative time (s)"),
        ("step", "step"),
    ]:
        select.select_option(value)
        expect(title).to_have_text([text])
        wait_for_charts(tab)
        loss = chart_state(tab)[0]
        assert sum(loss["lines"]) == loss["shown"], value
    assert rec.errors == []


# --- 6: untrusted text stays text ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["run", "experiment", "index"])
def test_untrusted_names_are_shown_not_run(page, evil_site, kind):
    tab, rec = page
    path = {
        "run": f"runs/{evil_site.ids['evil']}/index.html",
        "experiment": "experiments/forecast/index.html",
        "index": "index.html",
    }[kind]
    tab.goto(evil_site.root + path)
    settle(tab)
    assert tab.evaluate("typeof window.__pwned") == "undefined"
    # shown (the first visible one: a tag column's label waits, hidden, in the column picker)
    expect(tab.get_by_text(EVIL, exact=True).locator("visible=true").first).to_be_visible()
    assert inline_scripts(tab) == []
    assert rec.dialogs == [] and rec.errors == []  # the description's alert(1) did not run
    if kind == "run":
        assert EVIL in tab.title()
        expect(tab.locator("main > h1")).to_contain_text(EVIL)


# --- 7: phones ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["run", "experiment", "index"])
def test_phone_viewport_does_not_scroll_sideways(browser, site, kind, tmp_path):
    with open_page(browser, PHONE, mobile=True) as (tab, rec):
        tab.goto(site.url(kind))
        wait_for_charts(tab)
        tab.screenshot(path=str(tmp_path / f"phone-{kind}.png"), full_page=True)
        overflow = horizontal_overflow(tab)
        assert overflow["scrollWidth"] <= overflow["innerWidth"] + 1, overflow
        assert rec.errors == []


# --- regressions: bugs these tests found -----------------------------------------------
def test_404_page_works_when_served_for_a_missing_url(browser, site_store, tmp_path):
    out = tmp_path / "site"
    with serve(tmp_path, f"/{out.name}/", not_found_page=out / "404.html") as server:
        build(
            BuildConfig(
                store=site_store["store"], out=str(out), max_points=200, base_url=server.url
            )
        )
        missing = server.url + f"runs/{site_store['deleted']}/index.html"
        with open_page(browser) as (tab, rec):
            response = tab.goto(missing)
            assert response is not None and response.status == 404
            expect(tab.get_by_role("heading", name="Page not found")).to_be_visible()
            settle(tab)
            back = tab.get_by_role("link", name="Back to all experiments")
            assert back.evaluate("a => a.href") == server.url + "index.html"
            assert styled(tab), "the 404 page's stylesheet did not load"
            ignore = (missing,)
            assert rec.problems(server.url, ignore=ignore) == []


def test_pages_declare_their_own_icon(page, site):
    tab, _ = page
    icons = {}
    for kind in PAGES:
        tab.goto(site.url(kind))
        icons[kind] = tab.eval_on_selector_all('link[rel~="icon"]', "ls => ls.map(l => l.href)")
    assert all(icons.values()), icons
    assert all(h.startswith((site.root, "data:")) for hrefs in icons.values() for h in hrefs)
