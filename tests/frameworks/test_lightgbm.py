"""`reporter.lightgbm`: autologging of `lightgbm.train` and the scikit-learn wrappers, and
models logged and loaded back; checked on what the store holds, against what LightGBM itself
reports and against real MLflow running the same script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import reporter
import reporter as mlflow
from reporter.integrations.lightgbm import autologging
from reporter.integrations.patching import TAG_AUTOLOGGING, AutologgingWarning
from tests.frameworks import same_script

pytestmark = pytest.mark.usefixtures("undo_autolog")
QUIET = {"verbose": -1}


@pytest.fixture(scope="module")
def regression() -> tuple[Any, Any, Any, Any]:
    X, y = load_diabetes(return_X_y=True)
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture(scope="module")
def binary() -> tuple[Any, Any]:
    return load_breast_cancer(return_X_y=True)


def runs() -> list[reporter.Run]:
    found = mlflow.search_runs(output_format="list", order_by=["start_time ASC"])
    assert isinstance(found, list)
    return found


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlflow.MlflowClient().get_metric_history(run_id, key)]


def artifact_json(run_id: str, path: str) -> Any:
    local = mlflow.MlflowClient().download_artifacts(run_id, path)
    return json.loads(Path(local).read_text())


def test_train_logs_params_every_iterations_metrics_importance_and_model(regression):
    X, y, Xv, yv = regression
    train = lgb.Dataset(X, label=y)
    valid = lgb.Dataset(Xv, label=yv, reference=train)
    mlflow.lightgbm.autolog()
    results: dict[str, Any] = {}
    params = {"objective": "regression", "num_leaves": 7, "metric": ["l2", "l1"], **QUIET}
    booster = lgb.train(
        params,
        train,
        6,
        valid_sets=[train, valid],
        valid_names=["train", "valid"],
        callbacks=[lgb.record_evaluation(results)],
    )
    (run,) = runs()
    assert run.info.status == "FINISHED" and run.data.tags[TAG_AUTOLOGGING] == "lightgbm"
    assert run.data.params == {
        "objective": "regression",
        "num_leaves": "7",
        "metric": "['l2', 'l1']",
        "verbose": "-1",
        "num_boost_round": "6",
        "keep_training_booster": "False",
    }
    for data in ("train", "valid"):
        for metric in ("l2", "l1"):
            logged = history(run.info.run_id, f"{data}-{metric}")
            assert logged == list(enumerate(results[data][metric]))
    assert "stopped_iteration" not in run.data.metrics  # no best iteration without stopping
    for kind in ("split", "gain"):
        expected = booster.feature_importance(importance_type=kind).tolist()
        scores = artifact_json(run.info.run_id, f"feature_importance_{kind}.json")
        assert scores == pytest.approx(dict(zip(booster.feature_name(), expected, strict=True)))
    client = mlflow.MlflowClient()
    (output,) = run.outputs.model_outputs
    uri = client.get_logged_model(output.model_id).model_uri
    loaded = mlflow.lightgbm.load_model(uri)
    assert isinstance(loaded, lgb.Booster)
    np.testing.assert_array_equal(loaded.predict(Xv), booster.predict(Xv))
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(Xv), booster.predict(Xv))


def test_early_stopping_logs_the_iterations_run_and_the_best(regression):
    X, y, Xv, yv = regression
    train = lgb.Dataset(X, label=y)
    valid = lgb.Dataset(Xv, label=yv, reference=train)
    mlflow.lightgbm.autolog(log_models=False)
    results: dict[str, Any] = {}
    booster = lgb.train(
        {"learning_rate": 0.9, **QUIET},
        train,
        200,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(2, verbose=False), lgb.record_evaluation(results)],
    )
    l2 = results["valid_0"]["l2"]
    assert len(l2) < 200 and booster.best_iteration > 0
    (run,) = runs()
    assert run.data.metrics["stopped_iteration"] == len(l2)  # LightGBM's count: from 1
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert history(run.info.run_id, "valid_0-l2") == [
        *enumerate(l2),
        (len(l2), l2[booster.best_iteration - 1]),
    ]


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")  # (LightGBM 4.7)
def test_a_wrappers_fit_logs_once_and_logs_the_wrapper(binary):
    X, y = binary
    mlflow.lightgbm.autolog()
    clf = lgb.LGBMClassifier(n_estimators=4, num_leaves=4, **QUIET)
    clf.fit(X, y, eval_set=[(X[:100], y[:100])])
    (run,) = runs()  # LGBMClassifier.fit calls LGBMModel.fit, which calls train: one run
    assert run.data.params["num_leaves"] == "4" and run.data.params["num_boost_round"] == "4"
    logged = history(run.info.run_id, "valid_0-binary_logloss")
    assert logged == list(enumerate(clf.evals_result_["valid_0"]["binary_logloss"]))
    (output,) = run.outputs.model_outputs  # the wrapper, once
    uri = mlflow.MlflowClient().get_logged_model(output.model_id).model_uri
    loaded = mlflow.lightgbm.load_model(uri)
    assert type(loaded) is lgb.LGBMClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(X), clf.predict(X))


def test_save_model_writes_a_folder_that_loads_back(tmp_path, regression):
    X, y, Xv, _ = regression
    booster = lgb.train(QUIET, lgb.Dataset(X, label=y), 3)
    mlflow.lightgbm.save_model(booster, str(tmp_path / "m"))
    assert (tmp_path / "m" / "model.lgb").is_file()
    loaded = mlflow.lightgbm.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(Xv), booster.predict(Xv))
    with pytest.raises(reporter.exceptions.MlflowException, match="exists and is not empty"):
        mlflow.lightgbm.save_model(booster, str(tmp_path / "m"))


def test_disable_puts_back_train_and_every_wrappers_fit():
    import lightgbm.engine
    import lightgbm.sklearn

    def state() -> dict[str, Any]:
        return {
            "lightgbm.train": lgb.train,
            "engine.train": lightgbm.engine.train,
            "sklearn.train": lightgbm.sklearn.train,
            **{cls.__qualname__: dict(cls.__dict__) for cls in autologging.wrapper_classes()},
        }

    before = state()
    mlflow.lightgbm.autolog()
    assert lgb.train is not before["lightgbm.train"]
    assert all("fit" in cls.__dict__ for cls in autologging.wrapper_classes())
    mlflow.lightgbm.autolog(disable=True)
    after = state()
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert after[name] == value, name


def test_a_model_that_cannot_be_logged_warns_and_training_goes_on(monkeypatch, regression):
    X, y, _, _ = regression

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(mlflow.lightgbm, "log_model", broken)
    mlflow.lightgbm.autolog()
    with pytest.warns(AutologgingWarning, match="could not log the model: OSError: disk full"):
        booster = lgb.train(QUIET, lgb.Dataset(X, label=y), 2)
    assert isinstance(booster, lgb.Booster)
    (run,) = runs()
    assert run.info.status == "FINISHED"


def test_mlflow_autolog_turns_lightgbm_on(regression):
    X, y, _, _ = regression
    mlflow.autolog(exclude_flavors=["lightgbm"])
    assert not mlflow.lightgbm.is_enabled()
    mlflow.autolog()
    assert mlflow.lightgbm.is_enabled()
    lgb.train(QUIET, lgb.Dataset(X, label=y), 2)
    (run,) = runs()
    assert run.data.tags[TAG_AUTOLOGGING] == "lightgbm"


SCRIPT = """
import lightgbm as lgb
from sklearn.datasets import load_breast_cancer, load_diabetes
FLAVOR = "lightgbm"
UNCOMPARED = ("lgb_version", "data", "serialization_format", "skops_trusted_types")
mlflow.lightgbm.autolog()
X, y = load_diabetes(return_X_y=True)
train = lgb.Dataset(X[:300], label=y[:300])
valid = lgb.Dataset(X[300:], label=y[300:], reference=train)
params = {"objective": "regression", "num_leaves": 7, "metric": ["l2", "l1"], "verbose": -1}
with mlflow.start_run(run_name="native"):
    lgb.train(params, train, 50, valid_sets=[train, valid], valid_names=["train", "valid"],
              callbacks=[lgb.early_stopping(3, verbose=False)])
