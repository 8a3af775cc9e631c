"""Copy experiments, runs and artifacts from an MLflow source into a tracker-report store.

Runs keep their MLflow run ids. Each imported run carries the digest of what it was imported
from (`reporter.import.digest`): a run whose digest is unchanged is skipped without reading
its histories; a new or changed run gets only what the store lacks (params it has not got,
tags and attributes that differ, metric points not already stored, artifacts missing or of
another size). So an import is idempotent, and one interrupted at any point is completed by
the next; the digest is written last. Nothing in the source is written.

The model registry comes after the runs (`reporter.importers.mlflow.registry`), so a version's
source can point at its imported run's files.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reporter.core import paths, system_tags
from reporter.core.entities import LifecycleStage
from reporter.core.errors import InvalidArgumentError, ReporterError, UnsupportedURIError
from reporter.core.validation import check_run_id
from reporter.importers.mlflow.registry import RegistryCounts, RegistryImport
from reporter.importers.mlflow.source import (
    ArtifactFile,
    MetricPoint,
    Source,
    SourceError,
    SourceExperiment,
    SourceRun,
)
from reporter.store import records
from reporter.store.protocol import AbstractStore
from reporter.store.registry import open_store
from reporter.store.uris import split_uri

TAG_SOURCE = system_tags.TAG_IMPORT_SOURCE
TAG_DIGEST = system_tags.TAG_IMPORT_DIGEST
MLFLOW_PARENT = system_tags.TAG_PARENT_RUN_ID

Progress = Callable[[str, int, int], None]


class SourceChoiceError(InvalidArgumentError):
    """The source or an experiment named on the command line does not exist (a usage error)."""


class MlflowImportWarning(UserWarning):
    """A run or file of the MLflow source was skipped (the message names it and says why)."""


@dataclass
class ImportSummary:
    """What an import did."""

    source: str
    experiments_created: int = 0
    experiments_updated: int = 0
    runs_new: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    points: int = 0
    artifacts_copied: int = 0
    artifact_bytes: int = 0
    registry: RegistryCounts = field(default_factory=RegistryCounts)
    skipped: list[str] = field(default_factory=list)  # "what: why"

    def lines(self) -> list[str]:
        """Return the closing summary, one line per fact."""
        out = [
            f"Imported from {self.source}:",
            f"  experiments: {self.experiments_created} created, "
            f"{self.experiments_updated} updated",
            f"  runs: {self.runs_new} new, {self.runs_updated} updated, "
            f"{self.runs_unchanged} unchanged",
            f"  metric points: {self.points:,}; artifacts: {self.artifacts_copied} files "
            f"({self.artifact_bytes:,} bytes)",
        ]
        if self.registry.any():
            out.append(self.registry.line())
        if self.skipped:
            out.append(f"  skipped: {len(self.skipped)}")
            out += [f"    {line}" for line in self.skipped]
        return out


def open_source(text: str, artifact_roots: Sequence[str] = ()) -> Source:
    """Open an MLflow source: a file store folder, `sqlite:///file.db`, or a server URL.

    Local sources read artifacts only inside their own folder and `artifact_roots`.
    """
    roots = [Path(r).expanduser().resolve() for r in artifact_roots]
    if text.startswith(("http://", "https://")):
        from reporter.importers.mlflow.rest import RestSource

        return RestSource(text)
    if text.startswith("sqlite:"):
        from reporter.importers.mlflow.sqlite import SqliteSource

        return SqliteSource(text, artifact_roots=roots)
    if text.startswith("file:"):
        text = text[len("file:") :]
        if text.startswith("//"):
            text = text[2:]
    path = Path(text).expanduser()
    if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
        from reporter.importers.mlflow.sqlite import SqliteSource

        return SqliteSource(str(path), artifact_roots=roots)
    from reporter.importers.mlflow.file_store import FileStoreSource

    if path.is_dir() and (FileStoreSource.looks_like(path) or (path / "meta.yaml").is_file()):
        return FileStoreSource(path, artifact_roots=roots)  # an experiment folder: it says so
    raise SourceChoiceError(
        f"{text!r} is not an MLflow source. Valid: an MLflow file store folder (./mlruns, with "
        "<experiment id>/meta.yaml inside), an MLflow SQLite database (sqlite:///mlflow.db), "
        "or a tracking server URL (http://127.0.0.1:5000)"
    )


def _number_key(value: float) -> bytes:
    """Return a hashable key for a float that is equal for equal values, NaN included."""
    return b"nan" if math.isnan(value) else struct.pack("<d", value)


def run_digest(run: SourceRun, artifacts: Sequence[tuple[str, int | None]]) -> str:
    """Return a digest of everything an import takes from a run, but the metric histories
    (represented by each metric's latest point, and its number of points where the source
    tells it cheaply: the file store and SQLite do, a server does not)."""
    data = {
        "attrs": [
            run.run_name,
            run.status,
            run.start_time,
            run.end_time,
            run.user_id,
            run.lifecycle_stage,
        ],
        "params": sorted(run.params.items()),
        "tags": sorted(run.tags.items()),
        "latest": sorted(
            (k, p.step, p.timestamp, _number_key(p.value).hex()) for k, p in run.latest.items()
        ),
        "counts": sorted((run.counts or {}).items()),
        "artifacts": sorted(artifacts),
    }
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()[:32]


class Importer:
    """Import one MLflow source into one store."""

    def __init__(
        self,
        source: Source,
        store: AbstractStore,
        *,
        artifacts: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.copy_artifacts = artifacts
        self.progress = progress
        self.summary = ImportSummary(source.uri)
        self._where: dict[str, str] = {}  # run id -> experiment id in our store
        self._imported: dict[str, SourceRun] = {}  # runs the store has from this import
        self._failed: set[str] = set()  # runs chosen that could not be imported

    def skip(self, what: str, why: str) -> None:
        """Record and warn about something skipped."""
        self.summary.skipped.append(f"{what}: {why}")
        warnings.warn(MlflowImportWarning(f"Skipped {what}: {why}"), stacklevel=2)

    def run(self, names: Sequence[str] = ()) -> ImportSummary:
        """Import every experiment (or those named) and return what was done."""
        every = []
        for found in self.source.experiments():
            if isinstance(found, SourceError):
                self.skip("an experiment", str(found))
            else:
                every.append(found)
        chosen = every
        if names:
            known = {e.name for e in every} | {e.experiment_id for e in every}
            missing = [n for n in names if n not in known]
            if missing:
                listed = ", ".join(sorted(e.name for e in every)) or "none"
                raise SourceChoiceError(
                    f"No experiment {', '.join(map(repr, missing))} in {self.source.uri}; "
                    f"its experiments: {listed}"
                )
            chosen = [e for e in every if e.name in names or e.experiment_id in names]
        for ours in self.store.list_experiments():
            frame = self.store.runs_frame([ours.experiment_id])
            self._where.update(dict.fromkeys(frame["run_id"], ours.experiment_id))
        plans: list[tuple[SourceExperiment, str, list[SourceRun]]] = []
        for exp in chosen:
            runs = []
            for item in self.source.runs(exp.experiment_id):
                if isinstance(item, SourceError):
                    self.skip(f"a run of experiment {exp.name!r}", str(item))
                else:
                    runs.append(item)
            plans.append((exp, self._experiment(exp, runs), runs))
        total = sum(len(runs) for _, _, runs in plans)
        done = 0
        if self.progress:
            self.progress("importing runs", 0, total)
        for exp, exp_id, runs in plans:
            current = self._current(exp_id)
            for run in runs:
                try:
                    self._run(run, exp_id, current.get(run.run_id))
                    self._imported[run.run_id] = run
                except ReporterError as exc:
                    self.skip(f"run {run.run_id} ({run.run_name or 'unnamed'})", str(exc))
                    self._failed.add(run.run_id)
                done += 1
                if self.progress:
                    self.progress("importing runs", done, total)
            self._set_stage(exp_id, exp.lifecycle_stage)
        self._registry(partial=bool(names))
        return self.summary

    def _registry(self, *, partial: bool) -> None:
        """Import the model registry (only the versions of the runs imported, when only some
        experiments are)."""
        models = self.source.registered_models()
        if not models:
            return
        if self.progress:
            self.progress("importing registered models", 0, len(models))
        step = RegistryImport(
            self.source,
            self.store.model_registry(),
            self._imported,
            self._failed,
            self.skip,
            partial=partial,
        )
        self.summary.registry = step.run(models)
        if self.progress:
            self.progress("importing registered models", len(models), len(models))

    # experiments ----------------------------------------------------------------------------
    def _experiment(self, exp: SourceExperiment, runs: Sequence[SourceRun]) -> str:
        """Return our experiment id for a source experiment, creating or updating it.

        An experiment that already holds runs of this one is it, even if renamed in MLflow
        since (run ids are unique); otherwise the one of the same name, else a new one.
        """
        tags = dict(exp.tags)
        description = tags.pop(system_tags.TAG_NOTE, "")
        held = Counter(self._where[r.run_id] for r in runs if r.run_id in self._where)
        ours = None
        if held:
            ours = self.store.get_experiment(held.most_common(1)[0][0])
        if ours is None:
            ours = self.store.get_experiment_by_name(exp.name)
        if ours is None:
            exp_id = self.store.create_experiment(exp.name, tags, description)
            self.summary.experiments_created += 1
            return exp_id
        changes: dict[str, object] = {}
        if ours.name != exp.name:
            taken = self.store.get_experiment_by_name(exp.name)
            if taken is None:
                changes["name"] = exp.name  # renamed in MLflow: follow it
            else:
                self.skip(
                    f"the new name of experiment {ours.name!r}",
                    f"MLflow renamed it {exp.name!r}, a name another experiment here has",
                )
        merged = {**ours.tags, **tags}
        if merged != dict(ours.tags):
            changes["tags"] = merged
        if description and description != ours.description:
            changes["description"] = description
        if changes:
            self.store.update_experiment(
                replace(ours, last_update_time=int(time.time() * 1000), **changes)  # type: ignore[arg-type]
            )
            self.summary.experiments_updated += 1
        return ours.experiment_id

    def _set_stage(self, exp_id: str, stage: str) -> None:
        """Give one of our experiments the source's lifecycle stage (deleted or restored)."""
        ours = self.store.get_experiment(exp_id)
        if (
            stage in (LifecycleStage.ACTIVE, LifecycleStage.DELETED)
            and ours.lifecycle_stage != stage
        ):
            self.store.update_experiment(replace(ours, lifecycle_stage=stage))

    def _current(self, exp_id: str) -> dict[str, str]:
        """Return {run id: import digest ("" if none)} of the runs our experiment has."""
        frame = self.store.runs_frame([exp_id])
        column = f"tags.{TAG_DIGEST}"
        if column not in frame.columns:
            return dict.fromkeys(map(str, frame["run_id"]), "")
        digests = frame[column].where(frame[column].notna(), "")
        return dict(zip(map(str, frame["run_id"]), map(str, digests)))

    # runs -----------------------------------------------------------------------------------
    def _run(self, run: SourceRun, exp_id: str, ours: str | None) -> None:
        """Import one run: skipped when unchanged, else only what the store lacks."""
        check_run_id(run.run_id)  # before any path is made of it
        elsewhere = self._where.get(run.run_id)
        if elsewhere is not None and elsewhere != exp_id:
            raise InvalidArgumentError(
                f"the store already has this run id in experiment {elsewhere}"
            )
        files: list[ArtifactFile] = []
        listed = True
        if self.copy_artifacts:
            try:
                files = self.source.artifacts(run)
            except SourceError as exc:  # import the run; its files wait for the next import
                self.skip(f"the artifacts of run {run.run_id}", str(exc))
                listed = False
        digest = run_digest(run, [(f.path, f.size) for f in files])
        if not listed:
            digest = "incomplete"  # never equal: the next import lists the artifacts again
        if ours == digest:  # ours: the digest the store has (None: a run it has not)
            self.summary.runs_unchanged += 1
            return
        self.store.ensure_run_marker(exp_id, run.run_id, run.start_time)
        self._where[run.run_id] = exp_id
        if not self._artifacts(run, files):
            digest = "incomplete"  # a file was skipped: the next import tries it again
        rows = self._rows(run, ours is not None)
        rows.append((records.KIND_TAG, TAG_SOURCE, None, self.source.uri, 0, _now()))
        rows.append((records.KIND_TAG, TAG_DIGEST, None, digest, 0, _now()))
        self.store.write_run_events(exp_id, run.run_id, rows, run.start_time)
        if ours is None:
            self.summary.runs_new += 1
        else:
            self.summary.runs_updated += 1

    def _rows(self, run: SourceRun, exists: bool) -> list[records.Row]:
        """Return the event rows the store lacks for this run."""
        now = _now()
        have = self.store.get_run(run.run_id) if exists else None
        attrs = _attr_texts(
            run.run_name, run.status, run.start_time, run.end_time, run.user_id,
            run.lifecycle_stage, run.tags.get(MLFLOW_PARENT),
        )  # fmt: skip
        old_attrs: dict[str, str | None] = {}
        if have is not None:
            i = have.info
            old_attrs = _attr_texts(
                i.run_name, i.status, i.start_time, i.end_time, i.user_id, i.lifecycle_stage,
                i.parent_run_id,
            )  # fmt: skip
        rows: list[records.Row] = [
            (records.KIND_ATTR, k, None, v, 0, now)
            for k, v in attrs.items()
            if v is not None and old_attrs.get(k) != v
        ]
        old_params = dict(have.data.params) if have else {}
        for key, value in run.params.items():
            if key not in old_params:
                rows.append((records.KIND_PARAM, key, None, value, 0, now))
            elif old_params[key] != value:
                self.skip(
                    f"param {key!r} of run {run.run_id}",
                    f"the store has {old_params[key]!r}, the source {value!r} "
                    "(params never change)",
                )
        old_tags = dict(have.data.tags) if have else {}
        new_tags = dict(run.tags)  # MLflow's system tags are ours: same names
        for key, value in new_tags.items():
            if old_tags.get(key) != value:
                rows.append((records.KIND_TAG, key, None, value, 0, now))
        for key in old_tags:
            imported = not key.startswith(system_tags.REPORTER_PREFIX)  # not ours
            if key not in new_tags and imported:
                rows.append((records.KIND_TAG, key, None, None, 0, now))  # deleted in the source
        for key in sorted(run.latest):
            points = self.source.metric_history(run, key)
            if have is not None:
                points = self._missing(run.run_id, key, points)
            rows += [(records.KIND_METRIC, key, p.value, None, p.step, p.timestamp) for p in points]
            self.summary.points += len(points)
        return rows

    def _missing(self, run_id: str, key: str, points: list[MetricPoint]) -> list[MetricPoint]:
        """Return the points of a history the store does not have yet (as a multiset)."""
        have = Counter(
            (m.step, m.timestamp, _number_key(m.value))
            for m in self.store.get_metric_history(run_id, key)
        )
        out = []
        for p in points:
            k = (p.step, p.timestamp, _number_key(p.value))
            if have[k]:
                have[k] -= 1
            else:
                out.append(p)
        return out

    def _artifacts(self, run: SourceRun, files: Sequence[ArtifactFile]) -> bool:
        """Copy the artifact files the store lacks (or has with another size); return False
        when one could not be read or written (it was skipped with a warning)."""
        if not files:
            return True
        complete = True
        have = dict(self.store.list_artifacts(run.run_id))
        for item in files:
            path, size = item.path, item.size
            if have.get(path) == size and size is not None:
                continue
            if not _safe(path):
                self.skip(f"artifact {path!r} of run {run.run_id}", "not a plain relative path")
                continue
            try:
                data = self.source.read_artifact(run, path)
                self.store.write_artifact_bytes(run.run_id, path, data)
            except (SourceError, OSError) as exc:
                self.skip(f"artifact {path!r} of run {run.run_id}", str(exc))
                complete = False
                continue
            self.summary.artifacts_copied += 1
            self.summary.artifact_bytes += len(data)
        return complete


