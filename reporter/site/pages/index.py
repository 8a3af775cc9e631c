"""The index page: one summary per experiment, its primary metric and best run."""

from __future__ import annotations

from reporter.core.entities import RunStatus
from reporter.site.contract import Crumb, ExperimentSummary
from reporter.site.paths import run_path
from reporter.view import text
from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData
from reporter.view.ranking import best_run as best_config
from reporter.view.ranking import primary_metric


def summarize(data: ExperimentData, slug: str, config: BuildConfig) -> ExperimentSummary:
    """Build the index line of an experiment."""
    frame = data.runs
    metric = primary_metric(data, config)
    by_status = {s: int((frame["status"] == s).sum()) for s in RunStatus.ALL} if len(frame) else {}
    last = ""
    if len(frame):
        stamps = frame[["start_time", "end_time"]].max(axis=1, skipna=True)
        last = text.fmt_time(stamps.max())
    best_value, best_run = "", None
    best = best_config(frame, metric, config)  # a configuration, never a seed replicate
    if best is not None:
        best_value = best.value.text()
        best_run = Crumb(best.name, run_path(best.run_id))
    return ExperimentSummary(
        name=data.experiment.name,
        path=f"experiments/{slug}/index.html",
        description=text.markdown(data.experiment.description, demote=2),
        runs=len(frame),
        by_status={k: v for k, v in by_status.items() if v},
        last_activity=last,
        primary_metric=metric,
        best_value=best_value,
        best_run=best_run,
    )