X, y = load_breast_cancer(return_X_y=True)
with mlflow.start_run(run_name="wrapper"):
    lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(
        X, y, eval_set=[(X[:100], y[:100])])
lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(X, y)  # a run of autologging's own
"""


def test_the_same_script_logs_what_mlflow_logs(tmp_path):
    """Value by value; not compared: the wrappers' model file (MLflow 3 writes skops files
    and lists their trusted types, reporter pickles: README), and LightGBM's version."""
    ours, theirs = same_script.under_both(tmp_path, SCRIPT)
    same_script.assert_same(ours, theirs)
    assert len(ours) == 3 and ours[2]["autologging"] == "lightgbm"
    assert {"stopped_iteration", "best_iteration", "valid-l1"} <= set(ours[0]["metrics"])
    assert [len(run["models"]) for run in ours] == [1, 1, 1]


# found by an adversarial review ---------------------------------------------------------------
def test_metric_names_with_at_are_mlflows(regression):
    X, y, Xv, yv = regression
    train = lgb.Dataset(X, label=y)
    valid = lgb.Dataset(Xv, label=yv, reference=train)

    def error(preds: Any, data: Any) -> tuple[str, float, bool]:
        return "my@err", float(np.mean(np.abs(preds - data.get_label()))), False

    mlflow.lightgbm.autolog(log_models=False)
    lgb.train(QUIET, train, 2, valid_sets=[valid], feval=error)
    (run,) = runs()
    assert "valid_0-my_at_err" in run.data.metrics


def test_a_folder_naming_another_class_or_a_file_outside_is_refused(tmp_path, regression):
    X, y, _, _ = regression
    booster = lgb.train(QUIET, lgb.Dataset(X, label=y), 2)
    mlflow.lightgbm.save_model(booster, str(tmp_path / "m"))
    meta = (tmp_path / "m" / "MLmodel").read_text()
    (tmp_path / "m" / "MLmodel").write_text(meta.replace("lightgbm.basic.Booster", "os.system"))
    with pytest.raises(reporter.exceptions.MlflowException, match="not a LightGBM model class"):
        mlflow.lightgbm.load_model(str(tmp_path / "m"))
    (tmp_path / "m" / "MLmodel").write_text(meta.replace("data: model.lgb", "data: ../m/../../x"))
    with pytest.raises(reporter.exceptions.MlflowException, match="outside its folder"):
        mlflow.lightgbm.load_model(str(tmp_path / "m"))
