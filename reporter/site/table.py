"""The runs table: its columns, its cells and rows, and its data file experiments/<slug>/table.js.

Columns: the run's name (pinned when the table scrolls), the primary metric, the other
metrics, the params, then the attributes that matter less (status, start, duration, user,
commit), then the user tags, hidden until the reader picks them.

Rows: a configuration is a top-level run; its child runs (seed replicates, folds) are folded
under it. A parent that did not log a metric shows the mean of its children's values with
their standard deviation (`0.8123 ± 0.0041`). The default order is the configured `sort`, else
the primary metric, best first; children are ordered the same way under their parent.

The experiment page's HTML carries only the first `FIRST_ROWS` top-level rows, so a page of
10,000 runs opens as fast as a page of ten. The page script (static/app.js) renders the view
the reader asks for (filter, sort, folds) from table.js, a chunk of rows at a time.

A row of table.js is `[run_id, parent_run_id or null, depth, cells]` (and a fifth item, 1, for
an archived run), the top-level rows first in the default order, then each parent's children
in the default order. A cell is its shown text when its sort key is the same text, else
`[text, sort]`, where the sort key of a numeric column is a number, null, or
"Infinity"/"-Infinity"; an aggregated cell adds what it is:
`[text, sort, note]`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from reporter.core import system_tags
from reporter.site.compare import js_json
from reporter.site.contract import Cell, Column, RunRow
from reporter.site.paths import run_path
from reporter.view import numbers, ranking, text
from reporter.view.config import BuildConfig

if TYPE_CHECKING:
    import pandas as pd

FIRST_ROWS = 100
NAME = Column("name", "Run", "attributes", False)
TRAILING = (  # attributes that matter less than the metrics and params
    Column("status", "Status", "attributes", False),
    Column("start", "Start (UTC)", "attributes", False),
    Column("duration", "Duration", "attributes", True),
    Column("user", "User", "attributes", False),
    Column("commit", "Commit", "attributes", False),
)


def table_columns(
    frame: pd.DataFrame, metric: str | None = None, config: BuildConfig | None = None
) -> list[Column]:
    """Return the runs table's columns: the name, the primary metric and the other metrics,
    every param, the attributes, and the user tags (hidden); the default order marked."""
    config = config or BuildConfig()
    metrics = sorted(c for c in frame.columns if c.startswith("metrics."))
    if metric and f"metrics.{metric}" in metrics:
        metrics.remove(f"metrics.{metric}")
        metrics.insert(0, f"metrics.{metric}")
    params = sorted(c for c in frame.columns if c.startswith("params."))
    tags = sorted(
        c
        for c in frame.columns
        if c.startswith("tags.") and not system_tags.is_system_tag(c[len("tags.") :])
    )
    cols = [NAME]
    for c in metrics:
        better = "min" if config.lower_is_better(c.split(".", 1)[1]) else "max"
        cols.append(Column(c, c.split(".", 1)[1], "metrics", True, better=better))
    cols += [Column(c, c.split(".", 1)[1], "params", _all_numbers(frame[c])) for c in params]
    cols += TRAILING
    cols += [Column(c, c.split(".", 1)[1], "tags", False, hidden=True) for c in tags]
    key, ascending = default_sort([c.key for c in cols], metric, config)
    direction = "ascending" if ascending else "descending"
    return [_with(c, sort=direction) if c.key == key else c for c in cols]


def _with(col: Column, **changes: Any) -> Column:
    """Return a copy of a column with some fields changed."""
    import dataclasses

    return dataclasses.replace(col, **changes)


def default_sort(keys: list[str], metric: str | None, config: BuildConfig) -> tuple[str, bool]:
    """Return the column key and direction (ascending?) of the table's default order: the
    `sort` setting when the table has its column, else the primary metric best first, else
    the newest first."""
    configured = config.table_sort()
    if configured and configured[0] in keys:
        key, ascending = configured
    elif metric and f"metrics.{metric}" in keys:
        key, ascending = f"metrics.{metric}", None
    else:
        key, ascending = "start", False
    if ascending is None:
        is_metric = key.startswith("metrics.")
        ascending = config.lower_is_better(key.split(".", 1)[1]) if is_metric else True
    return key, ascending


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


def run_cell(frame_row: dict[str, Any], col: Column, decimals: int | None = None) -> Cell:
    """Build one cell of the runs table (a metric with `decimals` decimals; None: as many as
    the value needs)."""
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
        if value is None or value != value:
            return Cell("", "")
        shown = numbers.human(value) if decimals is None else numbers.fixed(value, decimals)
        return Cell(shown, _sortable_number(value))
    shown = "" if value is None or value != value else str(value)
    return Cell(shown, shown)


def aggregate_cell(value: ranking.Value, decimals: int) -> Cell:
    """Build a parent's cell from its children's values: mean ± standard deviation."""
    shown = numbers.fixed(value.value, decimals)
    if value.spread is not None:
        shown += f" ± {numbers.fixed(value.spread, decimals)}"
    runs = f"{value.runs} child run{'s' if value.runs != 1 else ''}"
    note = f"mean ± standard deviation of {runs}" if value.spread is not None else f"{runs}"
    return Cell(shown, _sortable_number(value.value), note=note)


def run_rows(frame: pd.DataFrame, columns: list[Column]) -> list[RunRow]:
    """Return the table's rows: the top-level runs in the default order (marked on the
    columns), then each parent's children in the same order; a parent without a value of a
    metric shows its children's mean."""
    if frame.empty:
        return []
    records = frame.sort_values("start_time", ascending=False, kind="stable").to_dict("records")
    tops = set(ranking.top_level(frame))
    kids: dict[str, list[str]] = {}  # newest first
    for rec in records:
        if rec["run_id"] not in tops:
            kids.setdefault(rec["parent_run_id"], []).append(rec["run_id"])
    aggregates: dict[str, dict[str, ranking.Value]] = {}
    decimals: dict[str, int] = {}
    for col in columns:
        if col.group == "metrics":
            decimals[col.key] = numbers.column_decimals(frame[col.key])
            own = dict(zip(frame["run_id"], frame[col.key], strict=True))
            values = ranking.run_values(own, kids, list(kids))
            aggregates[col.key] = {r: v for r, v in values.items() if v.aggregated}
    rows = {}
    for rec in records:
        cells = []
        for col in columns:
            agg = aggregates.get(col.key, {}).get(rec["run_id"])
            if agg is not None:
                cells.append(aggregate_cell(agg, decimals[col.key]))
            else:
                cells.append(run_cell(rec, col, decimals.get(col.key)))
        parent = rec.get("parent_run_id")
        rows[rec["run_id"]] = RunRow(
            run_id=rec["run_id"],
            name=str(rec["run_name"] or rec["run_id"]),
            path=run_path(rec["run_id"]),
            status=rec["status"],
            depth=0,
            parent=parent if isinstance(parent, str) else None,
            cells=cells,
            children=len(kids.get(rec["run_id"], [])),
        )
    order = _ordered(rows, [r["run_id"] for r in records if r["run_id"] in tops], columns)
    shown = set(order)
    queue = deque(order)
    while queue:  # then each parent's children, parents in the order they are listed
        parent = queue.popleft()
        under = _ordered(rows, [k for k in kids.get(parent, []) if k not in shown], columns)
        for k in under:
            rows[k].depth = rows[parent].depth + 1
        shown.update(under)
        queue.extend(under)
        order += under
    for rec in records:  # runs in a parent cycle (never logged so, but): top level
        if rec["run_id"] not in shown:
            rows[rec["run_id"]].parent = None
            order.append(rec["run_id"])
    out = [rows[r] for r in order]
    mark_best(out, columns)
    return out


