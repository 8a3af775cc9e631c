"""The metric charts as data: which metrics are bars and which lines, where a log scale is
offered, the group scripts that let grouping draw every run, and the chart specs.

The stores here provoke the defects of issue 16: metrics logged once per run (rmse, r2)
beside metrics with history, values at or below 0, and a sweep whose ten charted runs all
share one param value."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

import reporter as mlflow
from reporter.site import charts, contract, model, series
from reporter.site.build import build_time
from reporter.store.records import MetricPoints
from reporter.view import loader
from reporter.view.config import BuildConfig
from reporter.view.points import SeriesSource

LONG = "sgd-elasticnet-invscaling-alpha0.0001-with-a-long-name"
ADAM = "adam-with-decoupled-weight-decay"  # a long group name: legends must show it whole


def log_sweep() -> dict[str, str]:
    """Log 14 runs of `sweep`: the 10 best by loss (the primary metric, logged first) use
    ADAM, the 4 worst sgd. Each logs histories (loss; margin, below 0; lr, reaching 0; score,
    60 to 120; throughput, about 1,234,567) and single values (rmse 60 to 118.5, r2 0.5 to
    0.63). Returns run name -> id."""
    mlflow.set_experiment("sweep")
    ids = {}
    for i in range(14):
        name = LONG if i == 3 else f"run-{i:02d}"
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_params({"opt": ADAM if i < 10 else "sgd", "depth": str(i % 3)})
            for step in range(20):
                mlflow.log_metric("loss", (1 + i) * math.exp(-step / 6) / 10 + 0.01 * i, step=step)
                mlflow.log_metric("margin", (step - 8) * 0.1 + i / 100, step=step)
                mlflow.log_metric("lr", 0.0 if step > 12 else 0.5, step=step)
                mlflow.log_metric("score", 60 + 3 * step + i / 7, step=step)
                mlflow.log_metric("throughput", 1_234_567 + 1_000 * step, step=step)
            mlflow.log_metric("rmse", 60 + 4.5 * i)
            mlflow.log_metric("r2", 0.5 + i / 100)
        ids[name] = run.info.run_id
    return ids


def make(store: str) -> contract.Site:
    """Build the site model of a store without writing anything."""
    cfg = BuildConfig(store=store, max_points=200)
    snap = loader.load(loader.open_store(store), cfg)
    info = contract.SiteInfo("T", "0", build_time(), None)
    return model.make_site(snap, cfg, info, lambda r, p: None, lambda r, p: f"file:///{p}")


def context(site: contract.Site, path: str) -> Any:
    """Return the context of the page at a path."""
    return next(p for p in site.pages if p.info.path == path).context


def group_script(site: contract.Site, path: str) -> dict[str, Any]:
    """Return the object a group script assigns to window.TRACKER_GROUPS[choice]."""
    data = next(f for f in site.files if f.path == path).data
    assert data is not None
    head, _, body = data.decode().partition("] = ")
    assert head.startswith("(window.TRACKER_GROUPS = window.TRACKER_GROUPS || {})[")
    assert body.endswith(";\n")
    payload: dict[str, Any] = json.loads(body[:-2])
    assert json.loads(head.split("[", 1)[1]) == payload["choice"]
    return payload


def test_single_value_metrics_are_ranked_bars_and_histories_lines(store_uri):
    ids = log_sweep()
    site = make(store_uri)
    exp = context(site, "experiments/sweep/index.html")
    kinds = {c.title: c.kind for c in exp.charts}
    assert kinds == {
        "loss": "line",
        "lr": "line",
        "margin": "line",
        "r2": "bars",
        "rmse": "bars",
        "score": "line",
        "throughput": "line",
    }
    rmse = json.loads(str(next(c for c in exp.charts if c.title == "rmse").data))
    assert rmse["kind"] == "bars" and rmse["lower_is_better"] is True
    assert [s["n"] for s in rmse["series"]] == [1] * 10  # the ten charted runs, a value each
    assert sorted(charts.decode(s["value"])[0] for s in rmse["series"]) == [
        60 + 4.5 * i for i in range(10)
    ]
    r2 = json.loads(str(next(c for c in exp.charts if c.title == "r2").data))
    assert r2["lower_is_better"] is False  # higher is better: the best bar is the highest
    # a run page charts only its histories; its single values are in its metrics table
    run = context(site, f"runs/{ids['run-05']}/index.html")
    assert [c.title for c in run.charts] == ["loss", "lr", "margin", "score", "throughput"]
    assert {m.key for m in run.metrics} >= {"rmse", "r2"}


def test_a_metric_logged_again_at_its_one_step_is_still_a_value(store_uri):
    mlflow.set_experiment("again")
    with mlflow.start_run(run_name="a"):
        mlflow.log_metric("acc", 0.5, step=3)
        mlflow.log_metric("acc", 0.75, step=3)  # the later value is the run's value
    with mlflow.start_run(run_name="b"):
        mlflow.log_metric("acc", 0.25, step=3)
    exp = context(make(store_uri), "experiments/again/index.html")
    (chart,) = exp.charts
    data = json.loads(str(chart.data))
    assert chart.kind == "bars" and chart.note == ""
    assert sorted(charts.decode(s["value"])[0] for s in data["series"]) == [0.25, 0.75]


def test_log_scale_is_offered_only_where_every_value_is_above_zero(store_uri):
    log_sweep()
    exp = context(make(store_uri), "experiments/sweep/index.html")
    log_ok = {c.title: json.loads(str(c.data))["log_ok"] for c in exp.charts}
    assert log_ok == {
        "loss": True,
        "lr": False,  # reaches 0
        "margin": False,  # below 0
        "r2": True,
        "rmse": True,
        "score": True,
        "throughput": True,
    }


def test_grouping_counts_every_run_not_only_the_charted_ones(store_uri):
    ids = log_sweep()
    site = make(store_uri)
    exp = context(site, "experiments/sweep/index.html")
    charted = {s[1] for c in exp.charts for s in c.series}
    assert len(charted) == 10 and not charted & {ids[f"run-{i}"] for i in range(10, 14)}
    choices = dict(zip(exp.group_choices, exp.group_data, strict=True))
    assert choices[("params", "opt")].startswith("experiments/sweep/groups/")
    groups = group_script(site, choices[("params", "opt")])
    assert groups["runs"] == 14
    assert groups["groups"] == [{"name": ADAM, "runs": 10}, {"name": "sgd", "runs": 4}]
    loss = groups["metrics"]["loss"]
    assert loss["kind"] == "line" and loss["runs"] == [10, 4] and loss["log_ok"] is True
    assert charts.decode(loss["step"]["x"]) == [float(s) for s in range(20)]
    sgd = loss["step"]["groups"][1]
    expected = [
        [(1 + i) * math.exp(-step / 6) / 10 + 0.01 * i for i in range(10, 14)] for step in range(20)
    ]
    assert np.allclose(charts.decode(sgd["mean"]), [np.mean(v) for v in expected])
    assert np.allclose(charts.decode(sgd["lo"]), [min(v) for v in expected])
    assert np.allclose(charts.decode(sgd["hi"]), [max(v) for v in expected])
    assert charts.decode(sgd["n"]) == [4.0] * 20
    rel = loss["relative"]
    assert len(charts.decode(rel["x"])) == len(charts.decode(rel["groups"][0]["mean"]))
    rmse = groups["metrics"]["rmse"]
    assert rmse["kind"] == "bars" and rmse["runs"] == [10, 4]
    assert rmse["mean"] == [np.mean([60 + 4.5 * i for i in range(10)]), 60 + 4.5 * 11.5]
    assert (rmse["lo"], rmse["hi"]) == ([60.0, 105.0], [100.5, 118.5])
    assert groups["metrics"]["margin"]["log_ok"] is False


def test_group_scripts_stay_small_for_many_runs():
    """3,000 runs of 500 steps: each group script holds at most MAX_GROUPS groups of at most
    GROUP_BINS points per metric, whatever the number of runs; params of many values keep
    their largest groups and one "other" group, and runs without the param are "(none)"."""
    runs, steps = 3000, 500
    rng = np.random.default_rng(0)
    run_ids = [f"r{i:04d}" for i in range(runs)]
    value = rng.random(runs * steps)
    step = np.tile(np.arange(steps, dtype=np.int64), runs)
    time = np.tile(np.arange(steps, dtype=np.float64) * 1000, runs) + 1e12
    run = np.repeat(np.arange(runs, dtype=np.int32), steps)
    key = np.zeros(runs * steps, dtype=np.int32)
    points = MetricPoints(run_ids, ["loss"], run, key, value, step, time.astype(np.int64))
    metrics = SeriesSource.of(points)
    frame = pd.DataFrame(
        {
            "run_id": run_ids,
            "start_time": [1e12] * runs,
            "params.seed": [str(i) for i in range(runs)],  # 3,000 values
            "params.opt": [None if i % 10 == 0 else ("adam", "sgd")[i % 2] for i in range(runs)],
        }
    )
    choices = [("params", "seed"), ("params", "opt")]
    files = series.group_scripts("x", frame, choices, metrics, ["loss"], lambda key: True)
    assert [f.path for f in files] == ["x/groups/0.js", "x/groups/1.js"]
    seed, opt = (json.loads(f.data.decode().partition("] = ")[2][:-2]) for f in files if f.data)
    assert len(seed["groups"]) == series.MAX_GROUPS
    assert seed["groups"][-1] == {"name": f"other ({runs - 9} values)", "runs": runs - 9}
    assert sum(g["runs"] for g in seed["groups"]) == runs  # every run is in a group
    assert [g["name"] for g in opt["groups"]] == ["adam", "sgd", "(none)"]
    assert [g["runs"] for g in opt["groups"]] == [1200, 1500, 300]
    assert len(charts.decode(opt["metrics"]["loss"]["step"]["x"])) == series.GROUP_BINS
    assert all(f.data is not None and len(f.data) < 250_000 for f in files)


def test_group_names_sort_numbers_by_value():
    names, of_run = series.group_runs(["10", "9", None, "0.5", "9"])
    assert names == ["0.5", "9", "10", "(none)"]
    assert of_run == [2, 1, 3, 0, 1]


def test_chart_specs_use_the_site_number_format_and_nearest_hover():
    specs = charts.metric_spec()
    assert set(specs) == {"line", "bars", "band"}
    line = specs["line"]
    assert line["$schema"].endswith(".json")
    assert [layer["data"]["name"] for layer in line["layer"]] == ["points", "points", "hover"]
    assert line["layer"][0]["encoding"]["x"]["axis"]["labelExpr"] == charts.HUMAN
    assert [layer["mark"]["type"] for layer in line["layer"]] == ["line", "point", "rule"]
    assert line["layer"][0]["encoding"]["y"]["axis"]["labelExpr"] == charts.HUMAN
    (hover,) = line["params"]
    assert hover["select"]["nearest"] is True and hover["select"]["encodings"] == ["x"]
    assert line["layer"][2]["encoding"]["tooltip"] == {"field": "tip", "type": "nominal"}
    bars = specs["bars"]
    assert [layer["mark"]["type"] for layer in bars["layer"]] == ["bar", "rule", "text", "text"]
    assert bars["layer"][0]["encoding"]["y"]["sort"] == {"field": "rank", "op": "min"}
    assert bars["layer"][0]["encoding"]["x"]["axis"]["labelExpr"] == charts.HUMAN
    band = specs["band"]
    assert [layer["mark"]["type"] for layer in band["layer"]] == ["area", "line", "point", "rule"]
    assert band["layer"][1]["encoding"]["color"]["legend"]["labelLimit"] == 0  # names are never cut
    assert "format" not in json.dumps(specs)  # no d3 number format: humanNumber everywhere
