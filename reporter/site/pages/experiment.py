"""An experiment's page: the runs table, its charts and the explore views."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reporter.core import system_tags
from reporter.site import charts
from reporter.site.contract import (
    Cell,
    Column,
    Crumb,
    ExperimentPageContext,
    OutFile,
    Page,
    PageInfo,
    RunRow,
    json_block,
)
from reporter.site.paths import run_path
from reporter.site.series import index_metrics, int_or_none, make_chart
from reporter.view import text
from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData
from reporter.view.ranking import primary_metric, ranked_runs

if TYPE_CHECKING:
    import pandas as pd


def table_columns(frame: pd.DataFrame) -> list[Column]:
    """Return the runs table's columns: attributes, every param, every metric."""
    cols = [
        Column("name", "Run", "attributes", False),
        Column("status", "Status", "attributes", False),
        Column("start", "Start (UTC)", "attributes", False),
        Column("duration", "Duration", "attributes", True),
        Column("user", "User", "attributes", False),
        Column("commit", "Commit", "attributes", False),
    ]
    params = sorted(c for c in frame.columns if c.startswith("params."))
    metrics = sorted(c for c in frame.columns if c.startswith("metrics."))
    cols += [Column(c, c.split(".", 1)[1], "params", _all_numbers(frame[c])) for c in params]
    cols += [Column(c, c.split(".", 1)[1], "metrics", True) for c in metrics]
    return cols


def _all_numbers(column: pd.Series) -> bool:
    """Return True if every logged value of a param column reads as a number (sort as such)."""
    import pandas as pd

    values = column.dropna()
    return bool(len(values)) and bool(pd.to_numeric(values, errors="coerce").notna().all())


def _sortable_number(value: Any) -> str:
    """Return a sort key string for a number ('' for missing)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if number != number else repr(number)


def _cell(frame_row: dict[str, Any], col: Column) -> Cell:
    """Build one cell of the runs table."""
    if col.key == "name":
        return Cell(
            str(frame_row["run_name"] or frame_row["run_id"]),
            str(frame_row["run_name"]),
            run_path(frame_row["run_id"]),
        )
    if col.key == "status":
        return Cell(frame_row["status"], frame_row["status"])
    if col.key == "start":
        return Cell(
            text.fmt_time(frame_row["start_time"]), _sortable_number(frame_row["start_time"])
        )
    if col.key == "duration":
        start, end = frame_row["start_time"], frame_row["end_time"]
        seconds = (end - start) / 1000 if end == end and start == start else None
        return Cell(text.fmt_duration(start, end), _sortable_number(seconds))
    if col.key == "user":
        return Cell(str(frame_row["user_id"] or ""), str(frame_row["user_id"] or ""))
    if col.key == "commit":
        commit = frame_row.get(f"tags.{system_tags.TAG_GIT_COMMIT}") or ""
        return Cell(str(commit)[:7], str(commit))
    value = frame_row.get(col.key)
    if col.group == "params":  # shown as logged; numbers sort as numbers
        shown = "" if value is None or value != value else str(value)
        return Cell(shown, _sortable_number(shown) if col.numeric else shown)
    if col.numeric:
        return Cell(text.fmt_number(value) if value == value else "", _sortable_number(value))
    shown = "" if value is None or value != value else str(value)
    return Cell(shown, shown)


def run_rows(frame: pd.DataFrame, columns: list[Column]) -> list[RunRow]:
    """Return table rows, newest first, each child run right below its parent."""
    records = frame.sort_values("start_time", ascending=False, kind="stable").to_dict("records")
    ids = {r["run_id"] for r in records}
    children: dict[str, list[dict[str, Any]]] = {}
    top = []
    for rec in records:
        parent = rec.get("parent_run_id")
        if isinstance(parent, str) and parent in ids:
            children.setdefault(parent, []).append(rec)
        else:
            top.append(rec)
    rows: list[RunRow] = []

    def add(rec: dict[str, Any], depth: int) -> None:
        parent = rec.get("parent_run_id")
        rows.append(
            RunRow(
                run_id=rec["run_id"],
                name=str(rec["run_name"] or rec["run_id"]),
                path=run_path(rec["run_id"]),
                status=rec["status"],
                depth=depth,
                parent=parent if isinstance(parent, str) else None,
                cells=[_cell(rec, c) for c in columns],
            )
        )
        for child in children.get(rec["run_id"], []):
            add(child, depth + 1)

    for rec in top:
        add(rec, 0)
    return rows


def experiment_page(
    data: ExperimentData, slug: str, config: BuildConfig, files: list[OutFile]
) -> Page:
    """Build an experiment's page: runs table and one overlay chart per metric."""
    frame = data.runs
    metric = primary_metric(data, config)
    columns = table_columns(frame)
    metrics = index_metrics(data)
    top = ranked_runs(frame, metric, config)[: config.top_runs]
    names = dict(zip(frame["run_id"], frame["run_name"], strict=True)) if len(frame) else {}
    starts = dict(zip(frame["run_id"], frame["start_time"], strict=True)) if len(frame) else {}
    chosen = [(r, str(names[r]), int_or_none(starts[r])) for r in top]
    keys = sorted({k for _, k in metrics.slices})
    blocks = []
    for i, key in enumerate(keys):
        block = make_chart(f"chart-{i}", key, chosen, metrics, config.max_points, files)
        if block is not None:
            blocks.append(block)
    note = ""
    if len(frame) > len(top):
        note = f"Charts show the top {len(top)} of {len(frame)} runs by {metric or 'start time'}."
    from reporter.site import table

    rows = run_rows(frame, columns) if len(frame) else []
    files.append(OutFile(f"experiments/{slug}/table.js", table.table_js(columns, rows)))
    context = ExperimentPageContext(
        experiment_id=data.experiment.experiment_id,
        name=data.experiment.name,
        description=text.markdown(data.experiment.description, demote=1),
        columns=columns,
        rows=rows[: table.FIRST_ROWS],
        total_rows=len(rows),
        table_js=f"experiments/{slug}/table.js",
        charts=blocks,
        primary_metric=metric,
        chart_note=note,
        compare_path=f"experiments/{slug}/compare.html",
        runs_js=f"experiments/{slug}/runs.js",
    )
    explore_views(context, frame, metric)
    context.group_choices = [
        (c.split(".", 1)[0], c.split(".", 1)[1])
        for c in sorted(frame.columns)
        if c.startswith("params.")
        or (c.startswith("tags.") and not c.startswith(f"tags.{system_tags.SYSTEM_TAG_PREFIX}"))
    ]
    path = f"experiments/{slug}/index.html"
    info = PageInfo(
        path,
        data.experiment.name,
        [Crumb("Experiments", "index.html"), Crumb(data.experiment.name, None)],
        "experiment",
    )
    return Page("experiment.html", info, context)


