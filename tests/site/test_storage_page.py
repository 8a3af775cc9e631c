"""The storage page and archived runs in the site.

Data first: the storage page's figures are `store.usage()`'s for the published experiments
(the whole store's only when the build publishes every experiment), its growth series is what
`du --log` recorded, and the policy's figure is `retention.select_runs` sized by the runs'
usage. Then the HTML: hostile names escaped, no byte of an unpublished experiment in a
restricted build (usage log included), an archived run's banner with its restore command and
no chart of one point, no absolute path in a public build. Then Chromium: the charts draw from
file:// and under a sub-path, in light and dark, and nothing breaks on a phone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import reporter as mlflow
from reporter.core.durations import DAY_MS
from reporter.entities import Metric
from reporter.site.build import build
from reporter.site.contract import RunPageContext, SiteInfo, StoragePageContext
from reporter.site.model import make_site
from reporter.site.pages.storage import STORAGE_PATH
from reporter.store.usage import KINDS
from reporter.view import loader
from reporter.view.config import BuildConfig, load_config
from reporter.view.retention import select_runs
from reporter.view.storage import StorageData, load_storage
from reporter.view.usage_log import TAG_USAGE, TAG_USAGE_VALUE, USAGE_EXPERIMENT, usage_metric_key
from tests.site.browser import (
    PHONE,
    follow,
    horizontal_overflow,
    open_page,
    serve,
    settle,
    split_words,
)
from tests.usage_helpers import count_event_reads

HOSTILE = "vision <script>window.__pwned=1</script>&\"'"
DAYS = 3


@pytest.fixture
def storage_store(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Two experiments (one named to break HTML), a deleted run, an archived run, and three
    days of a usage log as `du --log` writes it; return the ids and the logged points."""
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "0")
    ids: dict[str, Any] = {}
    mlflow.set_experiment("forecast")
    with mlflow.start_run(run_name="big") as run:
        mlflow.log_param("depth", 8)
        for step in range(40):
            mlflow.log_metric("loss", 1 / (step + 1), step=step)
        mlflow.log_text("line of a log\n" * 4000, "logs/train.txt")
    ids["big"] = run.info.run_id
    with mlflow.start_run(run_name="small") as run:
        mlflow.log_param("depth", 2)
        for step in range(40):
            mlflow.log_metric("loss", 2 / (step + 1), step=step)
        mlflow.log_metric("rmse", 0.5)
    ids["small"] = run.info.run_id
    with mlflow.start_run(run_name="old") as run:
        mlflow.log_param("depth", 4)
        for step in range(40):
            mlflow.log_metric("loss", 0.5 / (step + 1), step=step)
        mlflow.log_metric("rmse", 0.25)
        mlflow.log_text("old artifact\n" * 100, "old.txt")
    ids["old"] = run.info.run_id
    with mlflow.start_run(run_name="gone") as run:
        mlflow.log_metric("loss", 9.0)
    ids["gone"] = run.info.run_id
    mlflow.delete_run(ids["gone"])
    ids["forecast_id"] = run.info.experiment_id
    mlflow.set_experiment(HOSTILE)
    with mlflow.start_run(run_name="cnn") as run:
        mlflow.log_metric("accuracy", 0.9)
        mlflow.log_text("vision-only-artifact-7c1d\n" * 500, "notes.txt")
    ids["cnn"] = run.info.run_id
    ids["vision_id"] = run.info.experiment_id
    client = mlflow.Client(store_uri)
    ids["archive"] = str(tmp_path / "archive")
    report = client.store.archive_runs([ids["old"]], ids["archive"])
    assert [m.run_id for m in report.moved] == [ids["old"]]
    # the usage log: the run `du --log` writes, a point a day
    exp = client.create_experiment(USAGE_EXPERIMENT)
    log = client.create_run(exp, run_name=USAGE_EXPERIMENT, tags={TAG_USAGE: TAG_USAGE_VALUE})
    today = int(time.time() * 1000) // DAY_MS
    logged: dict[str, dict[int, float]] = {}
    metrics = []
    for back in range(DAYS):
        day = today - (DAYS - 1 - back)
        values = {
            "total_bytes": 1_000_000.0 * (back + 1),
            "events_bytes": 100_000.0 * (back + 1),
            "artifacts_bytes": 800_000.0 * (back + 1),
            "models_bytes": 0.0,
            "other_bytes": 100_000.0 * (back + 1),
            usage_metric_key("forecast"): 600_000.0 * (back + 1),
            usage_metric_key(HOSTILE): 4_242_424.0 + back,
        }
        for key, value in values.items():
            logged.setdefault(key, {})[day] = value
            metrics.append(Metric(key, value, day * DAY_MS + 3_600_000, day))
    client.log_batch(log.info.run_id, metrics=metrics)
    client.set_terminated(log.info.run_id)
    ids["log"] = log.info.run_id
    ids["log_exp"] = exp
    ids["logged"] = logged
    ids["store"] = store_uri
    return ids


