"""An experiment's page: the runs table, its charts and the explore views."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from reporter.core import system_tags
from reporter.site import table
from reporter.site.contract import (
    Crumb,
    ExperimentPageContext,
    Made,
    ModelListing,
    OutFile,
    Page,
    PageInfo,
)
from reporter.site.pages.explore import explore_views
from reporter.site.paths import run_path
from reporter.site.series import (
    GroupGatherer,
    group_scripts,
    index_metrics,
    int_or_none,
    make_chart,
)
from reporter.view import text
from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData
from reporter.view.ranking import primary_metric, ranked_runs

if TYPE_CHECKING:
    import pandas as pd


def group_choices(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Return what the charts can group runs by: every param and every tag but the system's."""
    return [
        (c.split(".", 1)[0], c.split(".", 1)[1])
        for c in sorted(frame.columns)
        if c.startswith("params.")
        or (c.startswith("tags.") and not system_tags.is_system_tag(c[len("tags.") :]))
    ]


def charted_runs(frame: pd.DataFrame, archived: AbstractSet[str]) -> pd.DataFrame:
    """Return the runs the charts draw: all but the archived (one point is no history)."""
    gone = frame["run_id"].isin(archived) if len(frame) and archived else None
    return frame[~gone].reset_index(drop=True) if gone is not None else frame


def experiment_page(
    data: ExperimentData,
    slug: str,
    config: BuildConfig,
    archived: AbstractSet[str] = frozenset(),
    gathered: GroupGatherer | None = None,
) -> Made:
    """Make an experiment's page (runs table and one overlay chart per metric), its table.js
    and the full-series downloads of its charts. Archived runs are listed, marked, and left
    out of the charts: their summaries hold one point per metric, which is no history.
    `gathered` holds the grouped lines the run pages' pass gathered (else they are read)."""
    frame = data.runs
    metric = primary_metric(data, config)
    columns = table.table_columns(frame, metric, config)
    gone = frame["run_id"].isin(archived) if len(frame) and archived else None
    charted = charted_runs(frame, archived)
    top = ranked_runs(charted, metric, config)[: config.top_runs]
    metrics = index_metrics(data.series.read(top))  # the charted runs' points only
    names = dict(zip(frame["run_id"], frame["run_name"], strict=True)) if len(frame) else {}
    starts = dict(zip(frame["run_id"], frame["start_time"], strict=True)) if len(frame) else {}
    chosen = [(r, chart_name(frame, names, r), int_or_none(starts[r])) for r in top]
    keys = data.series.keys
    made = Made()
    blocks = []
    for i, key in enumerate(keys):
        block, csvs = make_chart(
            f"chart-{i}",
            key,
            chosen,
            metrics,
            config.max_points,
            config.lower_is_better(key),
            config.full_series != "never",
        )
        made.files += csvs
        if block is not None:
            blocks.append(block)
    notes = []
    if len(charted) > len(top):
        notes.append(
            f"Charts show the top {len(top)} of {len(charted)} runs by {metric or 'start time'}."
        )
    if gone is not None and gone.any():
        count = text.counted(int(gone.sum()), "archived run")
        notes.append(
            f"{count} not charted: {'its' if gone.sum() == 1 else 'their'} metric histories "
            "are in the archive (the table lists the latest values)."
        )
    note = " ".join(notes)
    rows = table.run_rows(frame, columns) if len(frame) else []
    for row in rows:
        row.archived = row.run_id in archived
    made.files.append(OutFile(f"experiments/{slug}/table.js", table.table_js(columns, rows)))
    context = ExperimentPageContext(
        experiment_id=data.experiment.experiment_id,
        name=data.experiment.name,
        description=text.markdown(data.experiment.description, demote=1),
        columns=columns,
        rows=rows[: table.FIRST_ROWS],
        total_rows=len(rows),
        filter_example=table.filter_example(columns, rows),
        table_js=f"experiments/{slug}/table.js",
        charts=blocks,
        primary_metric=metric,
        chart_note=note,
        compare_path=f"experiments/{slug}/compare.html",
        runs_js=f"experiments/{slug}/runs.js",
        models=model_listings(data, frame),
    )
    explore_views(context, frame, metric)
    context.group_choices = group_choices(frame)
    if blocks and context.group_choices:  # grouping draws every run, from these scripts
        scripts = group_scripts(
            f"experiments/{slug}",
            charted,
            context.group_choices,
            data.series,
            [b.title for b in blocks],
            config.lower_is_better,
            gathered,
        )
        made.files += scripts
        context.group_data = [f.path for f in scripts]
    path = f"experiments/{slug}/index.html"
    info = PageInfo(
        path,
        data.experiment.name,
        [Crumb("Experiments", "index.html"), Crumb(data.experiment.name, None)],
        "experiment",
    )
    made.pages.append(Page("experiment.html", info, context))
    return made


def chart_name(frame: pd.DataFrame, names: dict[str, Any], run_id: str) -> str:
    """Return a run's name in charts and their legend: a child run (a seed replicate, a fold)
    is named with its parent, "candidate-2 / seed-1", so replicates of two configurations
    never read alike."""
    name = str(names[run_id] or run_id)
    if "parent_run_id" not in frame.columns:
        return name
    parent = frame.loc[frame["run_id"] == run_id, "parent_run_id"].iloc[0]
    if isinstance(parent, str) and parent in names:
        return f"{names[parent] or parent} / {name}"
    return name


def model_listings(data: ExperimentData, frame: pd.DataFrame) -> list[ModelListing]:
    """Return the experiment's logged models with the run page that shows each one."""
    names = dict(zip(frame["run_id"], frame["run_name"])) if len(frame) else {}
    out = []
    for model in data.models:
        run_id = model.source_run_id
        crumb = Crumb(str(names.get(run_id) or run_id), run_path(run_id)) if run_id else None
        out.append(ModelListing(model, crumb))
    return out
