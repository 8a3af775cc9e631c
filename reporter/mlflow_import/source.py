"""What an MLflow source yields, whatever it is: experiments, runs, histories, artifacts.

Each reader (file_store, sqlite, rest) implements `Source`. Readers only read: nothing in
the source is ever modified. A run or file a reader cannot read raises `SourceError` naming it;
the importer skips that run or file with a warning and goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from reporter.errors import ReporterError


class SourceError(ReporterError):
    """Something in the MLflow source could not be read (the message names it)."""


@dataclass(frozen=True)
class SourceExperiment:
    """An MLflow experiment as the source holds it."""

    experiment_id: str
    name: str
    lifecycle_stage: str  # "active" or "deleted"
    tags: dict[str, str] = field(default_factory=dict)  # mlflow.note.content is the description
    creation_time: int | None = None  # ms since the epoch
    last_update_time: int | None = None


@dataclass(frozen=True)
class MetricPoint:
    """One logged metric value."""

    step: int
    timestamp: int  # ms since the epoch
    value: float


@dataclass(frozen=True)
class SourceRun:
    """An MLflow run's attributes, params, tags and latest metrics (histories come apart)."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str  # RUNNING, SCHEDULED, FINISHED, FAILED or KILLED
    start_time: int | None
    end_time: int | None
    user_id: str
    lifecycle_stage: str  # "active" or "deleted"
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # mlflow.parentRunId links a child run
    latest: dict[str, MetricPoint] = field(default_factory=dict)  # latest point of each metric


@dataclass(frozen=True)
class ArtifactFile:
    """A file among a run's artifacts: its path relative to the run's artifact root."""

    path: str
    size: int | None


class Source(Protocol):
    """An MLflow tracking store, read-only."""

    uri: str  # what the user gave, for messages and the import tags

    def experiments(self) -> list[SourceExperiment]:
        """Return every experiment, deleted ones included."""
        ...

    def runs(self, experiment_id: str) -> Iterator[SourceRun | SourceError]:
        """Yield every run of an experiment, deleted ones included; a run that cannot be read
        is yielded as a SourceError naming it (the others still come)."""
        ...

    def metric_history(self, run: SourceRun, key: str) -> list[MetricPoint]:
        """Return every point of a run's metric, in the order logged."""
        ...

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every file under the run's artifact root, recursively (empty if none)."""
        ...

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes (SourceError if it cannot be read)."""
        ...

    def close(self) -> None:
        """Release connections and handles."""
        ...
