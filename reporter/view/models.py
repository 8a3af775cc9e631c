"""The logged models of an experiment as a site may publish them.

Each model's record (name, status, source run, params, tags, metrics) and what its `MLmodel`
says (flavors, estimator class, signature, input example), with the same rules as runs: tags
the profile excludes are left out, system tags are not shown, params, tags and example cells
are masked where they look like secrets. Deleted models and models of runs the site does not
show are left out. A model whose `MLmodel` cannot be read is shown without it, with a warning.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from reporter.core import secrets, system_tags
from reporter.core.errors import ReporterError
from reporter.core.logged_models import LoggedModel
from reporter.store.protocol import AbstractStore
from reporter.view import numbers, publish, text
from reporter.view.config import BuildConfig

EXAMPLE_ROWS = 5  # rows of an input example shown
EXAMPLE_COLUMNS = 12
CELL_CHARS = 40


@dataclass
class ModelSummary:
    """One logged model, ready for a page."""

    model_id: str
    name: str
    status: str
    source_run_id: str | None
    created: str
    model_type: str | None
    uri: str
    flavors: list[str] = field(default_factory=list)
    estimator: str | None = None
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (column or "", type)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    example_columns: list[str] = field(default_factory=list)
    example_rows: list[list[str]] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, size)


def published_models(
    store: AbstractStore,
    experiment_id: str,
    shown_runs: Collection[str],
    config: BuildConfig,
    rules: secrets.SecretRules,
) -> list[ModelSummary]:
    """Return the experiment's models the site shows, newest first."""
    out = []
    for model in reversed(store.list_logged_models([experiment_id])):
        if model.deleted or (model.source_run_id and model.source_run_id not in shown_runs):
            continue
        out.append(_summary(store, model, config, rules))
    return out


def _summary(
    store: AbstractStore, model: LoggedModel, config: BuildConfig, rules: secrets.SecretRules
) -> ModelSummary:
    """Return one model's summary, reading its MLmodel and input example."""
    excluded = config.excluded_tags()
    latest: dict[str, tuple[int, int, float]] = {}
    for m in model.metrics:
        if m.key not in latest or (m.step, m.timestamp) >= latest[m.key][:2]:
            latest[m.key] = (m.step, m.timestamp, m.value)
    summary = ModelSummary(
        model_id=model.model_id,
        name=rules.mask_name("model name", model.name),
        status=model.status.value,
        source_run_id=model.source_run_id,
        created=text.fmt_time(model.creation_timestamp),
        model_type=model.model_type,
        uri=model.model_uri,
        params=sorted(
            (publish.shown_key("param", k, config, rules), rules.mask("param", k, v))
            for k, v in model.params.items()
        ),
        tags=sorted(
            (publish.shown_key("tag", k, config, rules), rules.mask("tag", k, v))
            for k, v in model.tags.items()
            if not system_tags.is_system_tag(k) and not publish.matches(k, excluded)
        ),
        metrics=sorted((k, numbers.human(v[2])) for k, v in latest.items()),
    )
    try:
        files = sorted(store.list_model_artifacts(model.model_id))
        summary.files = [(publish.shown_path(p), text.fmt_size(s)) for p, s in files]
        if any(p == "MLmodel" for p, _ in files):
            _read_mlmodel(store, model.model_id, summary, rules)
    except (ReporterError, OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(
            f"Logged model {model.model_id}: its MLmodel could not be read ({exc}); shown "
            "without its signature",
            stacklevel=2,
        )
    return summary


def _read_mlmodel(
    store: AbstractStore, model_id: str, summary: ModelSummary, rules: secrets.SecretRules
) -> None:
    """Fill the flavors, estimator, signature and example of a summary from its files."""
    import yaml

    meta = yaml.safe_load(store.read_model_artifact(model_id, "MLmodel")) or {}
    flavors = meta.get("flavors") or {}
    summary.flavors = sorted(str(f) for f in flavors)
    estimator = (flavors.get("sklearn") or {}).get("estimator_class")
    summary.estimator = str(estimator) if estimator else None
    signature = meta.get("signature") or {}
    summary.inputs = signature_specs(signature.get("inputs"))
    summary.outputs = signature_specs(signature.get("outputs"))
    info = meta.get("saved_input_example_info") or {}
    if info.get("artifact_path"):
        data = json.loads(store.read_model_artifact(model_id, str(info["artifact_path"])))
        _example(data, summary, rules)


def signature_specs(raw: Any) -> list[tuple[str, str]]:
    """Return (column, type) of a signature schema's JSON text."""
    if not raw:
        return []
    out = []
    for spec in json.loads(raw):
        if spec.get("type") == "tensor":
            tensor = spec.get("tensor-spec") or {}
            shape = ", ".join(str(d) for d in tensor.get("shape") or [])
            out.append((str(spec.get("name") or ""), f"tensor {tensor.get('dtype')} ({shape})"))
        else:
            out.append((str(spec.get("name") or ""), str(spec.get("type"))))
    return out


def _example(data: Any, summary: ModelSummary, rules: secrets.SecretRules) -> None:
    """Fill the example table: a DataFrame's columns, or an array's positions."""
    if isinstance(data, dict) and "columns" in data and "data" in data:
        columns = [str(c) for c in data["columns"]]
        rows = data["data"]
    elif isinstance(data, list):
        rows = [r if isinstance(r, list) else [r] for r in data]
        width = max((len(r) for r in rows), default=0)
        columns = [str(i) for i in range(width)]
    else:
        return
    columns = columns[:EXAMPLE_COLUMNS]
    summary.example_columns = [rules.mask_name("column", c) for c in columns]
    shown_rows = [row[: len(columns)] for row in rows[:EXAMPLE_ROWS]]
    decimals = [
        numbers.column_decimals(row[i] for row in shown_rows if i < len(row) and _is_number(row[i]))
        for i in range(len(columns))
    ]
    summary.example_rows = [
        [_cell(rules, columns[i], v, decimals[i]) for i, v in enumerate(row)] for row in shown_rows
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(rules: secrets.SecretRules, column: str, value: Any, decimals: int) -> str:
    """Return an example value as shown: numbers with their column's decimals, text masked and
    shortened."""
    if _is_number(value):
        return numbers.fixed(value, decimals)
    shown = rules.mask_text("input example", column, str(value))
    return shown if len(shown) <= CELL_CHARS else shown[: CELL_CHARS - 1] + "…"
