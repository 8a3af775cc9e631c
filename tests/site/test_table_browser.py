"""The runs table in a real browser: the filter box (the search_runs grammar, checked against
the Python API on the same store), its error message, the view kept in the URL, and a table
too long to render at once (first rows in the HTML, the rest from table.js in chunks).

In the example store the child run is folded under its parent: it shows when a filter is on
(folds start open then) or when the parent is opened."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

import reporter
from reporter.entities import Metric, Param
from reporter.site.build import build
from reporter.site.table import FIRST_ROWS
from reporter.view.config import BuildConfig
from tests.site.browser import open_page, run_order

BIG_RUNS = 250
CHUNK = 100  # rows the page renders at a time (static/app.js)


def page_url(out: Path, slug: str) -> str:
    return (out / f"experiments/{slug}/index.html").resolve().as_uri()


def python_ids(store: str, experiment: str, filter_string: str) -> set[str]:
    """The runs search_runs finds for a filter: what the page must show."""
    client = reporter.Client(store)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    return {r.info.run_id for r in client.search_runs([exp.experiment_id], filter_string)}


def table_ready(tab: Any) -> None:
    tab.wait_for_selector("table.runs[data-ready='true']", state="attached")


# --- the filter box on the example store ----------------------------------------------------
GRAMMAR_FILTERS = [
    "metrics.rmse < 3",
    "metrics.rmse < 3.5 and params.depth = '8'",
    "params.depth = '4' OR metrics.rmse >= 4",
    "(params.depth = '4' or params.depth = '8') and metrics.rmse > 3",
    "params.depth LIKE '%<script%'",
    "attributes.run_name ILIKE 'PAR%'",
    "tags.team = 'grid'",
    "metrics.loss IS NULL",
    "status = 'FINISHED' and start_time > 0",
]


def test_filter_box_takes_the_search_runs_grammar(page, built, site_store):
    tab, rec = page
    _, out = built
    tab.goto(page_url(out, "forecast"))
    table_ready(tab)
    box = tab.get_by_role("searchbox", name="Filter runs")
    for text in GRAMMAR_FILTERS:
        want = python_ids(site_store["store"], "forecast", text)
        box.fill(text)
        tab.wait_for_function(
            "n => document.querySelectorAll('table.runs tbody tr').length === n", arg=len(want)
        )
        assert set(run_order(tab)) == want, text
        expect(tab.locator(".filter-message")).to_be_hidden()
    # text without an operator is looked for in every column
    box.fill("child")
    expect(tab.locator("table.runs tbody tr")).to_have_count(1)
    assert run_order(tab) == [site_store["child"]]
    box.fill("metrics.rmse > 100")
    expect(tab.locator("table.runs tbody tr")).to_have_count(0)
    expect(tab.locator(".empty-note")).to_be_visible()
    expect(tab.locator(".table-status")).to_have_text("0 of 3 runs match.")
    assert rec.errors == []


def test_an_invalid_filter_shows_the_parser_message_and_keeps_the_view(page, built, site_store):
    tab, rec = page
    _, out = built
    tab.goto(page_url(out, "forecast"))
    table_ready(tab)
    box = tab.get_by_role("searchbox", name="Filter runs")
    box.fill("metrics.rmse > 2.6")
    expect(tab.locator("table.runs tbody tr")).to_have_count(2)
    kept = run_order(tab)
    assert set(kept) == {site_store["parent"], site_store["evil"]}
    message = tab.locator(".filter-message")
    for bad in ("metrics.rmse <", "params.depth > '4'", "nonsense.key = 1", "metrics.rmse < 3 and"):
        with pytest.raises(reporter.MlflowException) as raised:
            reporter.Client(site_store["store"]).search_runs(["0"], bad)
        box.fill(bad)
        expect(message).to_be_visible()
        expect(message).to_have_attribute("role", "alert")
        said = str(raised.value.message).splitlines()
        assert said[0].startswith("Invalid filter at position ")
        # the page's message is the Python API's, word for word, said once: the first line,
        # then the text with the caret under the position
        expect(message.locator(".message-text")).to_have_text(said[0])
        assert message.locator(".message-where").text_content() == "\n".join(said[1:])
        assert (message.text_content() or "").count("Invalid filter") == 1
        expect(box).to_have_attribute("aria-invalid", "true")
        assert run_order(tab) == kept  # the last valid view stays
    # sorting while the text is invalid sorts the last valid view
    rmse = tab.locator("table.runs thead th").filter(has_text="rmse").locator("button")
    rmse.click()
    tab.wait_for_function(
        "() => document.querySelector('table.runs tbody tr').dataset.run === "
        f"'{site_store['parent']}'"
    )
    assert run_order(tab) == [site_store["parent"], site_store["evil"]]  # 3.25, 4
    rmse.click()
    tab.wait_for_function(
        "() => document.querySelector('table.runs tbody tr').dataset.run === "
        f"'{site_store['evil']}'"
    )
    expect(message).to_be_visible()
    box.fill("metrics.rmse < 3.5")
    expect(message).to_be_hidden()
    expect(box).not_to_have_attribute("aria-invalid", "true")
    expect(tab.locator("table.runs tbody tr")).to_have_count(2)
    assert rec.errors == []


def test_filter_sort_and_columns_come_back_from_the_url(page, built, site_store, browser):
    tab, rec = page
    _, out = built
    tab.goto(page_url(out, "forecast"))
    table_ready(tab)
    tab.locator("table.runs thead th").filter(has_text="rmse").locator("button").click()
    text = "metrics.rmse >= 2.5 and params.depth != 'x y' and run_name != '<&>'"
    tab.get_by_role("searchbox", name="Filter runs").fill(text)
    tab.locator(".column-picker summary").click()
    tab.locator(".column-picker label").filter(has_text="User").locator("input").uncheck()
    shared = tab.url
    fragment = shared.split("#", 1)[1]
    assert re.search(r"(^|&)sort=metrics\.rmse:asc(&|$)", fragment)
    assert re.search(r"(^|&)hide=user(&|$)", fragment)
    assert "filter=" in fragment and " " not in fragment and "<" not in fragment
    order = run_order(tab)
    assert set(order) == python_ids(site_store["store"], "forecast", text)
    # sorting sorts the top-level rows; the child stays under its parent (open: a filter is on)
    assert order == [site_store["parent"], site_store["child"], site_store["evil"]]
    for again in (tab, None):
        if again is None:  # a reader who was sent the link
            with open_page(browser) as (other, other_rec):
                other.goto(shared)
                check_restored(other, text, order)
                assert other_rec.errors == []
        else:
            again.reload()
            check_restored(again, text, order)
    assert rec.errors == []


def check_restored(tab: Any, text: str, order: list[str]) -> None:
    table_ready(tab)
    expect(tab.get_by_role("searchbox", name="Filter runs")).to_have_value(text)
    assert run_order(tab) == order
    rmse = tab.locator("table.runs thead th").filter(has_text="rmse")
    expect(rmse).to_have_attribute("aria-sort", "ascending")
    expect(tab.locator("table.runs thead th").filter(has_text="User")).to_be_hidden()
    col = int(
        tab.locator("table.runs thead th").filter(has_text="User").get_attribute("data-col") or "0"
    )
    for cell in tab.locator(f"table.runs tbody tr > td:nth-child({col + 1})").all():
        expect(cell).to_be_hidden()


def test_a_link_survives_a_rebuild_that_adds_columns_and_a_pasted_hash_applies(
    page, built, site_store
):
    tab, rec = page
    _result, out = built
    link = page_url(out, "forecast") + "#sort=metrics.rmse:desc&hide=user"
    import reporter as mlflow

    mlflow.set_experiment("forecast")
    with mlflow.start_run(run_name="newcomer") as run:  # its param sorts before the others
        mlflow.log_params({"aaa": 1})
        mlflow.log_metric("rmse", 10.0)
    build(BuildConfig(store=site_store["store"], out=str(out), max_points=200, max_artifact_mb=0.1))
    tab.goto(link)
    table_ready(tab)
    rmse = tab.locator("table.runs thead th").filter(has_text="rmse")
    expect(rmse).to_have_attribute("aria-sort", "descending")
    assert run_order(tab) == [
        run.info.run_id,
        site_store["evil"],
        site_store["parent"],
    ]  # rmse 10, 4, 3.25; the child (2.5) folded under its parent
    expect(tab.locator("table.runs thead th[data-key='user']")).to_be_hidden()
    # a pasted link that changes only the hash applies; older links name columns by number
    col = rmse.get_attribute("data-col")
    tab.evaluate(f"() => {{ location.hash = 'sort={col}:asc&filter=metrics.rmse%20%3C%204'; }}")
    expect(rmse).to_have_attribute("aria-sort", "ascending")
    expect(tab.locator("table.runs tbody tr")).to_have_count(2)
    assert run_order(tab) == [site_store["parent"], site_store["child"]]
    expect(tab.locator("table.runs thead th[data-key='user']")).to_be_visible()
    expect(tab.get_by_role("searchbox", name="Filter runs")).to_have_value("metrics.rmse < 4")
    assert rec.errors == []


def test_picked_runs_stay_picked_through_sort_and_filter(page, built, site_store):
    tab, rec = page
    _, out = built
    tab.goto(page_url(out, "forecast"))
    table_ready(tab)
    tab.locator(f"tr[data-run='{site_store['parent']}'] button.fold").click()  # shows the child
    tab.locator(f"input.run-pick[value='{site_store['child']}']").check()
    tab.locator(f"input.run-pick[value='{site_store['evil']}']").check()
    tab.locator("table.runs thead th").filter(has_text="rmse").locator("button").click()
    box = tab.get_by_role("searchbox", name="Filter runs")
    box.fill("metrics.rmse > 3")
    box.fill("")
    expect(tab.locator("input.run-pick:checked")).to_have_count(2)
    link = tab.locator("a.compare-link")
    expect(link).to_have_attribute("aria-disabled", "false")
    href = link.get_attribute("href") or ""
    assert href.endswith(f"#runs={site_store['child']},{site_store['evil']}")
    assert rec.errors == []


# --- a table longer than one chunk ------------------------------------------------------------
@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[str]]]:
    """An experiment of BIG_RUNS runs, oldest first in the returned ids; the oldest run has the
    lowest rmse, so it is the first row of the default order (rmse, best first) though it is
    the oldest."""
    root = tmp_path_factory.mktemp("big-table")
    store = str(root / "store")
    client = reporter.Client(store)
    exp = client.create_experiment("many")
    ids = []
    for i in range(BIG_RUNS):
        run = client.create_run(exp, start_time=1_700_000_000_000 + i * 1000, run_name=f"r{i:03d}")
        rmse = 0.01 if i == 0 else 1.0 + (i * 37 % BIG_RUNS) / 100
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("rmse", rmse, 0, 0)],
            params=[Param("depth", str(i % 7)), Param("lr", str(i % 3 / 10))],
        )
        client.set_terminated(run.info.run_id, end_time=1_700_000_000_500 + i * 1000)
        ids.append(run.info.run_id)
    out = root / "site"
    build(BuildConfig(store=store, out=str(out)))
    yield store, out, ids


def by_rmse(store: str, direction: str = "ASC") -> list[str]:
    """Every run of the big experiment, ordered by rmse as search_runs orders them."""
    client = reporter.Client(store)
    exp = client.get_experiment_by_name("many")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], order_by=[f"metrics.rmse {direction}"])
    return [r.info.run_id for r in runs]


def test_a_long_table_opens_with_one_chunk_and_loads_the_rest(page, big_site):
    tab, rec = page
    store, out, ids = big_site
    best_first = by_rmse(store)
    assert best_first[0] == ids[0] and len(best_first) == BIG_RUNS
    html = (out / "experiments/many/index.html").read_text()
    server_rows = re.findall(r'<tr data-run="([0-9a-f]+)"', html)
    assert server_rows == best_first[:FIRST_ROWS]  # by rmse, best first; only the first rows
    tab.goto(page_url(out, "many"))
    table_ready(tab)
    assert run_order(tab) == best_first[:CHUNK]
    expect(tab.locator("table.runs thead th[data-key='metrics.rmse']")).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(tab.locator(".table-status")).to_have_text(f"Showing {CHUNK} of {BIG_RUNS} runs.")
    expect(tab.locator("#runs-heading .count")).to_have_text(f"({BIG_RUNS})")
    # "Show all" renders every row (clicked where it is: scrolling to it would load rows)
    tab.get_by_role("button", name="Show all").dispatch_event("click")
    expect(tab.locator("table.runs tbody tr")).to_have_count(BIG_RUNS)
    expect(tab.locator(".more-rows")).to_be_hidden()
    assert run_order(tab) == best_first
    # on a fresh load, scrolling to the end of the table brings the next chunk
    tab.reload()
    table_ready(tab)
    assert len(run_order(tab)) == CHUNK
    tab.locator("button.show-more").scroll_into_view_if_needed()
    tab.wait_for_function(
        "n => document.querySelectorAll('table.runs tbody tr').length >= n", arg=2 * CHUNK
    )
    assert run_order(tab) == best_first[: len(run_order(tab))]
    assert rec.errors == []


def test_sort_and_filter_see_every_run_not_just_the_rendered_ones(page, big_site):
    tab, rec = page
    store, out, ids = big_site
    tab.goto(page_url(out, "many"))
    table_ready(tab)
    rmse = tab.locator("table.runs thead th").filter(has_text="rmse")
    rmse.locator("button").click()  # the default order is rmse ascending: now descending
    expect(rmse).to_have_attribute("aria-sort", "descending")
    worst_first = by_rmse(store, "DESC")
    expect(tab.locator("table.runs tbody tr").first).to_have_attribute("data-run", worst_first[0])
    assert run_order(tab) == worst_first[:CHUNK]
    rmse.locator("button").click()
    expect(tab.locator("table.runs tbody tr").first).to_have_attribute("data-run", ids[0])
    assert run_order(tab) == by_rmse(store)[:CHUNK]
    text = "params.depth = '3' and metrics.rmse < 2"
    want = python_ids(store, "many", text)
    assert 0 < len(want) < CHUNK
    tab.get_by_role("searchbox", name="Filter runs").fill(text)
    tab.wait_for_function(
        "n => document.querySelectorAll('table.runs tbody tr').length === n", arg=len(want)
    )
    assert set(run_order(tab)) == want
    expect(tab.locator(".table-status")).to_have_text(f"{len(want)} of {BIG_RUNS} runs match.")
    text = "metrics.rmse > 1.2"
    want = python_ids(store, "many", text)
    assert len(want) > CHUNK
    tab.get_by_role("searchbox", name="Filter runs").fill(text)
    expect(tab.locator(".table-status")).to_have_text(
        f"Showing {CHUNK} of {len(want)} matching runs ({BIG_RUNS} in all)."
    )
    tab.get_by_role("button", name="Show all").dispatch_event("click")
    expect(tab.locator("table.runs tbody tr")).to_have_count(len(want))
    assert set(run_order(tab)) == want
    assert rec.errors == []


def test_rows_drawn_by_the_script_match_the_rows_in_the_html(browser, big_site):
    _, out, _ids = big_site
    probe = """() => [...document.querySelectorAll('table.runs tbody tr')].map(tr =>
        [tr.dataset.run, tr.className,
         tr.querySelector('input.run-pick').getAttribute('aria-label'),
         ...[...tr.cells].slice(1).map(td => [td.className, td.innerHTML])])"""
    with open_page(browser, javascript=False) as (plain, _):
        plain.goto(page_url(out, "many"))
        without_script = plain.evaluate(probe)
        expect(plain.locator("noscript")).to_have_count(1)
    with open_page(browser) as (tab, rec):
        tab.goto(page_url(out, "many"))
        table_ready(tab)
        with_script = tab.evaluate(probe)
        assert rec.errors == []
    assert len(without_script) == FIRST_ROWS
    assert with_script == without_script


def test_many_runs_draw_the_explore_views_on_canvas_when_they_come_into_view(page, big_site):
    tab, rec = page
    _, out, _ = big_site
    tab.goto(page_url(out, "many"))
    table_ready(tab)
    figures = tab.locator("figure.explore-chart")
    expect(figures).to_have_count(2)
    tab.wait_for_timeout(300)
    for i in range(2):  # below the fold: not drawn yet
        assert figures.nth(i).get_attribute("data-drawn") is None
    figures.first.scroll_into_view_if_needed()
    for i in range(2):
        expect(figures.nth(i)).to_have_attribute("data-drawn", "true")
        expect(figures.nth(i)).to_have_attribute("data-renderer", "canvas")
        expect(figures.nth(i).locator("canvas")).to_have_count(1)
    assert rec.errors == []
