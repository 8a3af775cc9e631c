"""The runs table's layout in Chromium, on a sweep wide enough to scroll (see
tests/site/test_table_model.py for the store and the same facts as data): the primary metric in
view at 1,440 px, the run's name pinned when the table scrolls, the best configuration first
with its seed replicates folded, the best value of each metric column marked, tags as columns,
no word or number broken on a phone, a placeholder made of the page's own metric, an invalid
filter marked and said once, and form controls in the page's colours in dark mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

import reporter
from reporter.query import filter as run_filter
from reporter.site.build import build
from reporter.view.config import BuildConfig
from tests.site.browser import (
    PHONE,
    Recorder,
    open_page,
    run_order,
    split_words,
)
from tests.site.test_table_model import experiment, make, make_sweep

WIDE = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
def sweep_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    """The sweep store and its site."""
    root = tmp_path_factory.mktemp("sweep")
    ids = make_sweep(str(root / "store"))
    out = root / "site"
    build(BuildConfig(store=ids["store"], out=str(out), max_points=200))
    yield ids, out


def url(out: Path, hash_: str = "") -> str:
    return (out / "experiments/sweep/index.html").resolve().as_uri() + hash_


def ready(tab: Any) -> None:
    tab.wait_for_selector("table.runs[data-ready='true']", state="attached")


def table_js(out: Path) -> list[list[Any]]:
    """The rows the build wrote to table.js."""
    text = (out / "experiments/sweep/table.js").read_text()
    return list(json.loads(text[len("window.TRACKER_TABLE = ") : -2])["rows"])


def clean(rec: Recorder, out: Path) -> None:
    """No console error, no request outside the site."""
    assert rec.errors == []
    assert rec.outside(out.resolve().as_uri()) == []


@contextmanager
def dark_page(browser: Any, scheme: str) -> Iterator[tuple[Any, Recorder]]:
    """A desktop page in a light or dark colour scheme, with a recorder."""
    context = browser.new_context(viewport=WIDE, color_scheme=scheme)
    try:
        tab = context.new_page()
        rec = Recorder()
        rec.attach(tab)
        yield tab, rec
    finally:
        context.close()


BOX = """sel => { const r = document.querySelector(sel).getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }"""

# Is the element at the centre of the selected element's box that element (or inside it)?
ON_TOP = """sel => { const el = document.querySelector(sel), r = el.getBoundingClientRect();
  const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  return !!hit && (hit === el || el.contains(hit)); }"""


def test_at_1440_px_the_primary_metric_shows_and_the_name_stays_when_scrolled(browser, sweep_site):
    ids, out = sweep_site
    with open_page(browser, WIDE) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        wrap = tab.evaluate(BOX, ".table-wrap")
        assert tab.evaluate(
            "() => { const w = document.querySelector('.table-wrap');"
            " return w.scrollWidth > w.clientWidth + 200; }"
        ), "the sweep's table should be wider than its card"
        first = f"tr[data-run='{ids['config-a']}']"
        for sel in ("th[data-key='metrics.f1']", f"{first} td:nth-child(3)"):
            box = tab.evaluate(BOX, f"table.runs {sel}")
            assert box["left"] >= 0 and box["right"] <= min(WIDE["width"], wrap["right"]), sel
            assert tab.evaluate(ON_TOP, f"table.runs {sel}"), sel
        expect(tab.locator(f"table.runs {first} td:nth-child(3)")).to_have_text("0.9600 ± 0.0100")
        # scrolled to the far right, the pick box and the name stay at the card's left edge
        tab.evaluate(
            "() => { const w = document.querySelector('.table-wrap');"
            " w.scrollLeft = w.scrollWidth; }"
        )
        tab.wait_for_function("() => document.querySelector('.table-wrap').scrollLeft > 200")
        last = tab.evaluate(
            "() => Math.max(...[...document.querySelectorAll('table.runs thead th')]"
            ".map(th => th.getBoundingClientRect().right))"
        )
        assert last <= wrap["right"] + 1  # the table did scroll to its end
        for sel in ("thead th.name", f"{first} td.name", f"{first} td.pick input"):
            box = tab.evaluate(BOX, f"table.runs {sel}")
            assert wrap["left"] <= box["left"] and box["right"] < wrap["left"] + 460, sel
            assert tab.evaluate(ON_TOP, f"table.runs {sel}"), f"{sel} is covered"
        expect(tab.locator(f"table.runs {first} td.name a")).to_have_text("config-a")
        clean(rec, out)


def test_the_best_configuration_comes_first_with_its_replicates_folded(browser, sweep_site):
    ids, out = sweep_site
    rows = table_js(out)
    tops = [r[0] for r in rows if r[2] == 0]
    assert tops[0] == ids["config-a"]  # the data: mean of its seeds, 0.96
    with open_page(browser, WIDE) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        assert run_order(tab) == tops  # no child in view: folded
        expect(tab.locator("table.runs tbody tr:not(.depth-0)")).to_have_count(0)
        f1 = tab.locator("table.runs th[data-key='metrics.f1']")
        expect(f1).to_have_attribute("aria-sort", "descending")
        parent = tab.locator(f"tr[data-run='{ids['config-a']}']")
        fold = parent.locator("button.fold")
        expect(fold).to_have_attribute("aria-expanded", "false")
        expect(parent.locator(".kids")).to_have_text("3 runs")
        expect(parent.locator("td:nth-child(3)")).to_have_attribute(
            "title", "mean ± standard deviation of 3 child runs"
        )
        fold.click()
        expect(fold).to_have_attribute("aria-expanded", "true")
        seeds = ids["a-seeds"][::-1]  # f1 0.97, 0.96, 0.95: best first under the parent
        assert run_order(tab) == [tops[0], *seeds, *tops[1:]]
        for seed in seeds:
            row = tab.locator(f"tr[data-run='{seed}']")
            expect(row).to_have_class("depth-1")
            expect(row).to_have_attribute("data-parent", ids["config-a"])
        # sorting sorts the top-level rows; the open parent keeps its children, sorted too
        f1.locator("button").click()
        expect(f1).to_have_attribute("aria-sort", "ascending")
        order = run_order(tab)
        at = order.index(ids["config-a"])
        assert order[at + 1 : at + 4] == ids["a-seeds"]
        assert [r for r in order if r not in ids["a-seeds"]] == ascending_tops(ids, tops)
        fold.click()
        expect(tab.locator("table.runs tbody tr:not(.depth-0)")).to_have_count(0)
        clean(rec, out)


def ascending_tops(ids: dict[str, Any], tops: list[str]) -> list[str]:
    """The top-level runs by f1 ascending (their own or their children's), missing last."""
    client = reporter.Client(ids["store"])
    f1 = {r: client.get_run(r).data.metrics.get("f1") for r in tops}
    f1[ids["config-a"]] = 0.96
    present = sorted((r for r in tops if f1[r] is not None), key=lambda r: f1[r] or 0.0)
    return present + [r for r in tops if f1[r] is None]


MARKED = """() => {
  const heads = [...document.querySelectorAll('table.runs thead th')];
  const out = {};
  document.querySelectorAll('table.runs tbody td.best').forEach(td => {
    const key = heads[td.cellIndex].dataset.key;
    (out[key] = out[key] || []).push(td.closest('tr').dataset.run);
  });
  return out;
}"""


def test_the_best_value_of_each_metric_column_is_marked(browser, sweep_site):
    ids, out = sweep_site
    exp = experiment(make(ids["store"]))
    expected: dict[str, list[str]] = {}
    for at, col in enumerate(exp.columns):
        for row in exp.rows:
            if row.cells[at].best:
                expected.setdefault(col.key, []).append(row.run_id)
    assert expected["metrics.f1"] == [ids["config-a"]]
    assert set(expected) == {c.key for c in exp.columns if c.better}
    with open_page(browser, WIDE) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        assert tab.evaluate(MARKED) == expected
        best = tab.locator(f"tr[data-run='{ids['config-a']}'] td.best")
        assert best.first.evaluate("td => getComputedStyle(td).fontWeight") == "600"
        # a filter marks the best of the runs it keeps: config-b's own f1 among penalty l1
        text = "params.penalty = 'l1'"
        client = reporter.Client(ids["store"])
        exp_id = client.get_experiment_by_name("sweep").experiment_id  # type: ignore[union-attr]
        kept = client.search_runs([exp_id], text)
        f1 = {r.info.run_id: r.data.metrics["f1"] for r in kept if "f1" in r.data.metrics}
        tab.get_by_role("searchbox", name="Filter runs").fill(text)
        expect(tab.locator("table.runs tbody tr")).to_have_count(len(kept))
        assert tab.evaluate(MARKED)["metrics.f1"] == [max(f1, key=lambda r: f1[r])]
        assert max(f1, key=lambda r: f1[r]) == ids["config-b"]
        clean(rec, out)


def test_tags_can_be_shown_as_columns_and_the_link_keeps_them(browser, sweep_site):
    ids, out = sweep_site
    client = reporter.Client(ids["store"])
    with open_page(browser, WIDE) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        header = tab.locator("table.runs thead th[data-key='tags.team']")
        expect(header).to_be_hidden()  # tags: hidden until picked
        tab.locator(".column-picker summary").click()
        picker = tab.locator(".column-picker fieldset").filter(has_text="Tags")
        box = picker.get_by_label("team")
        expect(box).not_to_be_checked()
        box.check()
        expect(header).to_be_visible()
        col = int(header.get_attribute("data-col") or "0")
        for run_id in ids["flat"][:3]:
            cell = tab.locator(f"tr[data-run='{run_id}'] > td:nth-child({col + 1})")
            expect(cell).to_be_visible()
            expect(cell).to_have_text(client.get_run(run_id).data.tags["team"])
        assert "show=tags.team" in tab.url
        tab.reload()
        ready(tab)
        expect(header).to_be_visible()
        # an older link (hide=, sort= by key) still applies, and tags stay hidden in it
        tab.goto(url(out, "#sort=metrics.rmse:asc&hide=user"))
        tab.reload()
        ready(tab)
        expect(tab.locator("table.runs thead th[data-key='user']")).to_be_hidden()
        expect(header).to_be_hidden()
        rmse = tab.locator("table.runs thead th[data-key='metrics.rmse']")
        expect(rmse).to_have_attribute("aria-sort", "ascending")
        clean(rec, out)


# Cells of the runs table whose text does not sit on one line: the boxes of its text (hidden
# labels aside) share no common band of height.
MULTILINE = """() => [...document.querySelectorAll('table.runs td, table.runs th')]
  .filter(td => td.getClientRects().length)
  .filter(td => {
    const rects = [];
    const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || node.parentElement.closest('.visually-hidden')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      rects.push(...[...range.getClientRects()].filter(r => r.width > 0));
    }
    if (!rects.length) return false;
    return Math.max(...rects.map(r => r.top)) >= Math.min(...rects.map(r => r.bottom));
  }).map(td => td.textContent.trim())"""


# Tables, their cards and the runs table's tools that stick out of the window (a table inside a
# .table-wrap scrolls there and does not count).
OVERFLOW = """() => [...document.querySelectorAll('.table-wrap, table, .table-tools, .filter-help')]
  .filter(e => e.classList.contains('table-wrap') || !e.closest('.table-wrap'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .map(e => e.tagName.toLowerCase() + '.' + e.className)"""


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_no_table_cell_breaks_a_word_or_a_number(browser, sweep_site, size):
    ids, out = sweep_site
    phone = size == "phone"
    with open_page(browser, PHONE if phone else WIDE, mobile=phone) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        tab.locator(f"tr[data-run='{ids['config-a']}'] button.fold").click()
        expect(tab.locator("table.runs tbody tr.depth-1")).to_have_count(3)
        assert split_words(tab, "table th, table td") == []
        assert tab.evaluate(MULTILINE) == []
        # the tables scroll inside their cards, which fit the page
        assert tab.evaluate(OVERFLOW) == []
        clean(rec, out)


def test_the_filter_placeholder_names_the_pages_own_metric_and_param(browser, sweep_site):
    ids, out = sweep_site
    example = experiment(make(ids["store"])).filter_example
    run_filter.parse_filter(example)
    with open_page(browser, WIDE) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        box = tab.get_by_role("searchbox", name="Filter runs")
        placeholder = box.get_attribute("placeholder") or ""
        assert placeholder == f"{example}, or any text"
        assert placeholder.startswith("metrics.f1 > ") and "rmse" not in placeholder
        expect(tab.locator("#filter-help code").nth(1)).to_have_text(example)
        box.fill(example)  # the example works in the page too
        expect(tab.locator(".filter-message")).to_be_hidden()
        assert len(run_order(tab)) > 0
        clean(rec, out)


def test_an_invalid_filter_is_marked_as_an_error_and_said_once(browser, sweep_site):
    _, out = sweep_site
    bad = "metrics.f1 > 0.9 and"
    with pytest.raises(reporter.MlflowException) as raised:
        run_filter.parse_filter(bad)
    first = str(raised.value.message).splitlines()[0]
    with open_page(browser, WIDE) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        box = tab.get_by_role("searchbox", name="Filter runs")
        border = "el => getComputedStyle(el).borderTopColor"
        valid = box.evaluate(border)
        box.fill(bad)
        expect(box).to_have_attribute("aria-invalid", "true")
        message = tab.locator(".filter-message")
        expect(message).to_be_visible()
        expect(message.locator(".message-text")).to_have_text(first)
        assert first.startswith("Invalid filter at position 20: ")
        assert (message.text_content() or "").count("Invalid filter") == 1
        red = message.evaluate("el => getComputedStyle(el).color")
        assert box.evaluate(border) == red != valid
        assert message.evaluate("el => getComputedStyle(el).borderTopColor") == red
        box.fill("metrics.f1 > 0.9")
        expect(message).to_be_hidden()
        expect(box).not_to_have_attribute("aria-invalid", "true")
        clean(rec, out)


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_form_controls_take_the_pages_colours(browser, sweep_site, scheme):
    _, out = sweep_site
    with dark_page(browser, scheme) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        page_bg = tab.evaluate("() => getComputedStyle(document.body).backgroundColor")
        page_fg = tab.evaluate("() => getComputedStyle(document.body).color")
        assert (page_bg == "rgb(255, 255, 255)") == (scheme == "light")
        for sel in (".table-filter", ".column-picker input[type=checkbox]", "button.show-more"):
            scheme_of = tab.evaluate(
                f"() => getComputedStyle(document.querySelector('{sel}')).colorScheme"
            )
            assert scheme_of == scheme, sel
        box = tab.locator(".table-filter")
        assert box.evaluate("el => getComputedStyle(el).backgroundColor") == page_bg
        assert box.evaluate("el => getComputedStyle(el).color") == page_fg
        clean(rec, out)


def test_the_script_draws_the_rows_the_html_holds(browser, sweep_site):
    """Folds, counts, aggregated cells and best marks: the build's first rows (the page
    without JavaScript) and the rows the script draws from table.js are the same."""
    _, out = sweep_site
    probe = """() => [...document.querySelectorAll('table.runs tbody tr')].map(tr =>
        [tr.dataset.run, tr.className, tr.dataset.parent || null,
         ...[...tr.cells].map(td => [td.className, td.title, td.innerHTML])])"""
    with open_page(browser, WIDE, javascript=False) as (plain, _):
        plain.goto(url(out))
        without_script = plain.evaluate(probe)
    with open_page(browser, WIDE) as (tab, rec):
        tab.goto(url(out))
        ready(tab)
        with_script = tab.evaluate(probe)
        clean(rec, out)
    assert len(without_script) == 14  # the top-level rows: 12 flat runs, 2 configurations
    assert with_script == without_script
    assert sum("fold" in str(row) for row in with_script) == 2
    assert any("best" in cell[0] for row in with_script for cell in row[3:])
