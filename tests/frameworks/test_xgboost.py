"""`reporter.xgboost`: autologging of `xgboost.train` and the scikit-learn wrappers, and
models logged and loaded back; checked on what the store holds, against what XGBoost itself
reports and against real MLflow running the same script (its venv, `make mlflow`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import GridSearchCV

import reporter
import reporter as mlflow
from reporter.integrations.patching import TAG_AUTOLOGGING, AutologgingWarning
from reporter.integrations.xgboost import autologging
from tests.frameworks import same_script

pytestmark = pytest.mark.usefixtures("undo_autolog")


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


def artifacts(run_id: str) -> set[str]:
    return {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)} - {"environment"}


def models(run: reporter.Run) -> list[Any]:
    client = mlflow.MlflowClient()
    return [client.get_logged_model(o.model_id) for o in run.outputs.model_outputs]


# xgboost.train ---------------------------------------------------------------------------------
def test_train_logs_params_every_iterations_metrics_and_importance(regression):
    X, y, Xv, yv = regression
    train, valid = xgb.DMatrix(X, label=y), xgb.DMatrix(Xv, label=yv)
    mlflow.xgboost.autolog(importance_types=["weight", "gain"])
    results: dict[str, Any] = {}
    params = {"objective": "reg:squarederror", "max_depth": 3, "eval_metric": ["rmse", "mae"]}
    booster = xgb.train(
        params, train, 8, evals=[(train, "train"), (valid, "valid")], evals_result=results
    )
    (run,) = runs()
    assert run.info.status == "FINISHED" and run.data.tags[TAG_AUTOLOGGING] == "xgboost"
    assert run.data.params == {
        "objective": "reg:squarederror",
        "max_depth": "3",
        "eval_metric": "['rmse', 'mae']",
        "num_boost_round": "8",
        "early_stopping_rounds": "None",
        "maximize": "None",
        "verbose_eval": "True",
        "custom_metric": "None",
    }
    for data in ("train", "valid"):  # every iteration's value, as XGBoost reported it
        for metric in ("rmse", "mae"):
            logged = history(run.info.run_id, f"{data}-{metric}")
            assert logged == list(enumerate(results[data][metric]))
    assert artifacts(run.info.run_id) == {
        "feature_importance_weight.json",
        "feature_importance_weight.png",
        "feature_importance_gain.json",
        "feature_importance_gain.png",
    }
    client = mlflow.MlflowClient()
    local = client.download_artifacts(run.info.run_id, "feature_importance_gain.json")
    assert json.loads(Path(local).read_text()) == pytest.approx(
        booster.get_score(importance_type="gain")
    )
    (model,) = models(run)
    assert model.name == "model"
    loaded = mlflow.xgboost.load_model(model.model_uri)
    assert isinstance(loaded, xgb.Booster)
    np.testing.assert_array_equal(loaded.predict(valid), booster.predict(valid))
    pyfunc = mlflow.pyfunc.load_model(model.model_uri)
    np.testing.assert_array_equal(pyfunc.predict(Xv), booster.predict(valid))
    assert isinstance(pyfunc.get_raw_model(), xgb.Booster)


def test_early_stopping_logs_the_stopped_and_best_iterations(regression):
    X, y, Xv, yv = regression
    train, valid = xgb.DMatrix(X, label=y), xgb.DMatrix(Xv, label=yv)
    mlflow.xgboost.autolog()
    results: dict[str, Any] = {}
    booster = xgb.train(
        {"max_depth": 6, "eta": 0.9},
        train,
        200,
        evals=[(valid, "valid")],
        early_stopping_rounds=2,
        evals_result=results,
        verbose_eval=False,
    )
    rmse = results["valid"]["rmse"]
    assert len(rmse) < 200  # it did stop early
    (run,) = runs()
    assert run.data.metrics["stopped_iteration"] == len(rmse) - 1
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    # the best iteration's value again, one step after the last
    assert history(run.info.run_id, "valid-rmse") == [
        *enumerate(rmse),
        (len(rmse), rmse[booster.best_iteration]),
    ]
    assert run.data.metrics["valid-rmse"] == rmse[booster.best_iteration]


def test_the_users_callbacks_and_evals_result_are_left_as_given(regression):
    X, y, _, _ = regression
    train = xgb.DMatrix(X, label=y)

    class Count(xgb.callback.TrainingCallback):  # type: ignore[misc]
        calls = 0

        def after_iteration(self, model, epoch, evals_log):
            Count.calls += 1
            return False

    callbacks = [Count()]
    mlflow.xgboost.autolog(log_models=False)
    xgb.train({}, train, 3, evals=[(train, "train")], callbacks=callbacks, verbose_eval=False)
    assert len(callbacks) == 1 and Count.calls == 3
    (run,) = runs()
    assert len(history(run.info.run_id, "train-rmse")) == 3


def test_save_model_writes_a_folder_that_loads_back(tmp_path, binary):
    X, y = binary
    clf = xgb.XGBClassifier(n_estimators=3).fit(X, y)
    mlflow.xgboost.save_model(clf, str(tmp_path / "m"), model_format="json")
    assert (tmp_path / "m" / "model.json").is_file() and (tmp_path / "m" / "MLmodel").is_file()
    loaded = mlflow.xgboost.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(reporter.exceptions.MlflowException, match="exists and is not empty"):
        mlflow.xgboost.save_model(clf, str(tmp_path / "m"))
    with pytest.raises(reporter.exceptions.MlflowException, match=r"expects an xgboost\.Booster"):
        mlflow.xgboost.save_model(object(), str(tmp_path / "other"))


# the scikit-learn wrappers -------------------------------------------------------------------
def test_a_wrappers_fit_logs_through_its_train_call_and_logs_the_wrapper(binary):
    X, y = binary
    mlflow.xgboost.autolog()
    clf = xgb.XGBClassifier(n_estimators=4, max_depth=2, eval_metric="logloss")
    clf.fit(X, y, eval_set=[(X[:100], y[:100])], verbose=False)
    (run,) = runs()  # one run: train() inside fit is not a run of its own
    assert run.data.params["max_depth"] == "2" and run.data.params["num_boost_round"] == "4"
    assert run.data.params["objective"] == "binary:logistic"
    logged = history(run.info.run_id, "validation_0-logloss")
    assert logged == list(enumerate(clf.evals_result()["validation_0"]["logloss"]))
    (model,) = models(run)  # the wrapper, not the Booster train() made
    loaded = mlflow.xgboost.load_model(model.model_uri)
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(
        mlflow.pyfunc.load_model(model.model_uri).predict(X), clf.predict(X)
    )


def test_a_wrapper_inside_a_scikit_learn_search_is_logged_once_by_the_search(binary):
    X, y = binary
    mlflow.autolog()  # scikit-learn and XGBoost both
    search = GridSearchCV(xgb.XGBClassifier(n_estimators=2), {"max_depth": [1, 2]}, cv=2)
    search.fit(X, y)
    found = runs()
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    (parent,) = parents
    assert parent.data.tags[TAG_AUTOLOGGING] == "sklearn"
    assert all(
        r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
        for r in found
        if r is not parent
    )
    assert not any(r.data.tags.get(TAG_AUTOLOGGING) == "xgboost" for r in found)


def test_mlflow_autolog_turns_xgboost_on_unless_excluded(regression):
    X, y, _, _ = regression
    mlflow.autolog(exclude_flavors=["xgboost"])
    assert not mlflow.xgboost.is_enabled() and mlflow.sklearn.is_enabled()
    mlflow.autolog()
    assert mlflow.xgboost.is_enabled()
    xgb.train({}, xgb.DMatrix(X, label=y), 2)
    (run,) = runs()
    assert run.data.tags[TAG_AUTOLOGGING] == "xgboost"
    mlflow.autolog(disable=True)
    assert not mlflow.xgboost.is_enabled() and not mlflow.sklearn.is_enabled()


# the shared mechanism's promises, here -----------------------------------------------------------
def test_disable_puts_back_train_and_every_wrappers_fit():
    import xgboost.sklearn
    import xgboost.training

    before = {
        "xgboost.train": xgb.train,
        "training.train": xgboost.training.train,
        "sklearn.train": xgboost.sklearn.train,
        **{cls.__qualname__: dict(cls.__dict__) for cls in autologging.wrapper_classes()},
    }
    mlflow.xgboost.autolog()
    assert xgb.train is not before["xgboost.train"]
    assert xgboost.sklearn.train is not before["sklearn.train"]
    assert all("fit" in cls.__dict__ for cls in autologging.wrapper_classes())
    mlflow.xgboost.autolog(disable=True)
    after = {
        "xgboost.train": xgb.train,
        "training.train": xgboost.training.train,
        "sklearn.train": xgboost.sklearn.train,
        **{cls.__qualname__: dict(cls.__dict__) for cls in autologging.wrapper_classes()},
    }
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert after[name] == value, name


def test_a_model_that_cannot_be_logged_warns_and_training_goes_on(monkeypatch, regression):
    X, y, _, _ = regression

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(mlflow.xgboost, "log_model", broken)
    mlflow.xgboost.autolog()
    with pytest.warns(AutologgingWarning, match="could not log the model: OSError: disk full"):
        booster = xgb.train({}, xgb.DMatrix(X, label=y), 2)
    assert isinstance(booster, xgb.Booster)
    (run,) = runs()
    assert run.info.status == "FINISHED"


def test_a_failing_train_ends_its_run_failed_and_raises_xgboosts_error(regression):
    X, y, _, _ = regression
    mlflow.xgboost.autolog()
    with pytest.raises(xgb.core.XGBoostError):
        xgb.train({"objective": "no:such"}, xgb.DMatrix(X, label=y), 2)
    (run,) = runs()
    assert run.info.status == "FAILED"


def test_exclusive_leaves_the_users_run_alone(regression):
    X, y, _, _ = regression
    mlflow.xgboost.autolog(exclusive=True)
    with mlflow.start_run() as run:
        xgb.train({}, xgb.DMatrix(X, label=y), 2)
    assert mlflow.MlflowClient().get_run(run.info.run_id).data.params == {}
    assert len(runs()) == 1


def test_invalid_model_format_is_refused():
    with pytest.raises(reporter.exceptions.MlflowException, match="model_format='pkl'"):
        mlflow.xgboost.autolog(model_format="pkl")


# the same script under MLflow -------------------------------------------------------------------
SCRIPT = """
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes
FLAVOR, UNCOMPARED = "xgboost", ("xgb_version",)
mlflow.xgboost.autolog(importance_types=["weight", "gain"])
X, y = load_diabetes(return_X_y=True)
train, valid = xgb.DMatrix(X[:300], label=y[:300]), xgb.DMatrix(X[300:], label=y[300:])
params = {"objective": "reg:squarederror", "max_depth": 3, "eval_metric": ["rmse", "mae"]}
with mlflow.start_run(run_name="native"):
    xgb.train(params, train, 20, evals=[(train, "train"), (valid, "valid")],
              early_stopping_rounds=3, verbose_eval=False)
