"""The files MLflow's scikit-learn autologging saves besides the model, drawn as MLflow does.

* `estimator.html`: scikit-learn's HTML diagram of the fitted estimator (what a notebook
  shows), in MLflow's page wrapper; for every autologged fit.
* `training_confusion_matrix.png`: normalised over the true labels; for a classifier fitted
  on binary or multiclass labels.
* `training_roc_curve.png`, `training_precision_recall_curve.png`: when those labels hold
  exactly two classes (the positive one is `classes_[-1]`, scored by `predict_proba`, else
  `decision_function`).

The figures copy scikit-learn's `ConfusionMatrixDisplay`, `RocCurveDisplay` and
`PrecisionRecallDisplay` as MLflow saves them (sizes, font sizes, labels, titles, 175 dpi),
but each is a `matplotlib.figure.Figure` on its own Agg canvas: pyplot is never imported, no
figure is registered anywhere, and the host's backend and rcParams are only read (for the
defaults every Figure takes), never changed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ESTIMATOR_HTML = "estimator.html"
CONFUSION_MATRIX = "confusion_matrix"
ROC_CURVE = "roc_curve"
PRECISION_RECALL_CURVE = "precision_recall_curve"
DPI = 175  # MLflow's savefig.dpi
FONT_SIZE = 8.0  # MLflow's font.size (and axes.labelsize)
TITLE_SIZE = FONT_SIZE * 1.2  # matplotlib's "large"
LABELED_TARGETS = ("binary", "multiclass")  # the targets a confusion matrix is drawn for


@dataclass(frozen=True)
class Plot:
    """One training plot: the artifact file it is saved as, and how to draw it."""

    artifact_file: str
    draw: Callable[[], Any]  # -> matplotlib.figure.Figure


def estimator_html(estimator: Any) -> str:
    """Return MLflow's `estimator.html` page: scikit-learn's HTML repr of the estimator."""
    from sklearn.utils import estimator_html_repr

    # MLflow's wrapper, character for character (the charset keeps the toggles' arrows).
    return f"""
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8"/>
  </head>
  <body>
    {estimator_html_repr(estimator)}
  </body>
