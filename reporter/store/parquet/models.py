"""Logged models in the Parquet store: a creation record and append-only edit events.

Layout (docs/store-format.md, "Logged models"):
    models/<experiment_id>/_records/<model_id>.json            written once, when created
    models/<experiment_id>/_edits/<model_id>/<time>-<id>.edit   one change each, never rewritten
    models/<experiment_id>/<model_id>/artifacts/...             the model's files

Guarantees, as for experiments: a record is published with put-if-absent; every change is a new
uniquely named file, so processes changing one model at once never lose each other's changes;
a model reads as its record with its edits applied in file-name (time) order. Listing an
experiment's models lists two prefixes, whatever the number of models.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reporter.core.entities import Metric
from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.core.logged_models import LoggedModel, LoggedModelStatus, is_model_id
from reporter.store.parquet import edits, reader, schema
from reporter.store.parquet.fs import StoreFS

EDIT_FIELDS = ("status", "status_message", "last_updated_timestamp", "deleted")


@dataclass(frozen=True)
class _ModelEdit:
    """One parsed edit event of a logged model."""

    fields: dict[str, Any]
    tags: dict[str, str]
    deleted: tuple[str, ...]
    params: dict[str, str]
    metrics: tuple[Metric, ...]


def check_model_id(model_id: str) -> str:
    """Return a logged model id, or raise a clear error if it cannot be one."""
    if not isinstance(model_id, str) or not is_model_id(model_id):
        raise InvalidArgumentError(
            f"Invalid logged model id {model_id!r}: expected 'm-' and 32 hex digits "
            "(as LoggedModel.model_id gives it)"
        )
    return model_id


class ModelRecords:
    """Reads and writes logged models of one store."""

    def __init__(self, fs: StoreFS) -> None:
        self._fs = fs
        self._experiment_of: dict[str, str] = {}  # model id -> experiment id (never changes)
        self._edits: dict[str, _ModelEdit | None] = {}  # parsed edits by path (immutable files)
        self._lock = threading.Lock()

    # paths -----------------------------------------------------------------------------------
    def _record_path(self, exp_id: str, model_id: str) -> str:
        folder = self._fs.join(schema.MODELS_FOLDER, exp_id, schema.RECORDS_FOLDER)
        return self._fs.join(folder, f"{model_id}.json")

    def _edits_folder(self, exp_id: str, model_id: str | None = None) -> str:
        folder = self._fs.join(schema.MODELS_FOLDER, exp_id, schema.EDITS_FOLDER)
        return self._fs.join(folder, model_id) if model_id else folder

    def artifact_rel(self, model_id: str, path: str | None = None) -> str:
        """Return the store-relative path of a model's artifact folder (or a file in it)."""
        exp_id = self.experiment_of(model_id)
        base = self._fs.join(schema.MODELS_FOLDER, exp_id, model_id, schema.ARTIFACTS_FOLDER)
        return self._fs.join(base, path) if path else base

    def artifact_location(self, exp_id: str, model_id: str) -> str:
        """Return where a model's files live, as a URL (a local store: its absolute path)."""
        rel = self._fs.join(schema.MODELS_FOLDER, exp_id, model_id, schema.ARTIFACTS_FOLDER)
        return self._fs.url(rel)

    # writing ---------------------------------------------------------------------------------
    def create(self, model: LoggedModel) -> None:
        """Publish a model's creation record (put-if-absent: an id is never reused)."""
        check_model_id(model.model_id)
        record = {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "source_run_id": model.source_run_id,
            "model_type": model.model_type,
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
            "status": model.status.value,
            "status_message": model.status_message,
            "tags": dict(model.tags),
            "params": dict(model.params),
        }
        data = json.dumps(record, sort_keys=True, indent=1).encode()
        if not self._fs.write_atomic(
            self._record_path(model.experiment_id, model.model_id), data, if_absent=True
        ):
            raise InvalidArgumentError(f"A logged model with id {model.model_id} already exists")
        with self._lock:
            self._experiment_of[model.model_id] = model.experiment_id

    def edit(
        self,
        model_id: str,
        *,
        set_fields: Mapping[str, Any] | None = None,
        set_tags: Mapping[str, str] | None = None,
        delete_tags: Sequence[str] = (),
        params: Mapping[str, str] | None = None,
        metrics: Sequence[Metric] = (),
    ) -> None:
        """Publish one edit event of a model (a new file: concurrent edits all stay)."""
        unknown = set(set_fields or {}) - set(EDIT_FIELDS)
        if unknown:
            raise InvalidArgumentError(
                f"Cannot edit logged model fields {sorted(unknown)}; "
                f"valid: {', '.join(EDIT_FIELDS)}"
            )
        exp_id = self.experiment_of(model_id)
        now = time.time_ns()
        edit = {
            "set": {"last_updated_timestamp": now // 1_000_000, **(set_fields or {})},
            "tags": dict(set_tags or {}),
            "deleted_tags": list(delete_tags),
            "params": dict(params or {}),
            "metrics": [m.to_dict() for m in metrics],
        }
        edits.publish_edit(self._fs, self._edits_folder(exp_id, model_id), edit, now)

    # reading ---------------------------------------------------------------------------------
    def experiment_of(self, model_id: str) -> str:
        """Return the experiment of a model; NotFoundError if no experiment has it."""
        check_model_id(model_id)
        with self._lock:
            known = self._experiment_of.get(model_id)
        if known is not None:
            return known
        for exp_id in self._fs.list_dirs(schema.MODELS_FOLDER):
            if self._fs.exists(self._record_path(exp_id, model_id)):
                with self._lock:
                    self._experiment_of[model_id] = exp_id
                return exp_id
        raise NotFoundError(f"No logged model with id {model_id!r} in {self._fs.url('')}")

    def get(self, model_id: str) -> LoggedModel:
        """Return a model with every edit applied; NotFoundError if there is none."""
        exp_id = self.experiment_of(model_id)
        model = self._read_record(exp_id, model_id)
        if model is None:
            raise NotFoundError(f"No logged model with id {model_id!r} in {self._fs.url('')}")
        edits = self._fs.list_files(self._edits_folder(exp_id, model_id))
        return self._with_edits(model, [i.path for i in edits])

    def list(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        """Return every model of these experiments (deleted ones included), oldest first."""
        out: list[LoggedModel] = []
        for exp_id in experiment_ids:
            records = self._fs.list_files(
                self._fs.join(schema.MODELS_FOLDER, str(exp_id), schema.RECORDS_FOLDER)
            )
            edits: dict[str, list[str]] = {}
            base = self._edits_folder(str(exp_id)) + "/"
            for info in self._fs.list_files(self._edits_folder(str(exp_id))):
                model_id = info.path[len(base) :].split("/", 1)[0]
                edits.setdefault(model_id, []).append(info.path)
            for info in records:
                model_id = Path(info.path).name[: -len(".json")]
                if not is_model_id(model_id):
                    continue
                model = self._read_record(str(exp_id), model_id)
                if model is not None:
                    out.append(self._with_edits(model, edits.get(model_id, [])))
        return sorted(out, key=lambda m: (m.creation_timestamp, m.model_id))

    def _read_record(self, exp_id: str, model_id: str) -> LoggedModel | None:
        """Read a creation record; None if absent, a warning naming it if damaged."""
        rel = self._record_path(exp_id, model_id)
        try:
            data = json.loads(self._fs.read_bytes(rel))
            if data["model_id"] != model_id or str(data["experiment_id"]) != exp_id:
                raise ValueError("the record names another model or experiment")
            return LoggedModel(
                experiment_id=exp_id,
                model_id=model_id,
                name=str(data["name"]),
                artifact_location=self.artifact_location(exp_id, model_id),
                creation_timestamp=int(data["creation_timestamp"]),
                last_updated_timestamp=int(data["last_updated_timestamp"]),
                model_type=data.get("model_type"),
                source_run_id=data.get("source_run_id"),
                status=LoggedModelStatus.parse(data.get("status") or "READY"),
                status_message=data.get("status_message"),
                tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
                params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
            )
        except NotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            reader.warn_skip(self._fs, rel, f"invalid logged model record ({exc})")
            return None

    def _with_edits(self, model: LoggedModel, paths: Sequence[str]) -> LoggedModel:
        """Apply a model's edits in file-name order (time, then a unique id)."""
        fields: dict[str, Any] = {}
        tags = dict(model.tags)
        params = dict(model.params)
        metrics: list[Metric] = []
        for edit in edits.ordered_edits(self._fs, self._edits, paths, self._parse_edit):
            fields.update(edit.fields)
            tags.update(edit.tags)
            for key in edit.deleted:
                tags.pop(key, None)
            for key, value in edit.params.items():
                params.setdefault(key, value)  # a param keeps its first value, as a run's does
            metrics.extend(edit.metrics)
        if "status" in fields:
            fields["status"] = LoggedModelStatus.parse(fields["status"])
        return replace(model, tags=tags, params=params, metrics=tuple(metrics), **fields)

    def _parse_edit(self, rel: str, data: bytes) -> _ModelEdit | None:
        """Parse one edit file; None and a warning naming it if it is not a valid edit."""
        try:
            edit = json.loads(data)
            fields = {k: edit["set"][k] for k in EDIT_FIELDS if k in edit.get("set", {})}
            if "status" in fields:
                LoggedModelStatus.parse(fields["status"])
            return _ModelEdit(
                fields=fields,
                tags={str(k): str(v) for k, v in (edit.get("tags") or {}).items()},
                deleted=tuple(str(k) for k in edit.get("deleted_tags") or []),
                params={str(k): str(v) for k, v in (edit.get("params") or {}).items()},
                metrics=tuple(Metric.from_dict(m) for m in edit.get("metrics") or []),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            reader.warn_skip(self._fs, rel, f"invalid logged model edit ({exc})")
            return None
