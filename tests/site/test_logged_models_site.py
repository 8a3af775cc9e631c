"""Logged models in the site: the run that logged a model shows it in full (signature, input
example, metrics), its experiment lists every model; data first, then the built HTML."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import reporter as mlflow
import reporter.sklearn
from reporter.site import paths
from reporter.site.build import build
from reporter.site.contract import ExperimentPageContext, RunPageContext
from reporter.view.config import BuildConfig
from tests.site.conftest import EVIL
from tests.site.test_site_model import make, page

HOSTILE = "free <img src=x onerror=window.__pwned=1>\"'&"


@pytest.fixture
def model_store(store_uri: str) -> dict[str, str]:
    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0], "note": ["a", "b", EVIL]})
    model = LinearRegression().fit(frame[["size"]], [1.0, 2.0, 3.0])
    mlflow.set_experiment("houses")
    with mlflow.start_run(run_name="fit") as run:
        mlflow.log_param("fit_intercept", True)
        info = reporter.sklearn.log_model(
            model, name="price", input_example=frame[["size"]], tags={"stage": EVIL}
        )
        mlflow.log_metric("r2", 0.75, model_id=info.model_id)
        gone = reporter.sklearn.log_model(model, name="dropped")
    mlflow.Client().delete_logged_model(gone.model_id)
    free = reporter.sklearn.log_model(model, name=HOSTILE)
    with mlflow.start_run(run_name="hidden") as hidden:
        reporter.sklearn.log_model(model, name="of-a-deleted-run")
    mlflow.delete_run(hidden.info.run_id)
    ids = {"run": run.info.run_id, "model": info.model_id, "free": free.model_id}
    return {"store": store_uri, **ids}


def test_the_run_page_shows_its_models_and_the_experiment_lists_them(model_store):
    site = make(model_store["store"])
    run = page(site, paths.run_path(model_store["run"])).context
    assert isinstance(run, RunPageContext)
    (shown,) = run.models
    assert (shown.model_id, shown.name, shown.status) == (model_store["model"], "price", "READY")
    assert shown.uri == f"models:/{model_store['model']}"
    assert shown.estimator == "sklearn.linear_model._base.LinearRegression"
    assert shown.inputs == [("size", "double")] and shown.outputs == [("", "double")]
    assert shown.example_columns == ["size"] and len(shown.example_rows) == 3
    assert shown.metrics == [("r2", "0.75")] and ("fit_intercept", "True") in shown.params
    assert shown.tags == [("stage", EVIL)]  # escaped by the template, not here
    assert {path for path, _ in shown.files} >= {"MLmodel", "model.pkl", "input_example.json"}
    exp = next(p.context for p in site.pages if isinstance(p.context, ExperimentPageContext))
    listed = {m.model.model_id: m for m in exp.models}
    assert set(listed) == {model_store["model"], model_store["free"]}  # not deleted, not hidden
    assert listed[model_store["model"]].run is not None
    assert listed[model_store["free"]].run is None


def test_model_pages_escape_every_string(model_store, tmp_path: Path):
    out = tmp_path / "site"
    build(BuildConfig(store=model_store["store"], out=str(out)))
    run_html = (out / paths.run_path(model_store["run"])).read_text()
    assert f'id="model-{model_store["model"]}"' in run_html
    assert '<h2 id="models-heading">Models</h2>' in run_html
    exp_html = next((out / "experiments").glob("*/index.html")).read_text()
    assert f"#model-{model_store['model']}" in exp_html
    for text in (run_html, exp_html):
        assert "<script>window.__pwned" not in text and "<img src=x" not in text
    assert html.escape(HOSTILE) in exp_html.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")
