"""The one storage seam: everything the layers above know about a store.

The tracking client, the importer and the view layer (site, summary, listings) hold an
`AbstractStore` and nothing else: no file paths, no filesystem object. `log_metric`,
`log_param` and `set_tag` on the client are one-liners over `log_batch`; reads of many runs go
through `runs_frame` (one row per run, `search_runs` shape) or `list_runs`.

An implementation is opened by URI scheme (`reporter.store.registry`) and proves itself by
passing the conformance suite in `tests/store_contract/`, which runs unchanged on any store.
Errors: `NotFoundError` for what does not exist, `InvalidArgumentError` for a bad value,
`StoreWriteError` for a write that failed (nothing already stored is lost).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reporter.core.datasets import DatasetInput, RunInputs
from reporter.core.entities import Experiment, Metric, Param, Run, RunTag
from reporter.core.errors import UnsupportedFeatureError
from reporter.core.logged_models import LoggedModel
from reporter.core.model_links import LoggedModelOutput
from reporter.core.model_registry import ModelVersion, RegisteredModel
from reporter.store.records import CompactionResult, MetricPoints, Row, RunBatch

if TYPE_CHECKING:
    import pandas as pd

    from reporter.store.archiving import ArchiveReport
    from reporter.store.usage import GcReport, StoreUsage


class AbstractStore(ABC):
    """Experiments, runs, their events and artifacts, at one URI."""

    uri: str  # where the store is, as users name it (a folder's absolute path, or a URL)

    # the store -----------------------------------------------------------------------------
    @abstractmethod
    def require_existing(self) -> None:
        """Raise NotFoundError (with a hint) unless a store exists here; for readers."""

    def create_if_missing(self) -> None:  # noqa: B027 - optional: a remote store exists
        """Make an empty store here if there is none (a server starting on a new folder)."""

    def uri_for_workers(self) -> str | None:
        """Return the URI another process of this machine opens to read this very store (a
        build's read and page workers), or None when none can: a store in this process's
        memory, a server signed in to, a class no other process knows. This default: None."""
        return None

    @abstractmethod
    def content_digest(self) -> str:
        """Return a digest that changes whenever anything stored changes (a build's cache key)."""

    # experiments ---------------------------------------------------------------------------
    @abstractmethod
    def create_experiment(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        exclusive: bool = False,
    ) -> str:
        """Create an experiment and return its id. If one of that name exists (or another
        process creates it first): AlreadyExistsError when `exclusive` (MLflow's
        create_experiment: exactly one racer wins, and no loser's tags are dropped silently),
        else its id (set_experiment)."""

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
    def require_experiment(self, experiment_id: str) -> None:
        """Raise NotFoundError unless the experiment exists."""

    @abstractmethod
    def update_experiment(self, experiment: Experiment) -> None:
        """Record new values of an experiment's name, description, tags and lifecycle."""

    @abstractmethod
    def edit_experiment(
        self,
        experiment_id: str,
        *,
        set_fields: dict[str, Any] | None = None,
        set_tags: dict[str, str] | None = None,
        delete_tags: Sequence[str] = (),
    ) -> None:
        """Record one edit of an experiment; concurrent edits of different fields all stay."""

    # runs: writing -------------------------------------------------------------------------
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
    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[Any] = ()
    ) -> None:
        """Record datasets (and logged models, by `model_id`) a run used; a run holds each
        dataset (name, digest) and model once, as first logged (buffered; see `flush`)."""

    @abstractmethod
    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None:
        """Record logged models a run produced (`run.outputs`; buffered like `log_batch`)."""

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""

    @abstractmethod
    def end_run(self, run_id: str, status: str, end_time: int) -> None:
        """Mark a run terminated and flush everything it logged."""

    @abstractmethod
    def flush(self) -> None:
        """Write every buffered row before returning."""

    def serve_clients(self) -> None:  # noqa: B027 - optional: most stores need nothing
        """Prepare to serve many clients (a tracking server): a store may share files between
        the writes of one flush, and runs created from now on have their status set by their
        client (MLflow's rule) rather than by a heartbeat of this process."""

    @abstractmethod
    def close(self) -> None:
        """Write everything buffered and stop background work; the store stays usable."""

    @abstractmethod
    def ensure_run_marker(self, exp_id: str, run_id: str, created: int | None = None) -> None:
        """Make a run of a given id exist in an experiment (an import); no-op if it does."""

    @abstractmethod
    def write_run_events(
        self, exp_id: str, run_id: str, rows: list[Row], created: int | None = None
    ) -> None:
        """Record events of a run whose id is given (an import), durable on return."""

    # runs: reading -------------------------------------------------------------------------
    @abstractmethod
    def experiment_of(self, run_id: str) -> str:
        """Return the id of a run's experiment; NotFoundError if no experiment has it."""

    def knows_run(self, run_id: str) -> bool:
        """Return True if this process knows the run's experiment without reading storage
        (so queueing rows for it cannot wait on storage); False when unsure."""
        return False

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return a run; NotFoundError if there is none."""

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of a run's metric, ordered by step then timestamp."""

    @abstractmethod
    def list_runs(self, experiment_ids: Sequence[str]) -> list[Run]:
        """Return every run of these experiments (deleted ones included)."""

    @abstractmethod
    def list_run_inputs(self, experiment_ids: Sequence[str]) -> dict[str, RunInputs]:
        """Return {run id: its inputs} of these experiments' runs that have any."""

    @abstractmethod
    def runs_frame(self, experiment_ids: Sequence[str]) -> pd.DataFrame:
        """Return one row per run of these experiments, `search_runs` columns, times in ms."""

    @abstractmethod
    def read_experiment(self, exp_id: str) -> tuple[pd.DataFrame, MetricPoints]:
        """Return an experiment's runs frame and every metric point, read together."""

    def read_experiment_batches(self, exp_id: str, max_points: int) -> Iterator[RunBatch]:
        """Yield an experiment's runs in batches of about `max_points` metric points (a run is
        never split): each batch's frame rows, every metric point of its runs and their
        inputs, so that a reader of any size of experiment holds one batch at a time.

        Runs logged after the first batch was read may be left out. This default reads the
        whole experiment as one batch."""
        frame, points = self.read_experiment(exp_id)
        yield RunBatch(frame, points, self.list_run_inputs([exp_id]))

    def experiment_batches(self, exp_id: str, max_points: int) -> list[list[str]]:
        """Return how `read_experiment_batches` cuts an experiment: its run ids in batches of
        about `max_points` metric points, each read by `read_run_batch` (by any process);
        [] when this store reads an experiment as one batch. This default: []."""
        return []

    def read_run_batch(self, exp_id: str, run_ids: list[str]) -> RunBatch:
        """Read one batch of `experiment_batches` (NotImplementedError when it returns [])."""
        raise NotImplementedError(f"{type(self).__name__} reads an experiment as one batch")

    def read_metric_points(self, exp_id: str, run_ids: Collection[str]) -> MetricPoints:
        """Return every metric point of these runs of an experiment (sorted by run, key,
        step): a second read of runs `read_experiment_batches` gave, so damaged files it
        warned about are skipped quietly. This default reads the whole experiment and keeps
        these runs' points."""
        import numpy as np

        _, points = self.read_experiment(exp_id)
        wanted = set(run_ids)
        codes = [i for i, r in enumerate(points.runs) if r in wanted]
        return points.where(np.isin(points.run, np.asarray(codes, dtype=points.run.dtype)))

    @abstractmethod
    def clear_cache(self) -> None:
        """Forget anything cached in this process; the next read sees the stored data."""

    # artifacts ------------------------------------------------------------------------------
    @abstractmethod
    def artifact_uri(self, run_id: str, path: str | None = None) -> str:
        """Return where a run's artifacts (or one of them) live."""

    @abstractmethod
    def log_artifact_file(self, run_id: str, local_path: str, artifact_path: str) -> None:
        """Copy one local file to a run's artifacts at `artifact_path` (a file path)."""

    @abstractmethod
    def write_artifact_bytes(self, run_id: str, artifact_path: str, data: bytes) -> None:
        """Write bytes as a run's artifact file at `artifact_path`."""

    @abstractmethod
    def list_artifacts(self, run_id: str) -> list[tuple[str, int]]:
        """Return (path, size) of every artifact file of a run, folders walked."""

    @abstractmethod
    def list_experiment_artifacts(self, exp_id: str) -> dict[str, list[tuple[str, int]]]:
        """Return {run id: [(path, size)]} of every artifact file of an experiment's runs."""

    @abstractmethod
    def read_artifact(self, run_id: str, path: str, experiment_id: str | None = None) -> bytes:
        """Return an artifact file's bytes; NotFoundError if it does not exist.

        `experiment_id`, when the caller knows it, saves looking the run up.
        """

    @abstractmethod
    def download_artifact_file(self, run_id: str, path: str, local_path: str) -> None:
        """Copy one artifact file to a local path."""

    @abstractmethod
    def artifact_link(self, run_id: str, path: str, experiment_id: str | None = None) -> str:
        """Return a URL a browser can open for an artifact file (file:// for a local store)."""

    # logged models (MLflow 3) ---------------------------------------------------------------
    @abstractmethod
    def create_logged_model(self, model: LoggedModel) -> LoggedModel:
        """Record a new logged model (its id is new) and return it as stored."""

    @abstractmethod
    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Return a logged model; NotFoundError if there is none."""

    @abstractmethod
    def list_logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        """Return every logged model of these experiments (deleted ones included)."""

    @abstractmethod
    def edit_logged_model(
        self,
        model_id: str,
        *,
        set_fields: dict[str, Any] | None = None,
        set_tags: dict[str, str] | None = None,
        delete_tags: Sequence[str] = (),
        params: dict[str, str] | None = None,
        metrics: Sequence[Metric] = (),
    ) -> None:
        """Record one change of a logged model (status, tags, params, metrics); concurrent
        changes all stay, and a param keeps its first value."""

    @abstractmethod
    def log_model_artifact_file(self, model_id: str, local_path: str, artifact_path: str) -> None:
        """Copy one local file into a logged model's files at `artifact_path`."""

    @abstractmethod
    def list_model_artifacts(self, model_id: str) -> list[tuple[str, int]]:
        """Return (path, size) of every file of a logged model."""

    @abstractmethod
    def read_model_artifact(self, model_id: str, path: str) -> bytes:
        """Return a logged model's file; NotFoundError if it does not exist."""

    @abstractmethod
    def download_model_artifact_file(self, model_id: str, path: str, local_path: str) -> None:
        """Copy one file of a logged model to a local path."""

    # maintenance ----------------------------------------------------------------------------
    @abstractmethod
    def compact(self, experiment_ids: Sequence[str] | None = None) -> list[CompactionResult]:
        """Merge what can be merged (all experiments by default); a store with nothing to
        merge returns an empty list."""

    # storage hygiene: size, garbage collection, archiving ----------------------------------
    # (a store reached through a tracking server is looked after where the server's store is)
    def usage(
        self,
        experiment_ids: Sequence[str] | None = None,
        *,
        older_than_ms: int = 30 * 86_400_000,
        lifecycles: bool = True,
        known: Mapping[str, Sequence[Any]] | None = None,
    ) -> StoreUsage:
        """Return what the store (or these experiments) holds: bytes and files of events,
        artifacts and models per experiment and per run, from a listing and file footers;
        with `lifecycles`, also which runs are deleted and what `collect_garbage` with
        `older_than_ms` would free (read from the runs' attribute events). `known`:
        experiment id -> the `RunBatch.lifecycles` of every batch of it, in order: what a
        read of those runs said already, which a store may use rather than read them
        again."""
        raise UnsupportedFeatureError(
            f"The store {self.uri} cannot measure itself from here; run `tracker-report du` "
            "against the store the server uses (--store PATH or s3://...)"
        )

    def collect_garbage(
        self,
        older_than_ms: int,
        *,
        dry_run: bool = False,
        experiment_ids: Sequence[str] | None = None,
        run_ids: Sequence[str] | None = None,
        wait_s: float | None = None,
    ) -> GcReport:
        """Remove for good the runs and experiments deleted at least `older_than_ms` ago
        (or exactly the ones named, which must be deleted), with their artifacts and models
        (MLflow's `mlflow gc`); nothing else. `wait_s`: how long a store lets compactions
        under way finish before it removes runs' events (None: its default)."""
        raise UnsupportedFeatureError(
            f"The store {self.uri} cannot be garbage-collected from here; run `tracker-report "
            "gc` against the store the server uses (--store PATH or s3://...)"
        )

    def archive_runs(
        self, run_ids: Sequence[str], to_uri: str, *, dry_run: bool = False
    ) -> ArchiveReport:
        """Move these finished runs' events and artifacts to the store at `to_uri`, verify
        every byte arrived, then remove them here, leaving a summary that says where they are."""
        raise UnsupportedFeatureError(
            f"The store {self.uri} cannot archive from here; run `tracker-report archive` "
            "against the store the server uses (--store PATH or s3://...)"
        )

    def restore_runs(self, run_ids: Sequence[str], from_uri: str) -> ArchiveReport:
        """Bring archived runs back from the store at `from_uri`, exactly as they were."""
        raise UnsupportedFeatureError(
            f"The store {self.uri} cannot restore from here; run `tracker-report restore` "
            "against the store the server uses (--store PATH or s3://...)"
        )

    # access control and the audit trail (kept for the tracking server) ---------------------
    def model_registry(self) -> AbstractRegistry:
        """The store's model registry (registered models, versions, aliases)."""
        raise UnsupportedFeatureError(
            f"{type(self).__name__} has no model registry; use a folder or object-store URI"
        )

    def access_changes(self) -> list[dict[str, Any]]:
        """Return the access-control change records (users, grants), oldest first."""
        raise UnsupportedFeatureError(
            f"The store {self.uri} keeps no users or grants; manage them where the server's "
            "store is (tracker-report users --store ...)"
        )

    def publish_access_change(self, change: dict[str, Any]) -> None:
        """Append one access-control change record; durable on return."""
        raise UnsupportedFeatureError(
            f"The store {self.uri} keeps no users or grants; manage them where the server's "
            "store is (tracker-report users --store ...)"
        )

    def append_audit(self, records: Sequence[dict[str, Any]]) -> None:
        """Append audit records (each with a unique "id" and a "time" in ms); durable on
        return. Nothing ever changes or removes them."""
        raise UnsupportedFeatureError(f"The store {self.uri} keeps no audit trail")

    def read_audit(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        """Return the audit records (at or after since_ms), each once, in time order."""
        raise UnsupportedFeatureError(f"The store {self.uri} keeps no audit trail")


class AbstractRegistry(ABC):
    """A store's model registry: MLflow's registry operations with its rules and errors
    (`reporter.core.model_registry`). Names and versions are checked here; a missing model or
    version is a NotFoundError, a taken name an AlreadyExistsError."""

    @abstractmethod
    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, each with its latest version per stage."""

    @abstractmethod
    def get_model(self, name: str) -> RegisteredModel: ...

    @abstractmethod
    def create_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel: ...

    @abstractmethod
    def update_model(self, name: str, description: str | None) -> RegisteredModel: ...

    @abstractmethod
    def rename_model(self, name: str, new_name: str) -> RegisteredModel: ...

    @abstractmethod
    def delete_model(self, name: str) -> None:
        """Delete a model and its versions (its name may be registered anew)."""

    @abstractmethod
    def set_model_tag(self, name: str, key: str, value: Any) -> None: ...

    @abstractmethod
    def delete_model_tag(self, name: str, key: str) -> None: ...

    @abstractmethod
    def set_alias(self, name: str, alias: str, version: Any) -> None: ...

    @abstractmethod
    def delete_alias(self, name: str, alias: str) -> None: ...

    @abstractmethod
    def version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    @abstractmethod
    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        storage_location: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        """Register the next version (numbers never collide, never reused)."""

    @abstractmethod
    def get_version(self, name: str, version: Any) -> ModelVersion: ...

    @abstractmethod
    def list_versions(self) -> list[ModelVersion]:
        """Every version of every registered model."""

    @abstractmethod
    def update_version(self, name: str, version: Any, **fields: Any) -> ModelVersion:
        """Change a version's `description` or `current_stage`."""

    @abstractmethod
    def delete_version(self, name: str, version: Any) -> None: ...

    @abstractmethod
    def set_version_tag(self, name: str, version: Any, key: str, value: Any) -> None: ...

    @abstractmethod
    def delete_version_tag(self, name: str, version: Any, key: str) -> None: ...

    # imports (tracker-report import mlflow) ---------------------------------------------------
    @abstractmethod
    def import_model(self, model: RegisteredModel) -> bool:
        """Make the live model named `model.name` read as given: create it with its creation
        and update times, description, tags and aliases (an alias naming a version not there
        yet shows once it is), or record what differs in one edit. Return True if anything
        was written. AlreadyExistsError (nothing written) when the live model of that name was
        created at another time: it is another model."""

    @abstractmethod
    def import_version(self, version: ModelVersion, *, deleted: bool = False) -> bool:
        """Make version `version.version` of its model read as given, keeping its number (gaps
        included), times, stage, status, user, source, run and tags: create it (`deleted`: as
        a deleted version, its number taken), or record what differs in its description,
        stage, tags, update time and deletion in one edit (a version deleted here stays
        deleted). Return True if anything was written. AlreadyExistsError (nothing written)
        when the model's version of that number was created at another time."""