def _numeric(column: pd.Series) -> bool:
    """Return True if some value of a column reads as a number (the numeric views skip the
    rest); a param column with none is text (categories on the scatter)."""
    import pandas as pd

    return bool(pd.to_numeric(column.dropna(), errors="coerce").notna().any())


def explore_views(context: ExperimentPageContext, frame: pd.DataFrame, metric: str | None) -> None:
    """Describe the scatter (any param or metric) and parallel coordinates (numeric params
    against the primary metric) of an experiment page."""
    if frame.empty:
        return
    choices = [
        {
            "id": f"f{i}",
            "kind": col.split(".", 1)[0],
            "key": col.split(".", 1)[1],
            "label": f"{col.split('.', 1)[1]} ({col.split('.', 1)[0]})",
            "numeric": _numeric(frame[col]),
        }
        for i, col in enumerate(
            sorted(c for c in frame.columns if c.startswith(("params.", "metrics.")))
        )
    ]
    numeric = [c for c in choices if c["numeric"]]
    if not numeric:
        return
    # text params are categories on the scatter; metrics are always numbers
    choices = [c for c in choices if c["numeric"] or c["kind"] == "params"]
    primary = next((c for c in numeric if c["kind"] == "metrics" and c["key"] == metric), None)
    axes = [c for c in numeric if c["kind"] == "params"][:12]
    if primary is not None:
        axes.append(primary)
    context.explore = json_block(
        {
            "choices": choices,
            "parallel": [c["id"] for c in axes],
            "color": primary["id"] if primary else None,
        }
    )
    context.scatter_spec = json_block(charts.scatter_spec())
    if len(axes) >= 2:
        spec = charts.parallel_spec(
            [(str(c["id"]), str(c["key"])) for c in axes], str(primary["id"]) if primary else None
        )
        context.parallel_spec = json_block(spec)
