"""`reporter.autolog()` / `reporter.sklearn.autolog()`: MLflow's scikit-learn autologging,
checked on what the store holds (names and values against sklearn.metrics)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, make_regression
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    _validation,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import parallel as sk_parallel

import reporter
import reporter as mlflow
import reporter.integrations.sklearn.autologging as autolog_module
from reporter.integrations.sklearn.autologging import AutologgingWarning, estimators_to_patch

REGRESSOR_METRICS = {
    "training_mean_squared_error",
    "training_root_mean_squared_error",
    "training_mean_absolute_error",
    "training_r2_score",
    "training_score",
}
CLASSIFIER_METRICS = {
    "training_accuracy_score",
    "training_precision_score",
    "training_recall_score",
    "training_f1_score",
    "training_log_loss",
    "training_roc_auc",
    "training_score",
}
CV_METRICS = {
    "mean_fit_time",
    "std_fit_time",
    "mean_score_time",
    "std_score_time",
    "mean_test_score",
    "std_test_score",
    "rank_test_score",
}

pytestmark = pytest.mark.usefixtures("undo_autolog")  # and `iris`: both in conftest.py


def all_runs() -> list[reporter.Run]:
    runs = mlflow.search_runs(output_format="list")
    assert isinstance(runs, list)
    return runs


def only_run() -> reporter.Run:
    runs = all_runs()
    assert len(runs) == 1, [r.data.tags.get("estimator_name") for r in runs]
    return runs[0]


def artifact_paths(run_id: str) -> set[str]:
    return {f.path for f in reporter.Client().list_artifacts(run_id)}


def model_names(run_id: str) -> set[str]:
    """Names of the logged models a run produced (MLflow 3 keeps model files with the model)."""
    client = reporter.Client()
    outputs = client.get_run(run_id).outputs.model_outputs
    return {client.get_logged_model(o.model_id).name for o in outputs}


def str_params(params: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in params.items()}


def assert_metrics(logged: Mapping[str, float], expected: Mapping[str, float]) -> None:
    assert set(logged) == set(expected)
    for key, value in expected.items():
        assert logged[key] == pytest.approx(value, rel=1e-12), key


def classifier_metrics(model, X, y, sample_weight=None) -> dict[str, float]:
    """What MLflow logs for a classifier, computed here with sklearn.metrics."""
    pred, proba = model.predict(X), model.predict_proba(X)
    scores = proba[:, 1] if proba.shape[1] == 2 else proba
    w = {"sample_weight": sample_weight}
    return {
        "training_accuracy_score": metrics.accuracy_score(y, pred, **w),
        "training_precision_score": metrics.precision_score(y, pred, average="weighted", **w),
        "training_recall_score": metrics.recall_score(y, pred, average="weighted", **w),
        "training_f1_score": metrics.f1_score(y, pred, average="weighted", **w),
        "training_log_loss": metrics.log_loss(y, proba, **w),
        "training_roc_auc": metrics.roc_auc_score(
            y, scores, average="weighted", multi_class="ovo", **w
        ),
        "training_score": metrics.accuracy_score(y, pred, **w),
    }


# single estimators -----------------------------------------------------------------------
def test_regressor_logs_params_tags_metrics_and_model():
    X, y = make_regression(n_samples=40, n_features=3, noise=5.0, random_state=0)
    mlflow.autolog()
    model = LinearRegression()
    assert model.fit(X, y) is model
    run = only_run()
    assert run.info.status == "FINISHED"
    assert mlflow.active_run() is None
    assert run.data.params == str_params(LinearRegression().get_params(deep=True))
    assert run.data.tags["estimator_name"] == "LinearRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._base.LinearRegression"
    assert run.data.tags["mlflow.autologging"] == "sklearn"
    pred = model.predict(X)
    assert_metrics(
        run.data.metrics,
        {
            "training_mean_squared_error": metrics.mean_squared_error(y, pred),
            "training_root_mean_squared_error": metrics.root_mean_squared_error(y, pred),
            "training_mean_absolute_error": metrics.mean_absolute_error(y, pred),
            "training_r2_score": metrics.r2_score(y, pred),
            "training_score": model.score(X, y),
        },
    )
    assert model_names(run.info.run_id) == {"model"}


def test_multiclass_classifier_metrics_are_weighted_averages(iris):
    X, y = iris
    mlflow.sklearn.autolog()
    model = LogisticRegression(C=0.5, max_iter=1000).fit(X, y)
    run = only_run()
    assert run.data.params == str_params(model.get_params(deep=True))
    assert run.data.params["C"] == "0.5"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert_metrics(run.data.metrics, classifier_metrics(model, X, y))


def test_binary_classifier_with_sample_weight(iris):
    X, y = iris
    y = (y == 2).astype(int)
    weights = np.linspace(0.5, 2.0, len(y))
    mlflow.autolog()
    model = LogisticRegression(max_iter=1000).fit(X, y, sample_weight=weights)
    run = only_run()
    assert_metrics(run.data.metrics, classifier_metrics(model, X, y, sample_weight=weights))
    unweighted = metrics.accuracy_score(y, model.predict(X))
    weighted = metrics.accuracy_score(y, model.predict(X), sample_weight=weights)
    assert unweighted != weighted
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(weighted)


def test_metrics_that_do_not_apply_are_left_out_silently(iris):
    X, y = iris
    mlflow.autolog()
    RidgeClassifier().fit(X, y)  # no predict_proba: no log loss, no ROC AUC
    assert set(only_run().data.metrics) == CLASSIFIER_METRICS - {
        "training_log_loss",
        "training_roc_auc",
    }
    mlflow.delete_run(only_run().info.run_id)
    # one-vs-one ROC AUC refuses sample weights: left out, no warning (warnings are errors)
    LogisticRegression(max_iter=1000).fit(X, y, sample_weight=np.ones(len(y)))
    assert set(only_run().data.metrics) == CLASSIFIER_METRICS - {"training_roc_auc"}


def test_unsupervised_fit_transform_and_fit_predict(iris):
    X, _ = iris
    mlflow.autolog(log_models=False)
    PCA(n_components=2).fit_transform(X)
    KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(X)  # fit_predict calls fit
    runs = {r.data.tags["estimator_name"]: r for r in all_runs()}
    assert set(runs) == {"PCA", "KMeans"}
    assert runs["PCA"].data.params == str_params(PCA(n_components=2).get_params())
    assert runs["PCA"].data.metrics == {} and runs["KMeans"].data.metrics == {}  # no labels


def test_preprocessing_alone_is_not_logged(iris):
    X, _ = iris
    mlflow.autolog()
    StandardScaler().fit_transform(X)  # MLflow leaves sklearn.preprocessing unpatched
    assert all_runs() == []


# meta-estimators -------------------------------------------------------------------------
def test_pipeline_is_one_run_with_nested_params(iris):
    X, y = iris
    mlflow.autolog()
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    run = only_run()
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    assert run.data.params == str_params(pipe.get_params(deep=True))
    assert {"steps", "standardscaler__with_mean", "logisticregression__C"} <= set(run.data.params)
    assert_metrics(run.data.metrics, classifier_metrics(pipe, X, y))


def test_grid_search_parent_and_child_runs(iris):
    X, y = iris
    mlflow.autolog()
    grid = {"C": [0.01, 0.1, 1.0], "fit_intercept": [True, False]}
    search = GridSearchCV(LogisticRegression(max_iter=1000), grid, cv=3).fit(X, y)
    runs = all_runs()
    parents = [r for r in runs if r.info.parent_run_id is None]
    assert len(parents) == 1
    parent = parents[0]
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert len(runs) == 1 + 5  # max_tuning_runs defaults to 5 of the 6 candidates

    expected_params = str_params(search.get_params(deep=False))
    expected_params |= {"best_C": str(search.best_params_["C"])}
    expected_params |= {"best_fit_intercept": str(search.best_params_["fit_intercept"])}
    assert parent.data.params == expected_params
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    assert set(parent.data.metrics) == CLASSIFIER_METRICS | {"best_cv_score"}
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert_metrics(
        {k: v for k, v in parent.data.metrics.items() if k != "best_cv_score"},
        classifier_metrics(search, X, y),
    )
    assert "cv_results.csv" in artifact_paths(parent.info.run_id)
    assert model_names(parent.info.run_id) == {"model", "best_estimator"}

    cv = search.cv_results_
    ranked = sorted(range(len(cv["params"])), key=lambda i: cv["rank_test_score"][i])
    seed_params = LogisticRegression(max_iter=1000).get_params()
    by_candidate = {(r.data.params["C"], r.data.params["fit_intercept"]): r for r in children}
    assert len(by_candidate) == 5
    for i in ranked[:5]:
        candidate = cv["params"][i]
        child = by_candidate[(str(candidate["C"]), str(candidate["fit_intercept"]))]
        assert child.data.params == str_params(seed_params | candidate)
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["estimator_name"] == "LogisticRegression"
        assert child.info.status == "FINISHED"
        assert child.info.start_time == parent.info.start_time
        assert_metrics(child.data.metrics, {key: cv[key][i] for key in CV_METRICS})


@pytest.mark.parametrize(("max_tuning_runs", "expected"), [(2, 2), (None, 6), (0, 0)])
def test_max_tuning_runs_keeps_the_best_ranked(iris, max_tuning_runs, expected):
    X, y = iris
    mlflow.autolog(max_tuning_runs=max_tuning_runs, log_models=False)
    grid = {"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]}
    search = GridSearchCV(LogisticRegression(max_iter=2000), grid, cv=3).fit(X, y)
    children = [r for r in all_runs() if r.info.parent_run_id is not None]
    assert len(children) == expected
    cv = search.cv_results_
    ranked = sorted(range(6), key=lambda i: cv["rank_test_score"][i])
    assert {r.data.params["C"] for r in children} == {
        str(cv["params"][i]["C"]) for i in ranked[:expected]
    }


def test_randomized_search(iris):
    X, y = iris
    mlflow.autolog(max_tuning_runs=None, log_models=False)
    search = RandomizedSearchCV(
        LogisticRegression(max_iter=1000),
        {"C": [0.01, 0.1, 1.0, 10.0], "tol": [1e-4, 1e-3]},
        n_iter=3,
        cv=2,
        random_state=0,
        return_train_score=True,
    ).fit(X, y)
    runs = all_runs()
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert len(children) == 3
    assert parent.data.tags["estimator_name"] == "RandomizedSearchCV"
    assert set(parent.data.params) == set(search.get_params(deep=False)) | {"best_C", "best_tol"}
    for child in children:
        assert set(child.data.metrics) == CV_METRICS | {"mean_train_score", "std_train_score"}
    assert model_names(parent.info.run_id) == set()


def test_search_over_a_pipeline_logs_deep_candidate_params(iris):
    X, y = iris
    mlflow.autolog(log_models=False)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=2).fit(X, y)
    (parent,) = [r for r in all_runs() if r.info.parent_run_id is None]
    assert parent.data.params["best_clf__C"] == str(search.best_params_["clf__C"])
    for child in [r for r in all_runs() if r.info.parent_run_id is not None]:
        assert set(child.data.params) == set(pipe.get_params(deep=True))
        assert child.data.tags["estimator_name"] == "Pipeline"


def test_fits_in_joblib_worker_threads_are_not_logged_separately(iris):
    X, y = iris
    mlflow.autolog(log_models=False)
    IsolationForest(n_estimators=4, n_jobs=2, random_state=0).fit(X)  # trees fit in threads
    assert only_run().data.tags["estimator_name"] == "IsolationForest"
    mlflow.delete_run(only_run().info.run_id)
    import joblib

    with joblib.parallel_backend("threading", n_jobs=2):
        GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert sorted(r.data.tags["estimator_name"] for r in all_runs()) == [
        "GridSearchCV",
        "LogisticRegression",
        "LogisticRegression",
    ]


def test_cross_validation_fits_are_not_logged(iris):
    X, y = iris
    mlflow.autolog()  # cross_val_score was imported before: the fold helper is patched too
    model = LogisticRegression(max_iter=1000)
    assert len(cross_val_score(model, X, y, cv=3)) == 3
    assert len(cross_val_predict(model, X, y, cv=2)) == len(y)
    assert all_runs() == []
    model.fit(X, y)
    assert only_run().data.tags["estimator_name"] == "LogisticRegression"


# runs ------------------------------------------------------------------------------------
def test_active_run_is_used_and_left_open(iris):
    X, y = iris
    mlflow.autolog(log_models=False)
    with mlflow.start_run() as run:
        LogisticRegression(max_iter=1000).fit(X, y)
        active = mlflow.active_run()
        assert active is not None
        assert active.info.run_id == run.info.run_id
        assert mlflow.get_run(run.info.run_id).info.status == "RUNNING"
    stored = only_run()
    assert stored.info.run_id == run.info.run_id
    assert stored.info.status == "FINISHED"
    assert stored.data.tags["estimator_name"] == "LogisticRegression"
    assert "mlflow.autologging" not in stored.data.tags  # a user run, not autolog's
    assert set(stored.data.metrics) == CLASSIFIER_METRICS


def test_exclusive_leaves_user_runs_alone(iris):
    X, y = iris
    mlflow.autolog(exclusive=True)
    with mlflow.start_run():
        LogisticRegression(max_iter=1000).fit(X, y)
    assert only_run().data.params == {}
    LogisticRegression(max_iter=1000).fit(X, y)
    assert len(all_runs()) == 2


def test_failing_fit_propagates_and_marks_the_run_failed(iris):
    X, y = iris
    X = X.copy()
    X[0, 0] = np.nan
    mlflow.autolog()
    with pytest.raises(ValueError, match="Input X contains NaN"):
        LogisticRegression().fit(X, y)
    run = only_run()
    assert run.info.status == "FAILED"
    assert mlflow.active_run() is None
    assert run.data.params["C"] == "1.0"  # params are logged before training
    assert run.data.metrics == {}
    mlflow.delete_run(run.info.run_id)

    with pytest.raises(ValueError, match="NaN"), mlflow.start_run() as user_run:
        LogisticRegression().fit(X, y)
    assert only_run().info.run_id == user_run.info.run_id
    assert only_run().info.status == "FAILED"  # ended by the with block, not by autolog


def test_same_exception_object_propagates(monkeypatch, iris):
    X, y = iris
    boom = RuntimeError("boom")

    def failing_fit(self, X, y=None, sample_weight=None):
        raise boom

    monkeypatch.setattr(LinearRegression, "fit", failing_fit)  # patched below by autolog
    mlflow.autolog()
    assert LinearRegression.fit is not failing_fit
    with pytest.raises(RuntimeError) as raised:
        LinearRegression().fit(X, y)
    assert raised.value is boom
    assert only_run().info.status == "FAILED"
    mlflow.autolog(disable=True)
    assert LinearRegression.fit is failing_fit


def test_logging_failure_warns_and_still_returns_the_model(monkeypatch, iris):
    X, y = iris

    def broken_log_model(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(mlflow.sklearn, "log_model", broken_log_model)
    mlflow.autolog()
    model = LogisticRegression(max_iter=1000)
    with pytest.warns(AutologgingWarning, match="could not log the model: OSError: disk full"):
        assert model.fit(X, y) is model
    run = only_run()
    assert run.info.status == "FINISHED"
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    mlflow.delete_run(run.info.run_id)

    mlflow.autolog(silent=True)  # no warning at all (pytest makes warnings errors)
    assert LogisticRegression(max_iter=1000).fit(X, y).predict(X).shape == y.shape


# models ----------------------------------------------------------------------------------
def test_model_artifact_loads_back_and_predicts_the_same(iris):
    X, y = iris
    mlflow.autolog()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    run_id = only_run().info.run_id
    mlflow.autolog(disable=True)
    loaded = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert type(loaded) is Pipeline
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_log_models_false_logs_no_model(iris):
    X, y = iris
    mlflow.autolog(log_models=False)
    LogisticRegression(max_iter=1000).fit(X, y)
    run = only_run()
    assert model_names(run.info.run_id) == set()
    assert set(run.data.metrics) == CLASSIFIER_METRICS


# switching off ---------------------------------------------------------------------------
def test_disable_restores_every_original_exactly(iris):
    X, y = iris
    classes = estimators_to_patch()
    assert {Pipeline, GridSearchCV, RandomizedSearchCV, LinearRegression} <= set(classes)
    names = ("fit", "fit_transform", "fit_predict", "predict", "score")
    before = {(c, n): c.__dict__.get(n, "absent") for c in classes for n in names}
    helpers = (
        sk_parallel.Parallel.__call__,
        sk_parallel._FuncWrapper.__call__,
        _validation._fit_and_score,
        _validation.cross_val_score,
    )
    import sklearn.model_selection

    public_cross_val_score = sklearn.model_selection.cross_val_score
    original_fit = LinearRegression.fit
    pipeline_fit_transform = Pipeline.__dict__["fit_transform"]

    mlflow.autolog()
    mlflow.sklearn.autolog(max_tuning_runs=2)  # enabling twice patches once
    assert LinearRegression.fit is not original_fit
    assert LinearRegression.fit.__wrapped__ is original_fit
    assert Pipeline.__dict__["fit_transform"] is not pipeline_fit_transform
    assert "fit" in GridSearchCV.__dict__  # inherited from BaseSearchCV: patched on the class
    assert _validation._fit_and_score is not helpers[2]

    mlflow.autolog(disable=True)  # sklearn.autolog() configured it last: left on, as MLflow
    assert LinearRegression.fit.__wrapped__ is original_fit
    mlflow.sklearn.autolog(disable=True)
    after = {(c, n): c.__dict__.get(n, "absent") for c in classes for n in names}
    assert all(after[key] is value for key, value in before.items())
    assert LinearRegression.fit is original_fit
    assert Pipeline.__dict__["fit_transform"] is pipeline_fit_transform
    assert "fit" not in GridSearchCV.__dict__
    assert all(
        now is then
        for now, then in zip(
            (
                sk_parallel.Parallel.__call__,
                sk_parallel._FuncWrapper.__call__,
                _validation._fit_and_score,
                _validation.cross_val_score,
            ),
            helpers,
        )
    )
    assert sklearn.model_selection.cross_val_score is public_cross_val_score is cross_val_score
    assert not autolog_module.is_enabled()

    LogisticRegression(max_iter=1000).fit(X, y)
    GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert all_runs() == []


def test_bound_method_taken_while_enabled_logs_nothing_after_disable(iris):
    X, y = iris
    mlflow.autolog()
    model = LinearRegression()
    fit = model.fit
    mlflow.autolog(disable=True)
    fit(X, y)
    assert all_runs() == []


def test_invalid_max_tuning_runs():
    with pytest.raises(reporter.InvalidArgumentError, match="max_tuning_runs"):
        mlflow.sklearn.autolog(max_tuning_runs=-1)
    assert not autolog_module.is_enabled()


def test_exclude_flavors_leaves_sklearn_alone():
    mlflow.autolog(exclude_flavors=["sklearn"])
    assert not autolog_module.is_enabled()


def test_extra_tags_on_autolog_runs(iris):
    X, y = iris
    mlflow.autolog(extra_tags={"team": "forecasting"}, log_models=False)
    LogisticRegression(max_iter=1000).fit(X, y)
    assert only_run().data.tags["team"] == "forecasting"


def test_a_child_run_that_cannot_be_logged_ends_failed_not_running(iris):
    """A candidate whose param value the store refuses (a lone surrogate is not UTF-8): the
    fit still returns and no child run is left RUNNING."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    # sklearn ships no type information (it is in ignore_missing_imports): its bases are Any
    class Labelled(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
        def __init__(self, label: str = "a") -> None:
            self.label = label

        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.full(len(X), self.classes_[0])

    X, y = iris
    mlflow.autolog()
    search = GridSearchCV(Labelled(), {"label": ["a", "\ud800"]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AutologgingWarning)  # it says what it could not log
        fitted = search.fit(X, y)
    assert fitted is search and hasattr(search, "best_params_")
    children = [r for r in all_runs() if r.info.parent_run_id]
    assert children and all(r.info.status != "RUNNING" for r in children)
    assert "FAILED" in {r.info.status for r in children}


def test_the_training_data_is_a_run_input_unless_log_datasets_is_false():
    X, y = load_iris(return_X_y=True, as_frame=True)
    mlflow.autolog(log_models=False)
    LogisticRegression(max_iter=300).fit(X, y)
    run = mlflow.last_active_run()
    assert run is not None
    (used,) = reporter.Client().get_run(run.info.run_id).inputs.dataset_inputs
    assert used.dataset.name == "dataset" and used.dataset.source_type == "code"
    assert [(t.key, t.value) for t in used.tags] == [("mlflow.data.context", "train")]
    assert used.dataset.digest == mlflow.data.from_pandas(X).digest  # the same data, one digest
    mlflow.autolog(log_models=False, log_datasets=False)
    LogisticRegression(max_iter=300).fit(X.to_numpy(), y.to_numpy())
    quiet = mlflow.last_active_run()
    assert quiet is not None and quiet.info.run_id != run.info.run_id
    assert reporter.Client().get_run(quiet.info.run_id).inputs.dataset_inputs == []
