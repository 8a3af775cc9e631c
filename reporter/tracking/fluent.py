"""The fluent API: an active-run stack over `Client` (MLflow's `mlflow.*` functions)."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from reporter.core import env, system_tags, validation
from reporter.core.datasets import RunInputs
from reporter.core.entities import (
    Experiment,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from reporter.core.errors import InvalidArgumentError, NotFoundError, RunStateError
from reporter.core.model_links import RunOutputs
from reporter.tracking import active_model, context
from reporter.tracking import uri as tracking_uri
from reporter.tracking.client import Client, FileInfo, metrics_of

if TYPE_CHECKING:
    import pandas as pd

ENV_EXPERIMENT_NAME = env.EXPERIMENT_NAME.name
ENV_EXPERIMENT_ID = env.EXPERIMENT_ID.name


class ActiveRun:
    """A started run; as a context manager it ends FINISHED, FAILED (error) or KILLED (Ctrl-C)."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def info(self) -> RunInfo:
        """The run's attributes as they were when it started."""
        return self._run.info

    @property
    def data(self) -> RunData:
        """The run's data as it was when it started (use get_run for the current data)."""
        return self._run.data

    @property
    def inputs(self) -> RunInputs:
        """The run's inputs as they were when it started (use get_run for the current ones)."""
        return self._run.inputs

    @property
    def outputs(self) -> RunOutputs:
        """The run's outputs as they were when it started (use get_run for the current ones)."""
        return self._run.outputs

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _end(self.info.run_id, status)

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self.info.run_id}, name={self.info.run_name!r}>"


class _State(threading.local):
    """Per-thread active runs and last ended run; the experiment choice is shared by all
    threads."""

    def __init__(self) -> None:
        self.stack: list[ActiveRun] = []
        self.last_run_id: str | None = None  # the run this thread ended last (MLflow's rule)


_state = _State()
_all_active: dict[str, ActiveRun] = {}
_experiment_id: str | None = None
_client_cache: dict[str, Client] = {}


def reset() -> None:
    """End this thread's active runs and forget the experiment, last run and tracking URI set
    in this process: the state a new process starts in (for tests and notebooks)."""
    global _experiment_id
    while active_run() is not None:
        end_run()
    _all_active.clear()
    _experiment_id = None
    _state.last_run_id = None
    active_model.reset()
    tracking_uri.reset()


def _client() -> Client:
    """Return a client for the current tracking URI."""
    uri = tracking_uri.get_tracking_uri()
    client = _client_cache.get(uri)
    if client is None:
        client = _client_cache[uri] = Client(uri)
    return client


