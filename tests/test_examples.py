"""The examples: the demo that `make demo` logs and builds (the quickstart and the sweep, with
the demo's settings) holds what it promises and gives every page kind of the site content;
examples/github-pages.yml is valid YAML with the expected steps, and its shell steps (train,
summary, build) really work here, in order, the way the workflow runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import reporter
import reporter as mlflow
from reporter.site import contract, model
from reporter.site.build import build_time
from reporter.view import loader
from reporter.view.config import load_config
from tests.conftest import PYTHON, REPO, python_env

WORKFLOW = REPO / "examples" / "github-pages.yml"


# --- the demo: what `make demo` logs --------------------------------------------------------
def makefile_value(name: str) -> str:
    """Return a `NAME := value` of the Makefile: the demo tests run what `make demo` runs."""
    found = re.search(rf"^{name} :?= (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert found, f"{name} is not set in the Makefile"
    return found.group(1).strip()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the demo's examples, as `make demo` does, into a fresh store; return its URI and
    what each example printed."""
    work = tmp_path_factory.mktemp("demo")
    uri = str(work / "tracker-store")
    printed = {}
    for example in makefile_value("DEMO_EXAMPLES").split():
        out = subprocess.run(
            [PYTHON, str(REPO / example)],
            cwd=work,
            env=python_env(TRACKER_TRACKING_URI=uri),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, (example, out.stderr[-3000:])
        printed[Path(example).stem] = out.stdout
    yield {"uri": uri, "printed": printed}


@pytest.fixture
def demo(demo_store: dict[str, Any]) -> dict[str, Any]:
    """Point the fluent API at the demo store for one test."""
    mlflow.set_tracking_uri(demo_store["uri"])
    return demo_store


def sweep_runs() -> pd.DataFrame:
    """Return the sweep's runs, every column."""
    runs = mlflow.search_runs(experiment_names=["digits_sgd"])
    assert isinstance(runs, pd.DataFrame)
    return runs.set_index("run_id", drop=False)


def test_make_demo_runs_the_quickstart_first_then_the_sweep():
    examples = makefile_value("DEMO_EXAMPLES").split()
    assert examples == ["examples/quickstart.py", "examples/sweep.py"]
    assert (REPO / makefile_value("DEMO_CONFIG")).is_file()


def test_the_sweep_logs_41_runs_in_two_stages(demo):
    assert "Logged 41 runs" in demo["printed"]["sweep"]
    runs = sweep_runs()
    assert len(runs) == 41
    stages = runs["tags.stage"].value_counts().to_dict()
    assert stages == {"baseline": 1, "search": 24, "replicate": 16}
    search = runs[runs["tags.stage"] == "search"]
    assert search["run_name"].str.fullmatch(r"rs-\d\d-\w+-\w+|probe-constant-eta50").all()
    assert set(runs["params.epochs"]) == {"15", "30"}


def test_the_sweep_has_parents_with_three_seeded_children(demo):
    runs = sweep_runs()
    parents = runs[(runs["tags.stage"] == "replicate") & runs["parent_run_id"].isna()]
    assert sorted(parents["run_name"]) == [f"candidate-{i}" for i in range(1, 5)]
    for parent_id, parent in parents.iterrows():
        children = runs[runs["parent_run_id"] == parent_id]
        assert sorted(children["run_name"]) == ["seed-0", "seed-1", "seed-2"]
        assert sorted(children["params.seed"]) == ["0", "1", "2"]
        assert (children["tags.mlflow.parentRunId"] == parent_id).all()
        # the children replicate the parent's configuration ...
        for key in ("penalty", "learning_rate", "alpha", "eta0", "class_weight"):
            assert set(children[f"params.{key}"]) == {parent[f"params.{key}"]}
        # ... and the parent holds the means over them, and the spread of f1
        assert parent["metrics.f1"] == pytest.approx(children["metrics.f1"].mean())
        assert parent["metrics.f1_std"] == pytest.approx(np.std(children["metrics.f1"]))
        assert parent["tags.source_run"] in set(runs["run_name"])
        assert "seeds" in mlflow.get_run(parent_id).data.tags["mlflow.note.content"]
    assert runs["metrics.f1_std"].notna().sum() == 4  # logged on the parents only


def test_the_sweep_logs_text_params_and_a_none_param(demo):
    runs = sweep_runs()
    assert set(runs["params.penalty"]) == {"l1", "l2", "elasticnet"}
    assert set(runs["params.learning_rate"]) == {"optimal", "constant", "invscaling", "adaptive"}
    assert set(runs["params.class_weight"]) == {"None", "balanced"}  # None, logged as MLflow does
    elastic = runs["params.penalty"] == "elasticnet"
    assert runs.loc[elastic, "params.l1_ratio"].notna().all()
    assert runs.loc[~elastic, "params.l1_ratio"].isna().all()  # not logged at all elsewhere
    alphas = runs["params.alpha"].astype(float)
    assert alphas.min() < 1e-4 < alphas.max()  # small values, for the number formats


def test_the_sweep_has_one_failed_run_with_a_partial_history(demo):
    runs = sweep_runs()
    failed = runs[runs["status"] == "FAILED"]
    assert list(failed["run_name"]) == ["probe-constant-eta50"]
    assert (runs["status"] != "FAILED").sum() == 40 and set(runs["status"]) == {
        "FINISHED",
        "FAILED",
    }
    (run_id,) = failed.index
    history = reporter.Client().get_metric_history(run_id, "val_loss")
    assert 0 < len(history) < 15 and history[-1].value > 2 * np.log(10)
    assert np.isnan(failed["metrics.f1"].iloc[0])  # the primary metric is missing there
    assert "FAILED: Training diverged" in demo["printed"]["sweep"]


def test_the_sweep_logs_histories_and_single_values(demo):
    client = reporter.Client()
    runs = sweep_runs()
    finished = runs[runs["status"] == "FINISHED"]
    for run_id, run in finished.iterrows():
        epochs = int(run["params.epochs"])
        assert len(client.get_metric_history(run_id, "val_loss")) == epochs
        for key in ("f1", "accuracy", "roc_auc", "nonzero_weights"):
            assert len(client.get_metric_history(run_id, key)) == 1, (run["run_name"], key)
        if run["run_name"].startswith("candidate-"):
            continue  # a parent holds the mean val_loss only
        for key in ("train_loss", "val_accuracy"):
            assert len(client.get_metric_history(run_id, key)) == epochs
    assert finished["metrics.f1"].between(0.85, 1.0).all()
    best = finished.sort_values("metrics.f1").iloc[-1]
    assert (
        best["metrics.f1"] > finished.loc[finished["run_name"] == "baseline", "metrics.f1"].iloc[0]
    )


def test_the_sweep_logs_datasets_models_and_artifacts_of_every_kind(demo, tmp_path):
    client = reporter.Client()
    runs = sweep_runs()
    for run_id in runs.index:
        inputs = mlflow.get_run(run_id).inputs.dataset_inputs
        used = {(d.dataset.name, d.tags[0].value) for d in inputs}
        assert used == {("digits_train", "training"), ("digits_test", "evaluation")}
    evaluated = runs[runs["run_name"].isin(["baseline", *[f"candidate-{i}" for i in range(1, 5)]])]
    assert len(evaluated) == 5
    for run_id in evaluated.index:
        local = Path(client.download_artifacts(run_id, "", str(tmp_path / run_id)))
        assert (local / "plots/confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        predictions = pd.read_csv(local / "predictions.csv")
        assert list(predictions.columns) == ["target", "predicted", "probability"]
        assert len(predictions) == 360  # a fifth of the 1,797 digits
        assert "macro avg" in (local / "classification_report.txt").read_text()
        config = json.loads((local / "config.json").read_text())
        assert config["model"] == "SGDClassifier"
    experiment = mlflow.get_experiment_by_name("digits_sgd")
    assert experiment is not None
    models = client.search_logged_models([experiment.experiment_id])
    assert {m.source_run_id for m in models} == set(evaluated.index)
    from sklearn.datasets import load_digits

    digits = load_digits(as_frame=True).frame.drop(columns="target")
    loaded = mlflow.sklearn.load_model(f"runs:/{evaluated.index[0]}/model")
    assert set(loaded.predict(digits.head(20))) <= set(range(10))


def demo_site(uri: str, monkeypatch: pytest.MonkeyPatch) -> contract.Site:
    """Return the site model of the demo store with the demo's settings, as `make demo`
    builds it from the repository's root (the settings name the reports folder from there)."""
    monkeypatch.chdir(REPO)
    config = load_config({"store": uri}, config=makefile_value("DEMO_CONFIG"))
    snap = loader.load(loader.open_store(uri), config)
    info = contract.SiteInfo(config.title, "0", build_time(), None)
    return model.make_site(snap, config, info, lambda r, p: None, lambda r, p: f"file:///{p}")


def test_the_demo_site_has_every_page_kind_with_content(demo, monkeypatch):
    site = demo_site(demo["uri"], monkeypatch)
    assert site.warnings == [] and (site.experiments, site.runs) == (2, 44)
    pages = {p.info.path: p for p in site.pages}
    kinds = [p.info.kind for p in site.pages]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "index": 1,
        "404": 1,
        "experiment": 2,
        "run": 44,
        "compare": 4,  # each experiment's compare page and the two curated comparisons
        "report": 1,
        "models": 1,  # the quickstart registers its forests as diabetes-forest
        "registered-model": 1,
    }
    forest = pages["models/diabetes-forest.html"].context
    assert [v.version for v in forest.versions] == [3, 2, 1]
    (champion,) = forest.aliases
    assert champion.alias == "champion" and champion.verdict.endswith(
        "the best of 3 versions with rmse"
    )
    index = pages["index.html"].context
    assert {e.name: e.primary_metric for e in index.experiments} == {
        "diabetes_forest": "rmse",
        "digits_sgd": "f1",
    }
    assert [r.title for r in index.reports] == ["Digits, choosing an SGD configuration"]
    sweep = pages["experiments/digits-sgd/index.html"].context
    assert sweep.primary_metric == "f1" and sweep.total_rows == 41
    assert [c.label for c in sweep.comparisons] == [
        "The four candidates",
        "Baseline against candidate-1",
    ]
    assert str(sweep.explore) != "null" and str(sweep.parallel_spec) != "null"
    assert {"train_loss", "val_loss", "f1"} <= {c.title for c in sweep.charts}
    assert len(sweep.models) == 5
    curated = pages["experiments/digits-sgd/compare/the-four-candidates.html"].context
    assert len(curated.fixed_runs) == 4
    report = pages["reports/digits-decision.html"].context
    blocks = [getattr(part, "kind", "text") for part in report.parts]
    assert {"runs", "chart", "compare", "image"} <= set(blocks)
    runs = sweep_runs()
    parents = runs[runs["run_name"].str.startswith("candidate-")]
    best_first = list(parents.sort_values("metrics.f1", ascending=False)["run_name"])
    runs_block = next(p for p in report.parts if getattr(p, "kind", "") == "runs")
    assert [row[0] for row in runs_block.rows] == best_first
    parent = next(
        p.context for p in site.pages if p.info.kind == "run" and p.context.name == "candidate-1"
    )
    assert [c.label for c in parent.children] and parent.notes and parent.datasets
    assert {a.name for a in parent.artifacts} >= {"plots", "predictions.csv", "config.json"}


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def test_the_workflow_has_the_expected_shape():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers is not None
    assert "push" in triggers and "workflow_dispatch" in triggers
    assert data["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = data["jobs"]["build"], data["jobs"]["deploy"]
    uses = [step.get("uses", "").split("@")[0] for step in build["steps"]]
    assert uses[:3] == ["actions/checkout", "actions/setup-python", "actions/cache/restore"]
    assert "actions/cache/save" in uses and "actions/configure-pages" in uses
    assert uses[-1] == "actions/upload-pages-artifact"
    assert build["steps"][-1]["with"]["path"] == "public"
    cache = [s for s in build["steps"] if "cache" in s.get("uses", "")]
    assert {s["with"]["path"] for s in cache} == {data["env"]["TRACKER_TRACKING_URI"]}
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert any("tracker-report build" in r and "--out public" in r for r in runs)
    assert any('tracker-report summary >> "$GITHUB_STEP_SUMMARY"' in r for r in runs)
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    # every step after the restore and before the save that writes the store runs in between
    names = [s["name"] for s in build["steps"]]
    assert (
        names.index("Restore the experiment store")
        < names.index("Train (logs runs into the store)")
        < names.index("Save the experiment store")
    )


def test_the_workflow_shell_steps_run(tmp_path: Path):
    data = workflow()
    (tmp_path / "examples").symlink_to(REPO / "examples")
    summary = tmp_path / "step-summary.md"
    env = python_env(**data["env"], GITHUB_STEP_SUMMARY=str(summary))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]  # tracker-report
    for step in data["jobs"]["build"]["steps"]:
        command = step.get("run")
        if not command or "pip install" in command:
            continue  # installing is what this test environment already did
        command = command.replace("${{ steps.pages.outputs.base_url }}", "http://127.0.0.1/project")
        assert "${{" not in command, command
        result = subprocess.run(
            ["bash", "-e", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, (step["name"], result.stderr[-2000:])
    index = (tmp_path / "public/index.html").read_text()
    assert "diabetes_forest" in index
    assert '<link rel="canonical" href="http://127.0.0.1/project/index.html">' in index
    assert (tmp_path / "public/sitemap.xml").is_file()
    assert "### diabetes\\_forest (3 runs)" in summary.read_text()  # Markdown-escaped


def test_the_sweep_run_again_keeps_the_store_as_it_is(demo):
    """`make demo` twice must not log the 41 runs twice (nor delete anything: ./tracker-store is
    also where a user's own runs go by default)."""
    before = sorted(sweep_runs()["run_id"])
    out = subprocess.run(
        [PYTHON, str(REPO / "examples" / "sweep.py")],
        env=python_env(TRACKER_TRACKING_URI=demo["uri"]),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "already logged" in out.stdout
    assert sorted(sweep_runs()["run_id"]) == before
