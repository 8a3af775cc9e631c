"""Screenshots of each page kind of a built site, for the README (`make screenshots`).

    python tools/screenshots.py --site site --out docs/screenshots \\
        --experiment digits_sgd --run candidate-1 --compare baseline,candidate-1,candidate-2

Opens the site from file:// in Debian's chromium, driven by Playwright (Playwright's own browser
download is never used), and writes one viewport-sized PNG per shot in SHOTS, under fixed names:
the index, an experiment page (top, explore and metric charts), a run (top and artifacts), the
compare page, a curated comparison, a narrative report, the storage page, and phone (390 px)
and dark-mode variants. The pages are found the way a reader finds them: the experiment by its
link on the index, runs by their names in the experiment's runs table (by default its first
rows), the curated comparison and the report by the first links to them, the storage page by
the top bar's link. Every chart is drawn (`data-drawn="true"`) before a shot is taken. PNGs are
reduced to 256 colours with Pillow when it is installed.

Console errors, failed loads and requests leaving the site are printed and make the exit code
1 (the shots are still written): a README should not show a broken page.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as `python tools/screenshots.py`: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.chromium import CHROMIUM, find_chromium, launch

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
TIMEOUT_MS = 30_000
# URL schemes a page may use without leaving the site
INTERNAL = ("data:", "blob:", "about:")


@dataclass(frozen=True)
class Shot:
    """One screenshot: which page, scrolled to what, at which size, in which colour scheme."""

    name: str  # the PNG's file name, without .png
    page: str  # index, experiment, run, compare, comparison, report or storage
    scroll_to: str | None = None  # CSS selector brought to the top of the window
    viewport: str = "desktop"  # a key of VIEWPORTS
    dark: bool = False


SHOTS = (
    Shot("index", "index"),
    Shot("experiment", "experiment"),
    Shot("experiment-explore", "experiment", scroll_to="#explore"),
    Shot("experiment-charts", "experiment", scroll_to="#charts-heading"),
    Shot("run", "run"),
    Shot("run-artifacts", "run", scroll_to="#artifacts-heading"),
    Shot("compare", "compare"),
    Shot("comparison", "comparison"),
    Shot("report", "report"),
    Shot("experiment-phone", "experiment", viewport="phone"),
    Shot("run-phone", "run", viewport="phone"),
    Shot("experiment-dark", "experiment", dark=True),
    Shot("experiment-charts-dark", "experiment", scroll_to="#charts-heading", dark=True),
    Shot("storage", "storage"),
    Shot("storage-phone", "storage", viewport="phone"),
    Shot("models", "models"),
    Shot("registered-model", "registered-model"),
    Shot("registered-model-phone", "registered-model", viewport="phone", dark=True),
)


@dataclass
class Taken:
    """What one shot did: the page it opened, the file it wrote, what went wrong."""

    shot: Shot
    url: str
    path: Path | None  # None when the shot was skipped
    problems: list[str] = field(default_factory=list)
    charts: tuple[int, int] = (0, 0)  # charts drawn, of the charts displayed, when it was taken


class ScreenshotError(Exception):
    """The site lacks what the shots need (an experiment, a run name, ...)."""


# Every chart figure that is displayed has been drawn by vega-embed.
CHARTS_DRAWN = """() => Array.from(document.querySelectorAll('figure'))
  .filter(f => f.querySelector('.chart-view') && f.getClientRects().length)
  .every(f => f.getAttribute('data-drawn') === 'true')"""
# The compare page fills itself from #runs= after loading each run's series.
COMPARE_FILLED = """() => { const body = document.querySelector('.compare-body');
  return !!body && !body.hidden && document.querySelectorAll('figure.chart').length > 0; }"""
# Images in the window are loaded (lazy ones below it load only when scrolled to).
CHART_COUNT = """() => { const shown = Array.from(document.querySelectorAll('figure'))
    .filter(f => f.querySelector('.chart-view') && f.getClientRects().length);
  return [shown.filter(f => f.getAttribute('data-drawn') === 'true').length, shown.length]; }"""
IMAGES_LOADED = """() => Array.from(document.images).filter(i => {
    const r = i.getBoundingClientRect();
    return r.width > 0 && r.bottom > 0 && r.top < window.innerHeight; })
  .every(i => i.complete)"""
# The rows of the runs table, in the order shown: run id, run name, shown or not.
TABLE_ROWS = """() => Array.from(document.querySelectorAll('table.runs tbody tr[data-run]'))
  .map(r => { const a = r.querySelector('a[href*="runs/"]');
              return {id: r.dataset.run, name: a ? a.textContent.trim() : '',
                      shown: !r.hidden && r.getClientRects().length > 0}; })"""
LINKS = """() => Array.from(document.querySelectorAll('a[href]'))
  .map(a => ({text: a.textContent.trim(), href: a.href}))"""
SCROLL_TO = """sel => { const el = document.querySelector(sel);
  if (!el) return false;
  window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 12);
  return true; }"""


def chromium_path(given: str | None = None) -> str:
    """Return the chromium to drive: the given path, Debian's, or chromium on PATH."""
    path = find_chromium(given)
    if path is None:
        raise ScreenshotError(
            "chromium is not installed (apt-get install chromium), or pass --chromium PATH"
        )
    return path


