"""The Models page and the registered model pages.

Data first: what the loader publishes of the registry (`snapshot.registry`) is what the
registry holds, minus what the build leaves out (models outside `registered_models`, system
tags, runs the site does not publish, users in a public build) and with secrets masked; the
pages' contexts carry each version's run metrics, the best of each metric, and each alias's
verdict, worked out here from the logged values. Then the HTML: no byte of a left-out run or
model, hostile markdown sanitised. Then Chromium: the charts draw from file:// and under a
sub-path, light and dark, and nothing breaks or sticks out on a phone.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import reporter as mlflow
from reporter import MlflowClient
from reporter.core.secrets import SecretWarning
from reporter.site.build import build
from reporter.site.contract import ModelsPageContext, RegisteredModelPageContext
from reporter.site.pages.registry import MODELS_PATH, registry_pages
from reporter.view import loader
from reporter.view.config import BuildConfig
from tests.site.browser import (
    PHONE,
    follow,
    horizontal_overflow,
    open_page,
    serve,
    settle,
    split_words,
)

RMSE = [0.52, 0.44, 0.47, 0.41, 0.43]  # version n comes from the run logging RMSE[n - 1]
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
LONG = "long-" + "x" * 250


@pytest.fixture
def registry_store(tmp_path: Path) -> dict[str, Any]:
    store = str(tmp_path / "store")
    mlflow.set_tracking_uri(store)
    client = MlflowClient()
    mlflow.set_experiment("churn")
    runs = []
    for i, rmse in enumerate(RMSE):
        with mlflow.start_run(run_name=f"gbm-{i}") as run:
            mlflow.log_metric("rmse", rmse)
            mlflow.log_metric("accuracy", 1 - rmse / 2)
            runs.append(run.info.run_id)
    for run_id in runs:
        mlflow.register_model(f"runs:/{run_id}/model", "churn")
    hidden_exp = client.create_experiment("hidden")
    hidden = client.create_run(hidden_exp, run_name="hidden-run-4b1e").info.run_id
    client.log_metric(hidden, "rmse", 0.01)  # better than all, but not published
    client.create_model_version("churn", f"runs:/{hidden}/model", run_id=hidden)
    client.set_registered_model_alias("churn", "champion", 4)
    client.set_registered_model_alias("churn", "challenger", 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecretWarning)
        client.update_registered_model(
            "churn",
            description=f"# Churn\n\nWho leaves. key {AWS_KEY}\n\n<script>window.__pwned=1"
            "</script> [x](javascript:window.__pwned=1)",
        )
        client.set_registered_model_tag("churn", "api_token", TOKEN)
        client.set_registered_model_tag("churn", "team", "retention")
        client.set_registered_model_tag("churn", "mlflow.internal", "system")
        client.update_model_version("churn", 4, description="Promoted after the *March* review.")
        client.set_model_version_tag("churn", 4, "validated", "yes")
        client.create_registered_model(f"leaky-{AWS_KEY}")
        client.create_registered_model("internal-only", description="internal-prose-77aa")
        client.create_registered_model(LONG)  # wider than a phone: wraps, never overflows
    return {"store": store, "runs": runs, "hidden": hidden}


def snapshot_of(store: str, **settings: Any) -> loader.StoreSnapshot:
    return loader.load(loader.open_store(store), BuildConfig(store=store, **settings))


def test_the_snapshot_publishes_the_registry_with_each_versions_run(registry_store):
    snapshot = snapshot_of(registry_store["store"], exclude_experiments=("hidden",))
    by_name = {m.name: m for m in snapshot.registry}
    leaky = next(n for n in by_name if "leaky" in n)
    assert set(by_name) == {"churn", "internal-only", LONG, leaky}
    churn = by_name["churn"]
    assert [v.version for v in churn.versions] == [6, 5, 4, 3, 2, 1]
    assert churn.aliases == {"champion": 4, "challenger": 5}
    runs = registry_store["runs"]
    for version in churn.versions[1:]:
        assert version.run is not None and version.run.run_id == runs[version.version - 1]
        assert version.run.metrics["rmse"] == RMSE[version.version - 1]
    hidden = churn.versions[0]
    assert hidden.run is None and hidden.has_run  # its experiment is not published
    assert dict(churn.tags) == {"api_token": "[masked]", "team": "retention"}  # no mlflow.*
    assert AWS_KEY not in churn.description and "Who leaves" in churn.description
    assert all(AWS_KEY not in name for name in by_name)
    assert churn.versions[2].aliases == ["champion"] and churn.versions[2].tags == [
        ("validated", "yes")
    ]


def test_the_pages_mark_the_best_version_and_say_why_the_champion(registry_store):
    config = BuildConfig(store=registry_store["store"], exclude_experiments=("hidden",))
    snapshot = loader.load(loader.open_store(config.store), config)
    made = registry_pages(snapshot, config)
    pages = {p.info.path: p for p in made.pages}
    models = pages[MODELS_PATH].context
    assert isinstance(models, ModelsPageContext)
    page = next(p.context for p in made.pages if p.info.title == "churn")
    assert isinstance(page, RegisteredModelPageContext)
    metrics = [m for m, _ in page.metrics]
    assert set(metrics) == {"rmse", "accuracy"} and dict(page.metrics)["rmse"] is True
    rmse = metrics.index("rmse")
    best = min(RMSE)
    marked = [row.version for row in page.versions if row.metrics[rmse].best]
    assert marked == [RMSE.index(best) + 1]
    hidden_row = page.versions[0]
    assert hidden_row.run_path is None and hidden_row.run_note == "not in this site"
    assert all(not cell.best and cell.value is None for cell in hidden_row.metrics)
    verdicts = {a.alias: a.verdict for a in page.aliases}
    first = metrics[0]
    values = {n + 1: (r if first == "rmse" else 1 - r / 2) for n, r in enumerate(RMSE)}
    ranked = sorted(values, key=lambda n: values[n] if first == "rmse" else -values[n])
    assert verdicts["champion"].endswith(f"the best of {len(RMSE)} versions with {first}")
    place = ranked.index(5) + 1
    assert (
        f"{place}{'nd' if place == 2 else 'rd' if place == 3 else 'th'} of"
        in (verdicts["challenger"])
    )
    chart = next(c for c in page.charts if c.metric == "rmse")
    assert '"version":4' in str(chart.rows) and '"alias":"champion"' in str(chart.rows)
    line = next(m for m in models.models if m.name == "churn")
    assert (
        line.versions == 6 and len(line.rows) <= 5 and line.more == line.versions - len(line.rows)
    )


def test_registered_models_selects_and_an_empty_list_leaves_the_pages_out(registry_store, tmp_path):
    store = registry_store["store"]
    chosen = snapshot_of(store, registered_models=("ch*",))
    assert [m.name for m in chosen.registry] == ["churn"]
    out = tmp_path / "none"
    build(BuildConfig(store=store, out=str(out), registered_models=()))
    assert not (out / "models").exists()
    assert 'href="models/index.html"' not in (out / "index.html").read_text()


def test_the_html_holds_no_byte_of_what_the_build_leaves_out(registry_store, tmp_path):
    out = tmp_path / "site"
    build(
        BuildConfig(
            store=registry_store["store"],
            out=str(out),
            exclude_experiments=("hidden",),
            registered_models=("churn", "leaky-*"),
            hide_users=True,
        )
    )
    assert 'href="models/index.html"' in (out / "index.html").read_text()
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert registry_store["hidden"].encode() not in data, path
            assert b"hidden-run-4b1e" not in data and b"internal-prose-77aa" not in data, path
            assert AWS_KEY.encode() not in data and TOKEN.encode() not in data, path
    page = next(p for p in (out / "models").glob("churn*.html")).read_text()
    assert "<script>window.__pwned" not in page and "javascript:" not in page
    assert "&lt;script&gt;" not in page or "window.__pwned" not in page  # dropped, not shown
    assert "<em>March</em>" in page  # markdown rendered


def test_a_registry_change_alone_rebuilds_the_pages(registry_store, tmp_path):
    out = tmp_path / "site"
    config = BuildConfig(store=registry_store["store"], out=str(out))
    build(config)
    MlflowClient().set_registered_model_alias("churn", "champion", 2)
    result = build(config)
    assert result.stats.written  # not "nothing changed"
    page = next(p for p in (out / "models").glob("churn*.html")).read_text()
    assert '<a href="#v2">version 2</a>' in page and '<a href="#v4">version 4</a>' not in page


# --- in a browser -------------------------------------------------------------------------------
VERSION_CHARTS = """() => Array.from(document.querySelectorAll('figure.version-chart')).map(f => ({
  metric: f.dataset.metric, drawn: f.dataset.drawn,
  marks: f.querySelectorAll('.chart-view svg .role-mark path, .chart-view svg .role-mark').length,
  title: Array.from(f.querySelectorAll('.chart-view svg .role-axis-title text'))
    .map(t => t.textContent).join('|'),
  failed: f.querySelector('.chart-view').textContent.startsWith('Chart failed'),
}))"""


@pytest.fixture
def registry_site(registry_store, tmp_path) -> Path:
    out = tmp_path / "site"
    build(BuildConfig(store=registry_store["store"], out=str(out)))
    return out


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_model_page_draws_from_file_and_a_sub_path(registry_site, browser, dark):
    out = registry_site
    churn = next(p for p in (out / "models").glob("churn*.html"))
    page = churn.relative_to(out).as_posix()
    with open_page(browser) as (tab, rec):
        if dark:
            tab.emulate_media(color_scheme="dark")
        tab.goto(churn.resolve().as_uri())
        settle(tab)
        charts = tab.evaluate(VERSION_CHARTS)
        assert rec.problems(out.resolve().as_uri()) == []
        assert tab.evaluate("() => window.__pwned") is None
    assert {c["metric"] for c in charts} == {"rmse", "accuracy"}
    for chart in charts:
        assert chart["drawn"] == "true" and not chart["failed"] and chart["marks"] > 0, chart
        assert chart["metric"] in chart["title"]
    with serve(out.parent, "/site/") as served, open_page(browser) as (tab, rec):
        tab.goto(served.url + MODELS_PATH)
        settle(tab)
        follow(tab, "section.registered-model h2 a >> nth=0")
        assert tab.url.startswith(served.url + "models/")
        follow(tab, "table.versions td.run a >> nth=0")  # the version's run page
        assert "/runs/" in tab.url and tab.title()
        tab.goto(served.url + page)
        settle(tab)
        follow(tab, ".site-nav a >> text=Models")
        assert tab.url == served.url + MODELS_PATH
        assert rec.problems(served.url) == []
        assert all(path.startswith("/site/") for _, path, _ in served.log)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_models_pages_fit_a_phone(registry_site, browser, dark):
    out = registry_site
    root = out.resolve().as_uri()
    pages = [p.relative_to(out).as_posix() for p in sorted((out / "models").glob("*.html"))]
    selectors = "table th, table td, h1, h2, .crumbs li, .lead, .aliases li, .tag"
    with open_page(browser, PHONE, mobile=True) as (tab, rec):
        if dark:
            tab.emulate_media(color_scheme="dark")
        for page in pages:
            tab.goto(f"{root}/{page}")
            settle(tab)
            fits = [w for w in split_words(tab, selectors) if len(w) < 40]  # (LONG cannot)
            assert fits == [], page
            overflow = horizontal_overflow(tab)
            assert overflow["culprits"] == [], (page, overflow)
            assert overflow["scrollWidth"] <= overflow["innerWidth"], (page, overflow)
        assert rec.problems(root) == []
