"""Small immutable values: experiments, runs, metrics, params, tags (MLflow's names)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from reporter.core.datasets import DatasetInput, RunInputs
from reporter.core.errors import InvalidArgumentError
from reporter.core.model_links import LoggedModelOutput, RunOutputs


class RunStatus:
    """Run statuses as strings, as MLflow's `RunStatus.to_string` gives them."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)

    # MLflow's enum numbers
    NUMBERS: ClassVar[Mapping[int, str]] = {
        1: RUNNING,
        2: SCHEDULED,
        3: FINISHED,
        4: FAILED,
        5: KILLED,
    }

    @staticmethod
    def to_string(status: str | int) -> str:
        """Return a status's name; MLflow's numbers (3 is FINISHED) are taken too."""
        name = RunStatus.NUMBERS.get(status) if isinstance(status, int) else status
        if name not in RunStatus.ALL:
            raise InvalidArgumentError(
                f"Unknown run status {status!r}; valid: {', '.join(RunStatus.ALL)}"
            )
        return str(name)

    @staticmethod
    def from_string(status: str) -> str:
        """Return the constant of a status name (the name itself: statuses are strings)."""
        return RunStatus.to_string(status)

    @staticmethod
    def all_status() -> list[str]:
        """Return every status."""
        return list(RunStatus.ALL)

    @staticmethod
    def is_terminated(status: str | int) -> bool:
        """Return True for FINISHED, FAILED and KILLED."""
        name = RunStatus.NUMBERS.get(status) if isinstance(status, int) else status
        return name in RunStatus.TERMINAL


class SourceType:
    """What started a run (the `mlflow.source.type` tag), as strings."""

    NOTEBOOK = "NOTEBOOK"
    JOB = "JOB"
    PROJECT = "PROJECT"
    LOCAL = "LOCAL"
    UNKNOWN = "UNKNOWN"
    ALL = (NOTEBOOK, JOB, PROJECT, LOCAL, UNKNOWN)
    # MLflow's enum numbers
    NUMBERS: ClassVar[Mapping[int, str]] = {
        1: NOTEBOOK,
        2: JOB,
        3: PROJECT,
        4: LOCAL,
        1000: UNKNOWN,
    }

    @staticmethod
    def to_string(source_type: str | int) -> str:
        """Return a source type's name; MLflow's numbers (4 is LOCAL) are taken too."""
        name = SourceType.NUMBERS.get(source_type) if isinstance(source_type, int) else source_type
        if name not in SourceType.ALL:
            raise InvalidArgumentError(
                f"Unknown source type {source_type!r}; valid: {', '.join(SourceType.ALL)}"
            )
        return str(name)

    @staticmethod
    def from_string(source_type: str) -> str:
        """Return the constant of a source type name."""
        return SourceType.to_string(source_type)


class LifecycleStage:
    """Whether an experiment or run is active or deleted (soft delete)."""

    ACTIVE = "active"
    DELETED = "deleted"

    @staticmethod
    def is_valid(lifecycle_stage: str) -> bool:
        """Return True for "active" and "deleted"."""
        return lifecycle_stage in (LifecycleStage.ACTIVE, LifecycleStage.DELETED)

    @staticmethod
    def view_type_to_stages(view_type: int = 3) -> list[str]:
        """Return the stages a view type (ViewType.ACTIVE_ONLY, ...) shows."""
        stages = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            stages.append(LifecycleStage.ACTIVE)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            stages.append(LifecycleStage.DELETED)
        return stages

    @staticmethod
    def matches_view_type(view_type: int, lifecycle_stage: str) -> bool:
        """Return True if a view type shows things in that stage."""
        return lifecycle_stage in LifecycleStage.view_type_to_stages(view_type)


class ViewType:
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3
    NAMES: ClassVar[Mapping[str, int]] = {
        "active_only": ACTIVE_ONLY,
        "deleted_only": DELETED_ONLY,
        "all": ALL,
    }

    @staticmethod
    def from_string(view_str: str) -> int:
        """Return the view type of a name: "active_only", "deleted_only" or "all"."""
        try:
            return ViewType.NAMES[str(view_str).lower()]
        except KeyError:
            raise InvalidArgumentError(
                f"Unknown view type {view_str!r}; valid: {', '.join(ViewType.NAMES)}"
            ) from None

    @staticmethod
    def to_string(view_type: int) -> str:
        """Return the name of a view type."""
        for name, value in ViewType.NAMES.items():
            if value == view_type:
                return name
        raise InvalidArgumentError(f"Unknown view type {view_type!r}; valid: 1, 2, 3")


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
    # MLflow 3: a metric may be about a logged model, measured on a dataset, and name its run
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (the MLflow 3 fields only when set)."""
        data = {"key": self.key, "value": self.value, "timestamp": self.timestamp}
        data["step"] = self.step
        for name in METRIC_LINKS:
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metric:
        """Build from a dict made by `to_dict`."""
        links = {k: str(data[k]) for k in METRIC_LINKS if data.get(k) is not None}
        return cls(
            key=_require(data, "key", "Metric"),
            value=float(_require(data, "value", "Metric")),
            timestamp=int(_require(data, "timestamp", "Metric")),
            step=int(data.get("step", 0)),
            **links,
        )


# the optional fields of a Metric that link it to a model, a dataset or a run
METRIC_LINKS = ("model_id", "dataset_name", "dataset_digest", "run_id")


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
    # (step, timestamp) of each latest metric value, where the store keeps them
    metric_steps: Mapping[str, tuple[int, int]] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"metrics": dict(self.metrics), "params": dict(self.params), "tags": dict(self.tags)}


@dataclass(frozen=True)
class Run:
    """A run: its info and its data."""

    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)  # the datasets it used
    outputs: RunOutputs = field(default_factory=RunOutputs)  # the logged models it produced

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        out = {"info": self.info.to_dict(), "data": self.data.to_dict()}
        return {
            **out,
            "inputs": self.inputs.to_dictionary(),
            "outputs": self.outputs.to_dictionary(),
        }

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
            inputs=RunInputs(
                [
                    DatasetInput.from_dict(d)
                    for d in (data.get("inputs") or {}).get("dataset_inputs", ())
                ]
            ),
            outputs=RunOutputs(
                [
                    LoggedModelOutput(str(o["model_id"]), int(o.get("step", 0)))
                    for o in (data.get("outputs") or {}).get("model_outputs", ())
                ]
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
