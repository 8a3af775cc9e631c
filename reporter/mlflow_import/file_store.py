"""Read an MLflow file store folder (`./mlruns`), without MLflow and without writing to it.

Layout: `<exp_id>/meta.yaml` (deleted experiments move to `.trash/<exp_id>/`), `<exp_id>/tags/`,
and per run `<exp_id>/<run_id>/meta.yaml`, `params/`, `tags/`, `metrics/` (one file per key,
keys with '/' are sub-folders; a metric line is `timestamp value step`) and `artifacts/`.
A run's recorded `artifact_uri` is absolute where it was logged; when it does not exist here
(a copied or moved folder), its artifacts are looked for in `<run>/artifacts` of this folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from reporter.mlflow_import.source import (
    ArtifactFile,
    MetricPoint,
    SourceError,
    SourceExperiment,
    SourceRun,
)

# MLflow's RunStatus numbers, as the file store writes them
STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
TRASH = ".trash"


def _yaml(path: Path) -> dict[str, Any]:
    """Read a meta.yaml; SourceError naming it when it is missing or not a mapping."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourceError(f"Cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(f"Cannot read {path}: not a YAML mapping")
    return data


def _int(value: Any) -> int | None:
    """Return an int or None (the file store writes `null` or leaves times out)."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _key_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Yield (key, file) for every file below a params/tags/metrics folder (keys may hold '/')."""
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            yield path.relative_to(folder).as_posix(), path


def _values(folder: Path) -> dict[str, str]:
    """Read a params or tags folder: one file per key, its whole content the value."""
    out = {}
    for key, path in _key_files(folder):
        try:
            out[key] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"Cannot read {path}: {exc}") from None
    return out


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

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.root = Path(folder).expanduser().resolve()
        self.uri = str(folder)
        if not self.root.is_dir():
            raise SourceError(f"{self.uri} is not a folder")
        self._runs: dict[str, Path] = {}  # run id -> its folder
        self._experiments: dict[str, Path] = {}

    @staticmethod
    def looks_like(folder: Path) -> bool:
        """Return True if a folder holds MLflow experiments (an `<id>/meta.yaml`)."""
        return folder.is_dir() and any(
            (child / "meta.yaml").is_file() for child in folder.iterdir() if child.is_dir()
        )

    def experiments(self) -> list[SourceExperiment]:
        """Return every experiment, the deleted ones (in .trash) included."""
        out = []
        for base, deleted in ((self.root, False), (self.root / TRASH, True)):
            if not base.is_dir():
                continue
            for folder in sorted(base.iterdir()):
                if not folder.is_dir() or folder.name.startswith(".") or folder.name == "models":
                    continue
                meta_file = folder / "meta.yaml"
                if not meta_file.is_file():
                    continue
                meta = _yaml(meta_file)
                exp_id = str(meta.get("experiment_id", folder.name))
                stage = str(meta.get("lifecycle_stage") or ("deleted" if deleted else "active"))
                self._experiments[exp_id] = folder
                out.append(
                    SourceExperiment(
                        experiment_id=exp_id,
                        name=str(meta.get("name", exp_id)),
                        lifecycle_stage="deleted" if deleted else stage,
                        tags=_values(folder / "tags"),
                        creation_time=_int(meta.get("creation_time")),
                        last_update_time=_int(meta.get("last_update_time")),
                    )
                )
        return out

    def runs(self, experiment_id: str) -> Iterator[SourceRun | SourceError]:
        """Yield every run folder of an experiment (a folder with a run's meta.yaml)."""
        folder = self._experiments.get(experiment_id)
        if folder is None:
            self.experiments()
            folder = self._experiments.get(experiment_id)
        if folder is None:
            yield SourceError(f"No experiment {experiment_id!r} in {self.uri}")
            return
        for run_dir in sorted(folder.iterdir()):
            if not run_dir.is_dir() or run_dir.name in ("tags", "models", "datasets"):
                continue
            if not (run_dir / "meta.yaml").is_file():
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
        for key, path in _key_files(run_dir / "metrics"):
            points = self._points(path)
            if points:  # MLflow's rule: the highest (step, timestamp, value) is the latest
                latest[key] = max(points, key=lambda p: (p.step, p.timestamp, p.value))
        self._runs[run_id] = run_dir
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
        )

    def _points(self, path: Path) -> list[MetricPoint]:
        """Read a metric file's points, in the order logged."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"Cannot read {path}: {exc}") from None
        return [parse_metric_line(line, path) for line in text.splitlines() if line.strip()]

    def _run_dir(self, run: SourceRun) -> Path:
        """Return a run's folder (read by runs() first)."""
        found = self._runs.get(run.run_id)
        if found is None:
            raise SourceError(f"Run {run.run_id} was not read from {self.uri}")
        return found

    def metric_history(self, run: SourceRun, key: str) -> list[MetricPoint]:
        """Return every point of a run's metric."""
        path = self._run_dir(run) / "metrics" / key
        if not path.is_file():
            return []
        return self._points(path)

    def artifact_root(self, run: SourceRun) -> Path | None:
        """Return the run's artifact folder: the recorded one if it exists here, else the
        run folder's `artifacts`; None when neither exists (or it is not a local path)."""
        uri = run.artifact_uri
        if uri.startswith("file:") or uri.startswith("/"):
            recorded = Path(unquote(urlparse(uri).path) if uri.startswith("file:") else uri)
            if recorded.is_dir():
                return recorded
        local = self._run_dir(run) / "artifacts"
        return local if local.is_dir() else None

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every file under the run's artifact folder."""
        root = self.artifact_root(run)
        if root is None:
            return []
        out = []
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = Path(dirpath) / name
                if path.is_symlink():
                    continue  # never follow a link out of the source
                out.append(ArtifactFile(path.relative_to(root).as_posix(), path.stat().st_size))
        return out

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes."""
        root = self.artifact_root(run)
        if root is None:
            raise SourceError(f"Run {run.run_id} has no artifact folder in {self.uri}")
        target = root / path
        try:
            return target.read_bytes()
        except OSError as exc:
            raise SourceError(f"Cannot read artifact {target}: {exc}") from None

    def close(self) -> None:
        """Nothing to release."""
