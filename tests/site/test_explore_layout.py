"""The explore views as data: which params become parallel axes (and which are left out, and
why), each axis' scale, ticks and places below it, and the explore JSON the page script reads.
The store provokes the defects of issue 16: the primary metric missing on some runs, text
params, a param that is `None` on some runs and missing on others, a constant param."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import reporter
from reporter.entities import Metric, Param
from reporter.site import contract, explore_charts, model
from reporter.site.build import build_time
from reporter.site.pages import explore
from reporter.view import loader
from reporter.view.config import BuildConfig

SWEEP_RUNS = 12
LONG = "learning_rate_init_for_the_optimizer"
# Exponent notation in a label (1e-4, 1.5e+2): allowed only below 1e-3 and from 1e6 up.
EXPONENT = re.compile(r"^-?\d+(\.\d+)?e[+-]?\d+$")


def log_sweep(store: str) -> list[str]:
    """Log the sweep experiment; return its run ids in logging order.

    f1 (the primary metric) is missing on every fourth run; `opt` is set on even runs only;
    `max_depth` is "None" on every fifth; `solver` is the same on every run."""
    client = reporter.Client(store)
    exp = client.create_experiment("sweep")
    ids = []
    for i in range(SWEEP_RUNS):
        run = client.create_run(exp, start_time=1_700_000_000_000 + i * 1000, run_name=f"r{i}")
        params = {
            "penalty": ["l1", "l2", "elasticnet"][i % 3],
            "alpha": [0.0001, 0.001, 0.01, 0.1][i % 4],
            "max_depth": None if i % 5 == 0 else 2 + i % 4,
            "solver": "adam",
            "hidden": 1_234_567 if i % 2 else 120,
            LONG: round(0.000123 * (i + 1), 6),
        }
        if i % 2 == 0:
            params["opt"] = "sgd" if i % 4 else "adam"
        metrics = [Metric("rmse", 120.5 + i, 0, 0)]
        if i % 4 != 3:
            metrics.append(Metric("f1", 0.8 + i / 100, 0, 0))
        client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=[Param(k, str(v)) for k, v in params.items()],
        )
        client.set_terminated(run.info.run_id, end_time=1_700_000_000_500 + i * 1000)
        ids.append(run.info.run_id)
    return ids


def sweep_config(store: str, out: str = "") -> BuildConfig:
    """The sweep's build config: f1 is its primary metric."""
    return BuildConfig(store=store, out=out, primary_metric={"sweep": "f1"})


def explore_json(store: str) -> dict[str, Any]:
    """Return the sweep page's explore JSON as the page script reads it."""
    cfg = sweep_config(store)
    snap = loader.load(loader.open_store(store), cfg)
    info = contract.SiteInfo("T", "0", build_time(), None)
    site = model.make_site(snap, cfg, info, lambda r, p: None, lambda r, p: f"file:///{p}")
    page = next(p for p in site.pages if p.info.path == "experiments/sweep/index.html")
    assert isinstance(page.context, contract.ExperimentPageContext)
    assert json.loads(str(page.context.parallel_spec)) == explore_charts.parallel_spec()
    data: dict[str, Any] = json.loads(str(page.context.explore))
    return data


def exponent_out_of_range(labels: list[str]) -> list[str]:
    """Return the labels in exponent notation whose value lies between 1e-3 and 1e6."""
    return [t for t in labels if EXPONENT.match(t) and 1e-3 <= abs(float(t)) < 1e6]


@pytest.fixture
def sweep(store_uri: str, tmp_path: Path) -> dict[str, Any]:
    """The sweep's explore JSON."""
    store = str(tmp_path / "sweep-store")
    log_sweep(store)
    return explore_json(store)


