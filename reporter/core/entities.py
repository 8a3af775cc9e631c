"""Small immutable values: experiments, runs, metrics, params, tags (MLflow's names)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


class RunStatus:
    """Run statuses as strings, as MLflow's `RunStatus.to_string` gives them."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)

    @staticmethod
    def is_terminated(status: str) -> bool:
        """Return True for FINISHED, FAILED and KILLED."""
        return status in RunStatus.TERMINAL


class LifecycleStage:
    """Whether an experiment or run is active or deleted (soft delete)."""

    ACTIVE = "active"
    DELETED = "deleted"


class ViewType:
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


def _require(data: Mapping[str, Any], key: str, kind: str) -> Any:
    """Return data[key] or raise a KeyError naming the missing key and the entity."""
    try:
        return data[key]
    except KeyError:
        raise KeyError(f"{kind} dict is missing key {key!r}; got keys {sorted(data)}") from None


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric point."""

    key: str
    value: float
    timestamp: int
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metric:
        """Build from a dict made by `to_dict`."""
        return cls(
            key=_require(data, "key", "Metric"),
            value=float(_require(data, "value", "Metric")),
            timestamp=int(_require(data, "timestamp", "Metric")),
            step=int(data.get("step", 0)),
        )


@dataclass(frozen=True, slots=True)
class Param:
    """One run parameter; values are strings, as in MLflow."""

    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        """Build from a dict made by `to_dict`."""
        return cls(key=_require(data, "key", "Param"), value=str(_require(data, "value", "Param")))


@dataclass(frozen=True, slots=True)
class RunTag:
    """One run tag."""

    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunTag:
        """Build from a dict made by `to_dict`."""
        return cls(
            key=_require(data, "key", "RunTag"), value=str(_require(data, "value", "RunTag"))
        )


ExperimentTag = RunTag


@dataclass(frozen=True)
class Experiment:
    """An experiment: a named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: Mapping[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        data = asdict(self)
        data["tags"] = dict(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Experiment:
        """Build from a dict made by `to_dict`."""
        return cls(
            experiment_id=str(_require(data, "experiment_id", "Experiment")),
            name=str(_require(data, "name", "Experiment")),
            artifact_location=str(data.get("artifact_location", "")),
            lifecycle_stage=str(data.get("lifecycle_stage", LifecycleStage.ACTIVE)),
            tags=dict(data.get("tags") or {}),
            creation_time=data.get("creation_time"),
            last_update_time=data.get("last_update_time"),
            description=str(data.get("description") or ""),
        )


@dataclass(frozen=True)
class RunInfo:
    """A run's attributes (everything but its data)."""

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    parent_run_id: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for `run_id`."""
        return self.run_id

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        """Build from a dict made by `to_dict`."""
        return cls(
            run_id=str(_require(data, "run_id", "RunInfo")),
            experiment_id=str(_require(data, "experiment_id", "RunInfo")),
            run_name=str(data.get("run_name") or ""),
            user_id=str(data.get("user_id") or ""),
            status=str(_require(data, "status", "RunInfo")),
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
            artifact_uri=str(data.get("artifact_uri") or ""),
            lifecycle_stage=str(data.get("lifecycle_stage", LifecycleStage.ACTIVE)),
            parent_run_id=data.get("parent_run_id"),
        )


@dataclass(frozen=True)
class RunData:
    """A run's params, tags and latest metric values."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"metrics": dict(self.metrics), "params": dict(self.params), "tags": dict(self.tags)}


@dataclass(frozen=True)
class Run:
    """A run: its info and its data."""

    info: RunInfo
    data: RunData

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        """Build from a dict made by `to_dict`."""
        raw = _require(data, "data", "Run")
        return cls(
            info=RunInfo.from_dict(_require(data, "info", "Run")),
            data=RunData(
                metrics=dict(raw.get("metrics", {})),
                params=dict(raw.get("params", {})),
                tags=dict(raw.get("tags", {})),
            ),
        )


# The attribute columns of a search_runs frame, in order (metrics.*, params.*, tags.* follow).
RUN_COLUMNS = (
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
    "user_id",
    "lifecycle_stage",
    "parent_run_id",
)
