"""The experiment page's explore views: a scatter of any param or metric against another and
parallel coordinates of the params against the primary metric."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reporter.site import explore_charts
from reporter.site.contract import ExperimentPageContext, json_block

if TYPE_CHECKING:
    import pandas as pd


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
    context.scatter_spec = json_block(explore_charts.scatter_spec())
    if len(axes) >= 2:
        spec = explore_charts.parallel_spec(
            [(str(c["id"]), str(c["key"])) for c in axes], str(primary["id"]) if primary else None
        )
        context.parallel_spec = json_block(spec)