def by_key(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the parallel axes by param or metric name."""
    return {a["key"]: a for a in data["parallel"]["axes"]}


def test_every_run_is_drawn_and_every_varying_param_is_an_axis(sweep):
    assert sweep["runs"] == SWEEP_RUNS
    keys = [a["key"] for a in sweep["parallel"]["axes"]]
    # text params included, the primary metric last, the constant param left out (and said)
    assert keys == ["alpha", "hidden", LONG, "max_depth", "opt", "penalty", "f1"]
    assert sweep["parallel"]["left_out"] == [["solver", "the same on every run"]]
    primary = next(c for c in sweep["choices"] if c["id"] == sweep["primary"])
    assert (primary["kind"], primary["key"]) == ("metrics", "f1")
    assert sweep["parallel"]["color"] == primary["id"]
    assert sweep["parallel"]["color_domain"] == [0.8, 0.9]  # r10 has the best f1 (0.9)


def test_text_params_are_category_axes_in_a_stable_order(sweep):
    axes = by_key(sweep)
    penalty = axes["penalty"]
    assert penalty["scale"] == "category"
    assert penalty["places"] == [["elasticnet", 0.0], ["l1", 0.5], ["l2", 1.0]]
    assert [t["label"] for t in penalty["ticks"]] == ["elasticnet", "l1", "l2"]
    assert penalty["missing"] is None  # every run has a penalty: no "(missing)" place
    opt = axes["opt"]
    assert [t["label"] for t in opt["ticks"]] == ["adam", "sgd", "(missing)"]
    assert opt["missing"] is not None and opt["missing"] < 0


def test_none_and_missing_values_get_their_own_places_below_the_range(sweep):
    depth = by_key(sweep)["max_depth"]
    assert depth["scale"] == "linear"
    assert [t["label"] for t in depth["ticks"] if t["kind"] == "value"] == ["2", "3", "4", "5"]
    assert depth["places"] == [["None", -explore.GAP]]  # the text None, below the numbers
    assert depth["missing"] is None  # every run logged max_depth (some as None)
    f1 = by_key(sweep)["f1"]
    assert f1["missing"] == pytest.approx(-explore.GAP)
    assert f1["ticks"][-1] == {"pos": f1["missing"], "label": "(missing)", "kind": "missing"}


def test_numeric_axes_have_ticks_in_the_site_number_format(sweep):
    axes = by_key(sweep)
    assert axes["alpha"]["scale"] == "log"  # a sweep over decades
    assert [t["label"] for t in axes["alpha"]["ticks"]] == ["1e-4", "0.001", "0.01", "0.1"]
    hidden = [t["label"] for t in axes["hidden"]["ticks"]]
    assert hidden == ["0", "500,000", "1M", "1.5M"]
    labels = [t["label"] for a in sweep["parallel"]["axes"] for t in a["ticks"]]
    assert exponent_out_of_range(labels) == []
    assert not any("NaN" in t or "e+" in t for t in labels)
    for axis in sweep["parallel"]["axes"]:
        values = [t for t in axis["ticks"] if t["kind"] == "value"]
        assert len(values) >= 2 or axis["scale"] == "category", axis["key"]
        assert all(0 <= t["pos"] <= 1 for t in values)
        assert [t["pos"] for t in values] == sorted(t["pos"] for t in values)


def test_numeric_scale_ticks_and_log_choice():
    assert explore.numeric_scale([0.82, 0.97]) == (
        "linear",
        [0.8, 1.0],
        [0.8, 0.85, 0.9, 0.95, 1.0],
    )
    assert explore.numeric_scale([0, 1, 2]) == ("linear", [0.0, 2.0], [0.0, 1.0, 2.0])  # seeds
    assert explore.numeric_scale([5.0]) == ("linear", [0.0, 10.0], [5.0])
    assert explore.numeric_scale([1e-4, 1e-3, 1e-2])[0] == "log"
    assert explore.numeric_scale([0.001, 0.4, 0.5, 0.7, 1.0])[0] == "linear"  # not bunched low
    assert explore.numeric_scale([10, 100, 1000])[0] == "log"
    assert explore.numeric_scale([-1, 10, 1000])[0] == "linear"


def test_axis_layout_reads_numbers_like_the_page_script():
    # "1_000" and "0x10" are numbers to Python's float() but not to JavaScript's Number()
    layout = explore.axis_layout(["1", "2", "1_000", None])
    assert isinstance(layout, dict) and layout["scale"] == "linear"
    assert layout["places"] == [["1_000", pytest.approx(-explore.GAP)]]
    assert explore.axis_layout([str(i) + "x" for i in range(30)]) == "30 different values"
    texts = explore.axis_layout(["a", "b", "c", "d", "1"])  # mostly text: categories
    assert isinstance(texts, dict) and texts["scale"] == "category"
    assert [p[0] for p in texts["places"]] == ["1", "a", "b", "c", "d"]


def test_params_past_the_axis_limit_are_left_out_and_named(store_uri, tmp_path):
    store = str(tmp_path / "wide")
    client = reporter.Client(store)
    exp = client.create_experiment("sweep")
    for i in range(3):
        run = client.create_run(exp, run_name=f"r{i}")
        params = [Param(f"p{k:02d}", str(i * k)) for k in range(1, explore.MAX_AXES + 3)]
        params.append(Param("late", "x"))  # on one run only: fewest runs, first to go
        client.log_batch(
            run.info.run_id, metrics=[Metric("f1", i, 0, 0)], params=params if i else params[:-1]
        )
        client.set_terminated(run.info.run_id)
    data = explore_json(store)
    axes = [a["key"] for a in data["parallel"]["axes"]]
    assert len(axes) == explore.MAX_AXES + 1 and axes[-1] == "f1"
    left = data["parallel"]["left_out"]
    assert ["late", f"past {explore.MAX_AXES} axes"] in left and len(left) == 3


def test_the_scatter_defaults_to_the_swept_param_and_the_primary_metric(sweep):
    x = next(c for c in sweep["choices"] if c["id"] == sweep["scatter_x"])
    assert x["key"] == LONG  # the numeric param with the most values
    alpha = next(c for c in sweep["choices"] if c["key"] == "alpha")
    assert alpha["log"] is True and alpha["numeric"] is True
    penalty = next(c for c in sweep["choices"] if c["key"] == "penalty")
    assert penalty["numeric"] is False and penalty["log"] is False
