"""`search_logged_models`: MLflow's filter and order_by over logged models.

Identifiers: `name`, `model_id`, `model_type`, `status`, `source_run_id`, `experiment_id`,
`creation_timestamp` (or `creation_time`), `last_updated_timestamp`, and `metrics.<key>`,
`params.<key>`, `tags.<key>`. A model's metric is its latest value (highest step, then latest
timestamp), or, when `datasets` are given, its latest value measured on one of them. `order_by`
takes MLflow's dicts: `{"field_name": "metrics.accuracy", "ascending": False}`; models without
the value sort last, then newest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reporter.core.entities import Metric
from reporter.core.errors import InvalidArgumentError
from reporter.core.logged_models import LoggedModel
from reporter.query.filter import Grammar, column_for, matches, parse_filter

LOGGED_MODELS = Grammar(
    {
        "metrics": "metrics",
        "metric": "metrics",
        "params": "params",
        "param": "params",
        "tags": "tags",
        "tag": "tags",
        "attributes": "attributes",
        "attribute": "attributes",
    },
    "metrics, params, tags, attributes (or metric, param, tag, attribute)",
    ("name", "model_id", "model_type", "status", "source_run_id", "experiment_id"),
    ("creation_timestamp", "last_updated_timestamp"),
    {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"},
    {},
    "name, metrics.accuracy, params.alpha, tags.stage or status",
)


def _latest(
    metrics: Sequence[Metric], datasets: Sequence[Mapping[str, Any]] | None
) -> dict[str, float]:
    """Return {key: latest value} of a model's metrics, on the given datasets if any."""
    wanted = [
        (d.get("dataset_name"), d.get("dataset_digest")) for d in (datasets or ()) if d is not None
    ]
    best: dict[str, tuple[int, int, float]] = {}
    for m in metrics:
        if wanted and not any(
            m.dataset_name == name and (digest is None or m.dataset_digest == digest)
            for name, digest in wanted
        ):
            continue
        rank = (m.step, m.timestamp, m.value)
        if m.key not in best or rank > best[m.key]:
            best[m.key] = rank
    return {key: rank[2] for key, rank in best.items()}


def model_row(
    model: LoggedModel, datasets: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Return a model as a filter row: `attributes.name`, `metrics.acc`, ... columns."""
    row: dict[str, Any] = {
        column_for("attributes", "name"): model.name,
        column_for("attributes", "model_id"): model.model_id,
        column_for("attributes", "model_type"): model.model_type,
        column_for("attributes", "status"): model.status.value,
        column_for("attributes", "source_run_id"): model.source_run_id,
        column_for("attributes", "experiment_id"): model.experiment_id,
        column_for("attributes", "creation_timestamp"): model.creation_timestamp,
        column_for("attributes", "last_updated_timestamp"): model.last_updated_timestamp,
    }
    for key, value in _latest(model.metrics, datasets).items():
        row[column_for("metrics", key)] = value
    for key, text in model.params.items():
        row[column_for("params", key)] = text
    for key, text in model.tags.items():
        row[column_for("tags", key)] = text
    return row


def _order_column(clause: Mapping[str, Any]) -> tuple[str, bool]:
    """Return (row column, ascending) of one MLflow order_by dict."""
    if not isinstance(clause, Mapping) or "field_name" not in clause:
        raise InvalidArgumentError(
            f"order_by entries are dicts like {{'field_name': 'metrics.accuracy', "
            f"'ascending': False}}; got {clause!r}"
        )
    field = str(clause["field_name"])
    entity, dot, key = field.partition(".")
    if dot and entity in LOGGED_MODELS.entities:
        column = column_for(LOGGED_MODELS.entities[entity], key)
    else:
        attribute = LOGGED_MODELS.attribute(field)
        if attribute is None:
            valid = ", ".join(LOGGED_MODELS.attributes)
            raise InvalidArgumentError(
                f"Cannot order logged models by {field!r}; use metrics.<key>, params.<key>, "
                f"tags.<key> or one of: {valid}"
            )
        column = column_for("attributes", attribute)
    return column, bool(clause.get("ascending", True))


def search_models(
    models: Sequence[LoggedModel],
    filter_string: str | None = None,
    order_by: Sequence[Mapping[str, Any]] | None = None,
    datasets: Sequence[Mapping[str, Any]] | None = None,
) -> list[LoggedModel]:
    """Return the models matching a filter, ordered (newest first unless `order_by` says)."""
    node = parse_filter(filter_string, LOGGED_MODELS)
    rows = [(m, model_row(m, datasets)) for m in models if not m.deleted]
    if node is not None:
        rows = [(m, row) for m, row in rows if matches(node, row)]
    if datasets:  # MLflow: only models with a metric on one of the datasets
        rows = [(m, row) for m, row in rows if any(k.startswith("metrics.") for k in row)]
    rows.sort(key=lambda item: (-item[0].creation_timestamp, item[0].model_id))
    for column, ascending in reversed([_order_column(c) for c in order_by or ()]):
        present = [item for item in rows if item[1].get(column) is not None]
        absent = [item for item in rows if item[1].get(column) is None]
        present.sort(key=lambda item: _sortable(item[1][column]), reverse=not ascending)
        rows = present + absent
    return [m for m, _ in rows]


def _sortable(value: Any) -> tuple[int, Any]:
    """Return a sort key that orders numbers before text and never compares the two."""
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))
