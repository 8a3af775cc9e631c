"""Datasets a run used, as MLflow's entities: `Dataset`, `InputTag`, `DatasetInput`, `RunInputs`.

A `Dataset` is what `log_input` records about data, never the data itself: a name, a digest
(a short hash of the content, so that runs trained on the same data can be found), where it
came from (`source_type` and `source`, JSON text) and, optionally, its schema and profile
(JSON text). A run holds each (name, digest) once; the first time it was logged wins, with its
tags, as in MLflow. The context it was used in ("training", "eval") is the input tag
`mlflow.data.context`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reporter.core.errors import InvalidArgumentError

DATASET_CONTEXT_TAG = "mlflow.data.context"  # MLflow's MLFLOW_DATASET_CONTEXT

# MLflow's limits (mlflow.utils.validation), so that what one accepts the other does too.
MAX_NAME = 500
MAX_DIGEST = 36
MAX_SOURCE = 65535
MAX_SCHEMA = 1048575
MAX_PROFILE = 16777215
MAX_TAG_KEY = 255
MAX_TAG_VALUE = 500


def _require(data: Mapping[str, Any], key: str, kind: str) -> Any:
    """Return data[key] or raise a KeyError naming the missing key and the entity."""
    try:
        return data[key]
    except KeyError:
        raise KeyError(f"{kind} dict is missing key {key!r}; got keys {sorted(data)}") from None


@dataclass(frozen=True)
class Dataset:
    """What a run records about a dataset (MLflow's `mlflow.entities.Dataset`)."""

    name: str
    digest: str
    source_type: str
    source: str  # JSON text, e.g. '{"uri": "data/train.csv"}'
    schema: str | None = None  # JSON text
    profile: str | None = None  # JSON text

    def to_dictionary(self) -> dict[str, Any]:
        """Return a JSON-able dict (MLflow's name for `to_dict`)."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
            "schema": self.schema,
            "profile": self.profile,
        }

    to_dict = to_dictionary

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dataset:
        """Build from a dict made by `to_dict` (or by a data set's own `to_dict`)."""
        return cls(
            name=_require(data, "name", "Dataset"),
            digest=_require(data, "digest", "Dataset"),
            source_type=_require(data, "source_type", "Dataset"),
            source=_require(data, "source", "Dataset"),
            schema=data.get("schema"),
            profile=data.get("profile"),
        )


@dataclass(frozen=True)
class InputTag:
    """A tag of one dataset input of a run (MLflow's `mlflow.entities.InputTag`)."""

    key: str
    value: str

    def to_dictionary(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"key": self.key, "value": self.value}

    to_dict = to_dictionary


@dataclass(frozen=True)
class DatasetInput:
    """A dataset a run used, with its input tags (MLflow's `mlflow.entities.DatasetInput`)."""

    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)

    @property
    def context(self) -> str | None:
        """The `mlflow.data.context` tag ("training", "eval"...), or None."""
        return next((t.value for t in self.tags if t.key == DATASET_CONTEXT_TAG), None)

    def to_dictionary(self) -> dict[str, Any]:
        """Return a JSON-able dict: the dataset and {tag key: value}, as MLflow's."""
        return {
            "dataset": self.dataset.to_dictionary(),
            "tags": {tag.key: tag.value for tag in self.tags},
        }

    to_dict = to_dictionary

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetInput:
        """Build from a dict made by `to_dict`."""
        tags = data.get("tags") or {}
        return cls(
            dataset=Dataset.from_dict(_require(data, "dataset", "DatasetInput")),
            tags=[InputTag(str(k), str(v)) for k, v in dict(tags).items()],
        )


@dataclass(frozen=True)
class RunInputs:
    """What a run used: datasets, and logged models (MLflow's `mlflow.entities.RunInputs`)."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[Any] = field(default_factory=list)  # LoggedModelInput values

    def to_dictionary(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "model_inputs": [{"model_id": m.model_id} for m in self.model_inputs],
            "dataset_inputs": [d.to_dictionary() for d in self.dataset_inputs],
        }

    to_dict = to_dictionary


def _text(what: str, value: Any, limit: int, optional: bool = False) -> None:
    """Raise unless value is a string of at most `limit` characters (or None if optional)."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InvalidArgumentError(f"Dataset {what} must be a string, got {value!r}")
    if len(value) > limit:
        raise InvalidArgumentError(
            f"Dataset {what} is {len(value)} characters long; the limit is {limit} (MLflow's)"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"Dataset {what} {value[:60]!r} cannot be stored as UTF-8 ({exc.reason})"
        ) from None


def check_dataset_input(item: DatasetInput) -> None:
    """Raise InvalidArgumentError naming the field unless MLflow would accept this input."""
    if not isinstance(item, DatasetInput):
        raise InvalidArgumentError(
            f"Expected a DatasetInput (reporter.entities.DatasetInput), got {type(item).__name__}"
        )
    data = item.dataset
    if not isinstance(data, Dataset):
        raise InvalidArgumentError(
            f"A DatasetInput holds a reporter.entities.Dataset, got {type(data).__name__}"
        )
    _text("name", data.name, MAX_NAME)
    _text("digest", data.digest, MAX_DIGEST)
    _text("source_type", data.source_type, MAX_SOURCE)
    _text("source", data.source, MAX_SOURCE)
    _text("schema", data.schema, MAX_SCHEMA, optional=True)
    _text("profile", data.profile, MAX_PROFILE, optional=True)
    for tag in item.tags:
        if not isinstance(tag, InputTag):
            raise InvalidArgumentError(f"Input tags are InputTag values, got {tag!r}")
        _text("input tag key", tag.key, MAX_TAG_KEY)
        _text("input tag value", tag.value, MAX_TAG_VALUE)


def dataset_of(value: Any) -> Dataset:
    """Return the entity of a data set: a Dataset as is, else from its `to_dict()` (the data
    sets of `reporter.data`, and MLflow's own, have one)."""
    if isinstance(value, Dataset):
        return value
    to_dict = getattr(value, "to_dict", None)
    if not callable(to_dict):
        raise InvalidArgumentError(
            f"Expected a data set (from reporter.data.from_pandas or from_numpy), got "
            f"{type(value).__name__}"
        )
    data = to_dict()
    try:
        return Dataset.from_dict(data)
    except KeyError as exc:
        raise InvalidArgumentError(f"{type(value).__name__}.to_dict() {exc.args[0]}") from None


def make_dataset_input(
    dataset: Any, context: str | None = None, tags: Mapping[str, Any] | None = None
) -> DatasetInput:
    """Return the DatasetInput `log_input` records: the tags given, then the context tag."""
    items = [InputTag(str(k), str(v)) for k, v in (tags or {}).items()]
    if context:
        items.append(InputTag(DATASET_CONTEXT_TAG, str(context)))
    return DatasetInput(dataset_of(dataset), items)


def first_of_each(inputs: Sequence[DatasetInput]) -> list[DatasetInput]:
    """Keep the first input of each (name, digest), in order (MLflow keeps the first)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for item in inputs:
        key = (item.dataset.name, item.dataset.digest)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
