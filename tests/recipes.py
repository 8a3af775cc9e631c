"""The plain-Parquet recipes of docs/store-format.md, taken from the page itself and run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

DOC = Path(__file__).resolve().parents[1] / "docs" / "store-format.md"
SECTION = "## Reading a store without tracker-report"


def _blocks(language: str) -> list[str]:
    text = DOC.read_text()
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def pandas_recipe(store: str) -> dict[str, Any]:
    """Run the page's pandas recipe on `store`; return its variables (events, metrics, params)."""
    (code,) = _blocks("python")
    scope: dict[str, Any] = {}
    exec(code.replace("tracker-store", store), scope)  # the documented recipe, as written
    return scope


def duckdb_recipe(store: str) -> list[tuple[Any, ...]]:
    """Run the page's DuckDB query on `store`: (run_id, key, latest, points) rows."""
    (sql,) = _blocks("sql")
    relation = duckdb.sql(sql.replace("tracker-store", store))
    assert relation is not None  # a SELECT always yields a relation
    return relation.fetchall()


def plain_metric_rows(store: str) -> int:
    """Metric rows in every .parquet file, without the exactly-once rule."""
    files = list(Path(store).glob("runs/*/_*/*.parquet"))
    events = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return int((events["kind"] == "metric").sum())
