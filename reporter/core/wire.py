"""MLflow's REST JSON for our values, both ways: what `mlflow server` sends and accepts.

MLflow's server answers with protobuf messages printed as JSON (field names as in the .proto
files, int64 as JSON numbers, empty fields left out, enums by name, NaN and infinities as the
strings "NaN", "Infinity", "-Infinity"). Its clients parse leniently: int64 may come as strings.
The tracking server encodes with the `*_to_json` functions and the HTTP client store decodes
with the `*_from_json` ones, so what one side writes the other reads back unchanged.

Decoding a request body is strict: a wrong type raises `WireError` naming the field, which the
server turns into MLflow's INVALID_PARAMETER_VALUE.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reporter.core.datasets import Dataset, DatasetInput, InputTag, RunInputs
from reporter.core.entities import (
    Experiment,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunTag,
)
from reporter.core.errors import InvalidArgumentError
from reporter.core.logged_models import LoggedModel, LoggedModelStatus
from reporter.core.model_links import LoggedModelInput, LoggedModelOutput, RunOutputs
from reporter.core.model_registry import ModelVersion, RegisteredModel

DESCRIPTION_TAG = "mlflow.note.content"  # MLflow keeps an experiment's description as this tag

# our logged model statuses and MLflow's enum names for them
_MODEL_STATUS = {
    LoggedModelStatus.UNSPECIFIED: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
_MODEL_STATUS_OF = {name: status for status, name in _MODEL_STATUS.items()}


# MLflow's limits on one runs/log-batch request (mlflow.utils.validation)
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ITEMS = 1000  # metrics, params and tags together


class WireError(InvalidArgumentError):
    """A JSON value of the wrong shape or type (MLflow: INVALID_PARAMETER_VALUE)."""


# scalars ------------------------------------------------------------------------------------
def double_to_json(value: float) -> float | str:
    """Return a double as MLflow prints it: a number, or "NaN"/"Infinity"/"-Infinity"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def double_from_json(value: Any, field: str) -> float:
    """Return a double sent as a number or as one of protobuf's strings for it."""
    if isinstance(value, bool):
        raise WireError(f"Invalid value {value!r} for parameter '{field}': expected a number")
    try:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return float(value)  # "NaN", "Infinity", "-Infinity" and numbers in strings
    except (ValueError, OverflowError):
        pass
    shown = f"{str(value)[:40]}..." if len(str(value)) > 40 else repr(value)
    raise WireError(f"Invalid value {shown} for parameter '{field}': expected a double")


INT64 = (-(2**63), 2**63 - 1)


def int_from_json(value: Any, field: str) -> int:
    """Return an int64 sent as a JSON number or a string of digits (protobuf allows both)."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and len(value) <= 40:
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None or not INT64[0] <= number <= INT64[1]:
        shown = f"{str(value)[:40]}..." if len(str(value)) > 40 else repr(value)
        raise WireError(f"Invalid value {shown} for parameter '{field}': expected a 64-bit integer")
    return number


def text_from_json(value: Any, field: str) -> str:
    """Return a string field; numbers are refused as MLflow's parser refuses them."""
    if isinstance(value, str):
        return value
    raise WireError(
        f"Invalid value {value!r} for parameter '{field}': expected a string, "
        f"got {type(value).__name__}"
    )


def optional_text(data: Mapping[str, Any], field: str) -> str | None:
    """Return a string field of a message, or None when it is missing or null."""
    value = data.get(field)
    return None if value is None else text_from_json(value, field)


def list_from_json(data: Mapping[str, Any], field: str) -> list[Any]:
    """Return a repeated field (missing or null: empty)."""
    value = data.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireError(f"Invalid value {value!r} for parameter '{field}': expected a list")
    return value


def message(value: Any, field: str) -> Mapping[str, Any]:
    """Return a nested message, which must be a JSON object."""
    if not isinstance(value, Mapping):
        raise WireError(f"Invalid value {value!r} for parameter '{field}': expected an object")
    return value


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    """Leave out fields protobuf would not print: None, and empty lists."""
    return {k: v for k, v in data.items() if v is not None and v != []}


