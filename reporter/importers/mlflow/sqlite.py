"""Read an MLflow SQLite database (`sqlite:///mlflow.db`), read-only, without MLflow.

Tables read: experiments, experiment_tags, runs, params, tags, metrics (only counted per key
when runs are listed), latest_metrics (where the database has it) and logged_models (MLflow 3's
`log_model`). MLflow stores a NaN metric as 0 with `is_nan` set, and the times as ms.
Artifacts live where each run's `artifact_uri` (a logged model's `artifact_location`) says;
a local path that does not exist here (a copied database) and `mlflow-artifacts:` URIs (a
server's proxied artifacts) are looked for under `mlartifacts/` and `mlruns/` next to the
database. Artifacts are only read inside the database's folder and the `artifact_roots`
given; remote ones (s3://, ...) are refused with a SourceError. Only regular files are read,
and no symbolic link is followed.

The model registry: registered_models, registered_model_tags, registered_model_aliases,
model_versions (a deleted version stays, with the stage `Deleted_Internal` and its source and
run redacted) and model_version_tags. MLflow 3.x keys them by workspace too; the store has no
workspaces, so a name held in two workspaces comes once (the `default` one first).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

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
    layout_places,
    list_layout,
    locate_artifacts,
    read_from_layout,
    resolve_roots,
    text_or_none,
)

# The latest point of each metric by MLflow's rule: the highest (step, timestamp, value),
# the first logged among equals (a NaN is stored as value 0, as MLflow compares it).
LATEST_SQL = """
SELECT key, value, timestamp, step, is_nan FROM (
    SELECT key, value, timestamp, step, is_nan, ROW_NUMBER() OVER (
        PARTITION BY key ORDER BY step DESC, timestamp DESC, value DESC, rowid
    ) AS place
    FROM metrics WHERE run_uuid = ?
) WHERE place = 1
"""


class SqliteSource:
    """An MLflow SQLite tracking database, opened read-only."""

    def __init__(self, uri: str, *, artifact_roots: Sequence[Path] = ()) -> None:
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
        extra = resolve_roots(artifact_roots)
        self.allowed = [self.path.parent, *extra]
        self.bases = [self.path.parent / "mlartifacts", self.path.parent / "mlruns", *extra]
        tables = {str(row[0]) for row in self._query("SELECT name FROM sqlite_master")}
        self._has_latest = "latest_metrics" in tables
        self._has_models = "logged_models" in tables
        self._registry = {"registered_models", "model_versions"} <= tables
        self._tables = tables
        self._layouts: dict[str, list[tuple[str, Path]]] = {}
        self._located: dict[str, list[tuple[LoggedModel, Path | None]]] = {}

    def _query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Run a read query; SourceError naming the database if it fails."""
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise SourceError(f"Cannot read {self.path}: {exc}") from None

    def experiments(self) -> list[SourceExperiment | SourceError]:
        """Return every experiment, deleted ones included (one that cannot be read is a
        SourceError naming it)."""
        tags: dict[str, dict[str, str]] = {}
        for key, value, exp_id in self._query(
            "SELECT key, value, experiment_id FROM experiment_tags"
        ):
            tags.setdefault(str(exp_id), {})[str(key)] = "" if value is None else str(value)
        out: list[SourceExperiment | SourceError] = []
        for exp_id, name, stage, created, updated in self._query(
            "SELECT experiment_id, name, lifecycle_stage, creation_time, last_update_time "
            "FROM experiments ORDER BY experiment_id"
        ):
            try:
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
            except ValueError as exc:
                out.append(SourceError(f"Cannot read experiment {exp_id} from {self.path}: {exc}"))
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
        counts = {
            str(k): int(str(n))
            for k, n in self._query(
                "SELECT key, COUNT(*) FROM metrics WHERE run_uuid = ? GROUP BY key", run_id
            )
        }
        latest = self._latest(run_id, counts)
        self._layouts.pop(run_id, None)
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
            counts=counts,
        )

    def _latest(self, run_id: str, counts: dict[str, int]) -> dict[str, MetricPoint]:
        """Return the latest point of each metric that has points: from `latest_metrics`
        (MLflow keeps it up to date), computed in the database for any key it lacks."""
        latest: dict[str, MetricPoint] = {}
        if self._has_latest:
            for key, value, stamp, step, is_nan in self._query(
                "SELECT key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid = ?",
                run_id,
            ):
                if str(key) in counts and stamp is not None:
                    latest[str(key)] = _point(value, stamp, step, is_nan)
        if any(key not in latest for key in counts):
            for key, value, stamp, step, is_nan in self._query(LATEST_SQL, run_id):
                latest.setdefault(str(key), _point(value, stamp, step, is_nan))
        return latest

    def _points(self, run_id: str, key: str | None = None) -> list[tuple[str, MetricPoint]]:
        """Return (key, point) of a run's metrics (one key, or all), in the order stored."""
        sql = "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ?"
        args: list[object] = [run_id]
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        return [
            (str(k), _point(value, stamp, step, is_nan))
            for k, value, stamp, step, is_nan in self._query(sql + " ORDER BY rowid", *args)
        ]

    def metric_history(self, run: SourceRun, key: str) -> list[MetricPoint]:
        """Return every point of a run's metric, in the order stored."""
        return [point for _, point in self._points(run.run_id, key)]

    def _locate(self, uri: str, what: str, fallbacks: list[Path]) -> Path | None:
        """Return a local artifact folder (see `locate_artifacts`)."""
        return locate_artifacts(
            uri,
            what,
            near=self.path.parent,
            bases=self.bases,
            fallbacks=fallbacks,
            allowed=self.allowed,
        )

    def artifact_root(self, run: SourceRun) -> Path | None:
        """Return the run's own artifact folder, None when it is not here (nothing logged);
        SourceError when it is remote or outside the database's folder and the artifact roots
        given."""
        exp, run_id = run.experiment_id, run.run_id
        fallbacks = [b / exp / run_id / "artifacts" for b in self.bases]
        fallbacks += [b / run_id / "artifacts" for b in self.bases]
        return self._locate(run.artifact_uri, f"run {run_id}", fallbacks)

    def _logged_models(self, run: SourceRun) -> list[LoggedModel]:
        """Return the logged models the run made (not deleted), oldest first."""
        if not self._has_models:
            return []
        out = []
        for model_id, exp_id, name, location in self._query(
            "SELECT model_id, experiment_id, name, artifact_location FROM logged_models "
            "WHERE source_run_id = ? AND COALESCE(lifecycle_stage, 'active') != 'deleted' "
            "ORDER BY creation_timestamp_ms, model_id",
            run.run_id,
        ):
            mid, exp = str(model_id), str(exp_id)
            where = [b / exp / "models" / mid / "artifacts" for b in self.bases]
            where += [b / "models" / mid / "artifacts" for b in self.bases]
            out.append(LoggedModel(mid, str(name or mid), str(location or ""), tuple(where)))
        return out

    def _layout(self, run: SourceRun) -> list[tuple[str, Path]]:
        """Return (prefix, folder) of the run's own artifacts and of its logged models."""
        found = self._layouts.get(run.run_id)
        if found is None:
            models = [
                (
                    model,
                    self._locate(
                        model.artifact_location,
                        f"logged model {model.model_id} of run {run.run_id}",
                        list(model.fallbacks),
                    ),
                )
                for model in self._logged_models(run)
            ]
            found = artifact_layout(self.artifact_root(run), models)
            self._layouts[run.run_id] = found
            self._located[run.run_id] = models
        return found

    def artifact_places(self, run: SourceRun) -> list[ArtifactPlace]:
        """Return where the run's listed artifacts come from (its root, its logged models)."""
        layout = self._layout(run)
        return layout_places(run, layout, self._located.get(run.run_id, []))

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every regular file of the run's local artifact folder and of its logged
        models (none when not here)."""
        return list_layout(self._layout(run))

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes (a logged model's under its listed prefix)."""
        return read_from_layout(self._layout(run), f"Run {run.run_id} in {self.path}", path)

    # the model registry ----------------------------------------------------------------------
    def _workspace(self, table: str) -> str:
        """Return the SQL of a table's workspace ('default' where it has no such column)."""
        columns = {str(row[1]) for row in self._query(f"PRAGMA table_info({table})")}
        return "workspace" if "workspace" in columns else "'default'"

    def _grouped(self, table: str, columns: str) -> dict[tuple[str, str], list[tuple[object, ...]]]:
        """Return a registry table's rows by (workspace, model name): `columns` after those."""
        out: dict[tuple[str, str], list[tuple[object, ...]]] = {}
        if table not in self._tables:
            return out
        sql = f"SELECT {self._workspace(table)}, name, {columns} FROM {table} ORDER BY rowid"
        for workspace, name, *rest in self._query(sql):
            out.setdefault((str(workspace), str(name)), []).append(tuple(rest))
        return out

    def registered_models(self) -> list[SourceRegisteredModel | SourceError]:
        """Return every registered model with its versions (none in a database from before
        the registry); a row that cannot be read is a SourceError naming it."""
        if not self._registry:
            return []
        tags = self._grouped("registered_model_tags", "key, value")
        aliases = self._grouped("registered_model_aliases", "alias, version")
        versions = self._grouped(
            "model_versions",
            "version, creation_time, last_updated_time, description, user_id, current_stage, "
            "source, storage_location, run_id, run_link, status, status_message",
        )
        version_tags: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        for key, rows in self._grouped("model_version_tags", "version, key, value").items():
            for number, tag, value in rows:
                by_number = version_tags.setdefault(key, {}).setdefault(str(number), {})
                by_number[str(tag)] = "" if value is None else str(value)
        workspace = self._workspace("registered_models")
        rows = self._query(
            f"SELECT {workspace}, name, creation_time, last_updated_time, description "
            f"FROM registered_models ORDER BY {workspace} != 'default', {workspace}, name"
        )
        out: list[SourceRegisteredModel | SourceError] = []
        seen: dict[str, str] = {}
        for space, name, created, updated, description in rows:
            key = (str(space), str(name))
            what = f"registered model {name!r} in {self.path}"
            if key[1] in seen:
                out.append(
                    SourceError(
                        f"Cannot import {what} (workspace {key[0]!r}): the workspace "
                        f"{seen[key[1]]!r} has a model of that name, and the store has no "
                        "workspaces"
                    )
                )
                continue
            seen[key[1]] = key[0]
            named, errors = _aliases(what, aliases.get(key, []))
            numbered, broken = _versions(
                what, key[1], versions.get(key, []), version_tags.get(key, {})
            )
            errors += broken
            try:
                out.append(
                    SourceRegisteredModel(
                        name=str(name),
                        creation_timestamp=_int_or_none(created),
                        last_updated_timestamp=_int_or_none(updated),
                        description=text_or_none(description),
                        tags={str(k): "" if v is None else str(v) for k, v in tags.get(key, [])},
                        aliases=named,
                        versions=numbered,
                        errors=errors,
                    )
                )
            except ValueError as exc:
                out.append(SourceError(f"Cannot read {what}: {exc}"))
        return out

    def data_folders(self) -> list[Path]:
        """Return the local folders holding the source's data (an import must not write there)."""
        return [self.path.parent / "mlartifacts", self.path.parent / "mlruns"]

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def _aliases(
    what: str, rows: list[tuple[object, ...]]
) -> tuple[dict[str, int], tuple[SourceError, ...]]:
    """Return a model's aliases from its rows, and an error naming each unreadable one."""
    aliases: dict[str, int] = {}
    errors: list[SourceError] = []
    for alias, number in rows:
        try:
            aliases[str(alias)] = int(str(number))
        except ValueError:
            errors.append(SourceError(f"Cannot read alias {alias!r} of {what}: {number!r}"))
    return aliases, tuple(errors)


