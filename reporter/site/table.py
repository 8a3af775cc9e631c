"""The runs table: its columns, its cells and rows, and its data file experiments/<slug>/table.js.

The experiment page's HTML carries only the first `FIRST_ROWS` rows, so a page of 10,000 runs
opens as fast as a page of ten. The page script (static/app.js) renders the view the reader
asks for (filter, sort) from this file, a chunk of rows at a time.

A row is `[run_id, parent_run_id or null, depth, cells]`, in the table's default order (newest
first, children right below their parent). A cell is its shown text when its sort key is the
same text, else `[text, sort]`, where the sort key of a numeric column is a number, null, or
"Infinity"/"-Infinity".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from reporter.core import system_tags
from reporter.site.compare import js_json
from reporter.site.contract import Cell, Column, RunRow
from reporter.site.paths import run_path
from reporter.view import text

if TYPE_CHECKING:
    import pandas as pd

FIRST_ROWS = 100


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


def run_cell(frame_row: dict[str, Any], col: Column) -> Cell:
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
                cells=[run_cell(rec, c) for c in columns],
            )
        )
        for child in children.get(rec["run_id"], []):
            add(child, depth + 1)

    for rec in top:
        add(rec, 0)
    return rows


def _js_cell(shown: str, sort: str, numeric: bool) -> object:
    if numeric:
        try:
            key: object = float(sort) if sort else None
        except ValueError:
            key = None
        if isinstance(key, float) and math.isinf(key):
            key = (
                "Infinity" if key > 0 else "-Infinity"
            )  # JSON has no infinity; JS Number() reads these
        return [shown, key]
    return shown if shown == sort else [shown, sort]


def table_js(columns: list[Column], rows: list[RunRow]) -> bytes:
    """Return table.js: every row of the runs table, cells as shown and as sorted."""
    numeric = [c.numeric for c in columns]
    out = [
        [
            row.run_id,
            row.parent,
            row.depth,
            [_js_cell(cell.text, cell.sort, num) for cell, num in zip(row.cells, numeric)],
        ]
        for row in rows
    ]
    return f"window.TRACKER_TABLE = {js_json({'rows': out})};\n".encode()