# key/value pairs ----------------------------------------------------------------------------
def pairs_to_json(items: Mapping[str, str]) -> list[dict[str, str]]:
    """Return [{"key", "value"}] for a mapping (tags, params)."""
    return [{"key": k, "value": v} for k, v in items.items()]


def pairs_from_json(items: Sequence[Any], field: str) -> list[tuple[str, str]]:
    """Return (key, value) pairs of a repeated key/value message; a value may be empty."""
    out = []
    for item in items:
        entry = message(item, field)
        key = text_from_json(entry.get("key"), f"{field}.key")
        raw = entry.get("value", "")
        value = raw if isinstance(raw, str) else _scalar_text(raw, f"{field}.value")
        out.append((key, value))
    return out


def _scalar_text(value: Any, field: str) -> str:
    """Params and tags are strings; a client that sends a number gets it as text (MLflow's
    Java and R clients do), anything else is refused."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise WireError(f"Invalid value {value!r} for parameter '{field}': expected a string")


# metrics ------------------------------------------------------------------------------------
def metric_to_json(metric: Metric) -> dict[str, Any]:
    """Return an MLflow Metric message."""
    return _drop_empty(
        {
            "key": metric.key,
            "value": double_to_json(metric.value),
            "timestamp": metric.timestamp,
            "step": metric.step,
            "dataset_name": metric.dataset_name,
            "dataset_digest": metric.dataset_digest,
            "model_id": metric.model_id,
            "run_id": metric.run_id,
        }
    )


def metric_from_json(data: Any, field: str = "metric") -> Metric:
    """Return a Metric from an MLflow Metric message (a missing step is 0, as in MLflow)."""
    entry = message(data, field)
    if "value" not in entry or entry["value"] is None:
        raise WireError(f"Missing value for required parameter '{field}.value'")
    if entry.get("timestamp") is None:
        raise WireError(f"Missing value for required parameter '{field}.timestamp'")
    return Metric(
        key=text_from_json(entry.get("key"), f"{field}.key"),
        value=double_from_json(entry["value"], f"{field}.value"),
        timestamp=int_from_json(entry["timestamp"], f"{field}.timestamp"),
        step=int_from_json(entry.get("step", 0), f"{field}.step"),
        dataset_name=optional_text(entry, "dataset_name"),
        dataset_digest=optional_text(entry, "dataset_digest"),
        model_id=optional_text(entry, "model_id"),
        run_id=optional_text(entry, "run_id"),
    )


# experiments --------------------------------------------------------------------------------
def experiment_to_json(exp: Experiment) -> dict[str, Any]:
    """Return an MLflow Experiment message (the description as its mlflow.note.content tag)."""
    tags = dict(exp.tags)
    if exp.description and DESCRIPTION_TAG not in tags:
        tags[DESCRIPTION_TAG] = exp.description
    return _drop_empty(
        {
            "experiment_id": exp.experiment_id,
            "name": exp.name,
            "artifact_location": exp.artifact_location,
            "lifecycle_stage": exp.lifecycle_stage,
            "last_update_time": exp.last_update_time,
            "creation_time": exp.creation_time,
            "tags": pairs_to_json(tags),
        }
    )


def experiment_from_json(data: Any) -> Experiment:
    """Return an Experiment from an MLflow Experiment message."""
    entry = message(data, "experiment")
    tags = dict(pairs_from_json(list_from_json(entry, "tags"), "tags"))
    created, updated = entry.get("creation_time"), entry.get("last_update_time")
    return Experiment(
        experiment_id=text_from_json(entry.get("experiment_id"), "experiment_id"),
        name=text_from_json(entry.get("name"), "name"),
        artifact_location=str(entry.get("artifact_location") or ""),
        lifecycle_stage=str(entry.get("lifecycle_stage") or "active"),
        tags=tags,
        creation_time=None if created is None else int_from_json(created, "creation_time"),
        last_update_time=None if updated is None else int_from_json(updated, "last_update_time"),
        description=tags.get(DESCRIPTION_TAG, ""),
    )


# runs ---------------------------------------------------------------------------------------
def run_info_to_json(info: RunInfo) -> dict[str, Any]:
    """Return an MLflow RunInfo message (`run_uuid` too: older clients read it)."""
    return _drop_empty(
        {
            "run_id": info.run_id,
            "run_uuid": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": info.artifact_uri,
            "lifecycle_stage": info.lifecycle_stage,
        }
    )


def run_info_from_json(data: Any) -> RunInfo:
    """Return a RunInfo from an MLflow RunInfo message."""
    entry = message(data, "run.info")
    run_id = entry.get("run_id") or entry.get("run_uuid")
    start, end = entry.get("start_time"), entry.get("end_time")
    return RunInfo(
        run_id=text_from_json(run_id, "run_id"),
        experiment_id=text_from_json(entry.get("experiment_id"), "experiment_id"),
        run_name=str(entry.get("run_name") or ""),
        user_id=str(entry.get("user_id") or ""),
        status=str(entry.get("status") or "RUNNING"),
        start_time=None if start is None else int_from_json(start, "start_time"),
        end_time=None if end is None else int_from_json(end, "end_time"),
        artifact_uri=str(entry.get("artifact_uri") or ""),
        lifecycle_stage=str(entry.get("lifecycle_stage") or "active"),
    )


def run_to_json(
    run: Run, latest: Mapping[str, Metric] | None = None, artifact_uri: str | None = None
) -> dict[str, Any]:
    """Return an MLflow Run message.

    `latest` gives the newest point of each metric; without it, the step and timestamp the
    run holds (`RunData.metric_steps`), else 0. `artifact_uri` replaces the run's own
    (a server names its proxied `mlflow-artifacts:` location).
    """
    info = run.info
    if artifact_uri is not None:
        info = RunInfo(**{**info.to_dict(), "artifact_uri": artifact_uri})
    points = dict(latest or {})
    for key, value in run.data.metrics.items():
        if key not in points:
            step, stamp = run.data.metric_steps.get(key, (0, 0))
            points[key] = Metric(key, value, stamp, step)
    metrics = [metric_to_json(points[key]) for key in run.data.metrics]
    inputs = _drop_empty(
        {
            "dataset_inputs": [dataset_input_to_json(d) for d in run.inputs.dataset_inputs],
            "model_inputs": [{"model_id": m.model_id} for m in run.inputs.model_inputs],
        }
    )
    outputs = _drop_empty(
        {
            "model_outputs": [
                {"model_id": o.model_id, "step": o.step} for o in run.outputs.model_outputs
            ]
        }
    )
    return {
        "info": run_info_to_json(info),
        "data": _drop_empty(
            {
                "metrics": metrics,
                "params": pairs_to_json(run.data.params),
                "tags": pairs_to_json(run.data.tags),
            }
        ),
        "inputs": inputs,
        "outputs": outputs,
    }


def run_from_json(data: Any) -> Run:
    """Return a Run from an MLflow Run message (latest metric values only, as MLflow's)."""
    entry = message(data, "run")
    raw = message(entry.get("data") or {}, "run.data")
    metrics = [metric_from_json(m, "run.data.metrics") for m in list_from_json(raw, "metrics")]
    info = run_info_from_json(entry.get("info"))
    tags = dict(pairs_from_json(list_from_json(raw, "tags"), "tags"))
    parent = tags.get("mlflow.parentRunId")
    if parent:
        info = RunInfo(**{**info.to_dict(), "parent_run_id": parent})
    ins = message(entry.get("inputs") or {}, "run.inputs")
    outs = message(entry.get("outputs") or {}, "run.outputs")
    return Run(
        info=info,
        data=RunData(
            metrics={m.key: m.value for m in metrics},
            metric_steps={m.key: (m.step, m.timestamp) for m in metrics},
            params=dict(pairs_from_json(list_from_json(raw, "params"), "params")),
            tags=tags,
        ),
        inputs=RunInputs(
            [dataset_input_from_json(d) for d in list_from_json(ins, "dataset_inputs")],
            [
                LoggedModelInput(
                    text_from_json(message(m, "model_inputs").get("model_id"), "model_id")
                )
                for m in list_from_json(ins, "model_inputs")
            ],
        ),
        outputs=RunOutputs(
            [model_output_from_json(o) for o in list_from_json(outs, "model_outputs")]
        ),
    )


def model_output_from_json(data: Any) -> LoggedModelOutput:
    """Return a run's model output from an MLflow ModelOutput message."""
    entry = message(data, "model_outputs")
    return LoggedModelOutput(
        text_from_json(entry.get("model_id"), "model_id"),
        int_from_json(entry.get("step", 0), "step"),
    )


# datasets -----------------------------------------------------------------------------------
def dataset_input_to_json(item: DatasetInput) -> dict[str, Any]:
    """Return an MLflow DatasetInput message."""
    ds = item.dataset
    return {
        "tags": [{"key": t.key, "value": t.value} for t in item.tags],
        "dataset": _drop_empty(
            {
                "name": ds.name,
                "digest": ds.digest,
                "source_type": ds.source_type,
                "source": ds.source,
                "schema": ds.schema,
                "profile": ds.profile,
            }
        ),
    }


def dataset_input_from_json(data: Any) -> DatasetInput:
    """Return a DatasetInput from an MLflow DatasetInput message."""
    entry = message(data, "datasets")
    ds = message(entry.get("dataset"), "datasets.dataset")
    return DatasetInput(
        dataset=Dataset(
            name=text_from_json(ds.get("name"), "dataset.name"),
            digest=text_from_json(ds.get("digest"), "dataset.digest"),
            source_type=text_from_json(ds.get("source_type"), "dataset.source_type"),
            source=text_from_json(ds.get("source"), "dataset.source"),
            schema=optional_text(ds, "schema"),
            profile=optional_text(ds, "profile"),
        ),
        tags=[InputTag(k, v) for k, v in pairs_from_json(list_from_json(entry, "tags"), "tags")],
    )


# logged models ------------------------------------------------------------------------------
def model_status_to_json(status: LoggedModelStatus) -> str:
    """Return MLflow's enum name of a logged model status."""
    return _MODEL_STATUS[status]


def model_status_from_json(value: Any) -> LoggedModelStatus:
    """Return a logged model status from MLflow's enum name (or its number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        names = list(_MODEL_STATUS.values())
        value = names[value] if 0 <= value < len(names) else value
    if isinstance(value, str) and value in _MODEL_STATUS_OF:
        return _MODEL_STATUS_OF[value]
    valid = ", ".join(_MODEL_STATUS_OF)
    raise WireError(f"Invalid value {value!r} for parameter 'status': valid values are {valid}")


def logged_model_to_json(model: LoggedModel, artifact_uri: str | None = None) -> dict[str, Any]:
    """Return an MLflow LoggedModel message."""
    info = _drop_empty(
        {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp,
            "last_updated_timestamp_ms": model.last_updated_timestamp,
            "artifact_uri": artifact_uri or model.artifact_location,
            "status": model_status_to_json(model.status),
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status_message": model.status_message,
            "tags": pairs_to_json(model.tags),
        }
    )
    data = _drop_empty(
        {
            "params": pairs_to_json(model.params),
            "metrics": [metric_to_json(m) for m in model.metrics],
        }
    )
    return {"info": info, "data": data}


def logged_model_from_json(data: Any) -> LoggedModel:
    """Return a LoggedModel from an MLflow LoggedModel message."""
    entry = message(data, "model")
    info = message(entry.get("info"), "model.info")
    body = message(entry.get("data") or {}, "model.data")
    created = int_from_json(info.get("creation_timestamp_ms", 0), "creation_timestamp_ms")
    updated = info.get("last_updated_timestamp_ms", created)
    return LoggedModel(
        experiment_id=text_from_json(info.get("experiment_id"), "experiment_id"),
        model_id=text_from_json(info.get("model_id"), "model_id"),
        name=str(info.get("name") or ""),
        artifact_location=str(info.get("artifact_uri") or ""),
        creation_timestamp=created,
        last_updated_timestamp=int_from_json(updated, "last_updated_timestamp_ms"),
        model_type=optional_text(info, "model_type") or None,
        source_run_id=optional_text(info, "source_run_id"),
        status=model_status_from_json(info.get("status", "LOGGED_MODEL_STATUS_UNSPECIFIED")),
        status_message=optional_text(info, "status_message"),
        tags=dict(pairs_from_json(list_from_json(info, "tags"), "tags")),
        params=dict(pairs_from_json(list_from_json(body, "params"), "params")),
        metrics=tuple(metric_from_json(m, "metrics") for m in list_from_json(body, "metrics")),
    )


def params_from_json(items: Sequence[Any]) -> list[Param]:
    """Return Params of a repeated Param field."""
    return [Param(k, v) for k, v in pairs_from_json(items, "params")]


def tags_from_json(items: Sequence[Any]) -> list[RunTag]:
    """Return RunTags of a repeated RunTag field."""
    return [RunTag(k, v) for k, v in pairs_from_json(items, "tags")]


# the model registry -------------------------------------------------------------------------
def model_version_to_json(version: ModelVersion, source: str | None = None) -> dict[str, Any]:
    """Return MLflow's ModelVersion message (`version` as text, as MLflow's server sends it)."""
    return _drop_empty(
        {
            "name": version.name,
            "version": str(version.version),
            "creation_timestamp": version.creation_timestamp,
            "last_updated_timestamp": version.last_updated_timestamp,
            "user_id": version.user_id,
            "current_stage": version.current_stage,
            "description": version.description or "",  # MLflow's server always sends it
            "source": source if source is not None else version.source,
            "run_id": version.run_id,
            "status": version.status,
            "status_message": version.status_message,
            "tags": pairs_to_json(version.tags),
            "run_link": version.run_link,
            "aliases": list(version.aliases),
            "model_id": version.model_id,
        }
    )


def model_version_from_json(data: Any) -> ModelVersion:
    """Read MLflow's ModelVersion message."""
    entry = message(data, "model_version")
    return ModelVersion(
        name=text_from_json(entry.get("name"), "model_version.name"),
        version=int_from_json(entry.get("version"), "model_version.version"),
        creation_timestamp=int_from_json(entry.get("creation_timestamp", 0), "creation_timestamp"),
        last_updated_timestamp=(
            None
            if entry.get("last_updated_timestamp") is None
            else int_from_json(entry["last_updated_timestamp"], "last_updated_timestamp")
        ),
        description=optional_text(entry, "description"),
        user_id=optional_text(entry, "user_id"),
        current_stage=optional_text(entry, "current_stage") or "None",
        source=optional_text(entry, "source"),
        run_id=optional_text(entry, "run_id") or None,
        run_link=optional_text(entry, "run_link") or None,
        status=optional_text(entry, "status") or "READY",
        status_message=optional_text(entry, "status_message"),
        tags=dict(pairs_from_json(list_from_json(entry, "tags"), "tags")),
        aliases=[text_from_json(a, "aliases") for a in list_from_json(entry, "aliases")],
        model_id=optional_text(entry, "model_id"),
    )


