"""Bring an MLflow model registry over: registered models, their versions, tags and aliases.

What is kept, value for value: a model's name, description, tags, aliases and creation and
update times; a version's number (the gaps deleted versions left too: the file store and SQLite
keep deleted versions, which come as deleted, their numbers taken), creation and update times,
stage, status, user, description, tags, run id (runs keep their MLflow ids) and run link.

A version's `source` is made to point into the store:

- `runs:/<run_id>/<path>` stays as it is (the run has the same id here);
- `models:/<logged model id>[/<path>]` becomes `runs:/<run_id>/<prefix>[/<path>]`, where the
  import listed that logged model's files among its run's artifacts;
- a path or URI inside a run's artifact root, or a logged model's folder, as the source
  recorded them (`file://`, a plain path, `mlflow-artifacts:`), becomes the `runs:/` URI of
  the same files;
- anything else (`s3://` outside the source's runs, `models:/<name>/<version>`, a run this
  source does not have) stays as MLflow had it.

A model here is the one imported when it was created at the same millisecond; one of the same
name created at another time is another model, and the source's is skipped with a warning. A
model renamed in MLflow since the last import is renamed here. What this store already holds is
compared first and only what differs is written, so a second import writes nothing.
MLflow's prompts (registered models tagged `mlflow.prompt.is_prompt`) are left out.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from reporter.core.errors import (
    ReporterError,
    UnsupportedFeatureError,
    UnsupportedURIError,
)
from reporter.core.model_registry import (
    ModelVersion,
    RegisteredModel,
    check_alias,
    check_tag,
)
from reporter.core.model_uri import LOGGED, REGISTERED, RUN, RUNS_SCHEME, parse_model_uri
from reporter.importers.mlflow.source import (
    ArtifactPlace,
    Source,
    SourceError,
    SourceModelVersion,
    SourceRegisteredModel,
    SourceRun,
)
from reporter.store.protocol import AbstractRegistry

PROMPT_TAG = "mlflow.prompt.is_prompt"  # MLflow's prompts are registered models with it

Skip = Callable[[str, str], None]


@dataclass
class RegistryCounts:
    """What the registry import did."""

    models_new: int = 0
    models_updated: int = 0
    models_unchanged: int = 0
    versions_new: int = 0
    versions_updated: int = 0
    versions_unchanged: int = 0
    kept: int = 0  # models or versions changed here since MLflow last changed them
    prompts: int = 0  # left out

    def any(self) -> bool:
        """Return True if the source had a registry."""
        return any(vars(self).values())

    def line(self) -> str:
        """Return the summary line."""
        text = (
            f"  registered models: {self.models_new} new, {self.models_updated} updated, "
            f"{self.models_unchanged} unchanged; versions: {self.versions_new} new, "
            f"{self.versions_updated} updated, {self.versions_unchanged} unchanged"
        )
        if self.kept:
            text += f"; kept as changed here since: {self.kept}"
        return text + (f"; prompts left out: {self.prompts}" if self.prompts else "")


def location(uri: str) -> str | None:
    """Return an artifact location in a comparable form: a normalised absolute path for a
    local one (`file://` or a plain path), `scheme:` and a normalised path for others; None
    for a relative path or an empty URI."""
    if not uri:
        return None
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or len(scheme) == 1:  # (a Windows drive letter)
        path = unquote(parsed.path) if scheme == "file" else uri
        return posixpath.normpath(path) if path.startswith("/") else None
    if scheme == "mlflow-artifacts":  # mlflow-artifacts:/path, mlflow-artifacts://host/path
        return "mlflow-artifacts:" + posixpath.normpath("/" + unquote(parsed.path).lstrip("/"))
    return f"{scheme}://{parsed.netloc}" + posixpath.normpath("/" + parsed.path.lstrip("/"))


def below(uri: str, roots: Collection[str]) -> str | None:
    """Return the path of `uri` relative to the first of `roots` it is (or is below), "" for a
    root itself; None when it is below none."""
    where = location(uri)
    if where is None:
        return None
    for root in roots:
        base = (location(root) or "").rstrip("/")
        if not base or base.endswith(":") or base.endswith("://"):
            continue  # no root, or a whole file system or scheme: it holds no one run
        if where == base:
            return ""
        if where.startswith(base + "/"):
            return where[len(base) + 1 :]
    return None


def _compare(ours: RegisteredModel | ModelVersion, theirs: RegisteredModel | ModelVersion) -> str:
    """Say what an import does with a model or version the store has: "kept" when it was
    changed here after MLflow last changed it (the store's change stays), "same" when it
    reads as the source, else "changed" (the registry's import writes what differs)."""
    if ours.creation_timestamp != theirs.creation_timestamp:
        return "changed"  # another model or version: the registry's import says so
    here, there = ours.last_updated_timestamp or 0, theirs.last_updated_timestamp or 0
    if here > there:
        return "kept"
    fields = ("description", "tags") + (
        ("aliases",) if isinstance(ours, RegisteredModel) else ("current_stage", "status")
    )
    same = here == there and all(getattr(ours, f) == getattr(theirs, f) for f in fields)
    return "same" if same else "changed"


def runs_uri(run_id: str, *parts: str) -> str | None:
    """Return `runs:/<run_id>/<path>` (None when the path is empty: no such URI)."""
    path = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return f"{RUNS_SCHEME}{run_id}/{path}" if path else None


class RegistryImport:
    """Import one source's registry into one store's registry (see the module docstring)."""

    def __init__(
        self,
        source: Source,
        registry: AbstractRegistry,
        runs: Mapping[str, SourceRun],
        failed: Collection[str],
        skip: Skip,
        *,
        partial: bool,
    ) -> None:
        self.source = source
        self.registry = registry
        self.runs = runs  # the runs the store has from this import: id -> run
        self.failed = failed  # runs of the chosen experiments that could not be imported
        self.skip = skip
        self.partial = partial  # only some experiments: only their runs' versions come
        self.counts = RegistryCounts()
        self._places: dict[str, list[ArtifactPlace]] = {}
        # the store's registry as the import began: what is unchanged is not written, and
        # what was changed here after MLflow last changed it is kept (read once: an import of
        # thousands of versions lists the registry once, not once a version)
        self._ours: dict[str, RegisteredModel] = {}
        self._versions: dict[tuple[str, int], ModelVersion] = {}
        self._renamed: set[str] = set()

    def run(self, models: list[SourceRegisteredModel | SourceError]) -> RegistryCounts:
        """Import the models read from the source; each one that fails is skipped."""
        names = {m.name for m in models if isinstance(m, SourceRegisteredModel)}
        ours = self.registry.list_models()
        self._ours = {m.name: m for m in ours}
        self._versions = {(v.name, v.version): v for v in self.registry.list_versions()}
        for item in models:
            if isinstance(item, SourceError):
                self.skip("a registered model", str(item))
                continue
            if item.tags.get(PROMPT_TAG, "").lower() == "true":
                self.counts.prompts += 1
                continue
            for error in item.errors:
                self.skip(f"part of registered model {item.name!r}", str(error))
            versions = [v for v in item.versions if self._wanted(v)]
            if self.partial and not versions:
                continue  # no version made by the experiments imported
            if self.partial:  # deleted versions (MLflow's SQL store forgets their runs) come
                # too, so their numbers stay taken here as there
                versions = [v for v in item.versions if v in versions or v.deleted]
            try:
                self._follow_rename(item, names, ours)
                self._model(item, versions)
            except (UnsupportedURIError, UnsupportedFeatureError):
                raise  # the store takes no imports: the import stops, saying where to import
            except ReporterError as exc:
                self.skip(f"registered model {item.name!r}", str(exc))
        return self.counts

    def _wanted(self, version: SourceModelVersion) -> bool:
        """Return True for a version this import brings (all of them, unless only some
        experiments are imported: then those their runs made)."""
        return not self.partial or (version.run_id or "") in self.runs

    def _follow_rename(
        self, item: SourceRegisteredModel, names: Collection[str], ours: list[RegisteredModel]
    ) -> None:
        """Rename our model when MLflow renamed it since it was imported: ours has no model of
        the name, and one created at the same millisecond with a name MLflow no longer has."""
        if item.creation_timestamp is None or any(m.name == item.name for m in ours):
            return
        matches = [
            m
            for m in ours
            if m.creation_timestamp == item.creation_timestamp and m.name not in names
        ]
        if len(matches) == 1:
            self.registry.rename_model(matches[0].name, item.name)
            matches[0].name = item.name  # (a caller's copy: the list stays true)
            self._renamed.add(item.name)  # its versions and times are read again

    def _model(self, item: SourceRegisteredModel, versions: list[SourceModelVersion]) -> None:
        """Import one model and its versions."""
        renamed = item.name in self._renamed
        if renamed:  # read again: the rename changed its name and time here
            before: RegisteredModel | None = self.registry.get_model(item.name)
            for v in self.registry.list_versions():
                if v.name == item.name:
                    self._versions[(v.name, v.version)] = v
        else:
            before = self._ours.get(item.name)
        model = RegisteredModel(
            name=item.name,
            creation_timestamp=item.creation_timestamp,
            last_updated_timestamp=item.last_updated_timestamp,
            description=item.description,
            tags=self._tags(item.tags, f"registered model {item.name!r}"),
            aliases=self._aliases(item),
        )
        state = "changed" if before is None or renamed else _compare(before, model)
        if state == "kept":
            self.counts.kept += 1
        elif state == "same":
            self.counts.models_unchanged += 1
        else:
            changed = self.registry.import_model(model)
            if before is None:
                self.counts.models_new += 1
            elif changed:
                self.counts.models_updated += 1
            else:
                self.counts.models_unchanged += 1
        for version in versions:
            what = f"version {version.version} of registered model {item.name!r}"
            had = self._versions.get((item.name, version.version))
            try:
                mapped = self._version(version, what)
                state = "changed" if had is None or version.deleted else _compare(had, mapped)
                if state != "changed":
                    if state == "kept":
                        self.counts.kept += 1
                    else:
                        self.counts.versions_unchanged += 1
                    continue
                changed = self.registry.import_version(mapped, deleted=version.deleted)
            except ReporterError as exc:
                self.skip(what, str(exc))
                continue
            if changed and had is None:
                self.counts.versions_new += 1
            elif changed:
                self.counts.versions_updated += 1
            else:
                self.counts.versions_unchanged += 1

    def _tags(self, tags: Mapping[str, str], what: str) -> dict[str, str]:
        """Return the tags the registry takes; each other one is skipped with a warning."""
        out = {}
        for key, value in tags.items():
            try:
                check_tag(key, value)
            except ReporterError as exc:
                self.skip(f"tag {key[:80]!r} of {what}", str(exc))
                continue
            out[key] = value
        return out

    def _aliases(self, item: SourceRegisteredModel) -> dict[str, int]:
        """Return the model's aliases the registry takes (each other one is skipped with a
        warning); one naming a version not imported shows once that version is."""
        out = {}
        for alias, number in item.aliases.items():
            try:
                check_alias(alias)
            except ReporterError as exc:
                self.skip(f"alias {alias[:80]!r} of registered model {item.name!r}", str(exc))
                continue
            out[alias] = number
        return out

    def _version(self, version: SourceModelVersion, what: str) -> ModelVersion:
        """Return the version to store: the source's values, its source pointing here."""
        source, storage = version.source, version.storage_location or version.source
        pointed = None if version.deleted else self._pointed(version)  # (deleted: redacted)
        if pointed is not None:
            source = storage = pointed
        elif source and source.startswith(RUNS_SCHEME):
            storage = source  # where the files are here: the run's (its id is kept)
        return ModelVersion(
            name=version.name,
            version=version.version,
            creation_timestamp=version.creation_timestamp or 0,
            last_updated_timestamp=version.last_updated_timestamp,
            description=version.description,
            user_id=version.user_id,
            current_stage=version.current_stage,
            source=source,
            run_id=version.run_id,
            run_link=version.run_link,
            status=version.status,
            status_message=version.status_message,
            tags=self._tags(version.tags, what),
            model_id=version.model_id,
            storage_location=storage,
        )

    def _pointed(self, version: SourceModelVersion) -> str | None:
        """Return the `runs:/` URI of the imported files a version's source names, None when
        it names nothing imported (it then stays as it is). SourceError when its run failed
        to import or its artifacts cannot be listed: the next import tries again."""
        source = version.source or ""
        named = parse_model_uri(source)
        if not source or named.kind == RUN:
            return None  # runs keep their ids: a runs:/ URI already points here
        if named.kind == REGISTERED:
            return None  # another registered version (by name): the registry comes too
        model_id, sub = (named.model_id, named.path) if named.kind == LOGGED else (None, None)
        run_id = version.run_id or ""
        if run_id in self.failed:
            raise SourceError(f"its run {run_id} was not imported; the next import tries again")
        run = self.runs.get(run_id)
        if run is not None:
            for place in self._places_of(run):
                if model_id is not None and place.model_id == model_id:
                    return runs_uri(run.run_id, place.prefix, sub or "")
                rest = None if model_id is not None else below(source, place.uris)
                if rest is not None:
                    return runs_uri(run.run_id, place.prefix, rest)
        if model_id is None:  # a path below another run's root (no run id recorded)
            for other in self.runs.values():
                rest = below(source, [other.artifact_uri])
                if rest is not None:
                    return runs_uri(other.run_id, rest)
        return None

    def _places_of(self, run: SourceRun) -> list[ArtifactPlace]:
        """Return (once per run) where its listed artifacts came from."""
        found = self._places.get(run.run_id)
        if found is None:
            try:
                found = self.source.artifact_places(run)
            except SourceError as exc:
                raise SourceError(
                    f"the artifacts of its run {run.run_id} cannot be listed ({exc}); the "
                    "next import tries again"
                ) from None
            self._places[run.run_id] = found
        return found
