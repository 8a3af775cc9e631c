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
from reporter.query.filter import Grammar, column_for, matches, parse_filter

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


def version_row(version: ModelVersion) -> dict[str, Any]:
    row: dict[str, Any] = {
        column_for("attributes", "name"): version.name,
        column_for("attributes", "run_id"): version.run_id,
        column_for("attributes", "source_path"): version.source,
        column_for("attributes", "model_id"): version.model_id,
        column_for("attributes", "version_number"): version.version,
        column_for("attributes", "creation_timestamp"): version.creation_timestamp,
        column_for("attributes", "last_updated_timestamp"): version.last_updated_timestamp,
    }
    row.update({column_for("tags", k): v for k, v in version.tags.items()})
    return row


def _order(
    clauses: Sequence[str] | None, allowed: set[str], default: Sequence[str]
) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for clause in list(clauses or ()) + list(default):
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
        if all(field != seen for seen, _ in out):
            out.append((field, direction == "ASC"))
    return out


def _page(items: list[T], max_results: int, page_token: str | None) -> PagedList[T]:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidArgumentError(
            f"Invalid value for max_results: it must be a positive integer, got {max_results!r}"
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
    if end < len(items):
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
) -> PagedList[T]:
    node = parse_filter(filter_string, grammar)
    rows = [(item, row_of(item)) for item in items]
    if node is not None:
        rows = [(item, row) for item, row in rows if matches(node, row)]
    for column, ascending in reversed(order):  # stable sorts: the first clause decides last
        present = [p for p in rows if p[1].get(column) is not None]
        absent = [p for p in rows if p[1].get(column) is None]  # last either way, as SQL's
        present.sort(key=lambda pair: pair[1][column], reverse=not ascending)
        rows = present + absent
    return _page([item for item, _ in rows], max_results, page_token)


def search_models(
    models: Sequence[RegisteredModel],
    filter_string: str | None = None,
    max_results: int = 100,
    order_by: Sequence[str] | None = None,
    page_token: str | None = None,
) -> PagedList[RegisteredModel]:
    order = _order(order_by, MODEL_ORDER, ["name ASC"])
    return _search(models, model_row, MODELS, filter_string, order, max_results, page_token)


def search_versions(
    versions: Sequence[ModelVersion],
    filter_string: str | None = None,
    max_results: int = 10_000,
    order_by: Sequence[str] | None = None,
    page_token: str | None = None,
) -> PagedList[ModelVersion]:
    default = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
    order = _order(order_by, VERSION_ORDER, default)
    return _search(versions, version_row, VERSIONS, filter_string, order, max_results, page_token)
