"""The files scikit-learn autologging saves besides the model, as MLflow 3 saves them:
`estimator.html` for every fit; `training_confusion_matrix.png` for a classifier; and with two
classes `training_roc_curve.png` and `training_precision_recall_curve.png`. Read back through
the client; the figures' data checked against sklearn.metrics before any pixel."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import reporter
import reporter as mlflow
from reporter.integrations.sklearn import artifacts
from reporter.integrations.sklearn.autologging import AutologgingWarning
from tests.conftest import PYTHON, python_env

HTML = "estimator.html"
MATRIX = "training_confusion_matrix.png"
ROC = "training_roc_curve.png"
PR = "training_precision_recall_curve.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# MLflow's figures at 175 dpi: the matrix 6 x 4 inches, the curves matplotlib's 6.4 x 4.8
SIZES = {MATRIX: (1050, 700), ROC: (1120, 840), PR: (1120, 840)}

pytestmark = pytest.mark.usefixtures("undo_autolog")  # and `iris`: both in conftest.py


@pytest.fixture(scope="module")
def binary() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X[::3, :8]), y[::3]  # 190 rows, 2 classes


def last_run() -> reporter.Run:
    run = mlflow.last_active_run()
    assert run is not None
    return run


def files(run_id: str) -> set[str]:
    """The run's top-level artifact files (folders such as model/ left out)."""
    return {f.path for f in reporter.Client().list_artifacts(run_id) if not f.is_dir}


def read(run_id: str, path: str, tmp_path: Path) -> bytes:
    return Path(reporter.Client().download_artifacts(run_id, path, str(tmp_path))).read_bytes()


