"""The site as data: the model built from a store, and the chart specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import reporter as mlflow
from reporter.core import system_tags
from reporter.site import charts, contract, explore_charts, model, paths, theme
from reporter.site.build import build_time
from reporter.site.downsample import minmax_indices, minmax_many
from reporter.view import loader
from reporter.view.config import BuildConfig
from tests.site.conftest import EVIL


def make(store: str, **config: object) -> contract.Site:
    """Build the site model of a store without writing anything."""
    cfg = BuildConfig(store=store, max_points=200, **config)  # type: ignore[arg-type]
    snap = loader.load(loader.open_store(store), cfg)
    info = contract.SiteInfo("T", "0", build_time(), None)
    return model.make_site(snap, cfg, info, lambda r, p: None, lambda r, p: f"file:///{p}")


def page(site: contract.Site, path: str) -> contract.Page:
    """Return the page at a path."""
    return next(p for p in site.pages if p.info.path == path)


def test_index_summarises_each_experiment(site_store):
    site = make(site_store["store"])
    index = page(site, "index.html").context
    assert [e.name for e in index.experiments] == ["forecast", "vision"]
    forecast = index.experiments[0]
    assert forecast.runs == 3  # the deleted run is hidden
    assert forecast.by_status == {"FINISHED": 3}
    assert forecast.primary_metric == "loss"  # the first metric logged
    assert forecast.best_value == "2e-4" and forecast.best_run.label == "parent"  # human()
    assert "<strong>load</strong>" in forecast.description
    assert "<script>" not in forecast.description  # sanitised
    assert index.total_runs == 4 and site.runs == 4 and site.experiments == 2


def test_primary_metric_is_configurable(site_store):
    site = make(site_store["store"], primary_metric={"forecast": "rmse"})
    forecast = page(site, "index.html").context.experiments[0]
    # the best configuration: the top-level parent (3.25), not its child replicate (2.5)
    assert (forecast.primary_metric, forecast.best_value, forecast.best_run.label) == (
        "rmse",
        "3.25",
        "parent",
    )


def test_metric_direction_is_configurable(site_store):
    site = make(
        site_store["store"], primary_metric={"forecast": "rmse"}, metric_direction={"rmse": "max"}
    )
    forecast = page(site, "index.html").context.experiments[0]
    assert (forecast.best_value, forecast.best_run.label) == ("4", EVIL)  # higher is better now
    runs = next(f for f in site.files if f.path == "experiments/forecast/runs.js")
    assert runs.data is not None
    directions = script_json(runs.data, "TRACKER_EXPERIMENT")["lower_is_better"]
    assert directions == {"loss": True, "rmse": False}  # loss guessed from its name
    with pytest.raises(ValueError, match=r"metric_direction for 'rmse' is 'up'; valid: \"min\""):
        BuildConfig(store=site_store["store"], metric_direction={"rmse": "up"}).validate()


def test_experiment_page_table_and_charts(site_store):
    site = make(site_store["store"])
    exp = page(site, "experiments/forecast/index.html").context
    labels = [c.label for c in exp.columns]
    # the name, the primary metric (loss) and the other metrics, params, attributes, tags
    assert labels[:5] == ["Run", "loss", "rmse", "depth", "lr"]
    assert labels[5:10] == ["Status", "Start (UTC)", "Duration", "User", "Commit"]
    assert all(c.group == "tags" and c.hidden for c in exp.columns[10:])
    names = [r.name for r in exp.rows]
    assert names == ["parent", EVIL, "child"]  # top level by loss, then the folded child
    child = exp.rows[names.index("child")]
    assert child.depth == 1 and child.parent == site_store["parent"]
    assert "deleted" not in names
    loss = next(c for c in exp.charts if c.title == "loss")
    data = json.loads(str(loss.data))
    assert data["total"] == 5000 and data["shown"] <= 200
    assert loss.note == f"{data['shown']:,} of 5,000 points"
    values = charts.decode(data["series"][0]["value"])
    steps = charts.decode(data["series"][0]["step"])
    assert len(values) == len(steps) == data["series"][0]["n"] == data["shown"]
    assert max(values) == 1.0 and 2500 in steps  # the spike at step 2500 is kept
    assert sorted(values)[-2] == 1.0 / 2501 + 0.5
    csv = next(f for f in site.files if f.path == loss.downloads[0].path)
    assert csv.data is not None and csv.data.decode().count("\n") == 5001


def test_run_page_context(site_store):
    site = make(site_store["store"])
    run = page(site, f"runs/{site_store['parent']}/index.html").context
    assert run.name == "parent" and run.status == "FINISHED"
    assert run.params == [("depth", "8"), ("lr", "0.1")]
    stats = {m.key: (m.last, m.min, m.max, m.steps) for m in run.metrics}
    assert stats["loss"] == ("0.000200", "0.000200", "1.000000", 5000)  # one set of decimals
    assert stats["rmse"] == ("3.25", "3.25", "3.25", 1)
    assert [c.label for c in run.children] == ["child"]
    assert ("team", "grid") in run.tags
    shown = dict(run.system_tags)
    assert shown["mlflow.runName"] == "parent" and "mlflow.user" in shown  # MLflow's names
    assert not any(system_tags.is_system_tag(k) for k, _ in run.tags)
    names = {n.name for n in run.artifacts}
    assert {"config.json", "notes", "data", "plots", "blobs", "environment"} <= names
    child = page(site, f"runs/{site_store['child']}/index.html").context
    assert child.parent.label == "parent"


def test_untrusted_strings_stay_data(site_store):
    site = make(site_store["store"])
    run = page(site, f"runs/{site_store['evil']}/index.html").context
    assert run.name == EVIL  # the model keeps the text; templates escape it
    assert "<script>" not in str(run.notes)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(0, 3000), elements=st.floats(-1e9, 1e9)), st.integers(10, 500)
)
def test_downsampling_keeps_extremes_and_ends(values, max_points):
    keep = minmax_indices(values, max_points)
    assert len(keep) <= max(max_points, 0) or len(values) <= max_points
    assert list(keep) == sorted(set(keep.tolist()))
    if len(values):
        assert keep[0] == 0 and keep[-1] == len(values) - 1
        assert values[keep].min() == values.min() and values[keep].max() == values.max()
    assert (minmax_indices(values, max_points) == keep).all()  # deterministic


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 900), min_size=1, max_size=12),
    st.lists(st.integers(0, 3), min_size=12, max_size=12),
    st.sampled_from([1, 3, 4, 5, 6, 10, 64, 500]),
    st.integers(0, 2**32 - 1),
)
def test_downsampling_many_series_at_once_picks_what_one_at_a_time_does(
    lengths, gaps, max_points, seed
):
    rng = np.random.default_rng(seed)
    spans, at = [], 0
    for length, gap in zip(lengths, gaps, strict=False):
        at += gap
        spans.append((at, at + length))
        at += length
    # ties, NaN, infinities and signed zeros as well as plain numbers
    values = rng.choice([0.0, -0.0, 1.0, 2.0, np.nan, np.inf, -np.inf], size=at)
    plain = rng.random(at) < 0.5
    values[plain] = rng.normal(size=int(plain.sum()))
    spans = [spans[i] for i in rng.permutation(len(spans))] + spans[:1]  # any order, repeats
    got = minmax_many(values, spans, max_points)
    assert len(got) == len(spans)
    for (a, b), keep in zip(spans, got, strict=True):
        want = minmax_indices(values[a:b], max_points)
        assert keep.dtype == want.dtype and keep.tolist() == want.tolist()


def test_metric_spec_is_valid_vega_lite_with_a_named_dataset():
    specs = charts.metric_spec()
    for spec in specs.values():
        assert spec["$schema"].endswith(f"v{alt.SCHEMA_VERSION.lstrip('v')}.json")
    line = specs["line"]
    assert line["layer"][0]["data"] == {"name": charts.DATASET}
    assert line["layer"][0]["encoding"]["x"]["field"] == "step"


def test_vendored_vega_matches_altair():
    versions = json.loads((theme.themes_root() / "default/static/vendor/VERSIONS.json").read_text())
    assert versions["vega-lite"] == alt.VEGALITE_VERSION
    assert versions["vega"].split(".")[0] == alt.VEGA_VERSION.split(".")[0]
    assert versions["vega-embed"].split(".")[0] == alt.VEGAEMBED_VERSION.split(".")[0]
    vendor = theme.themes_root() / "default/static/vendor"
    # the bundles themselves carry the versions the file names
    assert f'"{versions["vega-lite"]}"' in (vendor / "vega-lite.min.js").read_text()
    assert f'"{versions["vega-embed"]}"' in (vendor / "vega-embed.min.js").read_text()
    assert f'version="{versions["vega"]}"' in (vendor / "vega.min.js").read_text()
    for name in ("vega", "vega-lite", "vega-embed"):
        assert (vendor / f"LICENSE-{name}.txt").read_text().strip()


def test_relative_urls():
    assert paths.relative_url("index.html", "runs/abc/index.html") == "../../index.html"
    assert paths.relative_url("static/app.js", "index.html") == "static/app.js"
    assert (
        paths.relative_url("experiments/x/index.html#c", "experiments/x/index.html")
        == "index.html#c"
    )
    assert paths.relative_url("https://example.com/a", "index.html") == "https://example.com/a"


def test_json_block_cannot_close_its_script_tag():
    block = str(contract.json_block({"name": "</script><script>alert(1)</script>"}))
    assert "</" not in block and "<" not in block
    assert json.loads(block)["name"] == "</script><script>alert(1)</script>"


def test_slugs_are_unique_and_stable():
    slugs = paths.experiment_slugs({"1": "A b", "2": "a-b", "3": "Ünïcode!"})
    assert slugs["1"] == "a-b" and slugs["2"].startswith("a-b-") and slugs["3"] == "unicode"
    assert slugs == paths.experiment_slugs({"3": "Ünïcode!", "2": "a-b", "1": "A b"})


def test_loader_never_writes_to_the_store(site_store):
    before = {p: p.stat().st_mtime_ns for p in Path(site_store["store"]).rglob("*")}
    make(site_store["store"])
    after = {p: p.stat().st_mtime_ns for p in Path(site_store["store"]).rglob("*")}
    assert before == after


def test_exploration_specs_and_fields(site_store):
    band = charts.band_spec()
    assert [layer["mark"]["type"] for layer in band["layer"]] == ["area", "line", "point", "rule"]
    assert band["layer"][0]["encoding"]["y2"]["field"] == "hi"
    site = make(site_store["store"])
    exp = page(site, "experiments/forecast/index.html").context
    assert ("params", "depth") in exp.group_choices and ("tags", "team") in exp.group_choices
    assert not any(key.startswith("reporter.") for _, key in exp.group_choices)


def test_explore_specs_and_fields(site_store):
    scatter = explore_charts.scatter_spec()
    assert scatter["data"] == {"name": charts.DATASET}
    assert scatter["encoding"]["color"]["field"] == "c"  # the primary metric, or a chosen field
    assert scatter["encoding"]["x"]["axis"]["labelExpr"] == "humanNumber(datum.value)"
    parallel = explore_charts.parallel_spec()
    layers = [layer["name"] for layer in parallel["layer"]]
    assert layers == list(explore_charts.PARALLEL_LAYERS)
    assert {layer["data"]["name"] for layer in parallel["layer"]} == set(
        explore_charts.PARALLEL_DATA
    )
    # axis names and tick labels are data, never part of an expression
    assert all("expr" not in str(layer["encoding"]) for layer in parallel["layer"])
    site = make(site_store["store"])
    exp = page(site, "experiments/forecast/index.html").context
    fields = json.loads(str(exp.explore))
    labels = {c["label"] for c in fields["choices"]}
    assert {"depth (params)", "lr (params)", "loss (metrics)", "rmse (metrics)"} <= labels
    color = next(c for c in fields["choices"] if c["id"] == fields["parallel"]["color"])
    assert (color["kind"], color["key"]) == ("metrics", "loss")  # the primary metric
    assert fields["primary"] == color["id"] and fields["runs"] == 3
    assert [a["key"] for a in fields["parallel"]["axes"]] == ["depth", "lr", "loss"]


def script_json(data: bytes, name: str) -> dict[str, Any]:
    """Return the object a data script assigns to window.<name>."""
    prefix = f"window.{name} = "
    text = data.decode()
    assert text.startswith(prefix) and text.endswith(";\n")
    return json.loads(text[len(prefix) : -2])


def test_table_js_holds_every_row_as_shown_and_as_sorted(site_store):
    mlflow.set_experiment("forecast")
    with mlflow.start_run(run_name="infinite") as run:
        mlflow.log_metric("rmse", float("inf"))
    run_id = run.info.run_id
    site = make(site_store["store"])
    exp = page(site, "experiments/forecast/index.html").context
    table = next(f for f in site.files if f.path == "experiments/forecast/table.js")
    assert table.data is not None
    rows = script_json(table.data, "TRACKER_TABLE")["rows"]
    assert exp.total_rows == len(rows) == 4
    assert [r[0] for r in rows] == [r.run_id for r in exp.rows]  # same default order
    by_id = {r[0]: r for r in rows}
    child = by_id[site_store["child"]]
    assert child[1] == site_store["parent"] and child[2] == 1
    rmse = [c.label for c in exp.columns].index("rmse")
    assert child[3][rmse] == ["2.500", 2.5]  # numeric: shown text (the column's decimals)
    assert by_id[run_id][3][rmse] == ["∞", "Infinity"]  # JSON has no infinity; JS Number() does
    assert by_id[site_store["parent"]][3][0] == "parent"  # text that sorts as itself
    assert by_id[site_store["evil"]][3][0] == EVIL  # data, escaped by the JSON writer
    assert "<" not in table.data.decode()


def test_first_rows_only_in_the_page(site_store):
    from reporter.site import table

    site = make(site_store["store"])
    exp = page(site, "experiments/forecast/index.html").context
    assert len(exp.rows) == exp.total_rows <= table.FIRST_ROWS
    runs = next(f for f in site.files if f.path == "experiments/forecast/runs.js")
    assert runs.data is not None
    parent = next(
        r
        for r in script_json(runs.data, "TRACKER_EXPERIMENT")["runs"]
        if r["id"] == site_store["parent"]
    )
    # what the filter box tests besides params, metrics and tags
    assert parent["attrs"]["run_name"] == "parent"
    assert isinstance(parent["attrs"]["start_time"], int)
    assert parent["attrs"]["lifecycle_stage"] == "active"
    assert parent["attrs"]["parent_run_id"] is None


def test_a_million_steps_are_drawn_from_max_points_keeping_extremes(store_uri):
    """A 1,000,000-step metric: at most max_points points, the same ones every build, the
    extremes and both ends kept, and the chart says how many of how many."""
    from reporter.entities import Metric

    client = mlflow.Client(store_uri)
    run_id = client.create_run(client.create_experiment("long"), run_name="long").info.run_id
    n, low, high = 1_000_000, 123_456, 777_777
    steps = np.arange(n)
    values = np.sin(steps / 1000.0)
    values[low], values[high] = -5.0, 5.0  # one-point spikes the downsampling must keep
    for a in range(0, n, 200_000):
        client.log_batch(
            run_id,
            metrics=[
                Metric("loss", float(values[s]), 1_700_000_000_000 + s, s)
                for s in range(a, a + 200_000)
            ],
        )
    client.set_terminated(run_id)
    drawn = []
    for _ in range(2):
        site = make(store_uri)  # max_points=200
        chart = page(site, f"runs/{run_id}/index.html").context.charts[0]
        (series_js,) = [f for f in site.files if f.path == f"runs/{run_id}/series.js"]
        drawn.append((str(chart.data), series_js.data))
    assert drawn[0] == drawn[1]  # deterministic
    data = json.loads(drawn[0][0])
    assert data["total"] == n and 2 <= data["shown"] <= 200
    assert chart.note == f"{data['shown']:,} of 1,000,000 points"
    # the run page draws its series from the run's series.js, which holds exactly those points
    assert data["series"] == [] and data["series_of"] == run_id
    assert drawn[0][1] is not None
    first_line = drawn[0][1].decode().split("\n")[0]  # (window.TRACKER_SERIES ...)[id] = {..};
    held = json.loads(first_line.partition("] = ")[2].removesuffix(";"))["loss"]
    assert held["n"] == data["shown"] and held["total"] == n
    kept_steps = np.asarray(charts.decode(held["step"]))
    kept_values = np.asarray(charts.decode(held["value"]))
    assert {0, low, high, n - 1} <= set(kept_steps.astype(int))
    assert kept_values.min() == -5.0 and kept_values.max() == 5.0
    assert list(kept_steps) == sorted(kept_steps)
    np.testing.assert_array_equal(kept_values, values[kept_steps.astype(int)])


def test_params_that_are_all_numbers_sort_as_numbers(store_uri):
    mlflow.set_experiment("numbers")
    for depth, mixed in (("8", "1"), ("10", "x"), ("100", "2"), ("9", "3")):
        with mlflow.start_run():
            mlflow.log_params({"depth": depth, "mixed": mixed})
    site = make(store_uri)
    exp = page(site, "experiments/numbers/index.html").context
    columns = {c.label: (i, c) for i, c in enumerate(exp.columns)}
    table = next(f for f in site.files if f.path == "experiments/numbers/table.js")
    assert table.data is not None
    rows = script_json(table.data, "TRACKER_TABLE")["rows"]
    depth_at, depth = columns["depth"]
    mixed_at, mixed = columns["mixed"]
    assert depth.numeric and not mixed.numeric
    assert sorted(r[3][depth_at][1] for r in rows) == [8.0, 9.0, 10.0, 100.0]
    assert {r[3][depth_at][0] for r in rows} == {"8", "10", "100", "9"}  # shown as logged
    assert {r[3][mixed_at] for r in rows} == {"1", "x", "2", "3"}  # text sorts as text


def test_markdown_keeps_only_images_of_the_site_itself():
    from reporter.view import text

    html = str(
        text.markdown(
            "![a](https://tracker.example/p.png) ![b](//cdn.example/q.png) ![c](plots/loss.png) "
            "![d](data:image/png;base64,iVBORw0KGgo=) [e](data:text/html,<script>x</script>) "
            "[f](https://example.com/doc)"
        )
    )
    assert "tracker.example" not in html and "cdn.example" not in html
    assert 'src="plots/loss.png"' in html and 'src="data:image/png;base64,iVBORw0KGgo="' in html
    assert "data:text/html" not in html
    assert 'href="https://example.com/doc"' in html  # links stay: they load nothing by themselves


def test_a_series_offered_by_a_run_page_and_report_charts_is_one_file(store_uri, tmp_path):
    """Page functions return what they make; the site gathers it. A series thinned on the
    run page, the experiment page and two report charts is one CSV download, with the full
    series, and every page's link points at it."""
    client = mlflow.Client(store_uri)
    exp_id = client.create_experiment("long")
    run_id = client.create_run(exp_id, run_name="only").info.run_id
    from reporter.entities import Metric

    client.log_batch(
        run_id, metrics=[Metric("loss", s / 7, 1_700_000_000_000 + s, s) for s in range(500)]
    )
    client.set_terminated(run_id)
    reports = tmp_path / "reports"
    reports.mkdir()
    chart = '{{< chart experiment="long" metric="loss" runs="only" >}}\n'
    (reports / "a.md").write_text(f"# A\n\n{chart}\n{chart}", encoding="utf-8")
    site = make(store_uri, reports=str(reports))  # max_points=200: the series is thinned
    csv = paths.csv_path(run_id, "loss")
    (download,) = [f for f in site.files if f.path == csv]
    assert download.data is not None
    lines = download.data.decode().splitlines()
    assert lines[0] == "step,value,timestamp" and len(lines) == 501
    assert [float(line.split(",")[1]) for line in lines[1:]] == [s / 7 for s in range(500)]
    charts_ = [c for p in site.pages for c in (getattr(p.context, "charts", None) or [])]
    report = next(p for p in site.pages if p.template == "report.html")
    charts_ += [part.chart for part in report.context.parts if getattr(part, "kind", "") == "chart"]
    assert len(charts_) == 4  # experiment page, run page, the report's two
    assert all([d.path for d in c.downloads] == [csv] for c in charts_)
    assert len({f.path for f in site.files}) == len(site.files)  # every output path once


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\u202a\u202e\u2066\u2069\u00e9\u4e2d<")), st.booleans())
def test_bidi_controls_are_spelled_out_in_any_text(value, markup):
    """Every bidi control becomes a visible code; text without one comes back unchanged
    (ASCII-only text skips the search), and Markup stays Markup."""
    from markupsafe import Markup

    from reporter.view import text

    given_ = Markup(value) if markup else value
    shown = text.show_controls(given_)
    assert not text.BIDI_CONTROLS.search(shown)
    assert isinstance(shown, Markup) == markup
    expected = "".join(f"[U+{ord(c):04X}]" if text.BIDI_CONTROLS.match(c) else c for c in value)
    assert str(shown) == expected


def test_a_child_run_is_named_with_its_parent_in_charts(site_store):
    """Seed replicates of two configurations must not read alike in a chart's legend."""
    site = make(site_store["store"])
    exp = page(site, "experiments/forecast/index.html").context
    named = {
        s["run_id"]: s["run"] for chart in exp.charts for s in json.loads(str(chart.data))["series"]
    }
    assert named[site_store["child"]] == "parent / child"
    assert named[site_store["parent"]] == "parent"