X, y = load_breast_cancer(return_X_y=True)
with mlflow.start_run(run_name="wrapper"):
    xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y, eval_set=[(X[:100], y[:100])],
                                                       verbose=False)
xgb.XGBRegressor(n_estimators=3).fit(X, y)  # a run of autologging's own
xgb.XGBRFClassifier(n_estimators=2).fit(X, y)  # its fit calls XGBModel.fit: one model
"""


def test_the_same_script_logs_what_mlflow_logs(tmp_path):
    ours, theirs = same_script.under_both(tmp_path, SCRIPT)
    # A difference (README): MLflow logs no params and no feature importance for the
    # random-forest wrappers (their fit reaches train() through XGBModel.fit); reporter does.
    assert "num_parallel_tree" in ours[3].pop("params") and theirs[3].pop("params") == {}
    assert len(ours[3].pop("artifacts")) == 4 and theirs[3].pop("artifacts") == []
    same_script.assert_same(ours, theirs)
    assert len(ours) == 4
    assert ours[2]["autologging"] == "xgboost" and ours[0]["autologging"] is None
    assert {"stopped_iteration", "best_iteration", "valid-mae"} <= set(ours[0]["metrics"])
    assert [len(run["models"]) for run in ours] == [1, 1, 1, 1]


# found by an adversarial review ---------------------------------------------------------------
def test_early_stopping_that_never_ran_still_returns_the_booster(regression):
    X, y, _, _ = regression
    train = xgb.DMatrix(X, label=y)
    mlflow.xgboost.autolog(log_models=False)
    booster = xgb.train({}, train, 0, evals=[(train, "train")], early_stopping_rounds=2)
    assert isinstance(booster, xgb.Booster)
    (run,) = runs()
    assert run.info.status == "FINISHED" and "best_iteration" not in run.data.metrics


@pytest.mark.filterwarnings("ignore:Pass `evals` as keyword args:FutureWarning")
def test_arguments_xgboost_takes_by_position_still_train_and_log(regression):
    X, y, _, _ = regression
    train = xgb.DMatrix(X, label=y)
    mlflow.xgboost.autolog(log_models=False)
    xgb.train({}, train, 2, [(train, "train")])  # evals by position: XGBoost warns, trains
    (run,) = runs()
    assert [s for s, _ in history(run.info.run_id, "train-rmse")] == [0, 1]


def test_a_call_xgboost_refuses_gets_xgboosts_own_error(regression):
    X, y, _, _ = regression
    train = xgb.DMatrix(X, label=y)
    with pytest.raises(TypeError) as plain:
        xgb.train({}, train, 2, no_such_argument=1)
    mlflow.xgboost.autolog()
    with pytest.raises(TypeError) as autologged:
        xgb.train({}, train, 2, no_such_argument=1)
    assert str(autologged.value) == str(plain.value)


def test_a_model_class_outside_xgboosts_own_modules_is_refused_unimported(tmp_path, binary):

    X, y = binary
    mlflow.xgboost.save_model(xgb.XGBClassifier(n_estimators=1).fit(X, y), str(tmp_path / "m"))
    meta = (tmp_path / "m" / "MLmodel").read_text()
    (tmp_path / "m" / "MLmodel").write_text(
        meta.replace("xgboost.sklearn.XGBClassifier", "xgboost.testing.data.Thing")
    )
    sys.modules.pop("xgboost.testing.data", None)
    with pytest.raises(reporter.exceptions.MlflowException, match="not an XGBoost class"):
        mlflow.xgboost.load_model(str(tmp_path / "m"))
    assert "xgboost.testing.data" not in sys.modules


def test_a_training_uses_the_options_it_started_with_to_the_end(binary):
    """Autologging reconfigured while a fit trains (another thread, a callback) does not change
    what that fit logs: its model is saved in the format in force when it started."""
    X, y = binary

    class Reconfigure(xgb.callback.TrainingCallback):  # type: ignore[misc]
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            mlflow.xgboost.autolog(model_format="json", importance_types=["gain"])
            return False

    mlflow.xgboost.autolog(model_format="ubj")
    xgb.XGBClassifier(n_estimators=2, callbacks=[Reconfigure()]).fit(X, y)
    xgb.train({}, xgb.DMatrix(X, label=y), 2)  # the new options: json, gain
    first, second = runs()
    assert "feature_importance_weight.json" in artifacts(first.info.run_id)
    assert "feature_importance_gain.json" in artifacts(second.info.run_id)
    files = [
        set(os.listdir(mlflow.artifacts.download_artifacts(model.model_uri)))
        for model in (*models(first), *models(second))
    ]
    assert "model.ubj" in files[0] and "model.json" not in files[0]
    assert "model.json" in files[1]


def test_a_failure_to_turn_on_warns_at_the_users_import_not_inside_xgboost(tmp_path):
    # XGBoost imports scikit-learn itself: the scikit-learn hook fires inside XGBoost's import
    code = """
import json, warnings
import reporter as mlflow
mlflow.set_tracking_uri("store")
mlflow.autolog(max_tuning_runs=-1)  # scikit-learn's autologging refuses it
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import xgboost  # the user's line
print(json.dumps([(w.filename, w.lineno, str(w.message)) for w in caught
                  if "reporter autologging" in str(w.message)]))
"""
    line = code.splitlines().index("    import xgboost  # the user's line") + 1
    ((filename, lineno, message),) = same_script.child_json(tmp_path, code)
    assert (filename, lineno) == ("<string>", line) and "max_tuning_runs" in message