@contextmanager
def open_page(browser: Any, viewport: str, dark: bool, problems: list[str]) -> Iterator[Any]:
    """Open a page in a fresh context; console errors and failed loads go to problems."""
    options: dict[str, Any] = {
        "viewport": VIEWPORTS[viewport],
        "color_scheme": "dark" if dark else "light",
        "device_scale_factor": 1,
        "reduced_motion": "reduce",
    }
    if viewport == "phone":
        options.update(is_mobile=True, has_touch=True)
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on(
            "console",
            lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
        page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
        page.on(
            "request",
            lambda req: (
                None
                if req.url.startswith(("file:", *INTERNAL))
                else problems.append(f"outside the site: {req.url}")
            ),
        )
        yield page
    finally:
        context.close()


def settle(page: Any, kind: str, problems: list[str]) -> None:
    """Wait until the page is complete: its compare view filled, images loaded, charts drawn."""
    page.wait_for_load_state("load")
    waits = [("images", IMAGES_LOADED), ("charts", CHARTS_DRAWN)]
    if kind in ("compare", "comparison"):
        waits.insert(0, ("the compare view", COMPARE_FILLED))
    for what, condition in waits:
        try:
            page.wait_for_function(condition, timeout=TIMEOUT_MS)
        except Exception:  # a Playwright timeout: shoot anyway, and say so
            problems.append(f"{what} not ready after {TIMEOUT_MS / 1000:.0f} s")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    # two frames, so what was just drawn is painted
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def by_name(rows: list[dict[str, Any]], names: Sequence[str], experiment: str) -> list[str]:
    """Return the run ids of the named runs (the first row of each name)."""
    ids = []
    for name in names:
        found = [r["id"] for r in rows if r["name"] == name or r["id"] == name]
        if not found:
            known = ", ".join(sorted({r["name"] for r in rows})[:20])
            raise ScreenshotError(f"No run named {name!r} in {experiment!r}; runs: {known}")
        ids.append(found[0])
    return ids


def find_pages(
    browser: Any,
    site: Path,
    experiment: str | None,
    run: str | None,
    compare: Sequence[str],
) -> dict[str, str]:
    """Return the URL of each page kind the site has (index, experiment, run, ...)."""
    pages = {"index": (site / "index.html").resolve().as_uri()}
    ignored: list[str] = []
    with open_page(browser, "desktop", False, ignored) as page:
        page.goto(pages["index"])
        links = page.evaluate(LINKS)
        experiments = [a for a in links if "/experiments/" in a["href"]]
        chosen = [a for a in experiments if experiment is None or a["text"] == experiment]
        if not chosen:
            names = ", ".join(sorted({a["text"] for a in experiments}))
            raise ScreenshotError(f"No experiment {experiment!r} on the index; there are: {names}")
        pages["experiment"] = chosen[0]["href"]
        reports = [a["href"] for a in links if "/reports/" in a["href"]]
        if reports:
            pages["report"] = reports[0]
        storage = [a["href"] for a in links if a["href"].endswith("/storage/index.html")]
        if storage:  # the top bar's link
            pages["storage"] = storage[0]
        models = [a["href"] for a in links if a["href"].endswith("/models/index.html")]
        if models:  # the top bar's link, then the first model's page
            pages["models"] = models[0]
            page.goto(models[0])
            found = [a["href"] for a in page.evaluate(LINKS) if "/models/" in a["href"]]
            first = [h for h in found if not h.split("#")[0].endswith("/models/index.html")]
            if first:
                pages["registered-model"] = first[0].split("#")[0]
            page.goto(pages["index"])
        page.goto(pages["experiment"])
        page.wait_for_function("() => document.querySelectorAll('table.runs tbody tr').length")
        rows = page.evaluate(TABLE_ROWS)
        shown = [r for r in rows if r["shown"]] or rows
        label = experiment or chosen[0]["text"]
        (run_id,) = by_name(rows, [run], label) if run else [shown[0]["id"]]
        pages["run"] = (site / "runs" / run_id / "index.html").resolve().as_uri()
        compared = by_name(rows, compare, label) if compare else [r["id"] for r in shown[:3]]
        base = pages["experiment"].rsplit("/", 1)[0]
        pages["compare"] = f"{base}/compare.html#runs={','.join(compared)}"
        curated = [a["href"] for a in page.evaluate(LINKS) if "/compare/" in a["href"]]
        if curated:
            pages["comparison"] = curated[0]
    return pages


def shrink(path: Path) -> None:
    """Reduce a PNG to 256 colours and optimise it, when Pillow is installed."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with the test extras
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def take(browser: Any, shot: Shot, url: str, out: Path) -> Taken:
    """Open the page as the shot says, wait for it, and write the PNG."""
    taken = Taken(shot, url, None)
    with open_page(browser, shot.viewport, shot.dark, taken.problems) as page:
        page.goto(url)
        settle(page, shot.page, taken.problems)
        if shot.scroll_to:
            if not page.evaluate(SCROLL_TO, shot.scroll_to):
                taken.problems.append(f"skipped: no {shot.scroll_to} on {url}")
                return taken
            settle(page, shot.page, taken.problems)  # charts may draw when scrolled into view
        path = out / f"{shot.name}.png"
        drawn, shown = page.evaluate(CHART_COUNT)
        taken.charts = (drawn, shown)
        page.screenshot(path=str(path), animations="disabled", caret="hide")
    shrink(path)
    taken.path = path
    return taken


def take_all(
    site: Path,
    out: Path,
    *,
    experiment: str | None = None,
    run: str | None = None,
    compare: Sequence[str] = (),
    chromium: str | None = None,
    shots: Sequence[Shot] = SHOTS,
) -> list[Taken]:
    """Find the pages, then take every shot; return what each did."""
    if not (site / "index.html").is_file():
        raise ScreenshotError(f"{site / 'index.html'} does not exist: build the site first")
    out.mkdir(parents=True, exist_ok=True)
    with launch(chromium_path(chromium)) as browser:
        pages = find_pages(browser, site, experiment, run, compare)
        done = []
        for shot in shots:
            if shot.page not in pages:
                done.append(Taken(shot, "", None, [f"skipped: the site has no {shot.page} page"]))
                continue
            done.append(take(browser, shot, pages[shot.page], out))
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """Take the screenshots; print where they went and what went wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, default=Path("site"), help="the built site")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--experiment", help="experiment name (default: the first listed)")
    parser.add_argument(
        "--run", help="a run of the runs table, by name or id (default: the first row)"
    )
    parser.add_argument(
        "--compare", default="", help="run names or ids, comma-separated (default: first 3 rows)"
    )
    parser.add_argument("--chromium", help=f"the browser (default: {CHROMIUM} or PATH)")
    parser.add_argument(
        "--only",
        default="",
        help=f"shot names, comma-separated (default: all of {', '.join(s.name for s in SHOTS)})",
    )
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = only - {s.name for s in SHOTS}
    if unknown:
        parser.error(f"unknown shot(s) {', '.join(sorted(unknown))}")
    try:
        done = take_all(
            args.site,
            args.out,
            experiment=args.experiment,
            run=args.run,
            compare=[n.strip() for n in args.compare.split(",") if n.strip()],
            chromium=args.chromium,
            shots=[s for s in SHOTS if not only or s.name in only],
        )
    except ScreenshotError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    failed = False
    for taken in done:
        where = f"{taken.path} ({taken.path.stat().st_size // 1024} KB)" if taken.path else "-"
        print(f"{taken.shot.name:24} {where}", flush=True)
        for problem in taken.problems:
            print(f"  {problem}", file=sys.stderr, flush=True)
            failed = failed or not problem.startswith("skipped:")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
