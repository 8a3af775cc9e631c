"""Benchmark the experiment page's runs table in headless Chromium: 10,000 runs.

    .venv/bin/python benchmarks/bench_table.py                 # 10,000 runs, 5 page loads
    .venv/bin/python benchmarks/bench_table.py --runs 2000 --repeat 3

Measures, in Debian's chromium driven by Playwright, how long the page takes to open and how
long sorting and filtering take until the next frame is painted. The floor is the browser
alone: sorting the same number of keys in a Float64Array, in the same page. Every figure is
the median over --repeat fresh page loads. The store and site are kept under .bench/ (the
site is rebuilt each time, which takes no time when neither store nor theme changed).

MLflow has no static page to compare with: its run table needs the tracking server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_build import BENCH, child, folder_bytes, make_store

BUILD_SITE = """
import json, sys, time
from reporter.site.build import build
from reporter.view.config import BuildConfig
start = time.perf_counter()
build(BuildConfig(store=sys.argv[1], out=sys.argv[2], artifacts="skip"))
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

# Run an action in the page and return the milliseconds until the next frame has been painted.
TIMED = """async ([action, arg]) => {
  const table = document.querySelector('table.runs');
  const act = {
    sort: col => table.tHead.querySelector(`th[data-col="${col}"] button`).click(),
    filter: text => { const box = document.querySelector('input.table-filter');
                      box.value = text; box.dispatchEvent(new Event('input')); },
    all: () => document.querySelector('button.show-all').click(),
    floor: n => { const a = new Float64Array(n); for (let i = 0; i < n; i++) a[i] = Math.random();
                  a.sort(); },
  }[action];
  const t = performance.now();
  act(arg);
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now() - t;
}"""

LOADED = """() => { const n = performance.getEntriesByType('navigation')[0];
  return [n.domContentLoadedEventEnd, n.loadEventEnd]; }"""


def column(page: Any, label: str) -> int:
    """Return the data-col of the header whose text is label."""
    th = page.locator("table.runs thead th").filter(has_text=label).first
    return int(th.get_attribute("data-col"))


def measure(url: str, runs: int) -> dict[str, float]:
    """Open the page once and time what a reader does; return milliseconds by step."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.site.browser import launch

    out: dict[str, float] = {}
    with launch() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url, wait_until="load")
        page.wait_for_selector("table.runs[data-ready='true']", state="attached")
        out["open (DOMContentLoaded done)"], out["open (load done)"] = page.evaluate(LOADED)
        rmse, param = column(page, "metric_0"), column(page, "p00")
        out["sort metric, first time"] = page.evaluate(TIMED, ["sort", rmse])
        out["sort metric, again (desc)"] = page.evaluate(TIMED, ["sort", rmse])
        out["sort param (text), first time"] = page.evaluate(TIMED, ["sort", param])
        out["filter: grammar"] = page.evaluate(
            TIMED, ["filter", "metrics.metric_0 < 0.5 and params.p00 = '8'"]
        )
        out["filter: grammar with OR, LIKE"] = page.evaluate(
            TIMED,
            [
                "filter",
                "(params.p01 LIKE '1%' OR metrics.metric_1 > 0.9) and "
                "attributes.status = 'FINISHED'",
            ],
        )
        out["filter: plain text"] = page.evaluate(TIMED, ["filter", "run-0042"])
        out["filter: invalid (message)"] = page.evaluate(TIMED, ["filter", "metrics.metric_0 <"])
        out["filter: cleared"] = page.evaluate(TIMED, ["filter", ""])
        out["floor: Float64Array sort"] = page.evaluate(TIMED, ["floor", runs])
        out[f"show all {runs:,} rows"] = page.evaluate(TIMED, ["all", None])
        shown = int(page.locator("table.runs").get_attribute("data-shown") or 0)
        assert shown == runs, f"the table shows {shown} rows, not {runs}"
        page.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="page loads (medians)")
    args = parser.parse_args()
    store = BENCH / f"table-store-{args.runs}"
    made = make_store(store, args.runs, 3, 1, 8)
    site = BENCH / f"table-site-{args.runs}"
    built = child(BUILD_SITE, str(store), str(site))["seconds"]  # quick when nothing changed
    print(f"store made in {made:.0f} s, site built in {built:.1f} s")
    url = (site / "experiments" / "bench-build" / "index.html").resolve().as_uri()
    rounds = []
    for i in range(args.repeat):
        start = time.perf_counter()
        rounds.append(measure(url, args.runs))
        print(f"  load {i + 1}/{args.repeat}: {time.perf_counter() - start:.1f} s", flush=True)
    page = site / "experiments" / "bench-build"
    sizes = {name: (page / name).stat().st_size for name in ("index.html", "table.js", "runs.js")}
    floor = statistics.median(r["floor: Float64Array sort"] for r in rounds)
    print(
        f"\n{args.runs:,} runs in headless chromium; median of {args.repeat} page loads "
        f"(min-max); ratio = median / floor ({floor:.1f} ms)\n"
    )
    print(f"{'step':<34}{'median ms':>10}  {'min-max':>15}{'x floor':>9}")
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(
            f"{key:<34}{statistics.median(values):>10.1f}  {spread:>15}"
            f"{statistics.median(values) / floor:>9.0f}"
        )
    print(
        "\n"
        + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sizes.items())
        + f"; whole site {folder_bytes(site) / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    main()
