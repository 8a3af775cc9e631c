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
    link.click(force=True)  # fewer than two runs chosen: the link goes nowhere
    tab.wait_for_timeout(200)
    assert tab.url.endswith("/experiments/forecast/index.html")
    tab.locator(f"input.run-pick[value='{site_store['parent']}']").check()
    tab.locator(f"tr[data-run='{site_store['parent']}'] button.fold").click()  # the child shows
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
    expect(rmse.nth(2).locator("span.value")).to_have_text("2.500")  # the row's decimals
    expect(rmse.nth(2).locator("span.delta")).to_have_text("-0.75 (-23.1%)")
    expect(rmse.nth(2).locator("span.delta")).to_have_class("delta better")  # lower is better
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
    from reporter.view.config import load_config

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


def test_compare_side_by_side_with_same_names_tags_images_and_worse_runs(page, store_uri, tmp_path):
    """Two runs with the same name stay two runs (own colour, own legend entry); tags and
    images side by side; a worse metric is marked worse; the x axis can change; long series
    say how many points they show."""
    import numpy as np

    import reporter as mlflow
    from reporter.site.build import build
    from reporter.view.config import BuildConfig

    mlflow.set_experiment("twins")
    ids = []
    for i in range(2):
        with mlflow.start_run(run_name="same") as run:
            mlflow.set_tag("stage", f"s{i}")
            for step in range(500):
                mlflow.log_metric("rmse", 1.0 + i + 1 / (step + 1), step=step)
            mlflow.log_metric("accuracy", 0.9 - i / 10)
            mlflow.log_image(np.full((4, 4, 3), 60 * i, dtype=np.uint8), "plots/a.png")
        ids.append(run.info.run_id)
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out), max_points=100))
    tab, rec = page
    compare_url = (out / "experiments/twins/compare.html").resolve().as_uri()
    tab.goto(compare_url + f"#runs={ids[0]},{ids[1]}")
    assert wait_for_charts(tab) == 2
    legend = tab.locator("#compare .run-legend button.run-toggle")
    expect(legend).to_have_count(2)
    expect(legend).to_have_text(["same", "same"])
    rmse = tab.locator("figure.chart").filter(has_text="rmse")
    expect(rmse.locator("svg g.mark-line.role-mark path")).to_have_count(2)
    expect(rmse.locator("figcaption .note")).to_have_text(re.compile(r"^\d+ of 1,000 points$"))
    legend.nth(1).click()
    expect(rmse.locator("svg g.mark-line.role-mark path")).to_have_count(1)
    tab.locator("#compare select.x-axis").select_option("relative")
    tab.wait_for_function(
        "() => [...document.querySelectorAll('figure.chart svg g.role-axis-title text')]"
        ".some(t => t.textContent === 'relative time (s)')"
    )
    stage = tab.locator(".cmp-tags tr[data-key='stage']")
    expect(stage).to_have_class("diff")
    expect(stage.locator("td")).to_have_text(["stage", "s0", "s1"])
    worse = tab.locator(".cmp-metrics tr[data-key='rmse'] td").nth(2).locator("span.delta")
    expect(worse).to_have_class("delta worse")  # rmse went up: lower is better
    acc = tab.locator(".cmp-metrics tr[data-key='accuracy'] td").nth(2).locator("span.delta")
    expect(acc).to_have_class("delta worse")  # accuracy went down: higher is better
    images = tab.locator(".cmp-images .image-row").filter(has_text="plots/a.png").locator("img")
    expect(images).to_have_count(2)
    for i in range(2):
        tab.wait_for_function(
            "img => img.complete && img.naturalWidth === 4", arg=images.nth(i).element_handle()
        )
    assert rec.errors == []


def test_a_mangled_compare_link_shows_a_message(page, built):
    tab, rec = page
    _, out = built
    tab.goto((out / "experiments/forecast/compare.html").resolve().as_uri() + "#runs=abc,%E0")
    expect(tab.locator(".compare-error")).to_contain_text("Unknown run ids")
    assert rec.errors == []