def _ordered(rows: dict[str, RunRow], ids: list[str], columns: list[Column]) -> list[str]:
    """Return ids (newest first) in the table's default order: values present first, in the
    column's direction, ties newest first; missing values last (as static/app.js sorts)."""
    at = next((i for i, c in enumerate(columns) if c.sort), None)
    if at is None:
        return ids
    col = columns[at]
    keys = {r: sort_key(rows[r].cells[at], col.numeric) for r in ids}
    present = [r for r in ids if keys[r] is not None]
    present.sort(key=lambda r: cast(Any, keys[r]), reverse=col.sort == "descending")
    return present + [r for r in ids if keys[r] is None]


def sort_key(cell: Cell, numeric: bool) -> float | str | None:
    """Return a cell's sort key as the page script reads it: a number or lower-case text,
    None when missing."""
    if cell.sort == "":
        return None
    if numeric:
        try:
            number = float(cell.sort)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return cell.sort.lower()


def mark_best(rows: Iterable[RunRow], columns: list[Column]) -> None:
    """Mark the best value of each metric column among the top-level rows (every tie)."""
    tops = [r for r in rows if r.depth == 0]
    for at, col in enumerate(columns):
        if not col.better:
            continue
        keys = [sort_key(r.cells[at], True) for r in tops]
        finite = [k for k in keys if isinstance(k, float) and math.isfinite(k)]
        if not finite:
            continue
        best = min(finite) if col.better == "min" else max(finite)
        for row, key in zip(tops, keys, strict=True):
            if key == best:
                row.cells[at].best = True


