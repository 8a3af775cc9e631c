"""`search_runs`: run entities -> MLflow-shaped frame -> filter, order, limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reporter.core import entities
from reporter.core.datasets import RunInputs
from reporter.core.entities import LifecycleStage, Run, ViewType
from reporter.core.errors import InvalidArgumentError, InvalidFilterError
from reporter.query import filter as run_filter

if TYPE_CHECKING:
    import pandas as pd

RUN_COLUMNS = entities.RUN_COLUMNS


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Return one row per run: attributes, then metrics.*, params.*, tags.* (times in ms)."""
    import pandas as pd

    records: list[dict[str, Any]] = []
    for run in runs:
        info = run.info
        row: dict[str, Any] = {name: getattr(info, name) for name in RUN_COLUMNS}
        row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
        records.append(row)
    frame = pd.DataFrame.from_records(records, columns=None if records else list(RUN_COLUMNS))
    metric_cols = sorted(c for c in frame.columns if c.startswith("metrics."))
    param_cols = sorted(c for c in frame.columns if c.startswith("params."))
    tag_cols = sorted(c for c in frame.columns if c.startswith("tags."))
    frame = frame[list(RUN_COLUMNS) + metric_cols + param_cols + tag_cols]
    for col in metric_cols:
        frame[col] = frame[col].astype("float64")
    for col in ("start_time", "end_time"):
        frame[col] = frame[col].astype("Int64").astype("float64")
    return frame


def view_mask(frame: pd.DataFrame, run_view_type: int) -> pd.Series:
    """Return the rows a ViewType keeps."""
    deleted = frame["lifecycle_stage"] == LifecycleStage.DELETED
    if run_view_type == ViewType.ACTIVE_ONLY:
        return ~deleted
    if run_view_type == ViewType.DELETED_ONLY:
        return deleted
    if run_view_type == ViewType.ALL:
        return deleted | ~deleted
    raise InvalidArgumentError(
        f"run_view_type must be ViewType.ACTIVE_ONLY (1), DELETED_ONLY (2) or ALL (3), "
        f"got {run_view_type!r}"
    )


def search_frame(
    frame: pd.DataFrame,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    inputs: Mapping[str, RunInputs] | None = None,
) -> pd.DataFrame:
    """Filter, order and limit a runs frame; a filter on `datasets.*` needs the runs'
    `inputs` ({run id: RunInputs}, absent runs used none)."""
    if max_results is not None and (not isinstance(max_results, int) or max_results < 0):
        raise InvalidArgumentError(f"max_results must be a non-negative int, got {max_results!r}")
    node = run_filter.parse_filter(filter_string)
    clauses = list(order_by) if order_by else None
    run_filter.parse_order_by(clauses)  # fail on a bad order_by before any work
    frame = frame[view_mask(frame, run_view_type)]
    if node is not None and "datasets" in run_filter.entities_of(node):
        if inputs is None:
            raise InvalidFilterError(
                f"Cannot filter on datasets here ({filter_string!r}): only search_runs (and "
                "Client.search_runs) reads the datasets runs used",
                text=filter_string or "",
            )
        frame = with_datasets(frame, inputs)
    if node is not None:
        frame = frame[run_filter.evaluate(node, frame)]
    frame = run_filter.sort_frame(frame, clauses)
    if max_results is not None:
        frame = frame.head(max_results)
    frame = frame.drop(columns=[c for c in DATASET_COLUMNS if c in frame.columns])
    return frame.reset_index(drop=True)


def needs_inputs(filter_string: str | None) -> bool:
    """Return True if a filter compares datasets (so the runs' inputs must be read)."""
    return "datasets" in run_filter.entities_of(run_filter.parse_filter(filter_string))


DATASET_COLUMNS = tuple(f"datasets.{key}" for key in run_filter.DATASET_KEYS)


def with_datasets(frame: pd.DataFrame, inputs: Mapping[str, RunInputs]) -> pd.DataFrame:
    """Return the frame with `datasets.name`, `.digest` and `.context` columns: per run, a
    tuple of its datasets' values (contexts only of datasets that have one)."""
    empty = RunInputs()
    used = [inputs.get(run_id, empty).dataset_inputs for run_id in frame["run_id"]]
    frame = frame.copy()
    frame["datasets.name"] = [tuple(d.dataset.name for d in items) for items in used]
    frame["datasets.digest"] = [tuple(d.dataset.digest for d in items) for items in used]
    frame["datasets.context"] = [
        tuple(d.context for d in items if d.context is not None) for items in used
    ]
    return frame


def to_mlflow_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert times to UTC datetimes, as MLflow's `search_runs` returns them."""
    import pandas as pd

    frame = frame.copy()
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    return frame
