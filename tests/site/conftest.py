"""A small but complete store for site tests: two experiments, nested runs, long series,
every kind of artifact, and names that would break HTML if they were not escaped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import reporter as mlflow
from reporter.site.build import BuildResult, build
from reporter.view.config import BuildConfig

EVIL = "<script>window.__pwned=1</script>\"'&"


@pytest.fixture
def site_store(store_uri: str, tmp_path: Path) -> dict[str, str]:
    """Log the example store and return the ids of interest."""
    from PIL import Image

    ids: dict[str, str] = {}
    mlflow.set_experiment("forecast")
    mlflow.set_experiment_description("Daily **load** forecasts.\n\n<script>alert(1)</script>")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"depth": 8, "lr": 0.1})
        mlflow.set_tag("team", "grid")
        for step in range(5000):
            mlflow.log_metric("loss", 1.0 / (step + 1) + (0.5 if step == 2500 else 0.0), step=step)
        mlflow.log_metric("rmse", 3.25)
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_param("depth", 4)
            mlflow.log_metric("rmse", 2.5)
        mlflow.log_dict({"a": 1, "nested": {"b": [1, 2]}}, "config.json")
        mlflow.log_text("# Notes\n\nSome *markdown*.", "notes/readme.md")
        mlflow.log_text("x,y\n1,2\n3,4\n", "data/sample.csv")
        mlflow.log_image(np.zeros((4, 4, 3), dtype=np.uint8), "plots/blank.png")
        big = tmp_path / "big.bin"
        big.write_bytes(b"\0" * 200_000)
        mlflow.log_artifact(str(big), "blobs")
    ids["parent"], ids["child"] = parent.info.run_id, child.info.run_id
    with mlflow.start_run(run_name=EVIL, description=f"note {EVIL}") as evil:
        mlflow.log_param("depth", EVIL)
        mlflow.set_tag(EVIL, EVIL)
        mlflow.log_metric("rmse", 4.0)
    ids["evil"] = evil.info.run_id
    with mlflow.start_run(run_name="deleted") as gone:
        mlflow.log_metric("rmse", 0.1)
    mlflow.delete_run(gone.info.run_id)
    ids["deleted"] = gone.info.run_id
    mlflow.set_experiment("vision")
    with mlflow.start_run(run_name="cnn") as cnn:
        mlflow.log_metric("accuracy", 0.9)
        Image.new("RGB", (3, 3)).save(tmp_path / "img.png")
        mlflow.log_artifact(str(tmp_path / "img.png"))
    ids["cnn"] = cnn.info.run_id
    ids["store"] = store_uri
    (tmp_path / "ids.json").write_text(json.dumps(ids))
    return ids


@pytest.fixture
def built(site_store: dict[str, str], tmp_path: Path) -> tuple[BuildResult, Path]:
    """Build the example store into tmp_path/site."""
    out = tmp_path / "site"
    config = BuildConfig(
        store=site_store["store"], out=str(out), max_points=200, max_artifact_mb=0.1
    )
    return build(config), out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium per test module (fails on CI, skips elsewhere, when missing)."""
    from tests.site.browser import launch

    with launch() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Any]]:
    """A fresh desktop-sized page (own context) and its recorder."""
    from tests.site.browser import open_page

    with open_page(browser) as opened:
        yield opened
