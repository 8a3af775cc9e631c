"""The compare view in a real browser: choose runs on the experiment page, compare them, and
share the view as a link (it works from file://, with data from <script src> files)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

import reporter
from tests.site.browser import wait_for_charts


def test_select_two_runs_and_compare(page, built, site_store):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    link = tab.locator("a.compare-link")
    expect(link).to_have_attribute("aria-disabled", "true")
    tab.locator(f"input.run-pick[value='{site_store['parent']}']").check()
    tab.locator(f"input.run-pick[value='{site_store['child']}']").check()
    expect(link).to_have_attribute("aria-disabled", "false")
    expect(link.locator(".compare-count")).to_have_text("2")
    link.click()
    tab.wait_for_url("**/compare.html#runs=*")
    heads = tab.locator(".cmp-params thead th a")
    expect(heads).to_have_text(["parent", "child"])  # in table order: the parent first
    depth = tab.locator(".cmp-params tr[data-key='depth']")
    expect(depth).to_have_class("diff")
    expect(depth.locator("td")).to_have_text(["depth", "8", "4"])
    lr = tab.locator(".cmp-params tr[data-key='lr']")
    expect(lr.locator("td")).to_have_text(["lr", "0.1", "–"])
    rmse = tab.locator(".cmp-metrics tr[data-key='rmse'] td")
    expect(rmse.nth(2)).to_contain_text("2.5 (-0.75, -23.1%)")
    expect(rmse.nth(2).locator("span")).to_have_class("better")  # rmse: lower is better
    expect(tab.locator("figure.chart")).to_have_count(2)  # loss and rmse, once series.js loaded
    assert wait_for_charts(tab) == 2  # loss and rmse, drawn from series.js files
    assert rec.errors == [] and rec.outside(out.resolve().as_uri()) == []


def test_only_differences_and_the_link_restores_the_view(page, built, site_store):
    tab, rec = page
    _, out = built
    ids = f"{site_store['parent']},{site_store['evil']}"
    url = (out / "experiments/forecast/compare.html").resolve().as_uri() + f"#runs={ids}"
    tab.goto(url)
    rows = tab.locator(".cmp-params tbody tr")
    expect(rows).to_have_count(2)  # depth differs, lr is only in parent: both differ
    tab.reload()
    expect(tab.locator(".cmp-params thead th a")).to_have_text(
        ["parent", "<script>window.__pwned=1</script>\"'&"]
    )
    assert tab.evaluate("typeof window.__pwned") == "undefined"
    same = url.split("#")[0] + f"#runs={site_store['parent']},{site_store['parent']}"
    tab.goto(same)
    expect(tab.locator(".cmp-params tbody tr")).to_have_count(2)
    tab.locator("input.only-diff").check()
    expect(tab.locator(".cmp-params tbody tr:visible")).to_have_count(0)  # nothing differs
    tab.locator("input.only-diff").uncheck()
    expect(tab.locator(".cmp-params tbody tr:visible")).to_have_count(2)
    tab.goto(url.split("#")[0] + "#runs=nope")
    expect(tab.locator(".compare-error")).to_contain_text("Unknown run ids")
    expect(tab.locator(".compare-empty")).to_be_visible()
    assert rec.errors == []


def test_a_curated_comparison_page_shows_its_runs(page, site_store, tmp_path):
    from reporter.site.build import build
    from reporter.site.config import load_config

    tab, rec = page
    (tmp_path / "tracker-report.toml").write_text(
        '[[compare]]\nname = "Parent vs child"\nruns = ["parent", "child"]\n'
    )
    out = tmp_path / "s"
    build(load_config({"store": site_store["store"], "out": str(out)}, cwd=str(tmp_path)))
    tab.goto((out / "experiments/forecast/index.html").resolve().as_uri())
    tab.get_by_role("link", name="Parent vs child").click()
    expect(tab.locator(".cmp-params thead th a")).to_have_text(["parent", "child"])
    expect(tab.locator("figure.chart")).to_have_count(2)  # loss and rmse, once series.js loaded
    assert wait_for_charts(tab) == 2
    assert rec.errors == [] and rec.outside(out.resolve().as_uri()) == []


def test_artifacts_side_by_side_link_to_the_copied_files(page, built, site_store):
    tab, rec = page
    _, out = built
    ids = f"{site_store['parent']},{site_store['child']}"
    tab.goto((out / "experiments/forecast/compare.html").resolve().as_uri() + f"#runs={ids}")
    table = tab.locator(".cmp-artifacts")
    config = table.locator("tr[data-key='config.json']")
    expect(config).to_have_class("diff")  # only the parent has it
    expect(config.locator("td")).to_have_text(["config.json", re.compile(r"^\d+ B$"), "–"])
    href = config.locator("td a").get_attribute("href") or ""
    target = (out / "experiments/forecast" / href).resolve()
    assert target.is_file() and target.read_bytes().startswith(b"{")
    # over max_artifact_mb (0.1 in this build): listed, with no link
    big = table.locator("tr[data-key='blobs/big.bin'] td").nth(1)
    expect(big).to_have_text("195.3 KB (not copied)")
    expect(big.locator("a")).to_have_count(0)
    paths = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    client = reporter.Client(site_store["store"])

    def listing(run_id: str, path: str | None = None) -> set[str]:
        found = set()
        for info in client.list_artifacts(run_id, path):
            found |= listing(run_id, info.path) if info.is_dir else {info.path}
        return found

    assert set(paths) == listing(site_store["parent"]) | listing(site_store["child"])
    assert paths == sorted(paths)
    assert rec.errors == []
