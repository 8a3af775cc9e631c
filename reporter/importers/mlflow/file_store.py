"""Read an MLflow file store folder (`./mlruns`), without MLflow and without writing to it.

Layout: `<exp_id>/meta.yaml` (deleted experiments move to `.trash/<exp_id>/`), `<exp_id>/tags/`,
and per run `<exp_id>/<run_id>/meta.yaml`, `params/`, `tags/`, `metrics/` (one file per key,
keys with '/' are sub-folders; a metric line is `timestamp value step`) and `artifacts/`.
MLflow 3's logged models (`log_model`) are `<exp_id>/models/<model_id>/meta.yaml` (with
`source_run_id` and `name`) and their files `<exp_id>/models/<model_id>/artifacts/`; they are
listed with their run's artifacts, under the model's name.

The model registry is `models/<name>/meta.yaml` (MLflow keeps the model's name there and in the
folder's name), its `tags/` and `aliases/` (one file per alias, holding the version number), and
per version `models/<name>/version-<n>/meta.yaml` and `tags/`; a deleted version stays, with the
stage `Deleted_Internal`. Aliases are read from `aliases/`, as MLflow reads them (its rename
leaves a stale copy in meta.yaml).

A run's recorded `artifact_uri` is absolute where it was logged; when it does not exist here
(a copied or moved folder), its artifacts are looked for in `<run>/artifacts` of this folder.
Artifacts are only read inside this folder and the `artifact_roots` given; remote ones
(s3://, ...) are refused with a SourceError. Only regular files are read, and no symbolic link
is followed: other files (FIFOs, devices, sockets, links) are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from reporter.importers.mlflow.source import (
    DELETED_STAGE,
    ArtifactFile,
    ArtifactPlace,
    LoggedModel,
    MetricPoint,
    SourceError,
    SourceExperiment,
    SourceModelVersion,
    SourceRegisteredModel,
    SourceRun,
    artifact_layout,
    child_file,
    is_real_dir,
    is_regular,
    layout_places,
    list_layout,
    locate_artifacts,
    plain_parts,
    read_from_layout,
    read_text,
    resolve_roots,
    text_or_none,
    walk_regular,
)

# MLflow's RunStatus numbers, as the file store writes them
STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
TRASH = ".trash"
MODELS = "models"  # an experiment's logged models; at the top, the model registry
VERSION_PREFIX = "version-"


def _yaml(path: Path) -> dict[str, Any]:
    """Read a meta.yaml; SourceError naming it when it is missing or not a mapping."""
    import yaml

    text = read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourceError(f"Cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(f"Cannot read {path}: not a YAML mapping")
    return data


def _created(meta: dict[str, Any], path: Path) -> int:
    """A registry record's creation time (ms): MLflow writes one; a record without a whole
    number there is damaged (imported, it would read as made in 1970 or now)."""
    created = _int(meta.get("creation_timestamp"))
    if created is None:
        raise SourceError(f"Cannot read {path}: no creation_timestamp (a time in ms)")
    return created


def _is_run_meta(meta: dict[str, Any]) -> bool:
    """Return True for a run's meta.yaml (an experiment's has no run id)."""
    return bool(meta.get("run_id") or meta.get("run_uuid"))


def _int(value: Any) -> int | None:
    """Return an int or None (the file store writes `null` or leaves times out)."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _subfolders(folder: Path) -> list[Path]:
    """Return the real subfolders of a folder (no links), sorted; SourceError naming it."""
    try:
        return sorted(child for child in folder.iterdir() if is_real_dir(child))
    except OSError as exc:
        raise SourceError(f"Cannot read folder {folder}: {exc.strerror or exc}") from None


