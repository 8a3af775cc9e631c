"""The Parquet store: experiments as JSON records, runs as an append-only event log.

Layout (docs/store-format.md):
    store.json                                   format name and version
    experiments/<experiment_id>.json             name, tags, description, lifecycle
    runs/<experiment_id>/_parts/<run_id>-<part>.parquet   immutable event batches
    runs/<experiment_id>/_compacted/*.parquet    merged parts of finished runs
    runs/<experiment_id>/<run_id>/run.json       marker written once when the run is created
    runs/<experiment_id>/<run_id>/heartbeat      refreshed while the run's process is alive
    runs/<experiment_id>/<run_id>/artifacts/...  files
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
import uuid
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from reporter.store.archiving import ArchiveReport
    from reporter.store.parquet import compaction
    from reporter.store.usage import GcReport, StoreUsage

from reporter.core import clock, entities, env, system_tags, validation
from reporter.core import datasets as datasets_entities
from reporter.core.datasets import DatasetInput, RunInputs
from reporter.core.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from reporter.core.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    ReporterError,
    StoreFormatError,
    StoreWarning,
    StoreWriteError,
)
from reporter.core.logged_models import LoggedModel, LoggedModelInput
from reporter.core.model_links import LoggedModelOutput, RunOutputs
from reporter.store.parquet import edits, events, reader, schema
from reporter.store.parquet.fs import StoreFS
from reporter.store.parquet.model_registry import RegistryRecords
from reporter.store.parquet.models import ModelRecords
from reporter.store.parquet.writer import PartWriter
from reporter.store.protocol import AbstractStore
from reporter.store.records import RunBatch

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
HISTORY_COLUMNS = ("kind", "key", "value", "step", "timestamp")  # what a metric history reads
FRAME_BATCH_ROWS = 4_000_000  # a search of a bigger experiment reads it a batch of runs at a time
INPUT_COLUMNS = ("kind", "key", "text", "step")  # what the datasets of runs read


def experiment_id_for(name: str, salt: int = 0) -> str:
    """Return the stable id of an experiment name (a decimal string, like MLflow's)."""
    if name == DEFAULT_EXPERIMENT_NAME and salt == 0:
        return DEFAULT_EXPERIMENT_ID
    text = name if salt == 0 else f"{name}\x00{salt}"
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**18 + 10**17)


def _now_ms() -> int:
    """Return the store clock in milliseconds."""
    return int(clock.now_ms())


@dataclass(frozen=True)
class _Edit:
    """One parsed experiment edit event."""

    fields: dict[str, Any]
    tags: dict[str, str]
    deleted: tuple[str, ...]


def _already_exists(name: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"Experiment {name!r} already exists; use get_experiment_by_name or set_experiment to "
        "reuse it."
    )