def storage_model(
    store_uri: str, **settings: Any
) -> tuple[StoragePageContext, StorageData, loader.StoreSnapshot, Any]:
    """Return the storage page's context, what it was made from, the snapshot and the site."""
    config = BuildConfig(store=store_uri, **settings)
    store = loader.open_store(store_uri)
    snapshot = loader.load(store, config)
    data = load_storage(store, config, snapshot)
    info = SiteInfo("t", "0", "2026-01-01 00:00 UTC", None)
    site = make_site(snapshot, config, info, lambda r, p: None, lambda r, p: "", data)
    (page,) = [p for p in site.pages if p.template == "storage.html"]
    assert page.info.path == STORAGE_PATH and site.info.storage_path == STORAGE_PATH
    return page.context, data, snapshot, site


def chart_rows(block: Any) -> list[dict[str, Any]]:
    """Return a chart's rows from its JSON block (escaped for <script>)."""
    return json.loads(str(block))


# --- data first ---------------------------------------------------------------------------------
def test_a_whole_store_build_shows_the_stores_usage(storage_store):
    ctx, data, _, _ = storage_model(storage_store["store"])
    usage = loader.open_store(storage_store["store"]).usage()
    assert data.whole_store and ctx.whole_store and ctx.measured
    by_id = {e.experiment_id: e for e in usage.experiments}
    rows = {r.name: r for r in ctx.experiments}
    assert set(rows) == {"forecast", HOSTILE, USAGE_EXPERIMENT}
    for exp_id, name in (
        (storage_store["forecast_id"], "forecast"),
        (storage_store["vision_id"], HOSTILE),
        (storage_store["log_exp"], USAGE_EXPERIMENT),
    ):
        e, row = by_id[exp_id], rows[name]
        assert (row.events, row.artifacts, row.models, row.other) == (
            e.events.bytes,
            e.artifacts.bytes,
            e.models.bytes,
            e.other.bytes,
        )
        assert (row.total, row.files, row.runs) == (e.total.bytes, e.total.files, e.runs)
        assert (row.deleted_runs, row.archived_runs) == (e.deleted_runs, e.archived_runs)
    assert rows["forecast"].deleted_runs == 1 and rows["forecast"].archived_runs == 1
    assert rows[USAGE_EXPERIMENT].note == "usage log"
    # the store's own files are the rest; every figure adds up to the store's
    assert ctx.rest is not None and ctx.rest.total == usage.other.bytes
    assert ctx.total == usage.total.bytes and ctx.files == usage.total.files
    assert ctx.kinds == [(k, usage.kinds()[k].bytes, usage.kinds()[k].files) for k in KINDS]
    assert ctx.deleted_runs == 1 == usage.deleted_runs
    gone = next(r for r in usage.runs if r.run_id == storage_store["gone"])
    assert ctx.deleted_bytes == gone.total_bytes
    assert ctx.archived_runs == usage.archived_runs == 1
    assert usage.gc is not None and ctx.gc_bytes == usage.gc.freed.bytes
    assert ctx.compaction_bytes == usage.compaction_frees
    # the largest runs: the published ones (never the deleted one), largest first
    published = {r.run_id: r for r in usage.runs if r.run_id != storage_store["gone"]}
    expected = sorted(published.values(), key=lambda r: (-r.total_bytes, r.run_id))
    assert [r.run.path for r in ctx.largest] == [f"runs/{r.run_id}/index.html" for r in expected]
    assert [r.total for r in ctx.largest] == [r.total_bytes for r in expected]
    assert ctx.largest[0].run.label == "big"
    assert [r.archived for r in ctx.largest if r.run.label == "old"] == [True]
    # the chart: one bar per experiment and kind, in bytes and in the chart's unit
    bars = chart_rows(ctx.usage_chart)
    forecast = {b["kind"]: b["bytes"] for b in bars if b["name"] == "forecast"}
    assert forecast == {k: getattr(rows["forecast"], k) for k in KINDS}
    assert ctx.unit[0] in ("kB", "MB")