def filter_example(columns: list[Column], rows: list[RunRow]) -> str:
    """Return a filter made of the table's own primary metric and a param its runs logged,
    that some of the rows match: `metrics.f1 > 0.93 and params.penalty = 'l2'`."""
    parts = []
    matching = rows
    for at, col in enumerate(columns):
        if col.group == "metrics" and _plain_key(col.label):
            logged = {  # the runs' own values, as search_runs sees them
                r.run_id: k
                for r in rows
                if not r.cells[at].note
                and isinstance(k := sort_key(r.cells[at], True), float)
                and math.isfinite(k)
            }
            if logged:
                values = sorted(logged.values())
                median = _two_digits(values[len(values) // 2])
                op = "<" if col.better == "min" else ">"
                bound = float(median)
                matching = [
                    r
                    for r in rows
                    if r.run_id in logged
                    and (logged[r.run_id] < bound if op == "<" else logged[r.run_id] > bound)
                ] or [r for r in rows if r.run_id in logged]
                parts.append(f"metrics.{_plain_key(col.label)} {op} {median}")
            break
    choices = []  # a param that tells runs apart: text first, few values, a short key
    for at, col in enumerate(columns):
        if col.group == "params" and _plain_key(col.label):
            every = {r.cells[at].text for r in rows if r.cells[at].text}
            common = [
                v
                for v, _ in Counter(r.cells[at].text for r in matching).most_common()
                if re.fullmatch(r"[\w.\-+ ]{1,24}", v)
            ]
            if common:
                rank = (col.numeric, not 1 < len(every) <= 12, len(col.label))
                choices.append((rank, f"params.{_plain_key(col.label)} = '{common[0]}'"))
    if choices:
        parts.append(min(choices)[1])
    return " and ".join(parts) or "status = 'FINISHED'"


def _plain_key(key: str) -> str:
    """Return a metric or param key as the filter grammar takes it ('' when it cannot)."""
    if re.fullmatch(r"[\w.\-/]+", key):
        return key
    return f"`{key}`" if "`" not in key and key.isprintable() else ""


def _two_digits(value: float) -> str:
    """Return a number rounded to 2 significant digits, written without exponent or
    separators (the filter grammar reads it): 0.0012, 0.93, 1200."""
    if value == 0:
        return "0"
    rounded = float(f"{value:.2g}")
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return f"{rounded:.{max(0, 1 - math.floor(math.log10(abs(rounded))))}f}"


def _js_cell(cell: Cell, numeric: bool) -> object:
    shown, sort = cell.text, cell.sort
    if numeric:
        try:
            key: object = float(sort) if sort else None
        except ValueError:
            key = None
        if isinstance(key, float) and math.isinf(key):
            key = (
                "Infinity" if key > 0 else "-Infinity"
            )  # JSON has no infinity; JS Number() reads these
        return [shown, key, cell.note] if cell.note else [shown, key]
    if cell.note:
        return [shown, sort, cell.note]
    return shown if shown == sort else [shown, sort]


def table_js(columns: list[Column], rows: list[RunRow]) -> bytes:
    """Return table.js: every row of the runs table, cells as shown and as sorted."""
    numeric = [c.numeric for c in columns]
    out = [
        [
            row.run_id,
            row.parent,
            row.depth,
            [_js_cell(cell, num) for cell, num in zip(row.cells, numeric)],
            *([1] if row.archived else []),
        ]
        for row in rows
    ]
    return f"window.TRACKER_TABLE = {js_json({'rows': out})};\n".encode()