def png_size(data: bytes) -> tuple[int, int]:
    """Return a PNG's (width, height) from its IHDR chunk, after checking the signature."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_plots(run_id: str, names: set[str], tmp_path: Path) -> None:
    for name in names:
        data = read(run_id, name, tmp_path)
        assert len(data) > 1000, name
        assert png_size(data) == SIZES[name], name


# which files, in which cases (MLflow 3's, listed from its runs) ----------------------------
def test_binary_classifier_logs_html_and_three_plots(binary, tmp_path):
    X, y = binary
    mlflow.sklearn.autolog(log_models=False)
    LogisticRegression().fit(X, y)
    run_id = last_run().info.run_id
    assert files(run_id) == {HTML, MATRIX, ROC, PR}
    assert_plots(run_id, {MATRIX, ROC, PR}, tmp_path)
    page = read(run_id, HTML, tmp_path).decode("utf-8")
    assert page.startswith('\n<!DOCTYPE html>\n<html lang="en">\n  <head>\n    <meta charset')
    assert "LogisticRegression" in page and "<style>" in page


def test_multiclass_classifier_logs_only_the_confusion_matrix(iris, tmp_path):
    X, y = iris
    mlflow.sklearn.autolog(log_models=False)
    LogisticRegression(max_iter=1000).fit(X, y)
    run_id = last_run().info.run_id
    assert files(run_id) == {HTML, MATRIX}
    assert_plots(run_id, {MATRIX}, tmp_path)


def test_regressor_and_clusterer_log_only_the_html(tmp_path):
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    mlflow.sklearn.autolog(log_models=False)
    LinearRegression().fit(X, y)
    assert files(last_run().info.run_id) == {HTML}
    assert "LinearRegression" in read(last_run().info.run_id, HTML, tmp_path).decode()
    KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)  # no labels: no plot either
    assert files(last_run().info.run_id) == {HTML}


def test_pipeline_html_shows_every_step_and_plots_the_whole_pipeline(binary, tmp_path):
    X, y = binary
    mlflow.sklearn.autolog(log_models=False)
    make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    runs = mlflow.search_runs(output_format="list")
    assert isinstance(runs, list) and len(runs) == 1  # the steps are not runs of their own
    run_id = runs[0].info.run_id
    assert files(run_id) == {HTML, MATRIX, ROC, PR}
    page = read(run_id, HTML, tmp_path).decode("utf-8")
    assert all(name in page for name in ("Pipeline", "StandardScaler", "LogisticRegression"))


def test_parameter_search_plots_on_the_parent_only(iris):
    X, y = iris
    mlflow.sklearn.autolog(log_models=False)
    GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    runs = mlflow.search_runs(output_format="list")
    assert isinstance(runs, list)
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert files(parent.info.run_id) == {HTML, MATRIX, "cv_results.csv"}
    children = [r for r in runs if r is not parent]
    assert len(children) == 2 and all(files(r.info.run_id) == set() for r in children)


def test_artifacts_do_not_depend_on_post_training_metrics(binary):
    X, y = binary
    mlflow.sklearn.autolog(log_models=False, log_post_training_metrics=False)
    LogisticRegression().fit(X, y)
    assert files(last_run().info.run_id) == {HTML, MATRIX, ROC, PR}


def test_string_labels_name_the_positive_class(binary):
    X, y = binary
    labels = np.where(y == 1, "benign", "malignant")
    mlflow.sklearn.autolog(log_models=False)
    model = LogisticRegression().fit(X, labels)
    assert files(last_run().info.run_id) == {HTML, MATRIX, ROC, PR}
    scores, positive = artifacts.binary_scores(model, X)
    assert positive == "malignant"  # classes_[-1], as scikit-learn's displays take it
    ax = artifacts.roc_curve_figure(model, labels, scores, positive).axes[0]
    assert ax.get_xlabel() == "False Positive Rate (Positive label: malignant)"


# the figures' data ---------------------------------------------------------------------------
def test_confusion_matrix_figure_holds_the_normalised_matrix(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    weights = np.linspace(0.5, 2.0, len(y))
    figure = artifacts.confusion_matrix_figure(model, X, y, weights)
    ax = figure.axes[0]
    expected = metrics.confusion_matrix(
        y, model.predict(X), sample_weight=weights, normalize="true"
    )
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert [t.get_text() for t in ax.texts] == [format(v, ".2g") for v in expected.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "Normalized confusion matrix",
        "Predicted label",
        "True label",
    )


def test_curve_figures_hold_sklearn_curves_and_scores(binary):
    X, y = binary
    model = LogisticRegression().fit(X, y)
    scores, positive = artifacts.binary_scores(model, X)
    np.testing.assert_array_equal(scores, model.predict_proba(X)[:, 1])
    fpr, tpr, _ = metrics.roc_curve(y, scores)
    roc = artifacts.roc_curve_figure(model, y, scores, positive).axes[0]
    np.testing.assert_array_equal(roc.lines[0].get_xdata(), fpr)
    np.testing.assert_array_equal(roc.lines[0].get_ydata(), tpr)
    auc = metrics.roc_auc_score(y, scores)
    assert roc.get_legend().get_texts()[0].get_text() == f"LogisticRegression (AUC = {auc:0.2f})"
    assert roc.get_title() == "ROC curve"
    precision, recall, _ = metrics.precision_recall_curve(y, scores)
    pr = artifacts.precision_recall_figure(model, y, scores, positive).axes[0]
    np.testing.assert_array_equal(pr.lines[0].get_xdata(), recall)
    np.testing.assert_array_equal(pr.lines[0].get_ydata(), precision)
    ap = metrics.average_precision_score(y, scores)
    assert pr.get_legend().get_texts()[0].get_text() == f"LogisticRegression (AP = {ap:0.2f})"
    assert (pr.get_title(), pr.get_xlabel()) == (
        "Precision recall curve",
        "Recall (Positive label: 1)",
    )


def test_decision_function_scores_when_there_is_no_predict_proba(binary):
    from sklearn.svm import LinearSVC

    X, y = binary
    model = LinearSVC().fit(X, y)
    scores, positive = artifacts.binary_scores(model, X)
    np.testing.assert_array_equal(scores, model.decision_function(X))
    assert positive == 1


# failures never reach the fit ----------------------------------------------------------------
def test_a_plot_that_cannot_be_drawn_warns_once_and_the_fit_goes_through(binary):
    X, y = binary
    members = [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=2))]
    mlflow.sklearn.autolog(log_models=False)
    model = VotingClassifier(members, voting="hard")  # no predict_proba, no decision_function
    with pytest.warns(AutologgingWarning, match=f"could not log {ROC}, {PR}: ValueError") as seen:
        assert model.fit(X, y) is model
    assert len(seen) == 1
    run = last_run()
    assert run.info.status == "FINISHED"
    assert files(run.info.run_id) == {HTML, MATRIX}  # as MLflow: the matrix needs no scores
    assert "training_accuracy_score" in run.data.metrics
    VotingClassifier(members, voting="hard").fit(X, y)  # the same failure: no second warning
    assert files(last_run().info.run_id) == {HTML, MATRIX}


def test_an_exception_while_drawing_warns_and_the_rest_is_logged(monkeypatch, binary):
    X, y = binary

    def broken(*args, **kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(artifacts, "confusion_matrix_figure", broken)
    mlflow.sklearn.autolog(log_models=False)
    model = LogisticRegression()
    with pytest.warns(AutologgingWarning, match=f"could not log {MATRIX}: RuntimeError: no fonts"):
        assert model.fit(X, y) is model
    run = last_run()
    assert run.info.status == "FINISHED"
    assert files(run.info.run_id) == {HTML, ROC, PR}
    assert "training_accuracy_score" in run.data.metrics


def test_without_matplotlib_the_plots_are_skipped_with_one_warning(monkeypatch, binary):
    X, y = binary
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    mlflow.sklearn.autolog(log_models=False)
    with pytest.warns(AutologgingWarning, match="matplotlib is not installed") as seen:
        LogisticRegression().fit(X, y)
    assert len(seen) == 1
    assert MATRIX in str(seen[0].message) and ROC in str(seen[0].message)
    assert files(last_run().info.run_id) == {HTML}
    LogisticRegression().fit(X, y)  # once: warnings are errors here
    assert files(last_run().info.run_id) == {HTML}
    mlflow.sklearn.autolog(log_models=False)  # a new autolog() call says it again
    with pytest.warns(AutologgingWarning, match="matplotlib is not installed"):
        LogisticRegression().fit(X, y)
    mlflow.sklearn.autolog(log_models=False, silent=True)
    LogisticRegression().fit(X, y)


# the host's matplotlib -------------------------------------------------------------------------
HOST = """
    import json, sys
    import matplotlib

    matplotlib.use("pdf")  # the host's choice of backend
    matplotlib.rcParams["font.size"] = 13.0
    before = matplotlib.rcParams.copy()

    import reporter as mlflow
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.sklearn.autolog(log_models=False)
    X, y = load_breast_cancer(return_X_y=True)
    LogisticRegression(max_iter=5000).fit(X[:, :5], y)
    run_id = mlflow.last_active_run().info.run_id
    after = matplotlib.rcParams.copy()
    print(json.dumps({
        "backend": matplotlib.rcParams._get_backend_or_none(),
        "changed": sorted(k for k in before if str(before._get(k)) != str(after._get(k))),
        "pyplot": "matplotlib.pyplot" in sys.modules,
        "files": sorted(f.path for f in mlflow.Client().list_artifacts(run_id)),
    }))
"""


def test_the_host_matplotlib_backend_and_rcparams_are_left_alone(tmp_path):
    done = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(HOST), str(tmp_path / "store")],
        env=python_env(TRACKER_LOG_ENVIRONMENT="0"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "backend": "pdf",
        "changed": [],
        "pyplot": False,  # never imported: pyplot's figure registry and backend never touched
        "files": [HTML, MATRIX, PR, ROC],
    }
