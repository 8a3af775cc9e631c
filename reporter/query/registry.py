"""`search_registered_models` and `search_model_versions`: MLflow's filters, order and pages.

Registered models: `name` (`=`, `!=`, `LIKE`, `ILIKE`) and `tags.<key>`; ordered by `name`
(the default), `creation_timestamp` or `last_updated_timestamp` (`timestamp`), `ASC`/`DESC`.
Model versions: `name`, `run_id` (also `IN (...)`), `source_path`, `version_number` (a number),
`tags.<key>`; by default newest change first, then name, then highest version. A page token
is where the next page starts; `PagedList.token` is None on the last page.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from reporter.core.errors import InvalidArgumentError
from reporter.core.model_registry import ModelVersion, RegisteredModel
from reporter.query.filter import (
    NEGATED_OPS,
    And,
    Grammar,
    Node,
    Or,
    column_for,
    matches,
    parse_filter,
)

T = TypeVar("T")

MODELS = Grammar(
    {"tags": "tags", "tag": "tags", "attributes": "attributes", "attribute": "attributes"},
    "tags, attributes (or tag, attribute)",
    ("name",),
    ("creation_timestamp", "last_updated_timestamp"),
    {"timestamp": "last_updated_timestamp"},
    {},
    "name, tags.team",
)
VERSIONS = Grammar(
    {"tags": "tags", "tag": "tags", "attributes": "attributes", "attribute": "attributes"},
    "tags, attributes (or tag, attribute)",
    ("name", "run_id", "source_path", "model_id"),
    ("version_number", "creation_timestamp", "last_updated_timestamp"),
    {"timestamp": "last_updated_timestamp"},
    {},
    "name, run_id, version_number, tags.validated",
)
MODELS_LIMIT = 1000  # MLflow's SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD
VERSIONS_LIMIT = 200_000  # MLflow's SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD
MODEL_ORDER = {"name", "creation_timestamp", "last_updated_timestamp", "timestamp"}
VERSION_ORDER = MODEL_ORDER | {"version_number"}


class PagedList(list[T]):
    """A page of results (a list) and the token of the next page (None: the last)."""

    def __init__(self, items: Sequence[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def model_row(model: RegisteredModel) -> dict[str, Any]:
    row: dict[str, Any] = {
        column_for("attributes", "name"): model.name,
        column_for("attributes", "creation_timestamp"): model.creation_timestamp,
        column_for("attributes", "last_updated_timestamp"): model.last_updated_timestamp,
    }
    row.update({column_for("tags", k): v for k, v in model.tags.items()})
    return row


# a version's attribute columns, worked out once (a search builds a row of every version)
_VERSION_COLUMNS = tuple(
    (column_for("attributes", key), field)
    for key, field in (
        ("name", "name"),
        ("run_id", "run_id"),
        ("source_path", "source"),
        ("model_id", "model_id"),
        ("version_number", "version"),
        ("creation_timestamp", "creation_timestamp"),
        ("last_updated_timestamp", "last_updated_timestamp"),
    )
)


def version_row(version: ModelVersion) -> dict[str, Any]:
    row: dict[str, Any] = {column: getattr(version, field) for column, field in _VERSION_COLUMNS}
    row.update({f"tags.{k}": v for k, v in version.tags.items()})
    return row


def _order(
    clauses: Sequence[str] | None,
    allowed: set[str],
    default: Sequence[str],
    tiebreak: Sequence[str],
) -> list[tuple[str, bool]]:
    given = list(clauses or ())
    out: list[tuple[str, bool]] = []
    chosen = [(c, True) for c in given] or [(c, False) for c in default]
    for clause, from_user in chosen + [(c, False) for c in tiebreak]:
        if not isinstance(clause, str) or not clause.split():
            raise InvalidArgumentError(f"Invalid order_by clause {clause!r}")
        words = clause.split()
        field = words[0].removeprefix("attributes.").removeprefix("attribute.")
        direction = words[1].upper() if len(words) > 1 else "ASC"
        if field not in allowed or len(words) > 2 or direction not in ("ASC", "DESC"):
            raise InvalidArgumentError(
                f"Invalid order_by clause '{clause}'. Only "
                f"{', '.join(sorted(allowed))} with ASC or DESC are allowed."
            )
        field = "last_updated_timestamp" if field == "timestamp" else field
        if any(field == seen for seen, _ in out):
            if from_user:
                raise InvalidArgumentError(f"`order_by` contains duplicate fields: {given}")
            continue
        out.append((field, direction == "ASC"))
    return out


def _matches(node: Node, row: dict[str, Any]) -> bool:
    """MLflow's registry semantics: a negated comparison on a tag the model does not have
    holds (`tags.x != 'true'` keeps untagged models: MLflow's client sends
    `tag.mlflow.prompt.is_prompt != 'true'` with every search); the rest as `matches`."""
    if isinstance(node, And):
        return all(_matches(child, row) for child in node.children)
    if isinstance(node, Or):
        return any(_matches(child, row) for child in node.children)
    if node.entity == "tags" and node.op in NEGATED_OPS and row.get(node.column) is None:
        return True
    return matches(node, row)


def _page(items: list[T], max_results: int, page_token: str | None, limit: int) -> PagedList[T]:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0:
        raise InvalidArgumentError(
            f"Invalid value for max_results: it must be a non-negative integer, got {max_results!r}"
        )
    if max_results > limit:
        raise InvalidArgumentError(
            "Invalid value for request parameter max_results. It must be at most "
            f"{limit}, but got value {max_results}"
        )
    start = 0
    if page_token:
        try:
            start = int(json.loads(base64.b64decode(page_token))["offset"])
            if start < 0:
                raise ValueError(start)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"Invalid page token {page_token!r}: {exc}") from None
    end = start + max_results
    token = None
    if max_results and end < len(items):
        token = base64.b64encode(json.dumps({"offset": end}).encode()).decode()
    return PagedList(items[start:end], token)


def _search(
    items: Sequence[T],
    row_of: Callable[[T], dict[str, Any]],
    grammar: Grammar,
    filter_string: str | None,
    order: list[tuple[str, bool]],
    max_results: int,
    page_token: str | None,
    limit: int,
) -> PagedList[T]:
    node = parse_filter(filter_string, grammar)
    rows = [(item, row_of(item)) for item in items]
    if node is not None:
        rows = [(item, row) for item, row in rows if _matches(node, row)]
    for column, ascending in reversed(order):  # stable sorts: the first clause decides last
        present = [p for p in rows if p[1].get(column) is not None]
        absent = [p for p in rows if p[1].get(column) is None]  # last either way, as SQL's
        present.sort(key=lambda pair: pair[1][column], reverse=not ascending)
        rows = present + absent
    return _page([item for item, _ in rows], max_results, page_token, limit)


def search_models(
    models: Sequence[RegisteredModel],
    filter_string: str | None = None,
    max_results: int = 100,
    order_by: Sequence[str] | None = None,
    page_token: str | None = None,
) -> PagedList[RegisteredModel]:
    order = _order(order_by, MODEL_ORDER, ["name ASC"], ["name ASC"])
    return _search(
        models, model_row, MODELS, filter_string, order, max_results, page_token, MODELS_LIMIT
    )


def search_versions(
    versions: Sequence[ModelVersion],
    filter_string: str | None = None,
    max_results: int = 10_000,
    order_by: Sequence[str] | None = None,
    page_token: str | None = None,
) -> PagedList[ModelVersion]:
    order = _order(
        order_by,
        VERSION_ORDER,
        ["last_updated_timestamp DESC"],
        ["name ASC", "version_number DESC"],
    )
    return _search(
        versions,
        version_row,
        VERSIONS,
        filter_string,
        order,
        max_results,
        page_token,
        VERSIONS_LIMIT,
    )
