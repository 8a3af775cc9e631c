"""No artifact can run script in the site's origin, whatever its type: files a browser renders
as a document (.rss, .atom, .xsd, .xsl, .shtm, no extension, ...) holding XHTML scripts are
copied as text; only an allow-list of inert types keeps its name. Checked on the built files,
then by opening every artifact link in Chromium from file:// and from an HTTP server."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import reporter as mlflow
from reporter.site.build import build
from reporter.site.paths import INERT_TYPES, site_artifact_path
from reporter.view.config import BuildConfig
from tests.site.browser import launch, open_page, serve

XHTML = (
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
    "<script>window.__pwned = 1; document.title = 'pwned'</script></body></html>"
)
HOSTILE = [
    "feed.rss",
    "feed.atom",
    "schema.xsd",
    "style.xsl",
    "style.xslt",
    "page.shtm",
    "page.mht",
    "data.rdf",
    "noext",
    "page.xhtml",
    "x.svg",
    "x.html",
    "odd.unknown",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("types")
    client = mlflow.Client(str(root / "store"))
    exp = client.create_experiment("types")
    run_id = client.create_run(exp).info.run_id
    for name in HOSTILE:
        client.log_text(run_id, XHTML, name)
    client.log_text(run_id, "a,b\n1,2\n", "table.csv")
    client.set_terminated(run_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build(BuildConfig(store=str(root / "store"), out=str(root / "site")))
    return root / "site", run_id


def test_only_inert_types_keep_their_name_in_the_site(site):
    out, run_id = site
    folder = out / "runs" / run_id / "artifacts"
    names = sorted(p.name for p in folder.iterdir())
    assert "table.csv" in names
    for name in HOSTILE:
        assert name not in names and f"{name}.txt" in names, name
    for path in folder.iterdir():
        ext = path.name.rsplit(".", 1)[-1].lower() if "." in path.name else ""
        assert ext in INERT_TYPES, path.name
    assert site_artifact_path("a/b.RSS") == "a/b.RSS.txt"
    assert site_artifact_path("a/b.PNG") == "a/b.PNG"


@pytest.mark.parametrize("how", ["file", "http"])
def test_no_artifact_link_runs_script_in_chromium(site, how):
    out, run_id = site
    run_page = out / "runs" / run_id / "index.html"
    hrefs = []
    with launch() as browser, open_page(browser) as (page, _):
        page.goto(run_page.as_uri())
        hrefs = page.eval_on_selector_all(
            "a[href*='artifacts/']", "els => els.map(e => e.getAttribute('href'))"
        )
    assert len(hrefs) >= len(HOSTILE)
    with (
        serve(out.parent, "/site/") as served,
        launch() as browser,
        open_page(browser) as (
            page,
            _,
        ),
    ):
        base = run_page.as_uri() if how == "file" else served.url + f"runs/{run_id}/index.html"
        for href in hrefs:
            page.goto(base)
            target = page.evaluate("h => new URL(h, location.href).href", href)
            try:
                page.goto(target)
            except Exception:  # a download, not a page: nothing ran
                continue
            assert page.evaluate("() => window.__pwned") is None, target
            assert page.title() != "pwned", target
