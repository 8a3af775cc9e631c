"""The store of an MLflow tracking server, through its REST API (`http://`, `https://`).

Guarantees:
- Creating an experiment, a run or a logged model, and every read, is one synchronous request
  (a server that does not answer is a `ServerUnreachableError` naming the URI and endpoint).
- `log_batch` (and `set_attributes`, `end_run`) only queue: the sender thread sends each run's
  operations in order (see `sender`), and `end_run` / `flush` / `close` send everything before
  returning. A read of a run first sends what that run has queued.
- A param keeps its first value (checked here, before the server would refuse it).
- Files go through the server's proxied artifact API (`artifacts`).

Differences from a local store, by MLflow's REST API: runs are created with the server's ids,
so imports (`ensure_run_marker`, `write_run_events`) need a folder or an object store; deleted
logged models are neither listed nor read; a logged model's metric is logged through the run
it names (`Metric.run_id`); there is nothing to compact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from reporter.core import datasets as datasets_entities
from reporter.core import env, system_tags, validation, wire
from reporter.core.datasets import DatasetInput, RunInputs
from reporter.core.entities import Experiment, LifecycleStage, Metric, Param, Run, RunTag
from reporter.core.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    UnsupportedURIError,
)
from reporter.core.logged_models import LoggedModel, LoggedModelStatus, is_model_id
from reporter.core.model_links import LoggedModelOutput
from reporter.store.protocol import AbstractRegistry, AbstractStore
from reporter.store.records import CompactionResult, MetricPoints, Row
from reporter.store.rest.artifacts import Root, resolve_root
from reporter.store.rest.http import Http, redacted
from reporter.store.rest.sender import METRIC, PARAM, TAG, UPDATE, Op, Sender

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

RUNS_PAGE = 1000  # runs/search (the server allows up to 50000)
EXPERIMENTS_PAGE = 1000
HISTORY_PAGE = 25000  # metrics/get-history (MLflow's largest page)
MODELS_PAGE = 100
WORKERS = 8  # concurrent requests of one read (metric histories, artifact listings)
# run attributes a tracking server lets a client change, and through which request
RUN_UPDATES = ("run_name", "status", "end_time", "lifecycle_stage")
RUN_ATTRIBUTES = (*RUN_UPDATES, "start_time", "user_id", "parent_run_id")
EXPERIMENT_FIELDS = ("name", "description", "lifecycle_stage", "last_update_time")
MODEL_FIELDS = ("status", "deleted")
_FINAL_STATUS = (LoggedModelStatus.READY, LoggedModelStatus.FAILED)

T = TypeVar("T")
R = TypeVar("R")


class RestStore(AbstractStore):
    """Experiments, runs, logged models and artifacts of one MLflow tracking server."""

    def __init__(self, uri: str) -> None:
        env.check_all()  # a bad TRACKER_* value fails here, not in the sender thread
        self.http = Http(uri)
        self.uri = redacted(uri).rstrip("/")  # what messages show: never a password
        self._sender = Sender(self.http)
        self._lock = threading.Lock()
        self._run_exp: dict[str, str] = {}  # run id -> experiment id
        self._roots: dict[str, str] = {}  # run or model id -> artifact URI, as the server names it
        self._params: dict[str, dict[str, str]] = {}  # run id -> params logged so far

    def _call(self, method: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
        return self.http.call(method, endpoint, **kwargs)

    def model_registry(self) -> AbstractRegistry:
        """The server's model registry (MLflow's registry REST endpoints)."""
        from reporter.store.rest.registry import RestRegistry

        return RestRegistry(self.http)

    # the store -----------------------------------------------------------------------------
    def require_existing(self) -> None:
        """Raise unless the server answers MLflow's API (a server is a store from the start)."""
        self._call("POST", "experiments/search", body={"max_results": 1})

    def content_digest(self) -> str:
        """Return a digest of everything the server shows: experiments, runs (attributes,
        params, tags, latest metric points), logged models and every artifact listing."""
        digest = hashlib.sha256()
        exps = self._pages("experiments/search", {"view_type": "ALL"}, "experiments", 1000)
        exps.sort(key=lambda e: str(e.get("experiment_id")))
        digest.update(json.dumps(exps, sort_keys=True).encode())
        ids = [str(e.get("experiment_id")) for e in exps]
        for exp_id in ids:
            raw = sorted(self._search_runs([exp_id]), key=lambda r: _run_id_of(r))
            digest.update(json.dumps(raw, sort_keys=True).encode())
            runs = [wire.run_from_json(r) for r in raw]
            listings = self._map(lambda r: self._artifact_listing_or_none(r), runs)
            digest.update(json.dumps(listings).encode())
            models = self._pages(
                "logged-models/search", {"experiment_ids": [exp_id]}, "models", MODELS_PAGE
            )
            digest.update(json.dumps(models, sort_keys=True).encode())
        return digest.hexdigest()

    def _artifact_listing_or_none(self, run: Run) -> list[tuple[str, int]] | None:
        """Return a run's artifact files, or None when the server does not serve them."""
        try:
            return sorted(self._walk(self._root_of(run.info.run_id, run.info.artifact_uri)))
        except UnsupportedURIError:
            return None

    def compact(self, experiment_ids: Sequence[str] | None = None) -> list[CompactionResult]:
        """Return []: a tracking server keeps its data its own way; there is nothing to merge."""
        return []

    def clear_cache(self) -> None:
        """Nothing to forget: every read asks the server."""

    # experiments ---------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        exclusive: bool = False,
    ) -> str:
        """Create an experiment, or return the id of the active one of that name (unless
        `exclusive`: then the server's RESOURCE_ALREADY_EXISTS is the answer)."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"Experiment name must be a non-empty string, got {name!r}")
        all_tags = dict(tags or {})
        if description:
            all_tags[wire.DESCRIPTION_TAG] = description
        body = {"name": name, "tags": wire.pairs_to_json(all_tags)}
        try:
            return str(self._call("POST", "experiments/create", body=body)["experiment_id"])
        except AlreadyExistsError:
            if exclusive:
                raise
            exp = self.get_experiment_by_name(name)
            if exp is None:
                raise
        if exp.lifecycle_stage == LifecycleStage.DELETED:
            raise InvalidArgumentError(
                f"Experiment {name!r} exists at {self.uri} but is deleted; restore it with "
                f"restore_experiment({exp.experiment_id!r}) or choose another name."
            )
        return exp.experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return an experiment by id; NotFoundError if the server has none."""
        wanted = str(experiment_id)
        answer = self._call("GET", "experiments/get", params={"experiment_id": wanted})
        exp = wire.experiment_from_json(answer.get("experiment"))
        if exp.experiment_id != wanted:  # MLflow's SQL backend reads "000" as experiment 0
            raise NotFoundError(f"No experiment with id {wanted!r} at {self.uri}")
        return exp

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment of that name, or None."""
        try:
            answer = self._call("GET", "experiments/get-by-name", params={"experiment_name": name})
        except NotFoundError:
            return None
        return wire.experiment_from_json(answer.get("experiment"))

    def list_experiments(self) -> list[Experiment]:
        """Return every experiment, deleted ones included."""
        found = self._pages(
            "experiments/search", {"view_type": "ALL"}, "experiments", EXPERIMENTS_PAGE
        )
        return [wire.experiment_from_json(e) for e in found]

    def require_experiment(self, experiment_id: str) -> None:
        """Raise NotFoundError unless the experiment exists."""
        self.get_experiment(experiment_id)

    def update_experiment(self, experiment: Experiment) -> None:
        """Send the differences between an experiment and the server's copy."""
        current = self.get_experiment(experiment.experiment_id)
        fields = {
            k: getattr(experiment, k)
            for k in ("name", "description", "lifecycle_stage")
            if getattr(experiment, k) != getattr(current, k)
        }
        set_tags = {k: v for k, v in experiment.tags.items() if current.tags.get(k) != v}
        deleted = [k for k in current.tags if k not in experiment.tags]
        if "description" in fields:
            deleted = [k for k in deleted if k != wire.DESCRIPTION_TAG]
        self.edit_experiment(
            experiment.experiment_id, set_fields=fields, set_tags=set_tags, delete_tags=deleted
        )

    def edit_experiment(
        self,
        experiment_id: str,
        *,
        set_fields: dict[str, Any] | None = None,
        set_tags: dict[str, str] | None = None,
        delete_tags: Sequence[str] = (),
    ) -> None:
        """Send one edit of an experiment: a request per changed field and tag."""
        fields = dict(set_fields or {})
        unknown = set(fields) - set(EXPERIMENT_FIELDS)
        if unknown:
            raise InvalidArgumentError(
                f"Cannot edit experiment fields {sorted(unknown)}; valid: "
                f"{', '.join(EXPERIMENT_FIELDS)}"
            )
        exp_id = str(experiment_id)
        if "name" in fields:
            body = {"experiment_id": exp_id, "new_name": str(fields["name"])}
            self._call("POST", "experiments/update", body=body)
        tags = dict(set_tags or {})
        if "description" in fields:
            tags[wire.DESCRIPTION_TAG] = str(fields["description"] or "")
        for key, value in tags.items():
            body = {"experiment_id": exp_id, "key": key, "value": value}
            self._call("POST", "experiments/set-experiment-tag", body=body)
        for key in delete_tags:
            body = {"experiment_id": exp_id, "key": key}
            self._call("POST", "experiments/delete-experiment-tag", body=body)
        stage = fields.get("lifecycle_stage")
        if stage is not None:
            if not LifecycleStage.is_valid(stage):
                raise InvalidArgumentError(
                    f"Unknown lifecycle stage {stage!r}; valid: active, deleted"
                )
            endpoint = "experiments/delete" if stage == "deleted" else "experiments/restore"
            self._call("POST", endpoint, body={"experiment_id": exp_id})

    # runs: writing -------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str,
        user_id: str,
        start_time: int,
        tags: Sequence[RunTag],
        parent_run_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run on the server (synchronous) and return it."""
        for item in tags:
            validation.text("Tag", item.key)
            validation.text("Tag value", item.value)
        validation.text("Run name", run_name)
        all_tags = {t.key: t.value for t in tags}
        if parent_run_id:
            all_tags.setdefault(system_tags.TAG_PARENT_RUN_ID, parent_run_id)
        body = {
            "experiment_id": str(experiment_id),
            "user_id": user_id,
            "run_name": run_name,
            "start_time": start_time,
            "tags": wire.pairs_to_json(all_tags),
        }
        run = wire.run_from_json(self._call("POST", "runs/create", body=body).get("run"))
        self._remember(run)
        self._params[run.info.run_id] = {}
        return run

    def _remember(self, run: Run) -> None:
        """Keep a run's experiment and artifact root (they never change)."""
        with self._lock:
            self._run_exp[run.info.run_id] = run.info.experiment_id
            self._roots[run.info.run_id] = run.info.artifact_uri

    def resume_run(self, run_id: str) -> Run:
        """Reopen a run for logging: it is RUNNING again."""
        run = self.get_run(run_id)
        self._params[run_id] = dict(run.data.params)
        self.set_attributes(run_id, status="RUNNING")
        self._sender.flush(run_id)
        return self.get_run(run_id)

    def set_attributes(self, run_id: str, **attrs: str | int | None) -> None:
        """Queue new values of a run's name, status, end time or lifecycle stage."""
        bad = sorted(set(attrs) - set(RUN_ATTRIBUTES))
        if bad:
            raise InvalidArgumentError(
                f"Unknown run attributes {bad}; valid: {', '.join(RUN_ATTRIBUTES)}"
            )
        fixed = sorted(k for k, v in attrs.items() if k not in RUN_UPDATES and v is not None)
        if fixed:
            raise InvalidArgumentError(
                f"Run attributes {fixed} cannot be changed on a tracking server ({self.uri}); "
                f"MLflow's REST API changes only {', '.join(RUN_UPDATES)}"
            )
        ops = []
        update = {k: attrs[k] for k in ("run_name", "status", "end_time") if attrs.get(k)}
        if "end_time" in update:
            update["end_time"] = int(update["end_time"])  # type: ignore[arg-type]
        if update:
            ops.append(Op(UPDATE, {"endpoint": "runs/update", "body": update}))
        stage = attrs.get("lifecycle_stage")
        if stage is not None:
            endpoint = "runs/delete" if stage == LifecycleStage.DELETED else "runs/restore"
            ops.append(Op(UPDATE, {"endpoint": endpoint, "body": {}}))
        self._sender.append(run_id, ops)

    def _known_params(self, run_id: str) -> dict[str, str]:
        """Return the params already logged to a run (read from the server once)."""
        known = self._params.get(run_id)
        if known is None:
            known = self._params[run_id] = dict(self.get_run(run_id).data.params)
        return known

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Check params against earlier values, then queue everything for the sender."""
        for param in params:
            validation.text("Param value", param.value)
        for tag in tags:
            validation.text("Tag value", tag.value)
        ops: list[Op] = []
        if params:
            fresh = validation.new_params(self._known_params(run_id), params, run_id)
            ops += [Op(PARAM, {"key": k, "value": v}) for k, v in fresh.items()]
        ops += [Op(TAG, {"key": t.key, "value": t.value}) for t in tags]
        ops += [Op(METRIC, wire.metric_to_json(m)) for m in metrics]
        self._sender.append(run_id, ops)

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[Any] = ()
    ) -> None:
        """Send the datasets and logged models a run used (synchronous; the server keeps the
        first input of each dataset)."""
        for item in datasets:
            datasets_entities.check_dataset_input(item)
        model_ids = []
        for model in models:
            model_id = getattr(model, "model_id", None)
            if not isinstance(model_id, str) or not model_id:
                raise InvalidArgumentError(f"A model input needs a model_id, got {model!r}")
            model_ids.append(model_id)
        items = datasets_entities.first_of_each(datasets)
        if not items and not model_ids:
            return
        body = {
            "run_id": run_id,
            "datasets": [wire.dataset_input_to_json(d) for d in items],
            "models": [{"model_id": m} for m in model_ids],
        }
        self._call("POST", "runs/log-inputs", body=body)

    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None:
        """Send the logged models a run produced (synchronous)."""
        if outputs:
            models = [{"model_id": o.model_id, "step": o.step} for o in outputs]
            self._call("POST", "runs/outputs", body={"run_id": run_id, "models": models})

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run (after what the run has queued)."""
        self._sender.flush(run_id)
        self._call("POST", "runs/delete-tag", body={"run_id": run_id, "key": key})

    def end_run(self, run_id: str, status: str, end_time: int) -> None:
        """Queue the run's end after everything it logged, and send it all now."""
        self.set_attributes(run_id, status=status, end_time=end_time)
        self._sender.flush(run_id)

    def flush(self) -> None:
        """Send everything queued before returning."""
        self._sender.flush()

    def close(self) -> None:
        """Send everything queued and stop the sender thread (later writes still work: they
        are sent by `flush` and `end_run`)."""
        try:
            self._sender.close()
        finally:
            self.http.close()

    def ensure_run_marker(self, exp_id: str, run_id: str, created: int | None = None) -> None:
        """Refuse: a tracking server makes its own run ids, so runs cannot be imported here."""
        raise self._no_imports()

    def write_run_events(
        self, exp_id: str, run_id: str, rows: list[Row], created: int | None = None
    ) -> None:
        """Refuse: a tracking server makes its own run ids, so runs cannot be imported here."""
        raise self._no_imports()

    def _no_imports(self) -> UnsupportedURIError:
        return UnsupportedURIError(
            f"Cannot import runs into the tracking server {self.uri}: an import keeps each "
            "run's id, and MLflow's REST API makes its own. Import into a folder or an object "
            "store (./tracker-store, s3://bucket/prefix), then build the site from there."
        )

    # runs: reading -------------------------------------------------------------------------
    def _send_pending(self, run_id: str | None = None) -> None:
        """Send what is queued before a read (a failure is kept for flush to report)."""
        if self._sender.pending(run_id):
            self._sender.try_send(run_id)

    def knows_run(self, run_id: str) -> bool:
        return run_id in self._run_exp

    def experiment_of(self, run_id: str) -> str:
        """Return the id of a run's experiment; NotFoundError if the server has no such run."""
        exp_id = self._run_exp.get(run_id)
        return exp_id if exp_id is not None else self.get_run(run_id).info.experiment_id

    def get_run(self, run_id: str) -> Run:
        """Return a run as the server has it, after what this process queued for it."""
        if not isinstance(run_id, str) or not run_id:
            raise NotFoundError(f"Run id {run_id!r} is not valid")
        self._send_pending(run_id)
        run = wire.run_from_json(self._call("GET", "runs/get", params={"run_id": run_id})["run"])
        self._remember(run)
        return run

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of a run's metric, ordered by step then timestamp."""
        self._send_pending(run_id)
        found = self._pages(
            "metrics/get-history",
            {"run_id": run_id, "metric_key": key},
            "metrics",
            HISTORY_PAGE,
            method="GET",
        )
        points = [wire.metric_from_json(m, "metrics") for m in found]
        points = [Metric(m.key, m.value, m.timestamp, m.step) for m in points]
        return sorted(points, key=lambda m: (m.step, m.timestamp))

    def _search_runs(self, experiment_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Return every run of these experiments as the server's JSON (deleted ones too)."""
        ids = [str(i) for i in experiment_ids]
        if not ids:
            return []
        self._send_pending()
        body = {"experiment_ids": ids, "run_view_type": "ALL"}
        return self._pages("runs/search", body, "runs", RUNS_PAGE)

    def list_runs(self, experiment_ids: Sequence[str]) -> list[Run]:
        """Return every run of these experiments (deleted ones included)."""
        runs = [wire.run_from_json(r) for r in self._search_runs(experiment_ids)]
        for run in runs:
            self._remember(run)
        return runs

    def list_run_inputs(self, experiment_ids: Sequence[str]) -> dict[str, RunInputs]:
        """Return {run id: its inputs} of these experiments' runs that have any."""
        return {
            r.info.run_id: r.inputs
            for r in self.list_runs(experiment_ids)
            if r.inputs.dataset_inputs or r.inputs.model_inputs
        }

    def runs_frame(self, experiment_ids: Sequence[str]) -> pd.DataFrame:
        """Return one row per run, `search_runs` columns, times in ms."""
        from reporter.query.search import runs_to_frame

        return runs_to_frame(self.list_runs(experiment_ids))

    def read_experiment(self, exp_id: str) -> tuple[pd.DataFrame, MetricPoints]:
        """Return an experiment's runs frame and every metric point (each metric history is
        one request or more, several at a time)."""
        from reporter.query.search import runs_to_frame

        runs = self.list_runs([exp_id])
        series = [(r.info.run_id, key) for r in runs for key in sorted(r.data.metrics)]
        histories = self._map(lambda s: self.get_metric_history(*s), series)
        return runs_to_frame(runs), metric_points(series, histories)

    # artifacts ------------------------------------------------------------------------------
    def _root_of(self, owner_id: str, artifact_uri: str | None = None) -> Root:
        """Return the proxied artifact root of a run or logged model."""
        uri = artifact_uri or self._roots.get(owner_id)
        if uri is None:
            if is_model_id(owner_id):
                uri = self.get_logged_model(owner_id).artifact_location
            else:
                uri = self.get_run(owner_id).info.artifact_uri
        kind = "logged model" if is_model_id(owner_id) else "run"
        return resolve_root(uri, self.http.base, f"{kind} {owner_id}")

    def _put(self, owner_id: str, artifact_path: str, body: bytes | Path) -> None:
        """Upload one file below an artifact root."""
        rel = validation.artifact_path(artifact_path)
        if not rel:
            raise InvalidArgumentError("An artifact path must name a file, e.g. 'plots/a.png'")
        self.http.request("PUT", self._root_of(owner_id).file_url(rel), body)

    def _get(self, owner_id: str, path: str) -> bytes:
        """Download one file below an artifact root; NotFoundError if it does not exist."""
        rel = validation.artifact_path(path)
        try:
            return self.http.request("GET", self._root_of(owner_id).file_url(rel)).content
        except NotFoundError:
            raise NotFoundError(
                f"{_owner(owner_id)} has no artifact {rel!r} at {self.uri}"
            ) from None

    def _download(self, owner_id: str, path: str, local_path: str) -> None:
        """Stream one file below an artifact root into a local file (written atomically)."""
        rel = validation.artifact_path(path)
        target = os.path.abspath(local_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:

                def write(response: Any) -> None:
                    out.seek(0)
                    out.truncate()
                    for chunk in response.iter_bytes():
                        out.write(chunk)

                try:
                    self.http.request("GET", self._root_of(owner_id).file_url(rel), stream_to=write)
                except NotFoundError:
                    raise NotFoundError(
                        f"{_owner(owner_id)} has no artifact {rel!r} at {self.uri}"
                    ) from None
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _walk(self, root: Root) -> list[tuple[str, int]]:
        """Return (path, size) of every file below an artifact root (a folder per request)."""
        out: list[tuple[str, int]] = []
        folders = [""]
        while folders:
            folder = folders.pop()
            answer = self.http.request("GET", root.list_url, params={"path": root.join(folder)})
            data = json.loads(answer.content or b"{}")
            for entry in data.get("files") or []:
                name = str(entry.get("path", ""))
                rel = name if "/" in name or not folder else f"{folder}/{name}"
                if entry.get("is_dir"):
                    folders.append(rel)
                else:
                    out.append((rel, int(entry.get("file_size") or 0)))
        return sorted(out)

    def artifact_uri(self, run_id: str, path: str | None = None) -> str:
        """Return a run's artifact URI as the server names it (`mlflow-artifacts:/...`)."""
        base = self._roots.get(run_id) or self.get_run(run_id).info.artifact_uri
        rel = validation.artifact_path(path)
        return f"{base.rstrip('/')}/{rel}" if rel else base

    def log_artifact_file(self, run_id: str, local_path: str, artifact_path: str) -> None:
        """Upload one local file as a run's artifact."""
        self._put(run_id, artifact_path, Path(local_path))

    def write_artifact_bytes(self, run_id: str, artifact_path: str, data: bytes) -> None:
        """Upload bytes as a run's artifact file."""
        self._put(run_id, artifact_path, bytes(data))

    def list_artifacts(self, run_id: str) -> list[tuple[str, int]]:
        """Return (path, size) of every artifact file of a run."""
        return self._walk(self._root_of(run_id))

    def list_experiment_artifacts(self, exp_id: str) -> dict[str, list[tuple[str, int]]]:
        """Return {run id: [(path, size)]} of the experiment's runs that have files (runs whose
        files the server does not serve are left out, with a warning)."""
        runs = self.list_runs([exp_id])
        listings = self._map(self._artifact_listing_or_none, runs)
        unreachable = [r.info.run_id for r, files in zip(runs, listings) if files is None]
        if unreachable:
            log.warning(
                "the artifacts of %d runs of experiment %s are not served by %s (started "
                "without --serve-artifacts?)",
                len(unreachable),
                exp_id,
                self.uri,
            )
        return {r.info.run_id: files for r, files in zip(runs, listings) if files}

    def read_artifact(self, run_id: str, path: str, experiment_id: str | None = None) -> bytes:
        """Return an artifact file's bytes; NotFoundError if it does not exist."""
        return self._get(run_id, path)

    def download_artifact_file(self, run_id: str, path: str, local_path: str) -> None:
        """Copy one artifact file to a local path."""
        self._download(run_id, path, local_path)

    def artifact_link(self, run_id: str, path: str, experiment_id: str | None = None) -> str:
        """Return the URL that downloads an artifact file from the server."""
        return self._root_of(run_id).file_url(validation.artifact_path(path))

    # logged models ----------------------------------------------------------------------------
    def _model_from(self, data: Any) -> LoggedModel:
        model = wire.logged_model_from_json(data)
        with self._lock:
            self._roots[model.model_id] = model.artifact_location
        return model

    def create_logged_model(self, model: LoggedModel) -> LoggedModel:
        """Create a logged model on the server (it gives the id) and return it."""
        body = {
            "experiment_id": model.experiment_id,
            "name": model.name,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "params": wire.pairs_to_json(model.params),
            "tags": wire.pairs_to_json(model.tags),
        }
        body = {k: v for k, v in body.items() if v is not None}
        return self._model_from(self._call("POST", "logged-models", body=body).get("model"))

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Return a logged model; NotFoundError if the server has none (or it was deleted)."""
        _check_model_id(model_id)
        return self._model_from(self._call("GET", f"logged-models/{model_id}").get("model"))

    def list_logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        """Return the logged models of these experiments, oldest first (the server leaves
        deleted ones out)."""
        ids = [str(i) for i in experiment_ids]
        if not ids:
            return []
        found = self._pages("logged-models/search", {"experiment_ids": ids}, "models", MODELS_PAGE)
        models = [self._model_from(m) for m in found]
        return sorted(models, key=lambda m: (m.creation_timestamp, m.model_id))

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
        """Send one change of a logged model: params (new keys only), tags, metrics (through
        the run each names), then its status or deletion."""
        _check_model_id(model_id)
        fields = dict(set_fields or {})
        unknown = set(fields) - set(MODEL_FIELDS) - {"last_updated_timestamp", "status_message"}
        if unknown:
            raise InvalidArgumentError(
                f"Cannot edit logged model fields {sorted(unknown)} on a tracking server; "
                f"valid: {', '.join(MODEL_FIELDS)}"
            )
        status = LoggedModelStatus.parse(fields["status"]) if "status" in fields else None
        if status is not None and status not in _FINAL_STATUS:
            raise InvalidArgumentError(
                f"A logged model on a tracking server is finalized READY or FAILED, not {status}"
            )
        if fields.get("deleted") is False:
            raise InvalidArgumentError(
                "A deleted logged model cannot be restored over MLflow's API"
            )
        unlinked = [m for m in metrics if not m.run_id]
        if unlinked:
            raise InvalidArgumentError(
                f"Metric {unlinked[0].key!r} of logged model {model_id} names no run: on a "
                "tracking server a model's metrics are logged through a run (log it while a "
                "run is active, or pass run_id)"
            )
        base = f"logged-models/{model_id}"
        if params:
            known = self.get_logged_model(model_id).params
            fresh = {k: v for k, v in params.items() if k not in known}
            if fresh:
                body = {"model_id": model_id, "params": wire.pairs_to_json(fresh)}
                self._call("POST", f"{base}/params", body=body)
        if set_tags:
            body = {"model_id": model_id, "tags": wire.pairs_to_json(set_tags)}
            self._call("PATCH", f"{base}/tags", body=body)
        for key in delete_tags:
            self._call("DELETE", f"{base}/tags/{quote(key, safe='')}")
        by_run: dict[str, list[Metric]] = {}
        for m in metrics:
            by_run.setdefault(str(m.run_id), []).append(m)
        for run_id, points in by_run.items():
            self._send_pending(run_id)
            linked = [wire.metric_to_json(_linked(m, model_id)) for m in points]
            for start in range(0, len(linked), 1000):
                body = {"run_id": run_id, "metrics": linked[start : start + 1000]}
                self._call("POST", "runs/log-batch", body=body)
        if status is not None:
            body = {"model_id": model_id, "status": wire.model_status_to_json(status)}
            self._call("PATCH", base, body=body)
        if fields.get("deleted"):
            self._call("DELETE", base)

    def log_model_artifact_file(self, model_id: str, local_path: str, artifact_path: str) -> None:
        """Upload one local file into a logged model's files."""
        _check_model_id(model_id)
        self._put(model_id, artifact_path, Path(local_path))

    def list_model_artifacts(self, model_id: str) -> list[tuple[str, int]]:
        """Return (path, size) of every file of a logged model."""
        _check_model_id(model_id)
        return self._walk(self._root_of(model_id))

    def read_model_artifact(self, model_id: str, path: str) -> bytes:
        """Return a logged model's file; NotFoundError if it does not exist."""
        _check_model_id(model_id)
        return self._get(model_id, path)

    def download_model_artifact_file(self, model_id: str, path: str, local_path: str) -> None:
        """Copy one file of a logged model to a local path."""
        _check_model_id(model_id)
        self._download(model_id, path, local_path)

    # helpers --------------------------------------------------------------------------------
    def _pages(
        self,
        endpoint: str,
        body: dict[str, Any],
        field: str,
        page: int,
        method: str = "POST",
    ) -> list[dict[str, Any]]:
        """Return every item of a paged search (`page_token` until the server gives none)."""
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request = {**body, "max_results": page, **({"page_token": token} if token else {})}
            if method == "GET":
                answer = self._call("GET", endpoint, params=request)
            else:
                answer = self._call("POST", endpoint, body=request)
            out += wire.list_from_json(answer, field)
            token = answer.get("next_page_token") or None
            if not token:
                return out

    def _map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Return [function(item)], several requests at a time."""
        items = list(items)
        if len(items) < 2:
            return [function(i) for i in items]
        with ThreadPoolExecutor(min(WORKERS, len(items))) as pool:
            return list(pool.map(function, items))


def _run_id_of(raw: dict[str, Any]) -> str:
    info = raw.get("info") or {}
    return str(info.get("run_id") or info.get("run_uuid") or "")


def _owner(owner_id: str) -> str:
    return f"Logged model {owner_id}" if is_model_id(owner_id) else f"Run {owner_id}"


def _check_model_id(model_id: str) -> None:
    """Raise InvalidArgumentError unless `model_id` has the shape of a logged model id."""
    if not isinstance(model_id, str) or not is_model_id(model_id):
        raise InvalidArgumentError(
            f"Logged model id {model_id!r} is not valid: 'm-' and 32 hex digits"
        )


def _linked(metric: Metric, model_id: str) -> Metric:
    """Return a metric point linked to a logged model."""
    if metric.model_id == model_id:
        return metric
    return Metric(**{**metric.to_dict(), "model_id": model_id})


def metric_points(
    series: Sequence[tuple[str, str]], histories: Sequence[list[Metric]]
) -> MetricPoints:
    """Return MetricPoints of metric histories, one per (run id, key) of `series`."""
    import numpy as np

    runs = sorted({run for (run, _), h in zip(series, histories) if h})
    keys = sorted({key for (_, key), h in zip(series, histories) if h})
    run_code = {r: i for i, r in enumerate(runs)}
    key_code = {k: i for i, k in enumerate(keys)}
    rows = [
        (run_code[run], key_code[key], m.step, m.timestamp, m.value)
        for (run, key), history in zip(series, histories)
        for m in history
    ]
    run = np.array([r[0] for r in rows], dtype=np.int32)
    key = np.array([r[1] for r in rows], dtype=np.int32)
    step = np.array([r[2] for r in rows], dtype=np.int64)
    time = np.array([r[3] for r in rows], dtype=np.int64)
    value = np.array([r[4] for r in rows], dtype=np.float64)
    order = np.lexsort((value, time, step, key, run))
    return MetricPoints(
        runs=runs,
        keys=keys,
        run=run[order],
        key=key[order],
        value=value[order],
        step=step[order],
        time=time[order],
    )