class ParquetStore(AbstractStore):
    """A store in a local folder or at any fsspec URL."""

    def __init__(self, uri: str) -> None:
        env.check_all()  # a bad TRACKER_* value fails here, not in a background thread
        self._fs = StoreFS(uri)
        self.uri = self._fs.uri
        self._writer = PartWriter(self._fs)
        self._run_exp: dict[str, str] = {}
        self._params: dict[str, dict[str, str]] = {}
        self._initialised = False
        self._lock = threading.Lock()
        # experiment id -> (listing key, frame, newest event of each RUNNING run)
        self._frames: dict[str, tuple[object, pd.DataFrame, dict[str, int]]] = {}
        # parsed experiment edits by path: edit files are immutable and never reuse a name
        self._edits: dict[str, _Edit | None] = {}
        self._access_cache: dict[str, dict[str, Any] | None] = {}
        self._audit: Any = None  # audit.AuditWriter, made on first use
        # inputs: keys this process logged per run; step numbers; each experiment's inputs
        self._inputs: dict[str, set[str]] = {}
        self._input_steps = itertools.count()
        self._inputs_read: dict[str, tuple[object, dict[str, list[str]]]] = {}
        self._models = ModelRecords(self._fs)
        self._registry = RegistryRecords(self._fs)
        self._client_runs = False  # see serve_clients

    # store file ----------------------------------------------------------------------------
    def _ensure_store(self) -> None:
        """Create store.json once (put-if-absent) and check a found one's version."""
        if self._initialised:
            return
        record = {"format": schema.FORMAT_NAME, "version": schema.FORMAT_VERSION}
        if not self._fs.write_atomic(
            schema.STORE_FILE, json.dumps(record).encode(), if_absent=True
        ):
            self.check_format()
        self._initialised = True

    def create_if_missing(self) -> None:
        """Create store.json here unless there is one (a server starting on a new folder)."""
        self._ensure_store()

    def uri_for_workers(self) -> str | None:
        """Return the folder's absolute path, or the object store URI as given (None for
        memory://, which no other process sees, and for a subclass: another process opens
        this class)."""
        return self._fs.reopen if type(self) is ParquetStore else None

    def require_existing(self) -> None:
        """Raise NotFoundError unless a store exists here (for commands that only read)."""
        if not self._fs.exists(schema.STORE_FILE):
            raise NotFoundError(
                f"No tracker-report store at {self.uri} (no {schema.STORE_FILE} there). "
                "Pass --store with the folder or URL your runs were logged to "
                "(default ./tracker-store, or $TRACKER_TRACKING_URI)."
            )
        self.check_format()

    def check_format(self) -> None:
        """Raise StoreFormatError if store.json is unreadable or of a newer version."""
        try:
            data = json.loads(self._fs.read_bytes(schema.STORE_FILE))
            version = int(data["version"])
        except NotFoundError:
            return
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise StoreFormatError(
                f"{self._fs.url(schema.STORE_FILE)} is not a valid store file ({exc})"
            ) from None
        if version > schema.FORMAT_VERSION:
            raise StoreFormatError(
                f"{self._fs.url('')} has store format version {version}; this version of "
                f"tracker-report reads up to {schema.FORMAT_VERSION}. Upgrade tracker-report."
            )

    # experiments ---------------------------------------------------------------------------
    def _experiment_path(self, experiment_id: str) -> str:
        """Return the record path of an experiment; NotFoundError for an id of a shape no
        experiment has (ids name files: 1 to 64 ASCII letters, digits and '_')."""
        try:
            schema.check_run_id(experiment_id)
        except InvalidArgumentError:
            shown = experiment_id if len(experiment_id) <= 80 else experiment_id[:80] + "..."
            raise NotFoundError(f"No experiment with id {shown!r} in {self.uri}") from None
        return self._fs.join(schema.EXPERIMENTS_FOLDER, f"{experiment_id}.json")

    def _read_experiment(self, experiment_id: str) -> Experiment | None:
        """Read one experiment: its record with its edits applied; None if absent."""
        record = self._read_experiment_record(experiment_id)
        if record is None:
            return None
        folder = self._experiment_edits_folder(experiment_id)
        return self._with_edits(record, [i.path for i in self._fs.list_files(folder)])

    def require_experiment(self, experiment_id: str) -> None:
        """Raise NotFoundError unless the experiment exists (reads its record, not its edits)."""
        if self._read_experiment_record(str(experiment_id)) is None:
            self.get_experiment(str(experiment_id))  # the Default experiment, or a clear error

    def _read_experiment_record(self, experiment_id: str) -> Experiment | None:
        """Read an experiment's creation record; None if absent, a warning if damaged."""
        rel = self._experiment_path(experiment_id)
        try:
            data = json.loads(self._fs.read_bytes(rel))
            exp = Experiment.from_dict(data)
        except NotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            reader.warn_skip(self._fs, rel, f"invalid experiment record ({exc})")
            return None
        if exp.experiment_id != experiment_id:  # copied or moved by hand: which one is it?
            reader.warn_skip(
                self._fs, rel, f"the record names experiment {exp.experiment_id!r}, not its own id"
            )
            return None
        return exp

    def _experiment_edits_folder(self, experiment_id: str) -> str:
        """Return the folder of an experiment's edit events."""
        return self._fs.join(schema.EXPERIMENTS_FOLDER, experiment_id)

    def _with_edits(self, exp: Experiment, paths: Sequence[str]) -> Experiment:
        """Apply an experiment's edit events in order (by name: time, then a unique id).

        Each edit file is read once per process (they never change); new ones are fetched
        together, concurrently on an object store."""
        tags = dict(exp.tags)
        fields: dict[str, Any] = {}
        for edit in edits.ordered_edits(self._fs, self._edits, paths, self._parse_edit):
            fields.update(edit.fields)
            tags.update(edit.tags)
            for key in edit.deleted:
                tags.pop(key, None)
        return replace(exp, tags=tags, **fields) if (fields or tags != exp.tags) else exp

    def _parse_edit(self, rel: str, data: bytes) -> _Edit | None:
        """Parse one edit file; None and a warning naming it if it is not a valid edit."""
        try:
            edit = json.loads(data)
            fields = {
                k: edit["set"][k] for k in schema.EXPERIMENT_EDIT_FIELDS if k in edit.get("set", {})
            }
            tags = {str(k): str(v) for k, v in (edit.get("tags") or {}).items()}
            deleted = tuple(str(k) for k in edit.get("deleted_tags") or [])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            reader.warn_skip(self._fs, rel, f"invalid experiment edit ({exc})")
            return None
        return _Edit(fields, tags, deleted)

    def _write_experiment(self, exp: Experiment, *, if_absent: bool = False) -> bool:
        """Publish an experiment's creation record."""
        self._ensure_store()
        data = json.dumps(exp.to_dict(), sort_keys=True, indent=1).encode()
        return self._fs.write_atomic(
            self._experiment_path(exp.experiment_id), data, if_absent=if_absent
        )

    def edit_experiment(
        self,
        experiment_id: str,
        *,
        set_fields: dict[str, Any] | None = None,
        set_tags: dict[str, str] | None = None,
        delete_tags: Sequence[str] = (),
    ) -> None:
        """Publish one edit event of an experiment (never rewrites a file: racers all win).

        Edits of different fields or tags by many processes at once are all kept; edits of the
        same field are applied in time order, the last one winning.
        """
        unknown = set(set_fields or {}) - set(schema.EXPERIMENT_EDIT_FIELDS)
        if unknown:
            raise InvalidArgumentError(
                f"Cannot edit experiment fields {sorted(unknown)}; valid: "
                f"{', '.join(schema.EXPERIMENT_EDIT_FIELDS)}"
            )
        self._ensure_store()
        now = time.time_ns()
        edit = {
            "set": {"last_update_time": now // 1_000_000, **(set_fields or {})},
            "tags": dict(set_tags or {}),
            "deleted_tags": list(delete_tags),
        }
        edits.publish_edit(self._fs, self._experiment_edits_folder(str(experiment_id)), edit, now)

    def create_experiment(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        exclusive: bool = False,
    ) -> str:
        """Create an experiment; its id is derived from its name, so racers agree, and the
        put-if-absent write of its record says which of them created it."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"Experiment name must be a non-empty string, got {name!r}")
        for salt in range(1000):
            exp_id = experiment_id_for(name, salt)
            existing = self._read_experiment(exp_id)
            if existing is not None:
                if existing.name == name:
                    if existing.lifecycle_stage == LifecycleStage.DELETED:
                        raise InvalidArgumentError(
                            f"Experiment {name!r} exists but is deleted; restore it with "
                            f"restore_experiment({exp_id!r}) or choose another name."
                        )
                    if exclusive:
                        raise _already_exists(name)
                    return exp_id
                continue  # the id belongs to an experiment since renamed
            now = _now_ms()
            exp = Experiment(
                experiment_id=exp_id,
                name=name,
                artifact_location=self._fs.url(self._fs.join(schema.RUNS_FOLDER, exp_id)),
                tags=dict(tags or {}),
                creation_time=now,
                last_update_time=now,
                description=description or "",
            )
            if self._write_experiment(exp, if_absent=True):
                return exp_id
            raced = self._read_experiment(exp_id)
            if raced is not None and raced.name == name:
                if exclusive:  # another process created it first: this call's tags are not in
                    raise _already_exists(name)
                return exp_id
        raise InvalidArgumentError(f"Could not find a free experiment id for {name!r}")

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return an experiment by id (the Default experiment is made on first use)."""
        experiment_id = str(experiment_id)
        exp = self._read_experiment(experiment_id)
        if exp is None and experiment_id == DEFAULT_EXPERIMENT_ID:
            self.create_experiment(DEFAULT_EXPERIMENT_NAME)
            exp = self._read_experiment(experiment_id)
        if exp is None:
            known = ", ".join(f"{e.experiment_id} ({e.name})" for e in self.list_experiments())
            raise NotFoundError(
                f"No experiment with id {experiment_id!r} in {self.uri}. "
                f"Known experiments: {known or 'none'}"
            )
        return exp

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment of that name, or None."""
        for salt in range(3):
            exp = self._read_experiment(experiment_id_for(name, salt))
            if exp is not None and exp.name == name:
                return exp
        for exp in self.list_experiments():  # renamed experiments
            if exp.name == name:
                return exp
        if name == DEFAULT_EXPERIMENT_NAME:
            return self.get_experiment(DEFAULT_EXPERIMENT_ID)
        return None

    def list_experiments(self) -> list[Experiment]:
        """Return every experiment in the store (one listing of the experiments folder)."""
        records: list[str] = []
        edits: dict[str, list[str]] = {}
        prefix = schema.EXPERIMENTS_FOLDER + "/"
        for info in self._fs.list_files(schema.EXPERIMENTS_FOLDER):
            inside = info.path[len(prefix) :] if info.path.startswith(prefix) else info.path
            if "/" not in inside and inside.endswith(".json"):
                records.append(inside[: -len(".json")])
            elif inside.count("/") == 1 and inside.endswith(schema.EDIT_SUFFIX):
                edits.setdefault(inside.split("/", 1)[0], []).append(info.path)
        out = []
        for exp_id in records:
            record = self._read_experiment_record(exp_id)
            if record is not None:
                out.append(self._with_edits(record, edits.get(exp_id, [])))
        return out

    def update_experiment(self, experiment: Experiment) -> None:
        """Publish the differences between an experiment and its stored state as one edit."""
        current = self.get_experiment(experiment.experiment_id)
        fields = {
            k: getattr(experiment, k)
            for k in schema.EXPERIMENT_EDIT_FIELDS
            if k != "last_update_time" and getattr(experiment, k) != getattr(current, k)
        }
        set_tags = {k: v for k, v in experiment.tags.items() if current.tags.get(k) != v}
        deleted = [k for k in current.tags if k not in experiment.tags]
        if fields or set_tags or deleted:
            self.edit_experiment(
                experiment.experiment_id, set_fields=fields, set_tags=set_tags, delete_tags=deleted
            )

    # runs: writing ------------------------------------------------------------------------
    def _rows(self, run_id: str, rows: list[events.Row]) -> None:
        """Queue rows for a run."""
        self._writer.append(run_id, self.experiment_of(run_id), rows)

    def create_run(
        self,
        experiment_id: str,
        run_name: str,
        user_id: str,
        start_time: int,
        tags: Sequence[RunTag],
        parent_run_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run: its first events, written now, then its marker file.

        A run therefore has events to list from the moment it exists: one whose process is
        killed a moment later is listed, and reads KILLED once the heartbeat timeout passes.
        (Stores written before this may hold marker-only runs; `get_run` reads those KILLED too.)"""
        self._ensure_store()  # a store of a newer format is refused before anything is written
        exp = self.get_experiment(experiment_id)
        if exp.lifecycle_stage == LifecycleStage.DELETED:
            raise InvalidArgumentError(
                f"Experiment {exp.name!r} ({exp.experiment_id}) is deleted; restore it first."
            )
        for item in tags:
            validation.text("Tag", item.key)
            validation.text("Tag value", item.value)
        validation.text("Run name", run_name)
        run_id = uuid.uuid4().hex
        marker = {"run_id": run_id, "experiment_id": exp.experiment_id, "created": start_time}
        base = self._fs.join(schema.RUNS_FOLDER, exp.experiment_id, run_id)
        self._run_exp[run_id] = exp.experiment_id
        self._params[run_id] = {}
        self._writer.open_run(run_id, exp.experiment_id)
        attrs = {
            "run_name": run_name,
            "status": RunStatus.RUNNING,
            "start_time": str(start_time),
            "user_id": user_id,
            "lifecycle_stage": LifecycleStage.ACTIVE,
            "parent_run_id": parent_run_id,
            schema.LIVENESS_ATTR: schema.LIVENESS_CLIENT if self._client_runs else None,
        }
        now = _now_ms()  # stamped by the store: shows the run alive until its first heartbeat
        rows: list[events.Row] = [
            (schema.KIND_ATTR, k, None, v, 0, now) for k, v in attrs.items() if v is not None
        ]
        rows += [(schema.KIND_TAG, t.key, None, t.value, 0, now) for t in tags]
        self._rows(run_id, rows)
        self._writer.flush(run_id)
        if self._writer.pending(run_id):  # not written: the run does not exist, and never will
            self._writer.discard_run(run_id)
            self._run_exp.pop(run_id, None)
            self._params.pop(run_id, None)
            errors, self._writer.errors = self._writer.errors, []
            raise StoreWriteError(f"Creating a run in {self.uri} failed: {'; '.join(errors)}")
        self._fs.write_atomic(
            self._fs.join(base, schema.RUN_MARKER_FILE), json.dumps(marker).encode()
        )
        info = RunInfo(
            run_id=run_id,
            experiment_id=exp.experiment_id,
            run_name=run_name,
            user_id=user_id,
            status=RunStatus.RUNNING,
            start_time=start_time,
            end_time=None,
            artifact_uri=self.artifact_uri(run_id),
            parent_run_id=parent_run_id,
        )
        return Run(info, RunData(tags={t.key: t.value for t in tags}))

    def write_run_events(
        self, exp_id: str, run_id: str, rows: list[events.Row], created: int | None = None
    ) -> None:
        """Write events for a run whose id is given (an import), creating its marker if it has
        none; the rows are flushed before this returns."""
        self._ensure_store()
        self.ensure_run_marker(exp_id, run_id, created)
        self._writer.append(run_id, exp_id, rows)
        self._writer.close_run(run_id)
        if self._writer.errors:
            errors, self._writer.errors = self._writer.errors, []
            raise StoreWriteError(f"Writing to {self.uri} failed: {'; '.join(errors)}")

    def ensure_run_marker(self, exp_id: str, run_id: str, created: int | None = None) -> None:
        """Create a run's marker file in an experiment unless it exists (imports)."""
        schema.check_run_id(run_id)
        marker = {"run_id": run_id, "experiment_id": exp_id, "created": created or _now_ms()}
        rel = self._fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.RUN_MARKER_FILE)
        self._fs.write_atomic(rel, json.dumps(marker).encode(), if_absent=True)
        self._run_exp[run_id] = exp_id

    def resume_run(self, run_id: str) -> Run:
        """Reopen a run for logging and mark it RUNNING again."""
        self._ensure_store()
        run = self.get_run(run_id)
        self._params[run_id] = dict(run.data.params)
        self._writer.open_run(run_id, run.info.experiment_id)
        self.set_attributes(run_id, status=RunStatus.RUNNING)
        return self.get_run(run_id)

    def set_attributes(self, run_id: str, **attrs: str | int | None) -> None:
        """Record new attribute values (None is skipped)."""
        bad = sorted(set(attrs) - set(schema.ATTRIBUTES))
        if bad:
            raise InvalidArgumentError(
                f"Unknown run attributes {bad}; valid: {', '.join(schema.ATTRIBUTES)}"
            )
        now = _now_ms()
        rows: list[events.Row] = [
            (schema.KIND_ATTR, k, None, str(v), 0, now) for k, v in attrs.items() if v is not None
        ]
        self._rows(run_id, rows)

    def _known_params(self, run_id: str) -> dict[str, str]:
        """Return the params already logged to a run (loaded once per process)."""
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
        """Check params against earlier values, then queue every row."""
        rows: list[events.Row] = []
        for param in params:
            validation.text("Param value", param.value)
        for tag in tags:
            validation.text("Tag value", tag.value)
        if params:
            fresh = validation.new_params(self._known_params(run_id), params, run_id)
            now = _now_ms()
            rows += [(schema.KIND_PARAM, k, None, v, 0, now) for k, v in fresh.items()]
        if tags:
            now = _now_ms()
            rows += [(schema.KIND_TAG, t.key, None, t.value, 0, now) for t in tags]
        if metrics:
            rows += [
                (schema.KIND_METRIC, m.key, m.value, None, m.step, m.timestamp) for m in metrics
            ]
        if rows:
            self._rows(run_id, rows)

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[Any] = ()
    ) -> None:
        """Queue one input event per dataset (name, digest) and model not logged to the run
        by this process yet; readers keep the first event of each."""
        for item in datasets:
            datasets_entities.check_dataset_input(item)
        items: list[Any] = [*datasets_entities.first_of_each(datasets)]
        for model in models:
            model_id = getattr(model, "model_id", None)
            if not isinstance(model_id, str) or not model_id:
                raise InvalidArgumentError(f"A model input needs a model_id, got {model!r}")
            items.append(LoggedModelInput(model_id))
        seen = set(self._inputs.get(run_id, ()))
        now = _now_ms()
        rows: list[events.Row] = []
        for item in items:
            key = events.input_key(item)
            if key not in seen:
                seen.add(key)
                text = events.input_text(item)
                rows.append((schema.KIND_INPUT, key, None, text, next(self._input_steps), now))
        if rows:
            self._rows(run_id, rows)
            self._inputs.setdefault(run_id, set()).update(row[1] for row in rows)

    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None:
        """Queue one output event per logged model the run produced (the first one stays)."""
        now = _now_ms()
        self._rows(run_id, [events.output_row(o, now) for o in outputs])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Queue a tag deletion (a tag event with no value)."""
        if key not in self.get_run(run_id).data.tags:
            raise NotFoundError(f"Run {run_id} has no tag {key!r}")
        self._rows(run_id, [(schema.KIND_TAG, key, None, None, 0, _now_ms())])

    def end_run(self, run_id: str, status: str, end_time: int) -> None:
        """Record the terminal status and flush the run's rows."""
        self.set_attributes(run_id, status=status, end_time=end_time)
        self._writer.close_run(run_id)
        # forget what was kept to check later writes (reloaded from the store if the run is
        # written again): a long-lived server must not hold every run it ever saw
        self._params.pop(run_id, None)
        self._inputs.pop(run_id, None)
        if self._writer.errors:
            errors, self._writer.errors = self._writer.errors, []
            raise StoreWriteError(f"Writing to {self.uri} failed: {'; '.join(errors)}")

    def flush(self) -> None:
        """Write every buffered row now; StoreWriteError if some could not be written (they
        stay buffered, and the next flush tries again)."""
        if not self._writer.flush():
            errors = "; ".join(self._writer.errors) or "unknown error"
            raise StoreWriteError(f"Writing to {self.uri} failed: {errors}")

    def serve_clients(self) -> None:
        """Serve many clients (a tracking server): the rows of one flush share one file per
        experiment, and runs created from now on have their status set by their client, as
        in MLflow (no heartbeat: a run stays RUNNING until its client ends it)."""
        self._writer.shared_files = True
        self._client_runs = True

    # runs: reading ------------------------------------------------------------------------
    def knows_run(self, run_id: str) -> bool:
        return run_id in self._run_exp

    def experiment_of(self, run_id: str) -> str:
        """Return the experiment id of a run; NotFoundError if no experiment has it."""
        exp_id = self._run_exp.get(run_id)
        if exp_id is not None:
            return exp_id
        try:
            schema.check_run_id(run_id)
        except InvalidArgumentError:
            shown = run_id if not isinstance(run_id, str) or len(run_id) <= 80 else run_id[:80]
            raise NotFoundError(f"No run with id {shown!r} in {self.uri}") from None
        exp_ids = self._fs.list_dirs(schema.RUNS_FOLDER)
        for exp_id in exp_ids:
            marker = self._fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.RUN_MARKER_FILE)
            if self._fs.exists(marker):
                self._run_exp[run_id] = exp_id
                return exp_id
        for exp_id in exp_ids:  # killed between writing its first part and its marker
            if reader.list_experiment(self._fs, exp_id, run_id).parts:
                self._run_exp[run_id] = exp_id
                return exp_id
        raise NotFoundError(f"No run with id {run_id!r} in {self.uri}")

    def get_run(self, run_id: str) -> Run:
        """Return a run, including rows this process has not flushed yet."""
        exp_id = self.experiment_of(run_id)
        self._writer.flush(run_id)
        listing, table = reader.read_events(self._fs, exp_id, run_id)
        runs = self._runs_from(exp_id, listing, events.reduce_events(table))
        if not runs:
            return self._run_without_events(exp_id, run_id)
        return runs[0]

    def _run_without_events(self, exp_id: str, run_id: str) -> Run:
        """A run whose process died inside create_run, after its marker and before its first
        events: RUNNING while the marker is younger than the heartbeat timeout, then KILLED."""
        rel = self._fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.RUN_MARKER_FILE)
        try:
            created = int(json.loads(self._fs.read_bytes(rel)).get("created") or 0)
        except (ValueError, TypeError, AttributeError, NotFoundError):
            created = 0
        made = self._fs.mtime(rel)
        if made is None:  # no marker and no events: removed (gc), or never here
            self._run_exp.pop(run_id, None)
            raise NotFoundError(f"No run with id {run_id!r} in {self.uri}")
        made_ms = made * 1000  # the store's clock, not the writer's
        timeout_ms = env.heartbeat_timeout() * 1000
        if not self._is_dead(exp_id, run_id, made_ms, _now_ms(), timeout_ms):  # one rule
            raise NotFoundError(f"Run {run_id} in {self.uri} has no readable events yet")
        info = RunInfo(
            run_id=run_id,
            experiment_id=exp_id,
            run_name="",
            user_id="",
            status=RunStatus.KILLED,
            start_time=created or None,
            end_time=None,
            artifact_uri=self.artifact_uri_in(exp_id, run_id),
            parent_run_id=None,
        )
        return Run(info, RunData())

    def _is_dead(
        self, exp_id: str, run_id: str, last_event_ms: float, now: float, timeout_ms: float
    ) -> bool:
        """Return True if a RUNNING run's process stopped logging and heart-beating."""
        return reader.is_dead(self._fs, exp_id, run_id, last_event_ms, now, timeout_ms)

    def runs_frame(self, experiment_ids: Sequence[str]) -> pd.DataFrame:
        """Return one row per run (search_runs shape, times in ms), built with no row loop."""
        import pandas as pd

        self._writer.flush()
        frames = []
        for exp_id in map(str, experiment_ids):
            frame, running = self._cached_frame(exp_id)
            if running:
                frame = self._with_liveness(exp_id, frame, running)
            if len(frame):
                frames.append(frame)
        if not frames:
            return pd.DataFrame({name: pd.Series(dtype=object) for name in entities.RUN_COLUMNS})
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def _cached_frame(self, exp_id: str) -> tuple[pd.DataFrame, dict[str, int]]:
        """Return an experiment's frame, rebuilt only when its set of event files changed.

        Event files are immutable and never reuse a name, so the same listing means the same
        content; the cache is checked against a fresh listing on every call.
        """
        listing = reader.list_experiment(self._fs, exp_id)
        key = _listing_key(listing)
        hit = self._frames.get(exp_id)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        rows = reader.run_rows(self._fs, listing)
        if sum(rows.values()) > FRAME_BATCH_ROWS:  # a big experiment: a batch of runs at a time
            frame, running, texts = self._frame_in_batches(exp_id, rows)
            self._inputs_read[exp_id] = (key, texts)
        else:
            listing, table = reader.read_events(self._fs, exp_id)
            red = events.reduce_table(table)
            frame, running = self._wide(exp_id, red)
            key = _listing_key(listing)
            self._keep_inputs(exp_id, listing, table)
        self._frames[exp_id] = (key, frame, running)
        if len(self._frames) > 16:
            self._frames.pop(next(iter(self._frames)))
        return frame, running

    def _frame_in_batches(
        self, exp_id: str, rows: dict[str, int]
    ) -> tuple[pd.DataFrame, dict[str, int], dict[str, list[str]]]:
        """Return an experiment's frame (runs by id), its running runs and its runs' input
        texts, read a batch of runs at a time: memory holds one batch's events, not the
        experiment's."""
        import pandas as pd

        frames, running, texts = [], {}, {}
        for batch in reader.batches_of(rows, FRAME_BATCH_ROWS):
            _, table = reader.read_events(self._fs, exp_id, batch)
            texts.update(events.reduce_inputs(table))
            red = events.reduce_table(table)
            del table
            frame, alive = self._wide(exp_id, red)
            running.update(alive)
            if len(frame):
                frames.append(frame)
        if not frames:
            empty = events.reduce_table(schema.event_schema().empty_table())
            return self._wide(exp_id, empty)[0], {}, {}
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        base = [c for c in frame.columns if "." not in c]  # as one read orders them
        rest = sorted(
            (c for c in frame.columns if "." in c),
            key=lambda c: ({"metrics": 0, "params": 1, "tags": 2}.get(c.split(".", 1)[0], 3), c),
        )
        frame = frame[base + rest].sort_values("run_id", kind="stable").reset_index(drop=True)
        return frame, running, texts

    def read_experiment(self, exp_id: str) -> tuple[pd.DataFrame, events.MetricPoints]:
        """Return an experiment's runs frame and all its metric points, from one read."""
        listing, table = reader.read_events(self._fs, exp_id)
        self._keep_inputs(exp_id, listing, table)
        red = events.reduce_table(table)
        del table
        frame, running = self._wide(exp_id, red)
        if running:
            frame = self._with_liveness(exp_id, frame, running)
        return frame, red.points

    def read_experiment_batches(self, exp_id: str, max_points: int) -> Iterator[RunBatch]:
        """Yield an experiment's runs in batches of about `max_points` event rows, each read
        on its own (the row groups of compacted files that hold them): a reader holds one
        batch at a time whatever the experiment's size. Runs are those of the first listing;
        each batch is read whole and consistent (its own listing, retried like any read)."""
        for batch in self.experiment_batches(exp_id, max_points):
            yield self.read_run_batch(exp_id, batch)

    def experiment_batches(self, exp_id: str, max_points: int) -> list[list[str]]:
        """Return the experiment's run ids (of this listing) in batches of about `max_points`
        event rows, sorted by id (the order of compacted files)."""
        self._writer.flush()
        rows = reader.run_rows(self._fs, reader.list_experiment(self._fs, exp_id))
        return reader.batches_of(rows, max(1, max_points))

    def read_run_batch(self, exp_id: str, run_ids: list[str]) -> RunBatch:
        """Read one batch of runs: their frame rows, metric points and inputs."""
        from reporter.store.parquet import usage

        _, table = reader.read_events(self._fs, exp_id, run_ids)
        texts = events.reduce_inputs(table)
        lifecycles = usage.ExperimentEvents()  # (a storage measure of these runs reuses it)
        usage.take_events(table, lifecycles)
        red = events.reduce_table(table)
        del table
        frame, running = self._wide(exp_id, red)
        if running:
            frame = self._with_liveness(exp_id, frame, running)
        inputs = {r: events.run_inputs(t, f"run {r} in {self.uri}") for r, t in texts.items()}
        return RunBatch(frame, red.points, inputs, lifecycles)

    def read_metric_points(self, exp_id: str, run_ids: Collection[str]) -> events.MetricPoints:
        """Return every metric point of these runs (the row groups that hold them). Damaged
        files are skipped without a warning: the batches that listed these runs said so."""
        self._writer.flush()
        with reader.quiet():
            _, table = reader.read_events(self._fs, exp_id, list(run_ids), columns=HISTORY_COLUMNS)
        return events.metric_points(table)

    def list_run_inputs(self, experiment_ids: Sequence[str]) -> dict[str, RunInputs]:
        """Return the inputs of every run of these experiments that has any (an experiment's
        read for a frame is reused while its listing is unchanged)."""
        self._writer.flush()
        out: dict[str, RunInputs] = {}
        for exp_id in map(str, experiment_ids):
            hit = self._inputs_read.get(exp_id)
            if hit is None or hit[0] != _listing_key(reader.list_experiment(self._fs, exp_id)):
                listing, table = reader.read_events(self._fs, exp_id, columns=INPUT_COLUMNS)
                hit = self._keep_inputs(exp_id, listing, table)
            for run_id, texts in hit[1].items():
                out[run_id] = events.run_inputs(texts, f"run {run_id} in {self.uri}")
        return out

    def _keep_inputs(
        self, exp_id: str, listing: reader.Listing, table: pa.Table
    ) -> tuple[object, dict[str, list[str]]]:
        """Remember an experiment's inputs as read from the files of this listing."""
        hit = self._inputs_read[exp_id] = (_listing_key(listing), events.reduce_inputs(table))
        if len(self._inputs_read) > 16:
            self._inputs_read.pop(next(iter(self._inputs_read)))
        return hit

    def clear_cache(self) -> None:
        """Forget cached experiment frames (they are rebuilt from the files on next read)."""
        self._frames.clear()
        self._inputs_read.clear()
        reader.FOOTERS.clear()

    def _with_liveness(
        self, exp_id: str, frame: pd.DataFrame, running: dict[str, int]
    ) -> pd.DataFrame:
        """Mark RUNNING runs whose process stopped logging and heart-beating as KILLED."""
        now, timeout_ms = _now_ms(), env.heartbeat_timeout() * 1000
        imported = frame.get(f"tags.{system_tags.TAG_IMPORT_SOURCE}")
        if imported is not None:  # an imported run's status is the source's, not a process's
            skip = set(frame.loc[imported.notna(), "run_id"])
            running = {r: seen for r, seen in running.items() if r not in skip}
        dead = {r for r, seen in running.items() if self._is_dead(exp_id, r, seen, now, timeout_ms)}
        if not dead:
            return frame
        frame = frame.copy()
        frame.loc[frame["run_id"].isin(dead), "status"] = RunStatus.KILLED
        return frame

    def _wide(self, exp_id: str, red: events.Reduced) -> tuple[pd.DataFrame, dict[str, int]]:
        """Pivot reduced events of one experiment into the wide search_runs frame.

        Also returns the newest event time of each RUNNING run, for the liveness check.
        """
        import pandas as pd

        if red.attrs.num_rows == 0:
            return pd.DataFrame(
                {name: pd.Series(dtype=object) for name in entities.RUN_COLUMNS}
            ), {}
        import pyarrow as pa
        import pyarrow.compute as pc

        runs = red.attrs.column("run_id").unique()
        attrs = events.pivot(red.attrs, "text", runs)
        empty = pa.nulls(len(runs), pa.string())
        cols = {name: attrs.get(name, empty) for name in schema.ATTRIBUTES}
        cols["status"] = pc.fill_null(cols["status"], RunStatus.RUNNING)
        cols["lifecycle_stage"] = pc.fill_null(cols["lifecycle_stage"], LifecycleStage.ACTIVE)
        for name in ("start_time", "end_time"):
            cols[name] = _as_float(cols[name])
        running: dict[str, int] = {}
        is_running = pc.equal(cols["status"], RunStatus.RUNNING)
        if pc.any(is_running).as_py():
            seen = dict(
                zip(
                    red.last_seen.column("run_id").to_pylist(),
                    red.last_seen.column("timestamp").to_pylist(),
                )
            )
            owned = attrs.get(schema.LIVENESS_ATTR)
            if owned is not None:  # runs whose client sets their status are never KILLED
                is_running = pc.and_(
                    is_running, pc.fill_null(pc.not_equal(owned, schema.LIVENESS_CLIENT), True)
                )
            ids = runs.filter(is_running).to_pylist()
            running = {r: int(seen.get(r, 0)) for r in ids}
        uri_base = self._fs.url(self._fs.join(schema.RUNS_FOLDER, exp_id))
        cols["artifact_uri"] = pc.binary_join_element_wise(
            uri_base, runs, schema.ARTIFACTS_FOLDER, "/"
        )
        cols["experiment_id"] = pa.array([exp_id] * len(runs), pa.string())
        cols["run_id"] = runs
        names = list(entities.RUN_COLUMNS)
        arrays = [cols[name] for name in names]
        for table, value, prefix in (
            (red.metrics, "value", "metrics."),
            (red.params, "text", "params."),
            (red.tags, "text", "tags."),
        ):
            pivoted = events.pivot(table, value, runs)
            for key in sorted(pivoted):
                names.append(f"{prefix}{key}")
                arrays.append(pivoted[key])
        return pa.table(arrays, names=names).to_pandas(), running

    def _runs_from(self, exp_id: str, listing: reader.Listing, snap: events.Snapshot) -> list[Run]:
        """Turn a Snapshot into Run entities (KILLED if the heartbeat stopped)."""
        now = _now_ms()
        timeout_ms = env.heartbeat_timeout() * 1000
        uri_base = self._fs.url(self._fs.join(schema.RUNS_FOLDER, exp_id))
        out = []
        for run_id, attrs in snap.attrs.items():
            status = attrs.get("status", RunStatus.RUNNING)
            imported = system_tags.TAG_IMPORT_SOURCE in snap.tags.get(run_id, {})
            if (
                status == RunStatus.RUNNING
                and not imported
                and attrs.get(schema.LIVENESS_ATTR) != schema.LIVENESS_CLIENT
                and self._is_dead(exp_id, run_id, snap.last_seen.get(run_id, 0), now, timeout_ms)
            ):
                status = RunStatus.KILLED
            info = RunInfo(
                run_id=run_id,
                experiment_id=exp_id,
                run_name=attrs.get("run_name", ""),
                user_id=attrs.get("user_id", ""),
                status=status,
                start_time=_int_or_none(attrs.get("start_time")),
                end_time=_int_or_none(attrs.get("end_time")),
                artifact_uri=f"{uri_base}/{run_id}/{schema.ARTIFACTS_FOLDER}",
                lifecycle_stage=attrs.get("lifecycle_stage", LifecycleStage.ACTIVE),
                parent_run_id=attrs.get("parent_run_id"),
            )
            data = RunData(
                metrics=snap.metrics.get(run_id, {}),
                params=snap.params.get(run_id, {}),
                tags=snap.tags.get(run_id, {}),
                metric_steps=snap.metric_steps.get(run_id, {}),
            )
            texts = snap.inputs.get(run_id)
            inputs = events.run_inputs(texts, f"run {run_id}") if texts else RunInputs()
            outputs = RunOutputs(snap.outputs.get(run_id, []))
            out.append(Run(info, data, inputs, outputs))
        return out

    def list_runs(self, experiment_ids: Sequence[str]) -> list[Run]:
        """Return every run of these experiments as entities (deleted ones included)."""
        self._writer.flush()
        out: list[Run] = []
        for exp_id in experiment_ids:
            listing, table = reader.read_events(self._fs, str(exp_id))
            out += self._runs_from(str(exp_id), listing, events.reduce_events(table))
        return out

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of one metric of a run, by step then timestamp."""
        import pyarrow.compute as pc

        exp_id = self.experiment_of(run_id)
        self._writer.flush(run_id)
        _, table = reader.read_events(self._fs, exp_id, run_id, columns=HISTORY_COLUMNS)
        mask = pc.and_(
            pc.equal(pc.cast(table.column("kind"), "string"), schema.KIND_METRIC),
            pc.equal(pc.cast(table.column("key"), "string"), key),
        )
        sub = table.filter(mask).select(["value", "step", "timestamp"])
        order = pc.sort_indices(sub, sort_keys=[("step", "ascending"), ("timestamp", "ascending")])
        sub = sub.take(order)
        return [
            Metric(key, float(v), int(t), int(s))
            for v, s, t in zip(
                sub.column("value").to_pylist(),
                sub.column("step").to_pylist(),
                sub.column("timestamp").to_pylist(),
            )
        ]

    # artifacts -----------------------------------------------------------------------------
    def _artifact_rel(self, run_id: str, path: str | None = None) -> str:
        """Return the store-relative artifact folder of a run (or a path in it)."""
        base = self._fs.join(
            schema.RUNS_FOLDER, self.experiment_of(run_id), run_id, schema.ARTIFACTS_FOLDER
        )
        return self._fs.join(base, path) if path else base

    def artifact_uri_in(self, exp_id: str, run_id: str) -> str:
        """Return a run's artifact URI when its experiment is known."""
        rel = self._fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.ARTIFACTS_FOLDER)
        return self._fs.url(rel)

    def artifact_uri(self, run_id: str, path: str | None = None) -> str:
        """Return where a run's artifacts (or one of them) live."""
        return self._fs.url(self._artifact_rel(run_id, path))

    def log_artifact_file(self, run_id: str, local_path: str, artifact_path: str) -> None:
        """Copy one local file into a run's artifacts."""
        self._ensure_store()
        self._fs.put_file(local_path, self._artifact_rel(run_id, artifact_path))

    def write_artifact_bytes(self, run_id: str, artifact_path: str, data: bytes) -> None:
        """Write bytes as a run artifact."""
        self._ensure_store()
        self._fs.write_atomic(self._artifact_rel(run_id, artifact_path), data)

    def list_artifacts(self, run_id: str) -> list[tuple[str, int]]:
        """Return (relative path, size) of every artifact file of a run."""
        base = self._artifact_rel(run_id)
        return [(i.path[len(base) + 1 :], i.size) for i in self._fs.list_files(base)]

    def download_artifact_file(self, run_id: str, path: str, local_path: str) -> None:
        """Copy one artifact file to a local path."""
        self._fs.get_file(self._artifact_rel(run_id, path), local_path)

    def _artifact_in(self, exp_id: str | None, run_id: str, path: str) -> str:
        """Return an artifact's store-relative path, its experiment given or looked up."""
        exp_id = exp_id or self.experiment_of(run_id)
        return self._fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.ARTIFACTS_FOLDER, path)

    def read_artifact(self, run_id: str, path: str, experiment_id: str | None = None) -> bytes:
        """Return an artifact file's bytes; NotFoundError if it does not exist."""
        return self._fs.read_bytes(self._artifact_in(experiment_id, run_id, path))

    def artifact_link(self, run_id: str, path: str, experiment_id: str | None = None) -> str:
        """Return a URL of an artifact file: file:// for a local store, else the store's URL."""
        url = self._fs.url(self._artifact_in(experiment_id, run_id, path))
        return Path(url).as_uri() if self._fs.local else url

    def list_experiment_artifacts(self, exp_id: str) -> dict[str, list[tuple[str, int]]]:
        """List every run's artifact files of an experiment with one recursive listing."""
        base = self._fs.join(schema.RUNS_FOLDER, exp_id)
        skip = frozenset({schema.PARTS_FOLDER, schema.COMPACTED_FOLDER})
        out: dict[str, list[tuple[str, int]]] = {}
        for info in self._fs.list_files(base, skip):
            pieces = info.path[len(base) + 1 :].split("/")
            if len(pieces) >= 3 and pieces[1] == schema.ARTIFACTS_FOLDER:
                out.setdefault(pieces[0], []).append(("/".join(pieces[2:]), info.size))
        return out

    def close(self) -> None:
        """Write everything buffered and stop the background flusher (later writes still work,
        written in the caller's thread)."""
        self._writer.close()

    # logged models -------------------------------------------------------------------------
    def create_logged_model(self, model: LoggedModel) -> LoggedModel:
        """Publish a logged model's creation record in its experiment."""
        self._ensure_store()
        self.require_experiment(model.experiment_id)
        stored = replace(
            model,
            artifact_location=self._models.artifact_location(model.experiment_id, model.model_id),
        )
        self._models.create(stored)
        return stored

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Return a logged model with its edits applied."""
        return self._models.get(model_id)

    def model_registry(self) -> RegistryRecords:
        """The registry under `registry/` (see `reporter.store.parquet.model_registry`)."""
        return self._registry

    def list_logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        """Return every logged model of these experiments, oldest first."""
        return self._models.list([str(i) for i in experiment_ids])

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
        """Publish one edit event of a logged model."""
        self._models.edit(
            model_id,
            set_fields=set_fields,
            set_tags=set_tags,
            delete_tags=delete_tags,
            params=params,
            metrics=metrics,
        )

    def log_model_artifact_file(self, model_id: str, local_path: str, artifact_path: str) -> None:
        """Copy one local file into a logged model's files."""
        self._fs.put_file(local_path, self._models.artifact_rel(model_id, artifact_path))

    def list_model_artifacts(self, model_id: str) -> list[tuple[str, int]]:
        """Return (relative path, size) of every file of a logged model."""
        base = self._models.artifact_rel(model_id)
        return [(i.path[len(base) + 1 :], i.size) for i in self._fs.list_files(base)]

    def read_model_artifact(self, model_id: str, path: str) -> bytes:
        """Return a logged model's file."""
        return self._fs.read_bytes(self._models.artifact_rel(model_id, path))

    def download_model_artifact_file(self, model_id: str, path: str, local_path: str) -> None:
        """Copy one file of a logged model to a local path."""
        self._fs.get_file(self._models.artifact_rel(model_id, path), local_path)

    # maintenance ---------------------------------------------------------------------------
    def content_digest(self) -> str:
        """Return a digest of every file's path, size and time: files are immutable and
        uniquely named (records are replaced with new times), so the same listing means the
        same content."""
        digest = hashlib.sha256()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skipped files are reported by the readers
            listing = self._fs.list_files("")
        for info in listing:
            digest.update(f"{info.path}\0{info.size}\0{info.mtime}\n".encode())
        return digest.hexdigest()

    # access control and the audit trail --------------------------------------------------
    def access_changes(self) -> list[dict[str, Any]]:
        paths = [f.path for f in self._fs.list_files(schema.ACCESS_FOLDER)]
        return edits.ordered_edits(self._fs, self._access_cache, paths, _parse_change)

    def publish_access_change(self, change: dict[str, Any]) -> None:
        self._ensure_store()
        now = time.time_ns()
        edits.publish_edit(self._fs, schema.ACCESS_FOLDER, {**change, "time": now // 10**6}, now)

    def append_audit(self, records: Sequence[dict[str, Any]]) -> None:
        from reporter.store.parquet import audit

        with self._lock:
            if self._audit is None:
                self._audit = audit.AuditWriter(self._fs)
            writer = self._audit
        writer.append(records)

    def read_audit(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        from reporter.store.parquet import audit

        return audit.read(self._fs, since_ms)

    def compact(
        self, experiment_ids: Sequence[str] | None = None
    ) -> list[compaction.CompactionResult]:
        """Merge finished runs' part files, experiment by experiment."""
        from reporter.store.parquet import compaction

        self._writer.flush()
        ids = list(experiment_ids) if experiment_ids else self._fs.list_dirs(schema.RUNS_FOLDER)
        timeout = env.heartbeat_timeout()
        return [compaction.compact_experiment(self._fs, str(i), timeout_s=timeout) for i in ids]

    def usage(
        self,
        experiment_ids: Sequence[str] | None = None,
        *,
        older_than_ms: int = 30 * 86_400_000,  # 30 days: store/usage.py's DEFAULT_GC_AGE_MS
        lifecycles: bool = True,
        known: Mapping[str, Sequence[Any]] | None = None,
    ) -> StoreUsage:
        """Measure the store (or these experiments) from one listing and the footers of its
        shared files; with `lifecycles`, also read which runs are deleted and what a gc of
        deletions `older_than_ms` old would free (see usage.py). `known`: experiment id ->
        the `RunBatch.lifecycles` of every batch of it, in order (an experiment whose runs
        they all cover is not read again)."""
        from reporter.store.parquet import gc, usage

        self._writer.flush()
        ids = None if experiment_ids is None else [str(i) for i in experiment_ids]
        files, other = usage.list_store(self._fs, ids)
        experiments = self.list_experiments()
        now, timeout_ms = _now_ms(), env.heartbeat_timeout() * 1000

        def events_of(exp_id: str) -> usage.ExperimentEvents:
            shares = (known or {}).get(exp_id) or ()
            if shares and all(isinstance(s, usage.ExperimentEvents) for s in shares):
                total = usage.ExperimentEvents()
                for share in shares:
                    total.add(share)
                runs = files[exp_id].run_ids()
                found = total.of_runs(runs, files[exp_id].parts_of(runs))
                if found is not None:
                    return found
            return usage.read_experiment_events(self._fs, exp_id)

        read = {e: events_of(e) for e in files if files[e].run_ids()} if lifecycles else None
        measured = usage.measure(
            self._fs, experiments, (files, other), lifecycles=read, now_ms=now,
            timeout_ms=timeout_ms,
        )  # fmt: skip
        if read is None:
            return measured
        records = {e.experiment_id: e for e in experiments}
        choice = gc.Choice(
            self._fs,
            files,
            records,
            lambda e: read.get(e) or usage.ExperimentEvents(),
            now,
            older_than_ms,
            timeout_ms,
        )
        return replace(measured, gc=gc.plan(choice).report(self.uri, older_than_ms, now, True))

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
        (or exactly those named, which must be deleted), with their artifacts and logged
        models; a dry run removes nothing and reports the same. `wait_s`: how long to let
        compactions under way finish before removing runs' events (see gc.py)."""
        from reporter.store.parquet import gc, usage

        if older_than_ms < 0:
            raise InvalidArgumentError(f"older_than_ms must be >= 0, got {older_than_ms}")
        self._writer.flush()
        files, _ = usage.list_store(self._fs)
        records = {e.experiment_id: e for e in self.list_experiments()}
        read: dict[str, usage.ExperimentEvents] = {}

        def events_of(exp_id: str) -> usage.ExperimentEvents:
            if exp_id not in read:
                read[exp_id] = usage.read_experiment_events(self._fs, exp_id)
            return read[exp_id]

        now = _now_ms()
        choice = gc.Choice(
            self._fs,
            files,
            records,
            events_of,
            now,
            older_than_ms,
            env.heartbeat_timeout() * 1000,
        )
        chosen = gc.plan(
            choice,
            None if experiment_ids is None else [str(i) for i in experiment_ids],
            None if run_ids is None else [str(i) for i in run_ids],
        )
        if not dry_run:
            wait = gc.WAIT_S if wait_s is None else wait_s
            chosen = gc.collect(self._fs, chosen, choice.threshold, wait)
            gone = {t.run_id for t in chosen.runs}
            self._run_exp = {
                r: e
                for r, e in self._run_exp.items()
                if r not in gone and e not in {x.exp_id for x in chosen.experiments}
            }
            self.clear_cache()
        return chosen.report(self.uri, older_than_ms, now, dry_run)

    # archiving (archive.py, archive_jobs.py) ------------------------------------------------
    def archive_runs(
        self, run_ids: Sequence[str], to_uri: str, *, dry_run: bool = False
    ) -> ArchiveReport:
        """Move these finished runs to the store at `to_uri` (see archive.py)."""
        from reporter.store.archiving import ArchiveReport
        from reporter.store.parquet import archive, archive_jobs

        self._writer.flush()
        self.require_existing()
        dest = self._other_store(to_uri, "archive into")
        if not dry_run:
            archive.probe_apart(self._fs, dest._fs, "archive into")
            dest.create_if_missing()
        # where the runs went, as it can be opened again (an S3 URI keeps its ?endpoint_url=)
        where = dest.uri if dest._fs.local else to_uri.strip()
        report = ArchiveReport(location=where, dry_run=dry_run)
        by_exp = self._by_experiment(run_ids, report)

        def statuses(exp_id: str, listing: reader.Listing, table: pa.Table) -> dict[str, str]:
            runs = self._runs_from(exp_id, listing, events.reduce_events(table))
            return {run.info.run_id: run.info.status for run in runs}

        archive_jobs.archive_runs(self._fs, self.uri, dest._fs, by_exp, statuses, report)
        self.clear_cache()
        return report

    def restore_runs(self, run_ids: Sequence[str], from_uri: str) -> ArchiveReport:
        """Bring archived runs back from the store at `from_uri` (see archive.py)."""
        from reporter.store.archiving import ArchiveReport
        from reporter.store.parquet import archive, archive_jobs

        self._writer.flush()
        self.require_existing()
        source = self._other_store(from_uri, "restore from")
        source.require_existing()
        report = ArchiveReport(location=source.uri)
        by_exp, missing = archive.runs_in_archive(source._fs, run_ids)
        report.skipped += [(r, f"no such run in the archive {source.uri}") for r in missing]
        archive_jobs.restore_runs(self._fs, source._fs, by_exp, report)
        self.clear_cache()
        return report

    def _other_store(self, uri: str, what: str) -> ParquetStore:
        """Open another store for archiving; refuse this store, or one inside or around it."""
        from reporter.store.parquet import archive
        from reporter.store.uris import split_uri

        if split_uri(uri)[0] in ("http", "https"):
            raise InvalidArgumentError(
                f"Cannot {what} {uri}: an archive is a folder or an object store URL "
                "(s3://bucket/archive), not a tracking server."
            )
        if not uri.strip():
            raise InvalidArgumentError(
                f"Cannot {what} an empty location: give a folder or a URL (s3://bucket/archive)"
            )
        try:
            other = ParquetStore(uri)
        except (ReporterError, OSError) as exc:
            raise InvalidArgumentError(
                f"Cannot {what} {uri}: {exc}. An archive is a folder or an object store URL "
                "(s3://bucket/archive)."
            ) from None
        archive.check_apart(self._fs, other._fs, what)
        return other

    def _by_experiment(self, run_ids: Sequence[str], report: ArchiveReport) -> dict[str, list[str]]:
        """Group run ids by their experiment here; unknown ones are reported as skipped."""
        out: dict[str, list[str]] = {}
        for run_id in dict.fromkeys(run_ids):
            try:
                out.setdefault(self.experiment_of(run_id), []).append(run_id)
            except NotFoundError:
                report.skipped.append((run_id, f"no such run in {self.uri}"))
        return out


def _as_float(column: pa.Array) -> pa.Array:
    """Parse a text column of integers (ms) into float64, unparseable values as null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(pc.cast(column, pa.int64()), pa.float64())
    except pa.ArrowInvalid:
        return pa.array([_int_or_none(v) for v in column.to_pylist()], pa.float64())


def _listing_key(listing: reader.Listing) -> object:
    """Return what identifies the content of a listing: its file paths and sizes."""
    files = [*listing.parts.values(), *listing.compacted, *listing.archived]
    return frozenset((info.path, info.size) for info in files)


def _int_or_none(text: str | None) -> int | None:
    """Parse an int attribute stored as text."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _parse_change(rel: str, data: bytes) -> dict[str, Any] | None:
    """Parse an access change record; a damaged one is skipped with a warning."""
    try:
        change = json.loads(data)
    except ValueError:
        change = None
    if not isinstance(change, dict) or "op" not in change:
        warnings.warn(f"Skipping a damaged access record {rel}", StoreWarning, stacklevel=2)
        return None
    return change