def _key_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Yield (key, file) for every regular file below a params/tags/metrics folder (keys may
    hold '/'); links, FIFOs, devices and sockets are left out, never opened."""
    if not is_real_dir(folder):
        return
    for key, path, _ in walk_regular(folder):
        yield key, path


def _values(folder: Path) -> dict[str, str]:
    """Read a params or tags folder: one file per key, its whole raw content the value."""
    return {key: read_text(path) for key, path in _key_files(folder)}


def parse_metric_line(line: str, where: Path) -> MetricPoint:
    """Parse `timestamp value [step]` (MLflow writes nan, inf and -inf as such)."""
    fields = line.split()
    if len(fields) not in (2, 3):
        raise SourceError(f"Cannot read {where}: bad metric line {line!r}")
    try:
        return MetricPoint(
            step=int(fields[2]) if len(fields) == 3 else 0,
            timestamp=int(fields[0]),
            value=float(fields[1]),
        )
    except ValueError:
        raise SourceError(f"Cannot read {where}: bad metric line {line!r}") from None


class FileStoreSource:
    """An MLflow file store folder, read-only."""

    def __init__(
        self, folder: str | os.PathLike[str], *, artifact_roots: Sequence[Path] = ()
    ) -> None:
        self.root = Path(folder).expanduser().resolve()
        self.uri = str(folder)
        if not self.root.is_dir():
            raise SourceError(f"{self.uri} is not a folder")
        self._refuse_inner_folder()
        self.allowed = [self.root, *resolve_roots(artifact_roots)]
        # where `mlflow-artifacts:` URIs may be (`mlflow server --serve-artifacts` default)
        self.bases = [self.root.parent / "mlartifacts", *self.allowed[1:]]
        self._runs: dict[str, Path] = {}  # run id -> its folder
        self._experiments: dict[str, Path] = {}
        self._models: dict[Path, tuple[dict[str, list[LoggedModel]], dict[str, str]]] = {}
        self._layouts: dict[str, list[tuple[str, Path]]] = {}
        self._located: dict[str, list[tuple[LoggedModel, Path | None]]] = {}

    def _refuse_inner_folder(self) -> None:
        """SourceError when the folder given is an experiment's or a run's, not the store's."""
        meta_file = self.root / "meta.yaml"
        if not is_regular(meta_file):
            return
        try:
            meta = _yaml(meta_file)
        except SourceError:
            return
        if _is_run_meta(meta):
            raise SourceError(
                f"{self.uri} looks like a run folder; give the mlruns folder that holds its "
                f"experiment ({self.root.parent.parent})"
            )
        if "experiment_id" in meta:
            raise SourceError(
                f"{self.uri} looks like an experiment folder; give its parent, the mlruns "
                f"folder ({self.root.parent})"
            )

    @staticmethod
    def looks_like(folder: Path) -> bool:
        """Return True if a folder holds MLflow experiments (an `<id>/meta.yaml` that is not
        a run's: an experiment folder, whose subfolders are runs, is not a file store)."""
        if not folder.is_dir():
            return False
        try:
            children = sorted(folder.iterdir())
        except OSError:
            return False
        for child in children:
            meta_file = child / "meta.yaml"
            if child.name.startswith(".") or not is_real_dir(child) or not is_regular(meta_file):
                continue
            try:
                if _is_run_meta(_yaml(meta_file)):
                    continue
            except SourceError:
                pass  # an unreadable experiment still makes a file store
            return True
        return False

    def experiments(self) -> list[SourceExperiment | SourceError]:
        """Return every experiment, the deleted ones (in .trash) included; one whose meta.yaml
        or tags cannot be read is a SourceError naming the file."""
        out: list[SourceExperiment | SourceError] = []
        for base, deleted in ((self.root, False), (self.root / TRASH, True)):
            if not is_real_dir(base):
                continue
            try:
                folders = _subfolders(base)
            except SourceError as exc:
                if deleted:
                    out.append(exc)
                    continue
                raise
            for folder in folders:
                if folder.name.startswith(".") or folder.name == MODELS:
                    continue
                meta_file = folder / "meta.yaml"
                if not is_regular(meta_file):
                    continue
                try:
                    experiment = self._experiment(folder, meta_file, deleted)
                except SourceError as exc:
                    out.append(exc)
                    continue
                if experiment is not None:
                    out.append(experiment)
        return out

    def _experiment(self, folder: Path, meta_file: Path, deleted: bool) -> SourceExperiment | None:
        """Read one experiment folder (None when its meta.yaml is a run's)."""
        meta = _yaml(meta_file)
        if _is_run_meta(meta):
            return None
        exp_id = str(meta.get("experiment_id", folder.name))
        stage = str(meta.get("lifecycle_stage") or ("deleted" if deleted else "active"))
        experiment = SourceExperiment(
            experiment_id=exp_id,
            name=str(meta.get("name", exp_id)),
            lifecycle_stage="deleted" if deleted else stage,
            tags=_values(folder / "tags"),
            creation_time=_int(meta.get("creation_time")),
            last_update_time=_int(meta.get("last_update_time")),
        )
        self._experiments[exp_id] = folder
        return experiment

    def runs(self, experiment_id: str) -> Iterator[SourceRun | SourceError]:
        """Yield every run folder of an experiment (a folder with a run's meta.yaml)."""
        folder = self._experiments.get(experiment_id)
        if folder is None:
            self.experiments()
            folder = self._experiments.get(experiment_id)
        if folder is None:
            yield SourceError(f"No experiment {experiment_id!r} in {self.uri}")
            return
        try:
            run_dirs = _subfolders(folder)
        except SourceError as exc:
            yield exc
            return
        for run_dir in run_dirs:
            if run_dir.name in ("tags", MODELS, "datasets"):
                continue
            if not is_regular(run_dir / "meta.yaml"):
                continue
            try:
                yield self._run(experiment_id, run_dir)
            except SourceError as exc:
                yield exc

    def _run(self, experiment_id: str, run_dir: Path) -> SourceRun:
        """Read one run folder's meta.yaml, params, tags and latest metrics."""
        meta = _yaml(run_dir / "meta.yaml")
        run_id = str(meta.get("run_id") or meta.get("run_uuid") or run_dir.name)
        raw_status = meta.get("status")
        status = STATUS.get(raw_status, str(raw_status)) if isinstance(raw_status, int) else None
        if status is None:
            status = str(raw_status or "FINISHED").upper()
        tags = _values(run_dir / "tags")
        latest: dict[str, MetricPoint] = {}
        counts: dict[str, int] = {}
        for key, path in _key_files(run_dir / "metrics"):
            points = self._points(path)
            counts[key] = len(points)
            if points:  # MLflow's rule: the highest (step, timestamp, value) is the latest
                latest[key] = max(points, key=lambda p: (p.step, p.timestamp, p.value))
        self._runs[run_id] = run_dir
        self._layouts.pop(run_id, None)
        return SourceRun(
            run_id=run_id,
            experiment_id=experiment_id,
            run_name=str(meta.get("run_name") or tags.get("mlflow.runName") or ""),
            status=status,
            start_time=_int(meta.get("start_time")),
            end_time=_int(meta.get("end_time")),
            user_id=str(meta.get("user_id") or tags.get("mlflow.user") or ""),
            lifecycle_stage=str(meta.get("lifecycle_stage") or "active"),
            artifact_uri=str(meta.get("artifact_uri") or ""),
            params=_values(run_dir / "params"),
            tags=tags,
            latest=latest,
            counts=counts,
        )

    def _points(self, path: Path) -> list[MetricPoint]:
        """Read a metric file's points, in the order logged."""
        text = read_text(path)
        return [parse_metric_line(line, path) for line in text.splitlines() if line.strip()]

    def _run_dir(self, run: SourceRun) -> Path:
        """Return a run's folder (read by runs() first)."""
        found = self._runs.get(run.run_id)
        if found is None:
            raise SourceError(f"Run {run.run_id} was not read from {self.uri}")
        return found

    def metric_history(self, run: SourceRun, key: str) -> list[MetricPoint]:
        """Return every point of a run's metric (none for a key without a regular file)."""
        metrics = self._run_dir(run) / "metrics"
        if plain_parts(key) is None or not is_real_dir(metrics):
            return []
        try:
            path = child_file(metrics, key)
        except SourceError:
            return []
        if not is_regular(path):
            return []
        return self._points(path)

    def artifact_root(self, run: SourceRun) -> Path | None:
        """Return the run's own artifact folder: the recorded one if it is here, else the run
        folder's `artifacts`; None when neither exists. SourceError when it is remote or
        outside this folder and the artifact roots given."""
        run_dir = self._run_dir(run)
        return locate_artifacts(
            run.artifact_uri,
            f"run {run.run_id}",
            near=self.root,
            bases=self.bases,
            fallbacks=[run_dir / "artifacts"],
            allowed=self.allowed,
        )

    def _logged_models(self, run: SourceRun) -> list[LoggedModel]:
        """Return the logged models the run made (`<exp>/models/*/meta.yaml` naming it)."""
        run_dir = self._run_dir(run)
        exp_dir = run_dir.parent
        if exp_dir not in self._models:
            by_run: dict[str, list[LoggedModel]] = {}
            broken: dict[str, str] = {}  # model id -> why its meta.yaml cannot be read
            models_dir = exp_dir / MODELS
            for folder in _subfolders(models_dir) if is_real_dir(models_dir) else []:
                meta_file = folder / "meta.yaml"
                if not is_regular(meta_file):
                    continue
                try:
                    meta = _yaml(meta_file)
                except SourceError as exc:
                    broken[folder.name] = str(exc)
                    continue
                if str(meta.get("lifecycle_stage") or "active") == "deleted":
                    continue
                model_id = str(meta.get("model_id") or folder.name)
                model = LoggedModel(
                    model_id=model_id,
                    name=str(meta.get("name") or model_id),
                    artifact_location=str(meta.get("artifact_location") or ""),
                    fallbacks=(folder / "artifacts",),
                )
                by_run.setdefault(str(meta.get("source_run_id") or ""), []).append(model)
            self._models[exp_dir] = (by_run, broken)
        by_run, broken = self._models[exp_dir]
        for model_id, why in broken.items():  # the run lists it among its outputs
            if os.path.lexists(run_dir / "outputs" / model_id):
                raise SourceError(f"Cannot read logged model {model_id} of run {run.run_id}: {why}")
        return by_run.get(run.run_id, [])

    def _layout(self, run: SourceRun) -> list[tuple[str, Path]]:
        """Return (prefix, folder) of the run's own artifacts and of its logged models."""
        found = self._layouts.get(run.run_id)
        if found is None:
            models = [
                (
                    model,
                    locate_artifacts(
                        model.artifact_location,
                        f"logged model {model.model_id} of run {run.run_id}",
                        near=self.root,
                        bases=self.bases,
                        fallbacks=model.fallbacks,
                        allowed=self.allowed,
                    ),
                )
                for model in self._logged_models(run)
            ]
            found = artifact_layout(self.artifact_root(run), models)
            self._layouts[run.run_id] = found
            self._located[run.run_id] = models
        return found

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every regular file under the run's artifact folder and its logged models'."""
        return list_layout(self._layout(run))

    def artifact_places(self, run: SourceRun) -> list[ArtifactPlace]:
        """Return where the run's listed artifacts come from (its root, its logged models)."""
        layout = self._layout(run)
        return layout_places(run, layout, self._located.get(run.run_id, []))

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes (a logged model's under its listed prefix)."""
        return read_from_layout(self._layout(run), f"Run {run.run_id} in {self.uri}", path)

    # the model registry ----------------------------------------------------------------------
    def registered_models(self) -> list[SourceRegisteredModel | SourceError]:
        """Return every registered model under `models/` (none without that folder); one
        whose meta.yaml or tags cannot be read is a SourceError naming the file."""
        registry = self.root / MODELS
        if not is_real_dir(registry):
            return []
        out: list[SourceRegisteredModel | SourceError] = []
        for folder in _subfolders(registry):
            if not is_regular(folder / "meta.yaml"):
                continue
            try:
                out.append(self._registered_model(folder))
            except SourceError as exc:
                out.append(exc)
        return out

    def _registered_model(self, folder: Path) -> SourceRegisteredModel:
        """Read one registered model's folder, its aliases and versions."""
        meta = _yaml(folder / "meta.yaml")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise SourceError(f"Cannot read {folder / 'meta.yaml'}: no model name")
        errors: list[SourceError] = []
        aliases: dict[str, int] = {}
        for alias, path in _key_files(folder / "aliases"):
            number = _int(read_text(path).strip())
            if number is None:
                errors.append(SourceError(f"Cannot read {path}: not a version number"))
            else:
                aliases[alias] = number
        versions: list[SourceModelVersion] = []
        for sub in _subfolders(folder):
            digits = sub.name[len(VERSION_PREFIX) :]
            if not sub.name.startswith(VERSION_PREFIX) or not digits.isdigit():
                continue
            if not is_regular(sub / "meta.yaml"):
                continue
            try:
                versions.append(self._model_version(name, int(digits), sub))
            except SourceError as exc:
                errors.append(exc)
        _created(meta, folder / "meta.yaml")
        return SourceRegisteredModel(
            name=name,
            creation_timestamp=_int(meta.get("creation_timestamp")),
            last_updated_timestamp=_int(meta.get("last_updated_timestamp")),
            description=text_or_none(meta.get("description")),
            tags=_values(folder / "tags"),
            aliases=aliases,
            versions=tuple(sorted(versions, key=lambda v: v.version)),
            errors=tuple(errors),
        )

    @staticmethod
    def _model_version(name: str, number: int, folder: Path) -> SourceModelVersion:
        """Read one `version-<n>` folder."""
        meta_file = folder / "meta.yaml"
        meta = _yaml(meta_file)
        if _int(meta.get("version")) != number:
            raise SourceError(f"Cannot read {meta_file}: it says version {meta.get('version')}")
        _created(meta, meta_file)
        stage = str(meta.get("current_stage") or "None")
        return SourceModelVersion(
            name=name,
            version=number,
            creation_timestamp=_int(meta.get("creation_timestamp")),
            last_updated_timestamp=_int(meta.get("last_updated_timestamp")),
            current_stage="None" if stage == DELETED_STAGE else stage,
            description=text_or_none(meta.get("description")),
            user_id=text_or_none(meta.get("user_id")),
            source=text_or_none(meta.get("source")),
            storage_location=text_or_none(meta.get("storage_location")),
            run_id=text_or_none(meta.get("run_id")),
            run_link=text_or_none(meta.get("run_link")),
            status=str(meta.get("status") or "READY"),
            status_message=text_or_none(meta.get("status_message")),
            tags=_values(folder / "tags"),
            model_id=text_or_none(meta.get("model_id")),
            deleted=stage == DELETED_STAGE,
        )

    def data_folders(self) -> list[Path]:
        """Return the local folders holding the source's data (an import must not write there)."""
        return [self.root]

    def close(self) -> None:
        """Nothing to release."""
