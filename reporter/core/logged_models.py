"""MLflow 3's logged models as small immutable values: `LoggedModel` and friends.

A logged model is a model a run (or no run) produced: its own id (`m-<32 hex>`), a name, a
status (PENDING while its files are written, READY or FAILED after), tags, params, metrics and
a folder of files. `models:/<model_id>` names it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reporter.core.entities import Metric
from reporter.core.model_links import LoggedModelInput, LoggedModelOutput, RunOutputs

__all__ = [
    "LoggedModel",
    "LoggedModelInput",
    "LoggedModelOutput",
    "LoggedModelParameter",
    "LoggedModelStatus",
    "LoggedModelTag",
    "RunOutputs",
    "is_model_id",
    "new_model_id",
]

MODEL_ID_PREFIX = "m-"


def new_model_id() -> str:
    """Return a new logged model id, as MLflow makes them (`m-` and 32 hex digits)."""
    return f"{MODEL_ID_PREFIX}{uuid.uuid4().hex}"


def is_model_id(text: str) -> bool:
    """Return True if `text` has the shape of a logged model id."""
    rest = text[len(MODEL_ID_PREFIX) :] if text.startswith(MODEL_ID_PREFIX) else ""
    return len(rest) == 32 and all(c in "0123456789abcdef" for c in rest)


class LoggedModelStatus(str, enum.Enum):
    """Where a logged model is in its life: its files are being written, or they are done."""

    UNSPECIFIED = "UNSPECIFIED"
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | LoggedModelStatus) -> LoggedModelStatus:
        """Return the status named by `value`; a clear error listing the valid ones if none."""
        try:
            return cls(str(value).upper())
        except ValueError:
            valid = ", ".join(s.value for s in cls)
            raise ValueError(f"Unknown logged model status {value!r}; valid: {valid}") from None


@dataclass(frozen=True, slots=True)
class LoggedModelTag:
    """One tag of a logged model."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class LoggedModelParameter:
    """One parameter of a logged model."""

    key: str
    value: str


@dataclass(frozen=True)
class LoggedModel:
    """A logged model: MLflow 3's `mlflow.entities.LoggedModel`."""

    experiment_id: str
    model_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    source_run_id: str | None = None
    status: LoggedModelStatus = LoggedModelStatus.READY
    status_message: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Sequence[Metric] = ()
    deleted: bool = False  # deleted models are hidden from searches, as MLflow does

    @property
    def model_uri(self) -> str:
        """Return `models:/<model_id>`, the URI that loads this model."""
        return f"models:/{self.model_id}"

    def to_dictionary(self) -> dict[str, Any]:
        """Return a JSON-able dict (MLflow's keys)."""
        return {
            "artifact_location": self.artifact_location,
            "creation_timestamp": self.creation_timestamp,
            "experiment_id": self.experiment_id,
            "last_updated_timestamp": self.last_updated_timestamp,
            "metrics": [m.to_dict() for m in self.metrics],
            "model_id": self.model_id,
            "model_type": self.model_type,
            "name": self.name,
            "params": dict(self.params),
            "source_run_id": self.source_run_id,
            "status": self.status.value,
            "status_message": self.status_message,
            "tags": dict(self.tags),
        }