def registered_model_to_json(model: RegisteredModel) -> dict[str, Any]:
    """Return MLflow's RegisteredModel message (aliases as [{alias, version}])."""
    return _drop_empty(
        {
            "name": model.name,
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
            "description": model.description,
            "latest_versions": [model_version_to_json(v) for v in model.latest_versions],
            "tags": pairs_to_json(model.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in model.aliases.items()],
        }
    )


def registered_model_from_json(data: Any) -> RegisteredModel:
    """Read MLflow's RegisteredModel message."""
    entry = message(data, "registered_model")
    aliases = {}
    for item in list_from_json(entry, "aliases"):
        alias = message(item, "aliases")
        aliases[text_from_json(alias.get("alias"), "aliases.alias")] = int_from_json(
            alias.get("version"), "aliases.version"
        )
    return RegisteredModel(
        name=text_from_json(entry.get("name"), "registered_model.name"),
        creation_timestamp=entry.get("creation_timestamp"),
        last_updated_timestamp=entry.get("last_updated_timestamp"),
        description=optional_text(entry, "description"),
        latest_versions=[
            model_version_from_json(v) for v in list_from_json(entry, "latest_versions")
        ],
        tags=dict(pairs_from_json(list_from_json(entry, "tags"), "tags")),
        aliases=aliases,
    )
