"""Read an MLflow SQLite database (`sqlite:///mlflow.db`), read-only, without MLflow.

Tables read: experiments, experiment_tags, runs, params, tags, metrics. MLflow stores a NaN
metric as 0 with `is_nan` set, and the times as ms. Artifacts live where each run's
`artifact_uri` says; a local path that does not exist here (a copied database) and
`mlflow-artifacts:` URIs (a server's proxied artifacts) are looked for under `mlartifacts/`
and `mlruns/` next to the database.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from reporter.mlflow_import.source import (
    ArtifactFile,
    MetricPoint,
    SourceError,
    SourceExperiment,
    SourceRun,
)


def local_artifact_dir(uri: str, bases: list[Path], exp_id: str, run_id: str) -> Path | None:
    """Return the local folder of a run's artifacts, or None when it is not here.

    Tries the recorded path, then `<base>/<exp>/<run>/artifacts` and the `mlflow-artifacts:`
    path under each base folder.
    """
    parsed = urlparse(uri)
    candidates: list[Path] = []
    if parsed.scheme in ("", "file"):
        candidates.append(Path(unquote(parsed.path)))
    elif parsed.scheme == "mlflow-artifacts":
        candidates += [base / unquote(parsed.path).lstrip("/") for base in bases]
    candidates += [base / exp_id / run_id / "artifacts" for base in bases]
    for folder in candidates:
        if folder.is_dir():
            return folder
    return None


def walk_artifacts(root: Path) -> list[ArtifactFile]:
    """Return every regular file below a folder (symlinks are not followed)."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(dirpath) / name
            if not path.is_symlink():
                out.append(ArtifactFile(path.relative_to(root).as_posix(), path.stat().st_size))
    return out


class SqliteSource:
    """An MLflow SQLite tracking database, opened read-only."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else uri
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise SourceError(f"No SQLite database at {self.path} (from {uri})")
        # mode=ro: nothing in the source is ever written, not even a journal
        ro = f"file:{quote(str(self.path))}?mode=ro"
        try:
            self.db = sqlite3.connect(ro, uri=True)
            self.db.execute("SELECT 1 FROM experiments LIMIT 1").fetchall()
            self.db.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise SourceError(
                f"{self.path} is not an MLflow tracking database ({exc}); expected the tables "
                "`experiments` and `runs` that MLflow creates"
            ) from None
        self.bases = [self.path.parent / "mlartifacts", self.path.parent / "mlruns"]

    def _query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Run a read query; SourceError naming the database if it fails."""
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise SourceError(f"Cannot read {self.path}: {exc}") from None

    def experiments(self) -> list[SourceExperiment]:
        """Return every experiment, deleted ones included."""
        tags: dict[str, dict[str, str]] = {}
        for key, value, exp_id in self._query(
            "SELECT key, value, experiment_id FROM experiment_tags"
        ):
            tags.setdefault(str(exp_id), {})[str(key)] = "" if value is None else str(value)
        out = []
        for exp_id, name, stage, created, updated in self._query(
            "SELECT experiment_id, name, lifecycle_stage, creation_time, last_update_time "
            "FROM experiments ORDER BY experiment_id"
        ):
            out.append(
                SourceExperiment(
                    experiment_id=str(exp_id),
                    name=str(name),
                    lifecycle_stage=str(stage or "active"),
                    tags=tags.get(str(exp_id), {}),
                    creation_time=None if created is None else int(str(created)),
                    last_update_time=None if updated is None else int(str(updated)),
                )
            )
        return out

    def runs(self, experiment_id: str) -> Iterator[SourceRun | SourceError]:
        """Yield every run of an experiment, deleted ones included."""
        rows = self._query(
            "SELECT run_uuid, name, status, start_time, end_time, user_id, lifecycle_stage, "
            "artifact_uri FROM runs WHERE experiment_id = ? ORDER BY start_time, run_uuid",
            int(experiment_id) if experiment_id.isdigit() else experiment_id,
        )
        for run_id, name, status, start, end, user, stage, artifact_uri in rows:
            try:
                yield self._run(
                    str(run_id), experiment_id, name, status, start, end, user, stage, artifact_uri
                )
            except (SourceError, ValueError, TypeError) as exc:
                yield SourceError(f"Cannot read run {run_id} from {self.path}: {exc}")

    def _run(
        self,
        run_id: str,
        experiment_id: str,
        name: object,
        status: object,
        start: object,
        end: object,
        user: object,
        stage: object,
        artifact_uri: object,
    ) -> SourceRun:
        """Read one run's params, tags and latest metrics."""
        params = {
            str(k): "" if v is None else str(v)
            for k, v in self._query("SELECT key, value FROM params WHERE run_uuid = ?", run_id)
        }
        tags = {
            str(k): "" if v is None else str(v)
            for k, v in self._query("SELECT key, value FROM tags WHERE run_uuid = ?", run_id)
        }
        latest: dict[str, MetricPoint] = {}
        for key, point in self._points(run_id):
            best = latest.get(key)
            if best is None or (point.step, point.timestamp, point.value) >= (
                best.step,
                best.timestamp,
                best.value,
            ):
                latest[key] = point
        return SourceRun(
            run_id=run_id,
            experiment_id=experiment_id,
            run_name=str(name or tags.get("mlflow.runName") or ""),
            status=str(status or "FINISHED"),
            start_time=None if start is None else int(str(start)),
            end_time=None if end is None else int(str(end)),
            user_id=str(user or ""),
            lifecycle_stage=str(stage or "active"),
            artifact_uri=str(artifact_uri or ""),
            params=params,
            tags=tags,
            latest=latest,
        )

    def _points(self, run_id: str, key: str | None = None) -> list[tuple[str, MetricPoint]]:
        """Return (key, point) of a run's metrics (one key, or all), in the order stored."""
        sql = "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ?"
        args: list[object] = [run_id]
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        out = []
        for k, value, stamp, step, is_nan in self._query(sql + " ORDER BY rowid", *args):
            number = float("nan") if is_nan else float(str(value))
            out.append((str(k), MetricPoint(int(str(step or 0)), int(str(stamp)), number)))
        return out

    def metric_history(self, run: SourceRun, key: str) -> list[MetricPoint]:
        """Return every point of a run's metric, in the order stored."""
        return [point for _, point in self._points(run.run_id, key)]

    def _artifact_dir(self, run: SourceRun) -> Path | None:
        return local_artifact_dir(run.artifact_uri, self.bases, run.experiment_id, run.run_id)

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every file under the run's local artifact folder (none if not here)."""
        root = self._artifact_dir(run)
        return walk_artifacts(root) if root is not None else []

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes."""
        root = self._artifact_dir(run)
        if root is None:
            raise SourceError(
                f"The artifacts of run {run.run_id} ({run.artifact_uri}) are not here"
            )
        try:
            return (root / path).read_bytes()
        except OSError as exc:
            raise SourceError(f"Cannot read artifact {root / path}: {exc}") from None

    def close(self) -> None:
        """Close the database."""
        self.db.close()
