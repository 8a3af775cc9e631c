"""The index page: one summary per experiment, its primary metric and best run."""

from __future__ import annotations

from reporter.core.entities import RunStatus
from reporter.site.contract import Crumb, ExperimentSummary
from reporter.site.paths import run_path
from reporter.view import text
from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData
from reporter.view.ranking import primary_metric, ranked_runs


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
    col = f"metrics.{metric}"
    if metric and col in frame.columns and frame[col].notna().any():
        ranked = ranked_runs(frame, metric, config)[0]
        row = frame[frame["run_id"] == ranked].iloc[0]
        best_value = text.fmt_number(row[col])
        best_run = Crumb(str(row["run_name"]), run_path(ranked))
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