</html>
    """


def classifier_plots(
    estimator: Any, X: Any, y: Any, sample_weight: Any = None, prefix: str = "training_"
) -> list[Plot]:
    """Return the plots MLflow saves for a fitted classifier: none without binary or
    multiclass labels, the confusion matrix, and for two classes the ROC and PR curves."""
    from sklearn.utils.multiclass import type_of_target, unique_labels

    if y is None or type_of_target(y) not in LABELED_TARGETS:
        return []
    plots = [
        Plot(
            f"{prefix}{CONFUSION_MATRIX}.png",
            functools.partial(confusion_matrix_figure, estimator, X, y, sample_weight),
        )
    ]
    if len(unique_labels(y)) == 2:
        scores = functools.cache(lambda: binary_scores(estimator, X))  # shared by both curves
        plots.append(
            Plot(
                f"{prefix}{ROC_CURVE}.png",
                lambda: roc_curve_figure(estimator, y, *scores(), sample_weight),
            )
        )
        plots.append(
            Plot(
                f"{prefix}{PRECISION_RECALL_CURVE}.png",
                lambda: precision_recall_figure(estimator, y, *scores(), sample_weight),
            )
        )
    return plots


# figures -----------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    """Return a new Figure with its own Agg canvas and a tight layout (never pyplot's)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="tight")
    FigureCanvasAgg(figure)
    return figure


def confusion_matrix_figure(estimator: Any, X: Any, y: Any, sample_weight: Any = None) -> Any:
    """Draw the confusion matrix normalised over true labels (ConfusionMatrixDisplay's look)."""
    import itertools

    import numpy as np
    from sklearn.metrics import confusion_matrix
    from sklearn.utils.multiclass import unique_labels

    y_pred = estimator.predict(X)
    labels = unique_labels(y, y_pred)
    cm = confusion_matrix(y, y_pred, labels=labels, sample_weight=sample_weight, normalize="true")
    n = len(labels)
    small = min(FONT_SIZE, 50.0 / n)  # MLflow shrinks the text as classes grow
    figure = _figure(6.0, 4.0)
    ax = figure.add_subplot()
    image = ax.imshow(cm, interpolation="nearest", cmap="Blues")
    low, high = image.cmap(0), image.cmap(1.0)
    threshold = (cm.max() + cm.min()) / 2.0
    for i, j in itertools.product(range(n), range(n)):
        color = high if cm[i, j] < threshold else low
        value = format(cm[i, j], ".2g")
        ax.text(j, i, value, ha="center", va="center", color=color, fontsize=small)
    colorbar = figure.colorbar(image, ax=ax)
    colorbar.ax.tick_params(labelsize=small)
    ax.set_xticks(np.arange(n), [str(label) for label in labels])
    ax.set_yticks(np.arange(n), [str(label) for label in labels])
    ax.tick_params(labelsize=small)
    ax.set_xlabel("Predicted label", fontsize=FONT_SIZE)
    ax.set_ylabel("True label", fontsize=FONT_SIZE)
    ax.set_ylim((n - 0.5, -0.5))
    ax.set_title("Normalized confusion matrix", fontsize=TITLE_SIZE)
    return figure


def binary_scores(estimator: Any, X: Any) -> tuple[Any, Any]:
    """Return (scores of the positive class, that class): predict_proba's column of
    classes_[-1], else decision_function (as scikit-learn's curve displays pick them)."""
    import numpy as np

    classes = estimator.classes_
    positive = classes[-1]
    if getattr(estimator, "predict_proba", None) is not None:
        proba = estimator.predict_proba(X)
        return proba[:, int(np.flatnonzero(classes == positive)[0])], positive
    if getattr(estimator, "decision_function", None) is not None:
        return estimator.decision_function(X), positive
    raise ValueError(
        f"{type(estimator).__name__} has neither predict_proba nor decision_function: "
        "no scores to draw a curve from"
    )


def _curve_axes(figure: Any, x_label: str, y_label: str, positive: Any, title: str) -> Any:
    """Return the square unit axes of a binary curve, labelled as scikit-learn labels them."""
    ax = figure.add_subplot()
    suffix = f" (Positive label: {positive})"
    ax.set_xlabel(x_label + suffix, fontsize=FONT_SIZE)
    ax.set_ylabel(y_label + suffix, fontsize=FONT_SIZE)
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.tick_params(labelsize=FONT_SIZE)
    ax.set_title(title, fontsize=TITLE_SIZE)
    return ax


def roc_curve_figure(
    estimator: Any, y: Any, scores: Any, positive: Any, sample_weight: Any = None
) -> Any:
    """Draw the ROC curve with its AUC in the legend (RocCurveDisplay's look)."""
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, _ = roc_curve(
        y, scores, pos_label=positive, sample_weight=sample_weight, drop_intermediate=True
    )
    figure = _figure(6.4, 4.8)
    ax = _curve_axes(figure, "False Positive Rate", "True Positive Rate", positive, "ROC curve")
    ax.plot(fpr, tpr, label=f"{type(estimator).__name__} (AUC = {auc(fpr, tpr):0.2f})")
    ax.legend(loc="lower right", fontsize=FONT_SIZE)
    return figure


def precision_recall_figure(
    estimator: Any, y: Any, scores: Any, positive: Any, sample_weight: Any = None
) -> Any:
    """Draw the precision-recall curve with its average precision in the legend
    (PrecisionRecallDisplay's look)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(
        y, scores, pos_label=positive, sample_weight=sample_weight
    )
    ap = average_precision_score(y, scores, pos_label=positive, sample_weight=sample_weight)
    figure = _figure(6.4, 4.8)
    ax = _curve_axes(figure, "Recall", "Precision", positive, "Precision recall curve")
    label = f"{type(estimator).__name__} (AP = {ap:0.2f})"
    ax.plot(recall, precision, drawstyle="steps-post", label=label)
    ax.legend(loc="lower left", fontsize=FONT_SIZE)
    return figure