def _versions(
    what: str, name: str, rows: list[tuple[object, ...]], tags: dict[str, dict[str, str]]
) -> tuple[tuple[SourceModelVersion, ...], tuple[SourceError, ...]]:
    """Return a model's versions from their rows (tags by version number), and an error
    naming each unreadable one."""
    versions: list[SourceModelVersion] = []
    errors: list[SourceError] = []
    for number, created, updated, description, user, stage, *rest in rows:
        source, storage, run_id, run_link, status, message = rest
        stage_text = str(stage or "None")
        try:
            versions.append(
                SourceModelVersion(
                    name=name,
                    version=int(str(number)),
                    creation_timestamp=_int_or_none(created),
                    last_updated_timestamp=_int_or_none(updated),
                    current_stage="None" if stage_text == DELETED_STAGE else stage_text,
                    description=text_or_none(description),
                    user_id=text_or_none(user),
                    source=text_or_none(source),
                    storage_location=text_or_none(storage),
                    run_id=text_or_none(run_id),
                    run_link=text_or_none(run_link),
                    status=str(status or "READY"),
                    status_message=text_or_none(message),
                    tags=tags.get(str(number), {}),
                    deleted=stage_text == DELETED_STAGE,
                )
            )
        except ValueError as exc:
            errors.append(SourceError(f"Cannot read version {number!r} of {what}: {exc}"))
    return tuple(sorted(versions, key=lambda v: v.version)), tuple(errors)


def _int_or_none(value: object) -> int | None:
    """Return a stored integer, None for NULL (ValueError for anything else)."""
    return None if value is None else int(str(value))


def _point(value: object, stamp: object, step: object, is_nan: object) -> MetricPoint:
    """Return a metric point from a database row (NaN is stored as 0 with is_nan set)."""
    number = float("nan") if is_nan else float(str(value))
    return MetricPoint(int(str(step or 0)), int(str(stamp)), number)
