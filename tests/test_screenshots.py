"""tools/screenshots.py (`make screenshots`): one PNG per shot of a built site, each of the
window's size, of the page the shot names, taken in the system chromium once the page's charts
are drawn, with no console error and no request leaving the site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import reporter as mlflow
from reporter.site.build import build
from reporter.view.config import BuildConfig, Comparison
from tests.site.browser import chromium_path
from tools import screenshots

REPORT = """---
title: Shots
author: Tests
date: 2026-12-01
---
The better run reaches {{< metric experiment="shots" run="better" key="f1" >}}.

{{< runs experiment="shots" order_by="metrics.f1 DESC" columns="params.penalty,metrics.f1" >}}
{{< chart experiment="shots" metric="loss" runs="base,better" >}}
"""


@pytest.fixture
def small_site(store_uri: str, tmp_path: Path) -> dict[str, Any]:
    """Build a small site with every page kind: four runs (one a parent), a report, a curated
    comparison; return its folder and the run ids by name."""
    ids = {}
    mlflow.set_experiment("shots")
    for name, penalty, rate in [("base", "l2", 0.1), ("better", "l1", 0.01), ("third", "l2", 1e-3)]:
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_params({"penalty": penalty, "lr": rate})
            for step in range(10):
                mlflow.log_metric("loss", rate + 1.0 / (step + 1), step=step)
            mlflow.log_metric("f1", 0.9 - rate)
            mlflow.log_image(np.full((8, 8, 3), 128, dtype=np.uint8), "plots/grey.png")
            if name == "better":
                with mlflow.start_run(run_name="seed-0", nested=True):
                    mlflow.log_params({"penalty": penalty, "lr": rate})
                    mlflow.log_metric("f1", 0.88)
        ids[name] = run.info.run_id
        mlflow.register_model(f"runs:/{run.info.run_id}/model", "shots-model")
    mlflow.MlflowClient().set_registered_model_alias("shots-model", "champion", 2)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "shots.md").write_text(REPORT)
    site = tmp_path / "site"
    build(
        BuildConfig(
            store=store_uri,
            out=str(site),
            reports=str(reports),
            primary_metric={"shots": "f1"},
            compare=(Comparison(name="Pair", experiment="shots", runs=("base", "better")),),
        )
    )
    return {"site": site, "ids": ids}


def png_size(path: Path) -> tuple[int, int]:
    """Return a PNG's width and height after checking it is a whole, valid PNG."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        return image.size


def brightness(path: Path) -> float:
    """Return the mean grey level of an image, 0 (black) to 255."""
    from PIL import Image, ImageStat

    with Image.open(path) as image:
        return float(ImageStat.Stat(image.convert("L")).mean[0])


def test_each_shot_is_a_window_sized_png_of_its_page(small_site, tmp_path):
    out = tmp_path / "shots"
    ids = small_site["ids"]
    done = screenshots.take_all(
        small_site["site"],
        out,
        experiment="shots",
        run="better",
        compare=["base", "better"],
        chromium=chromium_path(),
    )
    # data first: every shot taken, of the page it names, and nothing went wrong
    assert [t.shot.name for t in done] == [s.name for s in screenshots.SHOTS]
    assert {t.shot.name: t.problems for t in done if t.problems} == {}
    urls = {t.shot.name: t.url for t in done}
    assert urls["index"].endswith("/site/index.html")
    assert urls["experiment"].endswith("/site/experiments/shots/index.html")
    assert urls["run"].endswith(f"/site/runs/{ids['better']}/index.html")
    assert urls["compare"].endswith(f"/compare.html#runs={ids['base']},{ids['better']}")
    assert urls["comparison"].endswith("/site/experiments/shots/compare/pair.html")
    assert urls["report"].endswith("/site/reports/shots.html")
    assert urls["storage"].endswith("/site/storage/index.html")
    assert urls["models"].endswith("/site/models/index.html")
    assert urls["registered-model"].endswith("/site/models/shots-model.html")
    assert all(u.startswith("file://") for u in urls.values())
    charts = {t.shot.name: t.charts for t in done}
    for name in ("experiment-charts", "run", "compare", "comparison", "report", "storage",
                 "registered-model"):  # fmt: skip
        drawn, shown = charts[name]
        assert drawn == shown > 0, (name, charts[name])  # every chart drawn before the shot
    # then the files: one PNG per shot, of the window's size, reduced to a palette
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s.name}.png" for s in screenshots.SHOTS
    )
    for taken in done:
        assert taken.path is not None and taken.path == out / f"{taken.shot.name}.png"
        viewport = screenshots.VIEWPORTS[taken.shot.viewport]
        assert png_size(taken.path) == (viewport["width"], viewport["height"])
        assert taken.path.stat().st_size < 400_000
    from PIL import Image

    with Image.open(out / "experiment.png") as image:
        assert image.mode == "P"  # 256 colours
    # the variants differ from the plain shot the way they should
    assert brightness(out / "experiment-dark.png") < brightness(out / "experiment.png") - 50
    top = (out / "experiment.png").read_bytes()
    assert (out / "experiment-charts.png").read_bytes() != top  # scrolled to the charts
    assert (out / "experiment-explore.png").read_bytes() != top


def test_the_command_takes_chosen_shots_with_the_first_rows_by_default(
    small_site, tmp_path, capsys
):
    out = tmp_path / "shots"
    argv = ["--site", str(small_site["site"]), "--out", str(out), "--only", "run,compare"]
    assert screenshots.main([*argv, "--chromium", chromium_path()]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.png", "run.png"]
    printed = capsys.readouterr().out
    assert "run " in printed and "compare " in printed and "KB)" in printed


def test_the_command_names_what_is_missing(small_site, tmp_path, capsys):
    assert screenshots.main(["--site", str(tmp_path / "nothing")]) == 1
    assert "index.html does not exist: build the site first" in capsys.readouterr().err
    site = str(small_site["site"])
    argv = ["--site", site, "--out", str(tmp_path / "o"), "--chromium", chromium_path()]
    assert screenshots.main([*argv, "--experiment", "ghost"]) == 1
    assert "No experiment 'ghost' on the index; there are: shots" in capsys.readouterr().err
    assert screenshots.main([*argv, "--experiment", "shots", "--run", "ghost"]) == 1
    err = capsys.readouterr().err
    assert "No run named 'ghost' in 'shots'; runs: base, better, " in err  # the table's names
    with pytest.raises(SystemExit):
        screenshots.main([*argv, "--only", "everything"])
