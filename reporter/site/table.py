"""The runs table's data file: experiments/<slug>/table.js.

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
from typing import TYPE_CHECKING

from reporter.site.compare import js_json

if TYPE_CHECKING:
    from reporter.site.contract import Column, RunRow

FIRST_ROWS = 100


def _cell(text: str, sort: str, numeric: bool) -> object:
    if numeric:
        try:
            key: object = float(sort) if sort else None
        except ValueError:
            key = None
        if isinstance(key, float) and math.isinf(key):
            key = (
                "Infinity" if key > 0 else "-Infinity"
            )  # JSON has no infinity; JS Number() reads these
        return [text, key]
    return text if text == sort else [text, sort]


def table_js(columns: list[Column], rows: list[RunRow]) -> bytes:
    """Return table.js: every row of the runs table, cells as shown and as sorted."""
    numeric = [c.numeric for c in columns]
    out = [
        [
            row.run_id,
            row.parent,
            row.depth,
            [_cell(cell.text, cell.sort, num) for cell, num in zip(row.cells, numeric)],
        ]
        for row in rows
    ]
    return f"window.TRACKER_TABLE = {js_json({'rows': out})};\n".encode()
