"""The one storage seam: what the client needs from a store.

`log_metric`, `log_param` and `set_tag` on the client are one-liners over `log_batch`;
reads of many runs go through `list_runs`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from reporter.entities import Experiment, Metric, Param, Run, RunTag


class AbstractStore(ABC):
    """Experiments, runs, their data and artifacts."""

    # experiments
    @abstractmethod
    def create_experiment(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> str:
        """Create an experiment (or return the id of the one of that name being created)."""

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return an experiment by id; NotFoundError if there is none."""

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment of that name, or None."""

    @abstractmethod
    def list_experiments(self) -> list[Experiment]:
        """Return every experiment, deleted ones included."""

    @abstractmethod
    def update_experiment(self, experiment: Experiment) -> None:
        """Replace an experiment's record (name, tags, description, lifecycle)."""

    # runs
    @abstractmethod
    def create_run(
        self,
        experiment_id: str,
        run_name: str,
        user_id: str,
        start_time: int,
        tags: Sequence[RunTag],
        parent_run_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run and return it."""

    @abstractmethod
    def resume_run(self, run_id: str) -> Run:
        """Reopen an existing run for logging and mark it RUNNING."""

    @abstractmethod
    def set_attributes(self, run_id: str, **attrs: str | int | None) -> None:
        """Record new values of run attributes (status, end_time, run_name, lifecycle_stage)."""

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Record metrics, params and tags of a run (buffered; see `flush`)."""

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""

    @abstractmethod
    def end_run(self, run_id: str, status: str, end_time: int) -> None:
        """Mark a run terminated and flush everything it logged."""

    @abstractmethod
    def flush(self) -> None:
        """Write every buffered row before returning."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return a run; NotFoundError if there is none."""

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of a run's metric, ordered by step then timestamp."""

    @abstractmethod
    def list_runs(self, experiment_ids: Sequence[str]) -> list[Run]:
        """Return every run of these experiments (deleted ones included)."""

    # artifacts
    @abstractmethod
    def artifact_uri(self, run_id: str, path: str | None = None) -> str:
        """Return where a run's artifacts (or one of them) live."""

    @abstractmethod
    def log_artifact_file(self, run_id: str, local_path: str, artifact_path: str) -> None:
        """Copy one local file to a run's artifacts at `artifact_path` (a file path)."""

    @abstractmethod
    def list_artifact_files(self, run_id: str) -> list[tuple[str, int]]:
        """Return (relative path, size) of every artifact file of a run."""

    @abstractmethod
    def download_artifact_file(self, run_id: str, path: str, local_path: str) -> None:
        """Copy one artifact file to a local path."""