def test_the_measure_reuses_what_the_builds_reads_said(storage_store, monkeypatch):
    """The storage page measures runs' lifecycles from what the build's first pass read (no
    second read of every event of the published experiments), with the same figures."""
    read = count_event_reads(monkeypatch)
    config = BuildConfig(store=storage_store["store"], batch_points=50)  # several batches
    store = loader.open_store(storage_store["store"])
    snapshot = loader.load(store, config)
    assert max(len(shares) for shares in snapshot.lifecycles.values()) > 1
    data = load_storage(store, config, snapshot)
    assert read == []
    assert data.usage is not None and data.usage.deleted_runs == 1
    fresh = store.usage()
    assert read  # (a measure without them reads every experiment)
    assert data.usage.runs == fresh.runs
    assert data.usage.gc is not None and fresh.gc is not None
    assert data.usage.gc.items == fresh.gc.items


def test_a_restricted_build_shows_only_its_experiments(storage_store):
    ctx, data, _, _ = storage_model(storage_store["store"], experiments=("forecast",))
    usage = loader.open_store(storage_store["store"]).usage([storage_store["forecast_id"]])
    (e,) = usage.experiments
    assert not ctx.whole_store and ctx.rest is None
    assert [(r.name, r.total, r.files) for r in ctx.experiments] == [
        ("forecast", e.total.bytes, e.total.files)
    ]
    assert ctx.total == e.total.bytes and ctx.runs == e.runs
    assert ctx.kinds == [
        ("events", e.events.bytes, e.events.files),
        ("artifacts", e.artifacts.bytes, e.artifacts.files),
        ("models", e.models.bytes, e.models.files),
        ("other", e.other.bytes, e.other.files),
    ]
    assert {r.experiment.label for r in ctx.largest} == {"forecast"}
    # nothing of another experiment: name, id, runs, sizes, usage log lines
    shown = repr(ctx) + repr(data.growth)
    for other in ("__pwned", storage_store["vision_id"], storage_store["cnn"], "4242424"):
        assert other not in shown
    assert [s.name for s in data.growth] == [storage_store["forecast_id"]]


