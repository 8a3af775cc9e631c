"""The index, run, compare and report pages in Chromium: the compare page's numbers (deltas
with 3 significant digits, one number of decimals per metric), and on a 390 px phone no table
cell or fact that breaks inside a word and nothing wider than the screen outside a scrolling
table. No console errors, no request outside the site."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from reporter.site.build import build
from reporter.view import numbers
from reporter.view.config import BuildConfig
from tests.site.browser import PHONE, horizontal_overflow, open_page, settle, split_words
from tests.site.test_pages_data import decimals, sweep  # noqa: F401  (the store fixture)

CHOSEN = ("run-1", "run-2", "run-5")  # the first is the baseline


@pytest.fixture
def built(sweep: dict[str, str], store_uri: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:  # noqa: F811
    """The sweep's site, built into tmp_path/site."""
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out), primary_metric={"sweep": "f1"}))
    return out, sweep


METRIC_ROWS = """() => Array.from(document.querySelectorAll('.cmp-metrics tbody tr')).map(tr => ({
  key: tr.dataset.key,
  values: Array.from(tr.querySelectorAll('td .value')).map(s => s.textContent),
  deltas: Array.from(tr.querySelectorAll('td .delta')).map(s => s.textContent),
  better: Array.from(tr.querySelectorAll('td .delta')).map(s => s.classList.contains('better')),
}))"""


def test_compare_deltas_have_three_significant_digits(built, browser):
    out, ids = built
    from reporter import Client

    runs = [Client().get_run(ids[name]).data.metrics for name in CHOSEN]
    url = (out / "experiments/sweep/compare.html").resolve().as_uri()
    with open_page(browser) as (tab, rec):
        tab.goto(url + "#runs=" + ",".join(ids[n] for n in CHOSEN))
        tab.wait_for_selector(".cmp-metrics tbody tr")
        rows = {r["key"]: r for r in tab.evaluate(METRIC_ROWS)}
        settle(tab)
        params = tab.eval_on_selector_all(
            ".cmp-params tbody tr[data-key=alpha] td.num", "tds => tds.map(t => t.textContent)"
        )
        assert rec.problems(out.resolve().as_uri()) == []
    assert set(rows) == {"f1", "latency_ms", "loss", "rmse", "rows_seen"}
    for key, row in rows.items():
        values = [m[key] for m in runs]
        # data first: what the page shows is what numbers.py makes of the store's values
        places = numbers.column_decimals(values)
        assert row["values"] == [numbers.fixed(v, places) for v in values], key
        expected = []
        for v in values[1:]:
            change = numbers.delta((v - values[0]) / abs(values[0]) * 100)
            expected.append(f"{numbers.delta(v - values[0])} ({change}%)")
        assert row["deltas"] == expected, key
    # one number of decimals per metric, three significant digits per delta
    assert rows["f1"]["values"] == ["0.8317", "0.8632", "0.9579"]
    assert rows["f1"]["deltas"] == ["+0.0315 (+3.79%)", "+0.126 (+15.2%)"]
    assert rows["rmse"]["deltas"][0] == "+1.23e-4 (+100%)"  # below 0.001: exponent
    assert rows["rows_seen"]["values"] == ["1.23M", "2.47M", "6.17M"]
    for key in ("f1", "latency_ms", "loss", "rmse"):
        assert len({decimals(v) for v in rows[key]["values"]}) == 1, rows[key]
    for row in rows.values():
        for shown in row["deltas"]:
            digits = re.sub(r"[^\d]", "", shown.split(" ")[0].split("e")[0].rstrip("MGTP"))
            assert len(digits.lstrip("0")) <= 3, shown
    assert rows["f1"]["better"] == [True, True]  # higher is better
    assert rows["loss"]["better"] == [False, False]  # lower is better, and it went up
    assert params == ["0.010", "0.001", "0.001"]  # a typed param: one number of decimals


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_no_page_breaks_a_word_on_a_phone(built, browser, dark):
    out, ids = built
    root = out.resolve().as_uri()
    pages = {
        "index": "index.html",
        "report": "reports/sweep.html",
        "run": f"runs/{ids['run-1']}/index.html",
        "compare": "experiments/sweep/compare.html#runs=" + ",".join(ids[n] for n in CHOSEN),
        "404": "404.html",
    }
    selectors = "table th, table td, .facts dt, .facts dd, h1, .crumbs li, .lead"
    with open_page(browser, PHONE, mobile=True) as (tab, rec):
        if dark:
            tab.emulate_media(color_scheme="dark")
        for name, path in pages.items():
            file, _, hash_ = path.partition("#")
            tab.goto(f"{root}/{file}" + (f"#{hash_}" if hash_ else ""))
            if name == "compare":
                tab.wait_for_selector(".cmp-metrics tbody tr")
            tab.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            settle(tab)
            assert tab.locator("table").count() or name in ("index", "404"), name
            assert split_words(tab, selectors) == [], name
            overflow = horizontal_overflow(tab)
            assert overflow["culprits"] == [], (name, overflow)
            assert overflow["scrollWidth"] <= overflow["innerWidth"], (name, overflow)
        # the report's tables scroll inside their card: wider than it, never cut off
        tab.goto(f"{root}/reports/sweep.html")
        widths = tab.eval_on_selector_all(
            ".report .table-wrap",
            "ws => ws.map(w => [w.scrollWidth, w.clientWidth, getComputedStyle(w).overflowX])",
        )
        assert any(scroll > client for scroll, client, _ in widths)
        assert {overflow for _, _, overflow in widths} == {"auto"}
        assert rec.problems(root) == []


def test_the_index_counts_in_the_browser(built, browser):
    out, _ = built
    with open_page(browser) as (tab, rec):
        tab.goto((out / "index.html").resolve().as_uri())
        assert tab.inner_text(".lead") == "1 report, 1 experiment, 9 runs."
        best = tab.inner_text(".card .facts dd.best")
        assert best.split()[0] == numbers.human(0.8 + 8 / 31.7 + 0.00012345)
        assert rec.problems(out.resolve().as_uri()) == []


def shown(tab: Any, selector: str) -> list[str]:
    """Return the text of every element matching selector."""
    return tab.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")
