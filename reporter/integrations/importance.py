"""Feature-importance bar charts for the boosting integrations (XGBoost, LightGBM), drawn as
MLflow draws them: features sorted by importance, one bar each (one per class when a model
gives a value per class), on a matplotlib Figure with its own Agg canvas (pyplot is never
imported, the host's settings are only read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT = 6.4, 4.8  # matplotlib's default figure size, grown with the features


def can_draw() -> bool:
    """Return True when matplotlib is installed."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def figure(features: Sequence[Any], importance: Sequence[Any], kind: str) -> Any:
    """Return the bar chart of each feature's importance (`kind` in the title)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = np.asarray(importance, dtype=np.float64)
    per_class = values.ndim > 1
    values = values if per_class else values[:, None]
    order = np.argsort(np.abs(values).sum(axis=1), kind="stable")
    names = [str(features[i]) for i in order]
    values = values[order]
    classes = values.shape[1]
    height = (
        HEIGHT + (0.1 * len(names) if len(names) > 10 else 0) + (0.1 * classes if per_class else 0)
    )
    fig = Figure(figsize=(WIDTH, height), layout="tight")
    FigureCanvasAgg(fig)
    axes = fig.add_subplot()
    rows = np.arange(len(names))
    offsets = np.linspace(-0.25, 0.25, classes) if classes > 1 else np.zeros(1)
    bar_height = 0.5 / max(classes - 1, 1)
    for k in range(classes):
        label = f"Class {k}" if per_class else None
        axes.barh(rows + offsets[k], values[:, k], height=bar_height, align="center", label=label)
    axes.set_yticks(rows)
    axes.set_yticklabels(names)
    axes.set_xlabel("Importance")
    axes.set_title(f"Feature Importance ({kind})")
    if per_class:
        axes.legend()
    return fig