def test_the_growth_chart_is_the_logged_usage(storage_store):
    logged = storage_store["logged"]
    ctx, data, _, _ = storage_model(storage_store["store"])
    series = {s.name: dict(zip(s.days, s.values)) for s in data.growth}
    assert series == {
        "total": logged["total_bytes"],
        **{kind: logged[f"{kind}_bytes"] for kind in KINDS},
    }
    rows = chart_rows(ctx.growth_chart)
    drawn = {(r["series"], r["day"] // DAY_MS): r["bytes"] for r in rows}
    assert {d: v for (s, d), v in drawn.items() if s == "total"} == logged["total_bytes"]
    unit = ctx.unit[1]
    factor = {"kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
    assert all(r["value"] == pytest.approx(r["bytes"] / factor) for r in rows)
    days = sorted(logged["total_bytes"])
    assert ctx.growth is not None
    assert (ctx.growth.first, ctx.growth.last, ctx.growth.days) == (1_000_000, 3_000_000, DAYS)
    assert ctx.growth.change == "+200%" and ctx.growth.label == "the store"
    assert ctx.log_experiment is not None and ctx.log_experiment.label == USAGE_EXPERIMENT
    # a restricted build draws its experiments' own series, never the store's totals
    ctx, data, _, _ = storage_model(storage_store["store"], experiments=("forecast",))
    assert [(s.name, dict(zip(s.days, s.values))) for s in data.growth] == [
        (storage_store["forecast_id"], logged[usage_metric_key("forecast")])
    ]
    assert {r["series"] for r in chart_rows(ctx.growth_chart)} == {"forecast"}
    assert ctx.growth is not None and ctx.growth.label == "forecast"
    assert ctx.growth.first_day < ctx.growth.last_day and len(days) == ctx.growth.days
    assert ctx.log_experiment is None  # the usage log's experiment is not in this site


def test_the_policy_figure_is_what_archive_policy_would_move(storage_store):
    keep = "params.depth = '8'"
    settings = {"retention": {"archive_after": "0d", "keep": keep, "archive_to": "/srv/arch"}}
    ctx, data, snapshot, _ = storage_model(storage_store["store"], **settings)
    store = loader.open_store(storage_store["store"])
    chosen = select_runs(store, older_than_ms=0, keep=keep)
    usage = {r.run_id: r for r in store.usage().runs}
    assert chosen.run_ids and storage_store["big"] not in chosen.run_ids  # kept
    assert storage_store["old"] not in chosen.run_ids  # archived already
    assert data.policy is not None and list(data.policy.run_ids) == chosen.run_ids
    assert ctx.policy is not None
    assert ctx.policy.runs == len(chosen.run_ids) and ctx.policy.kept == chosen.kept == 1
    moved = sum(usage[r].events_bytes + usage[r].artifacts.bytes for r in chosen.run_ids)
    assert ctx.policy.bytes == moved > 0
    assert (ctx.policy.archive_after, ctx.policy.keep) == ("0d", keep)
    assert ctx.policy.archive_to == "/srv/arch" and not ctx.policy.archive_hidden
    assert ctx.policy.command == "tracker-report archive --policy --dry-run"
    # a restricted build: only its runs; a public one: the archive's path hidden
    ctx, *_ = storage_model(
        storage_store["store"], experiments=("forecast",), hide_paths=True, **settings
    )
    forecast = set(snapshot.experiments[0].runs["run_id"])
    assert ctx.policy is not None
    assert ctx.policy.runs == len([r for r in chosen.run_ids if r in forecast])
    assert ctx.policy.archive_to == "arch" and ctx.policy.archive_hidden
    # no archive_after: no figure, and the page says why
    ctx, *_ = storage_model(storage_store["store"], retention={"keep": keep})
    assert ctx.policy is not None and "no archive_after" in ctx.policy.problem


def test_without_a_log_or_a_policy_the_page_says_how_to_start(store_uri, tmp_path):
    mlflow.set_experiment("plain")
    with mlflow.start_run():
        mlflow.log_metric("m", 1.0)
    ctx, data, _, _ = storage_model(store_uri)
    assert data.growth == [] and ctx.growth is None and ctx.policy is None
    assert chart_rows(ctx.growth_chart) is None
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    html = (out / STORAGE_PATH).read_text()
    assert "No usage has been recorded yet" in html and "tracker-report du --log" in html
    assert "No retention policy is configured" in html and "[retention]" in html


def test_a_store_that_cannot_measure_itself_gets_a_page_that_says_so(
    store_uri, tmp_path, monkeypatch
):
    from reporter.core.errors import UnsupportedFeatureError
    from reporter.store.parquet.store import ParquetStore

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedFeatureError(f"The store {self.uri} cannot measure itself from here")

    monkeypatch.setattr(ParquetStore, "usage", refuse)
    mlflow.set_experiment("plain")
    with mlflow.start_run():
        mlflow.log_metric("m", 1.0)
    ctx, data, _, _ = storage_model(store_uri)
    assert not ctx.measured and data.usage is None and "cannot measure" in ctx.problem
    out = tmp_path / "site"
    build(BuildConfig(store=store_uri, out=str(out)))
    html = (out / STORAGE_PATH).read_text()
    assert "This store cannot be measured from here" in html and "spec-storage" not in html


def test_the_site_links_the_storage_page_and_can_leave_it_out(storage_store, tmp_path):
    out = tmp_path / "site"
    build(BuildConfig(store=storage_store["store"], out=str(out)))
    for page in ("index.html", "404.html", f"runs/{storage_store['big']}/index.html"):
        html = (out / page).read_text()
        assert 'class="site-nav"' in html and "storage/index.html" in html, page
    assert (
        '<a href="index.html" aria-current="page">Storage</a>' in (out / STORAGE_PATH).read_text()
    )
    plain = tmp_path / "plain"
    build(BuildConfig(store=storage_store["store"], out=str(plain), storage_page=False))
    assert not (plain / "storage").exists()
    assert "site-nav" not in (plain / "index.html").read_text()


# --- archived runs --------------------------------------------------------------------------------
def test_an_archived_run_keeps_its_latest_values_and_no_history(storage_store):
    _, _, snapshot, site = storage_model(storage_store["store"])
    old = storage_store["old"]
    assert set(snapshot.archived) == {old}
    assert snapshot.archived[old].location == storage_store["archive"]
    (page,) = [p for p in site.pages if p.info.path == f"runs/{old}/index.html"]
    ctx: RunPageContext = page.context
    assert ctx.archived is not None and ctx.charts == []
    assert ctx.archived.location == storage_store["archive"] and not ctx.archived.hidden
    assert ctx.archived.restore == (
        f"tracker-report restore {old} --from {storage_store['archive']}"
    )
    assert ctx.archived.time  # when, from reporter.archive.time
    assert {(m.key, m.last, m.step) for m in ctx.metrics} == {
        ("loss", "0.0125", "39"),
        ("rmse", "0.25", "0"),
    }
    assert not [f for f in site.files if f.path.startswith(f"runs/{old}/metrics/")]
    # the experiment page lists it, marked, and charts the others only
    (exp,) = [p for p in site.pages if p.info.path == "experiments/forecast/index.html"]
    assert [r.archived for r in exp.context.rows if r.run_id == old] == [True]
    charted = {s[1] for block in exp.context.charts for s in block.series}
    assert old not in charted and storage_store["big"] in charted
    assert "1 archived run not charted" in exp.context.chart_note
    (table_js,) = [f for f in site.files if f.path == "experiments/forecast/table.js"]
    assert table_js.data is not None
    rows = json.loads(table_js.data.decode().split("=", 1)[1].rstrip().rstrip(";"))["rows"]
    assert {r[0]: r[4:] for r in rows} == {
        storage_store["big"]: [],
        storage_store["small"]: [],
        old: [1],
    }
    # compare: runs.js marks it, and its series.js has no series to overlay
    (runs_js,) = [f for f in site.files if f.path == "experiments/forecast/runs.js"]
    assert runs_js.data is not None
    payload = json.loads(runs_js.data.decode().split("=", 1)[1].rstrip().rstrip(";"))
    marked = {r["id"]: r.get("archived", False) for r in payload["runs"]}
    assert marked[old] is True and marked[storage_store["big"]] is False
    (series,) = [f for f in site.files if f.path == f"runs/{old}/series.js"]
    assert series.data is not None and f'["{old}"] = {{}};' in series.data.decode()


def test_a_report_chart_leaves_archived_runs_out(storage_store, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "r.md").write_text(
        '{{< chart experiment="forecast" metric="loss" runs="big,old" >}}\n\n'
        '{{< chart experiment="forecast" metric="rmse" runs="small,old" >}}\n'
    )
    out = tmp_path / "site"
    build(BuildConfig(store=storage_store["store"], out=str(out), reports=str(reports)))
    html = (out / "reports/r.html").read_text()
    loss, rmse = html.split('class="chart-data">')[1:3]
    assert storage_store["old"] not in loss.split("</script>")[0]  # a history: left out
    assert "1 archived run not charted" in html
    assert storage_store["old"] in rmse.split("</script>")[0]  # final values: its own stays


# --- HTML ---------------------------------------------------------------------------------------
def test_hostile_names_are_escaped_on_the_storage_page(storage_store, tmp_path):
    out = tmp_path / "site"
    build(BuildConfig(store=storage_store["store"], out=str(out)))
    html = (out / STORAGE_PATH).read_text()
    assert "<script>window.__pwned" not in html
    assert "vision &lt;script&gt;window.__pwned=1&lt;/script&gt;&amp;&#34;&#39;" in html
    assert "vision \\u003cscript\\u003ewindow.__pwned=1" in html  # the charts' JSON


def test_a_restricted_build_holds_no_byte_of_another_experiment(storage_store, tmp_path):
    """A team's build that also publishes the usage log shows, of it, only its own bytes."""
    out = tmp_path / "site"
    build(
        BuildConfig(
            store=storage_store["store"], out=str(out), experiments=("forecast", USAGE_EXPERIMENT)
        )
    )
    files = [p for p in out.rglob("*") if p.is_file()]
    assert (out / STORAGE_PATH) in files
    marks = ["__pwned", "vision", storage_store["vision_id"], storage_store["cnn"]]
    marks += ["vision-only-artifact-7c1d", "4242424", "4,242,424", "total_bytes"]
    for path in files:
        data = path.read_bytes()
        for mark in marks:
            assert mark.encode() not in data, f"{path} holds {mark!r}"
    log_page = (out / f"runs/{storage_store['log']}/index.html").read_text()
    assert usage_metric_key("forecast") in log_page  # its own bytes stay
    storage = (out / STORAGE_PATH).read_text()
    assert "Only the experiments of this site are counted" in storage
    assert "Not in this site" not in storage


def test_the_archived_run_page_says_where_it_went(storage_store, tmp_path):
    out = tmp_path / "site"
    build(BuildConfig(store=storage_store["store"], out=str(out)))
    old = storage_store["old"]
    html = (out / f"runs/{old}/index.html").read_text()
    assert 'class="archived-banner"' in html
    assert f"tracker-report restore {old} --from {storage_store['archive']}" in html
    assert '<figure class="chart"' not in html and "spec-metric" not in html
    assert "At step" in html and "the histories are in the archive" in html
    exp = (out / "experiments/forecast/index.html").read_text()
    assert exp.count('class="badge archived"') == 1
    assert "1 archived run not charted" in exp


def test_a_public_build_shows_no_path_of_the_archive(storage_store, tmp_path):
    out = tmp_path / "site"
    flags = {"store": storage_store["store"], "out": str(out), "profile": "public"}
    config = load_config(flags, cwd=str(tmp_path))
    assert config.hide_paths
    build(config)
    archive = storage_store["archive"]
    for path in out.rglob("*"):
        if path.is_file():
            assert archive.encode() not in path.read_bytes(), path
            assert str(tmp_path).encode() not in path.read_bytes(), path
    html = (out / f"runs/{storage_store['old']}/index.html").read_text()
    assert "an archive folder named <code>archive</code> (its path is not published)" in html
    assert f"tracker-report restore {storage_store['old']} --from ARCHIVE" in html


# --- in a browser -------------------------------------------------------------------------------
STORAGE_CHARTS = """() => Array.from(document.querySelectorAll('figure.storage-chart')).map(f => ({
  kind: f.dataset.kind, drawn: f.dataset.drawn,
  marks: f.querySelectorAll('.chart-view svg .role-mark path, .chart-view svg .role-mark').length,
  title: Array.from(f.querySelectorAll('.chart-view svg .role-axis-title text'))
    .map(t => t.textContent).join('|'),
  labels: Array.from(f.querySelectorAll('.chart-view svg .role-axis-label text'))
    .map(t => t.textContent),
  failed: f.querySelector('.chart-view').textContent.startsWith('Chart failed'),
}))"""


@pytest.fixture
def storage_site(storage_store, tmp_path) -> Path:
    out = tmp_path / "site"
    policy = {"archive_after": "0d", "archive_to": "s3://team/archive"}
    build(BuildConfig(store=storage_store["store"], out=str(out), retention=policy))
    return out


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_storage_page_draws_from_file_and_a_sub_path(storage_site, browser, dark):
    out = storage_site
    with open_page(browser) as (tab, rec):
        if dark:
            tab.emulate_media(color_scheme="dark")
        tab.goto((out / STORAGE_PATH).resolve().as_uri())
        settle(tab)
        charts = {c["kind"]: c for c in tab.evaluate(STORAGE_CHARTS)}
        assert rec.problems(out.resolve().as_uri()) == []
        assert tab.evaluate("() => window.__pwned") is None
    assert set(charts) == {"usage", "growth"}
    for chart in charts.values():
        assert chart["drawn"] == "true" and not chart["failed"] and chart["marks"] > 0, chart
    assert "size (kB)" in charts["usage"]["title"] or "size (MB)" in charts["usage"]["title"]
    assert "day (UTC)" in charts["growth"]["title"]
    days = [t for t in charts["growth"]["labels"] if t.startswith("20") and t.count("-") == 2]
    assert days  # ISO dates, as the rest of the site writes them
    with serve(out.parent, "/site/") as served, open_page(browser) as (tab, rec):
        tab.goto(served.url + STORAGE_PATH)
        settle(tab)
        assert [c["drawn"] for c in tab.evaluate(STORAGE_CHARTS)] == ["true", "true"]
        follow(tab, ".site-nav a")
        assert tab.url == served.url + STORAGE_PATH  # the page links itself, relatively
        follow(tab, ".crumbs a")
        assert tab.url == served.url + "index.html"
        assert rec.problems(served.url) == []
        assert all(path.startswith("/site/") for _, path, _ in served.log)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_storage_and_archived_pages_fit_a_phone(storage_site, storage_store, browser, dark):
    out = storage_site
    root = out.resolve().as_uri()
    pages = [STORAGE_PATH, f"runs/{storage_store['old']}/index.html"]
    selectors = "table th, table td, .facts dt, .facts dd, h1, .crumbs li, .lead, .archived-banner"
    with open_page(browser, PHONE, mobile=True) as (tab, rec):
        if dark:
            tab.emulate_media(color_scheme="dark")
        for page in pages:
            tab.goto(f"{root}/{page}")
            settle(tab)
            assert split_words(tab, selectors) == [], page
            overflow = horizontal_overflow(tab)
            assert overflow["culprits"] == [], (page, overflow)
            assert overflow["scrollWidth"] <= overflow["innerWidth"], (page, overflow)
        # the experiment page's table, as the page script renders it, marks the archived run
        tab.goto(f"{root}/experiments/forecast/index.html")
        tab.wait_for_selector("table.runs tbody tr")
        marked = tab.eval_on_selector_all(
            "table.runs tbody tr",
            "rs => rs.filter(r => r.querySelector('.badge.archived')).map(r => r.dataset.run)",
        )
        assert marked == [storage_store["old"]]
        tab.click("th[data-key=name] button")  # sorted again by the script: still marked
        marked = tab.eval_on_selector_all(
            "table.runs tbody tr",
            "rs => rs.filter(r => r.querySelector('.badge.archived')).map(r => r.dataset.run)",
        )
        assert marked == [storage_store["old"]]
        assert rec.problems(root) == []


def test_the_compare_page_leaves_archived_runs_out_of_its_charts(
    storage_site, storage_store, browser
):
    out = storage_site
    ids = [storage_store["big"], storage_store["old"]]
    url = (out / "experiments/forecast/compare.html").resolve().as_uri() + "#runs=" + ",".join(ids)
    with open_page(browser) as (tab, rec):
        tab.goto(url)
        tab.wait_for_selector(".cmp-metrics tbody tr")
        settle(tab)
        note = tab.inner_text(".archived-note")
        status = tab.eval_on_selector_all(
            ".cmp-runs tbody tr:first-child td", "tds => tds.map(t => t.textContent)"
        )
        legend = tab.eval_on_selector_all(".run-legend .run-name", "s => s.map(e => e.textContent)")
        assert rec.problems(out.resolve().as_uri()) == []
    assert "old is archived" in note
    assert status == ["Status", "FINISHED", "FINISHED (archived)"]
    assert "old" not in legend
