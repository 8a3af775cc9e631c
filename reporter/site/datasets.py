"""The datasets section of a run page: what `log_input` recorded, made readable.

Each dataset shows its name, digest, context and source in one row, and its schema (one line
per column or tensor) and profile on demand. The digest links to the experiment page filtered
on `datasets.digest = '<digest>'`: the runs that used the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from reporter.core import system_tags
from reporter.core.datasets import DATASET_CONTEXT_TAG, Dataset, RunInputs

MAX_SCHEMA_ROWS = 200  # a wide table's schema shows its first columns, and says how many


@dataclass(frozen=True)
class SchemaRow:
    """One column (or tensor) of a dataset's schema."""

    name: str
    type: str  # "long", "array<string>", "float64 (-1, 3)"
    required: str  # "yes", "no", or "" for tensors


@dataclass
class DatasetView:
    """One dataset a run used, as its run page shows it."""

    name: str
    digest: str
    context: str  # "" when it was logged without one
    source_type: str
    source: str  # the path, URL or script it came from
    source_json: str  # the recorded source, indented
    tags: list[tuple[str, str]]  # input tags other than the context
    rows: str  # the row count, when the profile has one
    schema: list[SchemaRow] = field(default_factory=list)
    schema_total: int = 0  # columns in the schema (schema holds at most MAX_SCHEMA_ROWS)
    schema_unit: str = "column"  # what a schema row is: "column", or "tensor" for arrays
    schema_text: str = ""  # a schema that is not MLflow's column or tensor list, as logged
    profile: list[tuple[str, str]] = field(default_factory=list)
    same_data: str = ""  # the experiment page filtered on this digest


def make_dataset_views(inputs: RunInputs | None, experiment_path: str) -> list[DatasetView]:
    """Return the datasets a run used, in logging order."""
    return [
        _view(d.dataset, d.tags, experiment_path) for d in (inputs or RunInputs()).dataset_inputs
    ]


def _view(data: Dataset, tags: list[Any], experiment_path: str) -> DatasetView:
    """Return one dataset's view."""
    schema, total, schema_text = _schema(data.schema)
    tensors = bool(schema) and all(not row.required for row in schema)
    profile = _json(data.profile)
    query = quote(f"datasets.digest = '{data.digest}'", safe="")
    return DatasetView(
        name=data.name,
        digest=data.digest,
        context=next((t.value for t in tags if t.key == DATASET_CONTEXT_TAG), ""),
        source_type=data.source_type,
        source=_source_text(data.source),
        source_json=_indented(data.source),
        tags=[(t.key, t.value) for t in tags if t.key != DATASET_CONTEXT_TAG],
        rows=_rows(profile),
        schema=schema,
        schema_total=total,
        schema_unit="tensor" if tensors else "column",
        schema_text=schema_text,
        profile=[(str(k), _plain(v)) for k, v in profile.items()]
        if isinstance(profile, dict)
        else [],
        same_data=f"{experiment_path}#filter={query}",
    )


def _json(text: str | None) -> Any:
    """Parse JSON text; None when absent or not JSON."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _indented(text: str) -> str:
    """Return JSON text indented for reading (other text as it is)."""
    value = _json(text)
    return text if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def _plain(value: Any) -> str:
    """Return a profile value as text: numbers as they are, lists and dicts as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _source_text(text: str) -> str:
    """Return the one line that says where data came from: its URI or URL, or the script."""
    source = _json(text)
    if not isinstance(source, dict):
        return text
    for key in ("uri", "url", "path", "table_name"):
        if isinstance(source.get(key), str):
            return str(source[key])
    tags = source.get("tags")
    if isinstance(tags, dict):
        script = str(tags.get(system_tags.TAG_SOURCE_NAME) or "code")
        commit = tags.get(system_tags.TAG_GIT_COMMIT)
        return f"{script} @ {str(commit)[:12]}" if commit else script
    return text


def _rows(profile: Any) -> str:
    """Return the row count a profile gives (pandas: num_rows; numpy: the first dimension)."""
    if not isinstance(profile, dict):
        return ""
    rows = profile.get("num_rows")
    shape = profile.get("features_shape")
    if rows is None and isinstance(shape, list) and shape:
        rows = shape[0]
    return str(rows) if isinstance(rows, int) else ""


def _schema(text: str | None) -> tuple[list[SchemaRow], int, str]:
    """Return a schema's rows (at most MAX_SCHEMA_ROWS), its size, and its text when it is
    not MLflow's column or tensor list."""
    value = _json(text)
    rows: list[SchemaRow] = []
    if isinstance(value, dict) and isinstance(value.get("mlflow_colspec"), list):
        rows = [_column(spec) for spec in value["mlflow_colspec"]]
    elif isinstance(value, dict) and isinstance(value.get("mlflow_tensorspec"), dict):
        for role, part in value["mlflow_tensorspec"].items():
            specs = _json(part) if isinstance(part, str) else None
            rows += [_tensor(spec, str(role)) for spec in specs or [] if isinstance(spec, dict)]
    elif text:
        return [], 0, _indented(text)
    return rows[:MAX_SCHEMA_ROWS], len(rows), ""


def _column(spec: Any) -> SchemaRow:
    """Return one column spec as a row."""
    if not isinstance(spec, dict):
        return SchemaRow(str(spec), "", "")
    required = spec.get("required", True)
    return SchemaRow(str(spec.get("name", "")), _type_text(spec), "yes" if required else "no")


def _type_text(spec: dict[str, Any]) -> str:
    """Return a column type as text: `long`, `array<string>`, `object{a, b}`."""
    kind = str(spec.get("type", ""))
    if kind == "array" and isinstance(spec.get("items"), dict):
        return f"array<{_type_text(spec['items'])}>"
    if kind == "object" and isinstance(spec.get("properties"), dict):
        return "object{" + ", ".join(map(str, spec["properties"])) + "}"
    return kind


def _tensor(spec: dict[str, Any], role: str) -> SchemaRow:
    """Return one tensor spec as a row: its name (or features/targets), dtype and shape."""
    info = spec.get("tensor-spec") if isinstance(spec.get("tensor-spec"), dict) else {}
    assert isinstance(info, dict)
    shape = info.get("shape")
    shape_text = "(" + ", ".join(map(str, shape)) + ")" if isinstance(shape, list) else ""
    name = str(spec.get("name") or role)
    return SchemaRow(name, f"{info.get('dtype', '')} {shape_text}".strip(), "")