# tracking URI ---------------------------------------------------------------------------
def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Set where runs are recorded (a folder, file:FOLDER, or s3://bucket/prefix)."""
    tracking_uri.set_tracking_uri(uri)


def get_tracking_uri() -> str:
    """Return where runs are recorded."""
    return tracking_uri.get_tracking_uri()


def is_tracking_uri_set() -> bool:
    """Return True if a tracking URI was set (set_tracking_uri or $TRACKER_TRACKING_URI)."""
    return tracking_uri.is_tracking_uri_set()


def _no_trace_location(trace_location: object) -> None:
    """Refuse MLflow's trace_location: it places traces, and tracing is left out."""
    if trace_location is not None:
        raise InvalidArgumentError(
            "trace_location places MLflow traces; tracing is not part of tracker-report"
        )


# experiments ---------------------------------------------------------------------------
def set_experiment(
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    trace_location: Any = None,
) -> Experiment:
    """Make an experiment active (creating it by name if needed) and return it."""
    global _experiment_id
    _no_trace_location(trace_location)
    client = _client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidArgumentError(
            "set_experiment takes exactly one of experiment_name or experiment_id"
        )
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    else:
        assert experiment_name is not None
        exp_or_none = client.get_experiment_by_name(experiment_name)
        if exp_or_none is None:
            client._ensure_experiment(experiment_name)
            exp_or_none = client.get_experiment_by_name(experiment_name)
        if exp_or_none is None:
            raise NotFoundError(f"Experiment {experiment_name!r} could not be created")
        exp = exp_or_none
    if exp.lifecycle_stage != "active":
        raise InvalidArgumentError(
            f"Experiment {exp.name!r} ({exp.experiment_id}) is deleted; "
            f"restore it with reporter.Client().restore_experiment({exp.experiment_id!r})"
        )
    _experiment_id = exp.experiment_id
    return exp


def _current_experiment_id() -> str:
    """Return the active experiment: set_experiment, else the environment, else Default."""
    if _experiment_id is not None:
        return _experiment_id
    from_env = env.experiment_id()
    if from_env:
        return from_env
    name = env.experiment_name()
    if name:
        return set_experiment(name).experiment_id
    return "0"


_get_experiment_id = _current_experiment_id  # MLflow's private name, which scripts import


def create_experiment(
    name: str,
    artifact_location: str | None = None,
    tags: dict[str, Any] | None = None,
    trace_location: Any = None,
    *,
    description: str | None = None,
) -> str:
    """Create an experiment and return its id (`description` is ours: its markdown note)."""
    _no_trace_location(trace_location)
    return _client().create_experiment(name, artifact_location, tags, description)


def get_experiment(experiment_id: str) -> Experiment:
    """Return an experiment by id."""
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """Return the experiment of that name, or None."""
    return _client().get_experiment_by_name(name)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Return experiments, optionally filtered by name or tags."""
    return _client().search_experiments(view_type, max_results, filter_string, order_by)


def delete_experiment(experiment_id: str) -> None:
    """Mark an experiment deleted."""
    _client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    """Undo delete_experiment."""
    _client().restore_experiment(experiment_id)


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag on the active experiment."""
    _client().set_experiment_tag(_current_experiment_id(), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags on the active experiment."""
    for key, value in tags.items():
        set_experiment_tag(key, value)


def delete_experiment_tag(key: str) -> None:
    """Remove a tag from the active experiment."""
    _client().delete_experiment_tag(_current_experiment_id(), key)


def set_experiment_description(description: str) -> None:
    """Set the markdown description of the active experiment."""
    _client().set_experiment_description(_current_experiment_id(), description)


# runs ----------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume one by id) and make it active; use it in a `with` block."""
    client = _client()
    stack = _state.stack
    if stack and not nested:
        raise RunStateError(
            f"Run {stack[-1].info.run_id} ({stack[-1].info.run_name!r}) is already active. "
            "End it first with reporter.end_run(), or pass nested=True to start a child run."
        )
    parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
    if run_id is not None:
        run = client._resume_run(run_id)
        if tags:
            client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
    else:
        exp_id = str(experiment_id) if experiment_id is not None else _current_experiment_id()
        exp = client.get_experiment(exp_id)
        all_tags = {**context.system_tags(), **{k: str(v) for k, v in (tags or {}).items()}}
        if description is not None:
            all_tags[system_tags.TAG_NOTE] = description
        name = context.render_run_name(run_name, exp.name, all_tags) if run_name else None
        run = client.create_run(exp_id, tags=all_tags, run_name=name, parent_run_id=parent)
        if context.environment_logging_enabled():
            try:
                client.log_text(
                    run.info.run_id,
                    context.environment_requirements(),
                    system_tags.ENVIRONMENT_ARTIFACT,
                )
            except BaseException:  # the run was made but start_run fails: never left RUNNING
                with contextlib.suppress(Exception):
                    client.set_terminated(run.info.run_id, RunStatus.FAILED)
                raise
    active = ActiveRun(run)
    stack.append(active)
    _all_active[run.info.run_id] = active
    _install_exit_hooks()
    return active


def _end(run_id: str, status: str) -> None:
    """End one run and remove it from the active stacks."""
    stack = _state.stack
    if run_id in _all_active:
        del _all_active[run_id]
        if stack and stack[-1].info.run_id == run_id:
            stack.pop()
        else:
            stack[:] = [r for r in stack if r.info.run_id != run_id]
        _state.last_run_id = run_id
        _client().set_terminated(run_id, status)


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run (the innermost one) with a status."""
    stack = _state.stack
    if stack:
        _end(stack[-1].info.run_id, status)


def active_run() -> ActiveRun | None:
    """Return the active run of this thread, or None."""
    stack = _state.stack
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """Return the active run, or else the run this thread ended last (as stored now), as
    MLflow does: after a nested child and then its parent end, the parent."""
    run = active_run()
    run_id = run.info.run_id if run else _state.last_run_id
    return _client().get_run(run_id) if run_id else None


def _run_id() -> str:
    """Return the active run's id, starting a run if none is active (as MLflow does)."""
    stack = _state.stack
    if stack:
        return stack[-1].info.run_id
    return start_run().info.run_id


def get_run(run_id: str) -> Run:
    """Return a run by id."""
    return _client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """Return the parent of a nested run, or None for a top-level run."""
    parent_id = get_run(run_id).data.tags.get(system_tags.TAG_PARENT_RUN_ID)
    return get_run(parent_id) if parent_id else None


def delete_run(run_id: str) -> None:
    """Mark a run deleted."""
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Undo delete_run."""
    _client().restore_run(run_id)


# logging -------------------------------------------------------------------------------
def _written(synchronous: bool | None) -> None:
    """With synchronous=True, write what was buffered before the call returns (MLflow's
    meaning); otherwise it stays buffered for the background flusher."""
    if synchronous:
        _client().flush()


def log_metric(
    key: str,
    value: Any,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Record one metric point of the active run (or of run_id); buffered unless synchronous.
    With model_id (and dataset), the point is also a metric of that logged model."""
    model_id = model_id or active_model.state.active_model_id  # as MLflow 3
    _client().log_metric(
        run_id or _run_id(),
        key,
        value,
        timestamp,
        step,
        synchronous=synchronous,
        dataset_name=getattr(dataset, "name", None),
        dataset_digest=getattr(dataset, "digest", None),
        model_id=model_id,
    )


def log_metrics(
    metrics: Mapping[str, Any],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Record several metrics sharing a step (see log_metric)."""
    client = _client()
    run_id = run_id or _run_id()
    ts = timestamp if timestamp is not None else int(time.time() * 1000)
    items = metrics_of(metrics.items(), validation.metric_step("metrics", step or 0), ts)
    client._log_checked_metrics(run_id, items)
    model_id = model_id or active_model.state.active_model_id
    if model_id is not None:  # as log_metric: the points are the model's metrics too
        name, digest = getattr(dataset, "name", None), getattr(dataset, "digest", None)
        linked = [
            replace(m, model_id=model_id, dataset_name=name, dataset_digest=digest, run_id=run_id)
            for m in items
        ]
        client.log_model_metrics(model_id, linked)
    _written(synchronous)


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Record a param of the active run; returns the value."""
    logged = _client().log_param(_run_id(), key, value)
    _written(synchronous)
    return logged


def log_params(
    params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    """Record several params."""
    items = [Param(validation.key_name("Param", k), str(v)) for k, v in params.items()]
    _client().log_batch(run_id or _run_id(), params=items)
    _written(synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Set a tag on the active run."""
    _client().set_tag(_run_id(), key, value)
    _written(synchronous)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Set several tags on the active run."""
    items = [RunTag(validation.key_name("Tag", k), str(v)) for k, v in tags.items()]
    _client().log_batch(_run_id(), tags=items)
    _written(synchronous)


def flush_async_logging() -> None:
    """Write everything this process has buffered (every store) before returning."""
    tracking_uri.flush_stores()


def flush_artifact_async_logging() -> None:
    """Return at once: artifacts are written before log_artifact (and friends) return."""


def delete_tag(key: str) -> None:
    """Remove a tag from the active run."""
    _client().delete_tag(_run_id(), key)


# artifacts ------------------------------------------------------------------------------
def log_artifact(
    local_path: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy a local file into the active run's artifacts."""
    _client().log_artifact(run_id or _run_id(), local_path, artifact_path)


def log_artifacts(
    local_dir: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy a local folder's files into the active run's artifacts."""
    _client().log_artifacts(run_id or _run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save a string as an artifact file."""
    _client().log_text(run_id or _run_id(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as JSON (or YAML for .yaml/.yml)."""
    _client().log_dict(run_id or _run_id(), dictionary, artifact_file)


def log_figure(
    figure: Any,
    artifact_file: str,
    *,
    save_kwargs: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Save a matplotlib figure or an Altair chart."""
    _client().log_figure(run_id or _run_id(), figure, artifact_file, **(save_kwargs or {}))


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
    *,
    run_id: str | None = None,
) -> None:
    """Save a numpy array, PIL image or `Image` (artifact_file, or key+step as
    images/<key>/step_<n>.png); written before it returns, whatever `synchronous` says
    (`timestamp` is accepted: MLflow names its files with it, ours are named by step)."""
    if artifact_file is None:
        if key is None:
            raise InvalidArgumentError("log_image needs artifact_file, or key (and step)")
        artifact_file = f"images/{key}/step_{int(step or 0)}.png"
    _client().log_image(run_id or _run_id(), image, artifact_file)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a DataFrame or dict of columns as .json, .csv or .parquet."""
    _client().log_table(run_id or _run_id(), data, artifact_file)


def load_table(
    artifact_file: str, run_ids: list[str] | None = None, extra_columns: list[str] | None = None
) -> pd.DataFrame:
    """Return the table artifact_file of every run of the active experiment that logged it
    (or of run_ids), one below the other; extra_columns adds search_runs columns such as
    run_id or params.lr with each run's value."""
    from reporter.tracking import artifact_reads  # urllib and friends: not for every logger

    return artifact_reads.load_table(
        _client(), _current_experiment_id(), artifact_file, run_ids, extra_columns
    )


def log_stream(stream: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save what a binary file-like object (io.BytesIO, an open file) reads as an artifact."""
    data = stream.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(
            f"log_stream takes a binary stream (io.BytesIO, open(path, 'rb')); "
            f"its read() returned {type(data).__name__}"
        )
    _client()._write_artifact(run_id or _run_id(), artifact_file, bytes(data))


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """Return where the active run's artifacts (or one of them) live."""
    return _client().get_artifact_uri(_run_id(), artifact_path)


def list_artifacts(run_id: str | None = None, path: str | None = None) -> list[FileInfo]:
    """List the artifacts directly under a folder of a run."""
    return _client().list_artifacts(run_id or _run_id(), path)


# search --------------------------------------------------------------------------------
def _check_output_format(output_format: str) -> None:
    """Refuse an output_format other than MLflow's 'pandas' (a DataFrame) and 'list'."""
    if output_format not in ("pandas", "list"):
        raise InvalidArgumentError(
            f"output_format must be 'pandas' or 'list', got {output_format!r}"
        )


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Search runs with MLflow's filter grammar (plus OR and parentheses)."""
    from reporter.query import search

    client = _client()
    ids = [str(i) for i in experiment_ids or []]
    for name in experiment_names or []:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            known = ", ".join(repr(e.name) for e in client.search_experiments())
            raise NotFoundError(f"No experiment named {name!r}; known experiments: {known}")
        ids.append(exp.experiment_id)
    if not ids:
        if search_all_experiments:
            ids = [e.experiment_id for e in client.search_experiments()]
        else:
            ids = [_current_experiment_id()]
    if output_format == "list":
        return client.search_runs(ids, filter_string, run_view_type, max_results, order_by)
    _check_output_format(output_format)
    frame = client.search_runs_frame(ids, filter_string, run_view_type, max_results, order_by)
    return search.to_mlflow_frame(frame)


# process exit ---------------------------------------------------------------------------
_hooks_installed = False
_error_before: BaseException | None = None


def _install_exit_hooks() -> None:
    """End still-active runs at exit: FAILED after an uncaught error, else FINISHED.

    The host's `sys.excepthook` is left alone: an uncaught exception is read from
    `sys.last_value`, which the interpreter (and IPython) sets when it reports one. An error
    reported before the hooks were installed (an earlier notebook cell) does not count.
    """
    global _hooks_installed, _error_before
    if _hooks_installed:
        return
    _hooks_installed = True
    _error_before = getattr(sys, "last_value", None)
    atexit.register(_end_all_at_exit)


def _exit_status() -> str:
    """The status that runs still active at exit end with."""
    uncaught = getattr(sys, "last_value", None)
    if uncaught is None or uncaught is _error_before:
        return RunStatus.FINISHED
    return RunStatus.KILLED if isinstance(uncaught, KeyboardInterrupt) else RunStatus.FAILED


def _end_all_at_exit() -> None:
    """End every run still active when the interpreter exits."""
    status = _exit_status()
    for run_id in list(_all_active):
        try:
            _end(run_id, status)
        except Exception as exc:  # nothing left to raise to at exit
            print(f"reporter: could not end run {run_id} at exit: {exc}", file=sys.stderr)
