"""`Client`: the explicit object API (like MlflowClient). Validation and forwarding only."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from reporter.core import paths, secrets, system_tags, validation
from reporter.core.datasets import DatasetInput
from reporter.core.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from reporter.core.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from reporter.tracking import uri as tracking_uri
from reporter.tracking.file_info import FileInfo as FileInfo
from reporter.tracking.file_info import children
from reporter.tracking.model_client import LoggedModelsMixin
from reporter.tracking.names import generate_run_name
from reporter.tracking.registry_client import RegistryMixin

if TYPE_CHECKING:
    import pandas as pd

    from reporter.store.protocol import AbstractStore
    from reporter.store.records import CompactionResult


def _now_ms() -> int:
    """Return the wall clock in milliseconds."""
    return int(time.time() * 1000)


class Client(LoggedModelsMixin, RegistryMixin):
    """Experiments, runs and artifacts of one store, addressed explicitly by id."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        workspace_store_uri: str | None = None,
    ):
        if workspace_store_uri is not None:
            from reporter.core.errors import UnsupportedFeatureError

            raise UnsupportedFeatureError(
                "workspace_store_uri: workspaces of an MLflow server are not part of tracker-report"
            )
        self._uri = tracking_uri
        self._registry_uri = registry_uri

    @property
    def store(self) -> AbstractStore:
        """The store this client talks to."""
        return tracking_uri.store_for(self._uri)

    @property
    def tracking_uri(self) -> str:
        """The URI of the store."""
        return self._uri or tracking_uri.get_tracking_uri()

    @property
    def registry_uri(self) -> str:
        """The URI of the store holding the model registry (the tracking URI by default)."""
        if self._registry_uri:
            return self._registry_uri
        if self._uri:
            return self._uri
        return tracking_uri.get_registry_uri()

    # experiments ---------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> str:
        """Create an experiment and return its id; an existing name is an error."""
        if artifact_location is not None:
            raise InvalidArgumentError(
                "artifact_location is not supported: artifacts always live in the store, "
                "under runs/<experiment_id>/<run_id>/artifacts"
            )
        if self.store.get_experiment_by_name(name) is not None:  # also a renamed one's name
            raise AlreadyExistsError(
                f"Experiment {name!r} already exists; use get_experiment_by_name or "
                "set_experiment to reuse it."
            )
        tags = {validation.key_name("Tag", k): str(v) for k, v in (tags or {}).items()}
        # MLflow's description is the tag mlflow.note.content: keep the two the same
        if description is None:
            description = tags.get(system_tags.TAG_NOTE)
        elif description:
            tags[system_tags.TAG_NOTE] = description
        return self.store.create_experiment(
            name, tags=tags, description=description, exclusive=True
        )

    def _ensure_experiment(self, name: str) -> str:
        """Return the id of the experiment of that name, created if there is none (processes
        racing to create it agree on one; for `set_experiment`)."""
        return self.store.create_experiment(name)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return an experiment by id."""
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment of that name, or None."""
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
    ) -> list[Experiment]:
        """Return experiments; filter by `name`, `tags.<key>`, `creation_time` and
        `last_update_time` (MLflow's identifiers, `attributes.` prefix optional)."""
        from reporter.query import filter as run_filter

        exps = self.store.list_experiments()
        if not any(e.experiment_id == "0" for e in exps) and view_type != ViewType.DELETED_ONLY:
            exps.append(self.store.get_experiment("0"))
        keep = {
            ViewType.ACTIVE_ONLY: (LifecycleStage.ACTIVE,),
            ViewType.DELETED_ONLY: (LifecycleStage.DELETED,),
            ViewType.ALL: (LifecycleStage.ACTIVE, LifecycleStage.DELETED),
        }[view_type]
        exps = [e for e in exps if e.lifecycle_stage in keep]
        node = run_filter.parse_filter(filter_string, run_filter.EXPERIMENTS)
        if node is not None:
            rows = [
                {
                    "name": e.name,
                    "experiment_id": e.experiment_id,
                    "creation_time": e.creation_time,
                    "last_update_time": e.last_update_time,
                    **{f"tags.{k}": v for k, v in e.tags.items()},
                }
                for e in exps
            ]
            exps = [e for e, row in zip(exps, rows) if run_filter.matches(node, row)]
        exps.sort(key=lambda e: (-(e.creation_time or 0), e.experiment_id))
        for clause in reversed(list(order_by or [])):
            field, _, direction = clause.strip().partition(" ")
            attr = {
                "name": "name",
                "creation_time": "creation_time",
                "last_update_time": "last_update_time",
                "experiment_id": "experiment_id",
            }
            if field not in attr:
                raise InvalidArgumentError(
                    f"Cannot order experiments by {field!r}; valid: {', '.join(attr)}"
                )
            exps.sort(
                key=lambda e, f=attr[field]: getattr(e, f) or 0,  # type: ignore[misc]
                reverse=direction.strip().upper() == "DESC",
            )
        return exps[:max_results] if max_results is not None else exps

    def _update_experiment(self, experiment_id: str, **changes: Any) -> None:
        """Publish an edit of some of an experiment's fields (it must exist)."""
        self.store.require_experiment(experiment_id)
        self.store.edit_experiment(str(experiment_id), set_fields=changes)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted (its runs stay in the store)."""
        if str(experiment_id) == "0":
            raise InvalidArgumentError("The Default experiment (id 0) cannot be deleted")
        self._update_experiment(experiment_id, lifecycle_stage=LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo `delete_experiment`."""
        self._update_experiment(experiment_id, lifecycle_stage=LifecycleStage.ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new name (its id stays)."""
        if self.store.get_experiment_by_name(new_name) is not None:
            raise AlreadyExistsError(f"Experiment {new_name!r} already exists")
        self._update_experiment(experiment_id, name=new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an experiment (`mlflow.note.content` is its description too)."""
        self.store.require_experiment(experiment_id)
        tag = {validation.key_name("Tag", key): str(value)}
        fields = {"description": str(value)} if key == system_tags.TAG_NOTE else None
        self.store.edit_experiment(str(experiment_id), set_fields=fields, set_tags=tag)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag from an experiment."""
        if key not in self.get_experiment(experiment_id).tags:
            raise NotFoundError(f"Experiment {experiment_id} has no tag {key!r}")
        self.store.edit_experiment(str(experiment_id), delete_tags=[key])

    def set_experiment_description(self, experiment_id: str, description: str) -> None:
        """Set an experiment's markdown description (and MLflow's tag for it)."""
        self.store.require_experiment(experiment_id)
        text = str(description)
        self.store.edit_experiment(
            str(experiment_id),
            set_fields={"description": text},
            set_tags={system_tags.TAG_NOTE: text},
        )

    # runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run in an experiment; its user is `user_id`, else its `mlflow.user`
        tag, else "unknown" (MLflow's rule: the fluent `start_run` records the user)."""
        tags = {validation.key_name("Tag", k): str(v) for k, v in (tags or {}).items()}
        for key, value in tags.items():
            secrets.check_logged("Tag", key, value)
        name = run_name or tags.get(system_tags.TAG_RUN_NAME) or generate_run_name()
        tags[system_tags.TAG_RUN_NAME] = name
        if parent_run_id:
            self.store.experiment_of(parent_run_id)  # NotFoundError for an unknown parent
            tags[system_tags.TAG_PARENT_RUN_ID] = parent_run_id
        return self.store.create_run(
            str(experiment_id),
            run_name=name,
            user_id=user_id or tags.get(system_tags.TAG_USER) or "unknown",
            start_time=validation.run_time("start_time", start_time)
            if start_time is not None
            else _now_ms(),
            tags=[RunTag(k, v) for k, v in tags.items()],
            parent_run_id=parent_run_id,
        )

    def get_run(self, run_id: str) -> Run:
        """Return a run with its params, tags and latest metrics."""
        return self.store.get_run(run_id)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run with a status (FINISHED, FAILED, KILLED) and flush what it logged."""
        if status not in RunStatus.TERMINAL:
            raise InvalidArgumentError(
                f"A run ends as one of {', '.join(RunStatus.TERMINAL)}, not {status!r}"
            )
        end = validation.run_time("end_time", end_time) if end_time is not None else _now_ms()
        self.store.end_run(run_id, status, end)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status or name."""
        if status is not None and status not in RunStatus.ALL:
            raise InvalidArgumentError(
                f"Unknown run status {status!r}; valid: {', '.join(RunStatus.ALL)}"
            )
        self.store.set_attributes(run_id, status=status, run_name=name)
        if name is not None:
            self.store.log_batch(run_id, tags=[RunTag(system_tags.TAG_RUN_NAME, name)])

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (hidden from searches and reports; data kept)."""
        self.store.get_run(run_id)
        self.store.set_attributes(run_id, lifecycle_stage=LifecycleStage.DELETED)
        self.store.flush()

    def restore_run(self, run_id: str) -> None:
        """Undo `delete_run`."""
        self.store.get_run(run_id)
        self.store.set_attributes(run_id, lifecycle_stage=LifecycleStage.ACTIVE)
        self.store.flush()

    # logging -------------------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> None:
        """Record one metric point (buffered unless `synchronous`); with `model_id`, the
        point is also a metric of that logged model, as in MLflow 3."""
        metric = Metric(
            validation.key_name("Metric", key),
            validation.metric_value(key, value),
            validation.metric_step(key, timestamp, "timestamp")
            if timestamp is not None
            else int(time.time() * 1000),
            validation.metric_step(key, step) if step is not None else 0,
        )
        self.store.log_batch(run_id, metrics=(metric,))
        if model_id is not None:  # the run's point keeps no dataset link (README: differences)
            linked = Metric(
                metric.key,
                metric.value,
                metric.timestamp,
                metric.step,
                model_id=model_id,
                dataset_name=dataset_name,
                dataset_digest=dataset_digest,
                run_id=run_id,
            )
            self.log_model_metrics(model_id, [linked])
        if synchronous:
            self.store.flush()

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Record a param; logging a key again with another value is an error."""
        param = Param(validation.key_name("Param", key), str(value))
        secrets.check_logged("Param", param.key, param.value)
        self.store.log_batch(run_id, params=(param,))
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag on a run (the last value wins)."""
        tag = RunTag(validation.key_name("Tag", key), str(value))
        secrets.check_logged("Tag", tag.key, tag.value)
        self.store.log_batch(run_id, tags=(tag,))

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""
        self.store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> None:
        """Record many metrics, params and tags at once."""
        metrics = [
            Metric(
                validation.key_name("Metric", m.key),
                validation.metric_value(m.key, m.value),
                validation.metric_step(m.key, m.timestamp, "timestamp"),
                validation.metric_step(m.key, m.step),
            )
            for m in metrics
        ]
        params = [Param(validation.key_name("Param", p.key), str(p.value)) for p in params]
        tags = [RunTag(validation.key_name("Tag", t.key), str(t.value)) for t in tags]
        for param in params:
            secrets.check_logged("Param", param.key, param.value)
        for tag in tags:
            secrets.check_logged("Tag", tag.key, tag.value)
        self.store.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    def log_inputs(
        self,
        run_id: str,
        datasets: Sequence[DatasetInput] | None = None,
        models: Sequence[Any] | None = None,
    ) -> None:
        """Record datasets (DatasetInput values) and logged models a run used; a run keeps
        each dataset (name, digest) once, with the tags it was first logged with."""
        for name, items in (("datasets", datasets), ("models", models)):
            if items is not None and not isinstance(items, (list, tuple)):
                raise InvalidArgumentError(f"{name} must be a list, got {type(items).__name__}")
        self.store.log_inputs(run_id, datasets or (), models or ())

    def _log_checked_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Record metrics the fluent layer has validated already (its fast path)."""
        self.store.log_batch(run_id, metrics=metrics)

    def _resume_run(self, run_id: str) -> Run:
        """Reopen a run for logging (`start_run(run_id=...)`) and mark it RUNNING."""
        return self.store.resume_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of a metric, ordered by step then timestamp."""
        return self.store.get_metric_history(run_id, key)

    def flush(self) -> None:
        """Write everything buffered to the store now."""
        self.store.flush()

    # search --------------------------------------------------------------------------------
    def search_runs_frame(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return the matching runs as a frame (times in ms; see `search.to_mlflow_frame`)."""
        from reporter.query import search

        ids = [str(i) for i in experiment_ids]
        frame = self.store.runs_frame(ids)
        inputs = self.store.list_run_inputs(ids) if search.needs_inputs(filter_string) else None
        return search.search_frame(
            frame, filter_string, order_by, run_view_type, max_results, inputs=inputs
        )

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
    ) -> list[Run]:
        """Return the matching runs as entities, ordered."""
        from reporter.query import search

        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        runs = self.store.list_runs([str(i) for i in ids])
        by_id = {r.info.run_id: r for r in runs}
        inputs = {r.info.run_id: r.inputs for r in runs}
        frame = search.search_frame(
            search.runs_to_frame(runs), filter_string, order_by, run_view_type, max_results, inputs
        )
        return [by_id[rid] for rid in frame["run_id"]]

    def compact(self, experiment_ids: Sequence[str] | None = None) -> list[CompactionResult]:
        """Merge finished runs' part files (safe while others write)."""
        return self.store.compact(experiment_ids)

    # artifacts -----------------------------------------------------------------------------
    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        """Return where a run's artifacts (or one of them) live."""
        return self.store.artifact_uri(run_id, validation.artifact_path(artifact_path) or None)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Copy a local file (or a folder's files) into the run's artifacts."""
        local = os.fspath(local_path)
        if os.path.isdir(local):
            self.log_artifacts(run_id, local, self._join(artifact_path, os.path.basename(local)))
            return
        if not os.path.exists(local):
            raise NotFoundError(f"log_artifact: no such file {local!r}")
        if not os.path.isfile(local):
            raise InvalidArgumentError(
                f"log_artifact: {local!r} is not a regular file (a FIFO, socket or device); "
                "log a file or a folder"
            )
        dest = self._join(artifact_path, os.path.basename(local))
        self.store.log_artifact_file(run_id, local, dest)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy every file below a local folder into the run's artifacts."""
        local = os.fspath(local_dir)
        if not os.path.isdir(local):
            raise NotFoundError(f"log_artifacts: no such folder {local!r}")
        base = validation.artifact_path(artifact_path)
        for root, _dirs, files in os.walk(local):
            for name in sorted(files):
                full = os.path.join(root, name)
                if os.path.islink(full) and not paths.within(full, local):
                    raise InvalidArgumentError(
                        f"log_artifacts: {full!r} is a symlink pointing outside {local!r}"
                    )
                rel = os.path.relpath(full, local).replace(os.sep, "/")
                self.store.log_artifact_file(run_id, full, self._join(base, rel))

    @staticmethod
    def _join(folder: str | None, name: str) -> str:
        """Join an artifact folder and a name, validating both."""
        base = validation.artifact_path(folder)
        return validation.artifact_path(f"{base}/{name}" if base else name)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Return the files and folders directly under an artifact folder."""
        return children(self.store.list_artifacts(run_id), path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Copy an artifact file or folder to a local folder and return the local path."""
        import tempfile  # with shutil, random, bz2...: only where files are downloaded

        rel = validation.artifact_path(path)
        dst = dst_path or tempfile.mkdtemp(prefix="reporter-artifacts-")
        files = [
            (p, s)
            for p, s in self.store.list_artifacts(run_id)
            if not rel or p == rel or p.startswith(rel + "/")
        ]
        if not files:
            raise NotFoundError(f"Run {run_id} has no artifact at {path!r}")
        for p, _ in files:
            self.store.download_artifact_file(run_id, p, os.path.join(dst, *p.split("/")))
        return os.path.join(dst, *rel.split("/")) if rel else dst

    def _write_artifact(self, run_id: str, artifact_file: str, data: bytes) -> None:
        """Write bytes as one artifact file."""
        rel = validation.artifact_path(artifact_file, "artifact_file")
        if not rel:
            raise InvalidArgumentError("artifact_file must name a file, e.g. 'notes/summary.txt'")
        self.store.write_artifact_bytes(run_id, rel, data)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save a string as a text artifact."""
        self._write_artifact(run_id, artifact_file, str(text).encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Save a dict as JSON, or YAML when the file ends in .yaml/.yml."""
        if artifact_file.lower().endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, indent=2, default_flow_style=False)  # MLflow's
        else:
            text = json.dumps(dictionary, indent=2, default=str, ensure_ascii=False)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str, **save_kwargs: Any) -> None:
        """Save a matplotlib figure (by extension) or an Altair chart (.html or .json)."""
        from reporter.tracking import artifacts

        self._write_artifact(
            run_id, artifact_file, artifacts.figure_bytes(figure, artifact_file, **save_kwargs)
        )

    def log_image(self, run_id: str, image: Any, artifact_file: str) -> None:
        """Save a numpy array or PIL image as an image file (PNG by default)."""
        from reporter.tracking import artifacts

        self._write_artifact(run_id, artifact_file, artifacts.image_bytes(image, artifact_file))

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Save a DataFrame or dict of columns as .json (MLflow's layout), .csv or .parquet.

        As in MLflow, logging to a table file the run already has appends the rows, and the
        run's `mlflow.loggedArtifacts` tag lists the tables logged."""
        import pandas as pd

        from reporter.tracking import artifacts

        rel = validation.artifact_path(artifact_file, "artifact_file")
        try:
            existing = self.store.read_artifact(run_id, rel) if rel else None
        except NotFoundError:
            existing = None
        if existing is not None:
            before = artifacts.read_table(existing, rel)
            after = (
                data
                if isinstance(data, pd.DataFrame)
                else artifacts.read_table(artifacts.table_bytes(data, rel), rel)
            )
            data = pd.concat([before, after], ignore_index=True)
        self._write_artifact(run_id, artifact_file, artifacts.table_bytes(data, artifact_file))
        logged = json.loads(
            self.get_run(run_id).data.tags.get(system_tags.TAG_LOGGED_ARTIFACTS, "[]")
        )
        entry = {"path": artifact_file, "type": "table"}
        if entry not in logged:
            self.set_tag(run_id, system_tags.TAG_LOGGED_ARTIFACTS, json.dumps([*logged, entry]))


MlflowClient = Client  # MLflow's name (`from mlflow.tracking.client import MlflowClient`)


def metrics_of(items: Iterable[tuple[str, Any]], step: int, ts: int) -> list[Metric]:
    """Build validated metrics from (key, value) pairs sharing a step and timestamp."""
    return [
        Metric(validation.key_name("Metric", k), validation.metric_value(k, v), ts, step)
        for k, v in items
    ]
