"""The quickstart example, end to end, in its own process."""

from __future__ import annotations

import subprocess

import pandas as pd

import reporter
import reporter as mlflow
from tests.conftest import PYTHON, REPO, python_env


def test_quickstart_logs_three_complete_runs(store_uri, tmp_path):
    out = subprocess.run(
        [PYTHON, str(REPO / "examples" / "quickstart.py")],
        cwd=tmp_path,
        env=python_env(TRACKER_TRACKING_URI=store_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "Logged 3 runs" in out.stdout
    runs = mlflow.search_runs(experiment_names=["diabetes_forest"], order_by=["metrics.rmse"])
    assert isinstance(runs, pd.DataFrame)
    assert len(runs) == 3 and set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["params.n_estimators"]) == ["100", "200", "50"]
    assert runs["metrics.rmse"].between(30, 90).all()  # diabetes targets span ~25-346
    assert f"Best run: {runs['run_name'][0]}" in out.stdout
    client = reporter.Client()
    for run_id, n in zip(runs["run_id"], runs["params.n_estimators"], strict=True):
        history = client.get_metric_history(run_id, "rmse")
        assert [m.step for m in history] == list(range(int(n) // 10))
        (model,) = client.search_logged_models(
            [runs["experiment_id"][0]], filter_string=f"source_run_id = '{run_id}'"
        )
        names = {f.path for f in client.list_logged_model_artifacts(model.model_id)}
        assert names == {"MLmodel", "model.pkl", "requirements.txt"}
    # each run's model is a version of diabetes-forest; champion names the best run's
    versions = client.search_model_versions("name = 'diabetes-forest'")
    assert sorted(str(v.run_id) for v in versions) == sorted(runs["run_id"])
    champion = client.get_model_version_by_alias("diabetes-forest", "champion")
    assert champion.run_id == runs["run_id"][0]
    assert f"@champion is version {champion.version}" in out.stdout
    exp = mlflow.get_experiment_by_name("diabetes_forest")
    assert exp is not None
    assert "diabetes" in exp.description