def _check_apart(source: Source, store_uri: str) -> None:
    """Refuse a local store inside the source's own folders (the import would write there)."""
    scheme, location = split_uri(store_uri)
    if scheme != "file":
        return
    store = Path(location or ".").expanduser().resolve()
    for folder in source.data_folders():
        if paths.within(store, folder):
            raise SourceChoiceError(
                f"The store {store} is inside the MLflow source's folder {folder}; importing "
                "would write into the source. Choose a store folder outside it."
            )


def _attr_texts(
    name: str, status: str, start: int | None, end: int | None, user: str, stage: str,
    parent: str | None,
) -> dict[str, str | None]:  # fmt: skip
    """Return a run's attribute events' texts, keyed as the store keys them."""
    return {
        "run_name": name,
        "status": status,
        "start_time": None if start is None else str(start),
        "end_time": None if end is None else str(end),
        "user_id": user,
        "lifecycle_stage": stage,
        "parent_run_id": parent,
    }


def _safe(path: str) -> bool:
    """Return True for a plain relative path (no '..', no absolute or empty parts)."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def _now() -> int:
    """Return the time in ms (the stamp of imported non-metric events)."""
    return int(time.time() * 1000)


def import_mlflow(
    source: str,
    store_uri: str,
    experiments: Sequence[str] = (),
    *,
    artifacts: bool = True,
    artifact_roots: Sequence[str] = (),
    progress: Progress | None = None,
) -> ImportSummary:
    """Import an MLflow source (folder, sqlite:/// URI or server URL) into a store."""
    opened = open_source(source, artifact_roots)
    try:
        _check_apart(opened, store_uri)
        if store_uri.lower().startswith(("http://", "https://")):
            # (an import keeps MLflow's ids, numbers and times, which a server makes anew)
            raise UnsupportedURIError(
                f"Cannot import into the tracking server {store_uri}: an import keeps MLflow's "
                "run ids, version numbers and times, which a server makes anew. Import into "
                "the server's store (a folder or s3://bucket/prefix) instead."
            )
        store = open_store(store_uri)
        return Importer(opened, store, artifacts=artifacts, progress=progress).run(experiments)
    finally:
        opened.close()
