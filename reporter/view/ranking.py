"""Which metric leads an experiment and which runs are best: one rule for site and summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData

if TYPE_CHECKING:
    import pandas as pd


def primary_metric(data: ExperimentData, config: BuildConfig) -> str | None:
    """Return the experiment's primary metric: configured, else the first one logged."""
    configured = config.primary_metric.get(data.experiment.name)
    if configured:
        return configured
    points = data.metrics
    if not len(points):
        return None
    import numpy as np

    return points.keys[int(points.key[int(np.argmin(points.time))])]


def ranked_runs(frame: pd.DataFrame, metric: str | None, config: BuildConfig) -> list[str]:
    """Return run ids, best first by the primary metric (then newest)."""
    if frame.empty:
        return []
    col = f"metrics.{metric}" if metric else None
    if col and col in frame.columns:
        ordered = frame.sort_values(
            [col, "start_time"],
            ascending=[config.lower_is_better(metric or ""), False],
            na_position="last",
            kind="stable",
        )
    else:
        ordered = frame.sort_values("start_time", ascending=False, kind="stable")
    return list(ordered["run_id"])
