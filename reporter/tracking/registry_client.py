"""MLflow's model-registry methods of `MlflowClient`, mixed into `reporter.Client`.

The registry lives in the store the registry URI names (the tracking URI unless
`set_registry_uri` or `Client(registry_uri=...)` says otherwise), as append-only records
(`reporter.store.parquet.model_registry`): processes and servers registering at once never
get one version number twice. Names, arguments, return types and error codes are MLflow's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.core.model_registry import (
    STAGES,
    ModelVersion,
    RegisteredModel,
    check_model_name,
    version_number,
)
from reporter.core.model_uri import LOGGED, MODELS_SCHEME, REGISTERED, RUN, parse_model_uri
from reporter.query.registry import PagedList, search_models, search_versions

if TYPE_CHECKING:
    from reporter.store.protocol import AbstractRegistry, AbstractStore


def stage_of(stage: Any) -> str:
    """A stage by MLflow's name, any case (`production` -> `Production`)."""
    for known in STAGES:
        if isinstance(stage, str) and stage.lower() == known.lower():
            return known
    raise InvalidArgumentError(
        f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}."
    )


class RegistryMixin:
    """Registered models, versions, aliases and tags (MLflow's `MlflowClient` methods)."""

    if TYPE_CHECKING:

        @property
        def store(self) -> AbstractStore: ...

        @property
        def registry_uri(self) -> str: ...

    @property
    def registry(self) -> AbstractRegistry:
        """The model registry this client talks to."""
        from reporter.tracking import uri

        return uri.store_for(self.registry_uri).model_registry()

    # registered models -----------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model; RESOURCE_ALREADY_EXISTS if the name is taken."""
        return self.registry.create_model(name, tags, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry.get_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching a filter (`name LIKE 'churn%'`, `tags.team = 'risk'`)."""
        found = self.registry.list_models()
        return search_models(found, filter_string, max_results, order_by, page_token)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.registry.rename_model(name, new_name)

    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        return self.registry.update_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with its versions and aliases (the name is free again)."""
        self.registry.delete_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.registry.set_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.registry.delete_model_tag(name, key)

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point `alias` at a version (moving it if it named another)."""
        self.registry.set_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.registry.delete_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry.version_by_alias(name, alias)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The highest version in each stage (every stage with a version when `stages` is
        None or empty), as MLflow's deprecated method."""
        latest = self.registry.get_model(name).latest_versions
        if not stages:
            return latest
        wanted = {stage_of(s) for s in stages}
        return [v for v in latest if v.current_stage in wanted]

    # versions ----------------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register the model files at `source` as the model's next version."""
        check_model_name(name)
        if not isinstance(source, str) or not source:
            raise InvalidArgumentError("Missing value for required parameter 'source'.")
        storage, found_run = self._storage_of(source)
        if model_id and not run_id:
            found_run = found_run or self.get_logged_model(model_id).source_run_id  # type: ignore[attr-defined]
        return self.registry.create_version(
            name,
            source,
            run_id=run_id or found_run,
            tags=tags,
            run_link=run_link,
            description=description,
            model_id=model_id,
            storage_location=storage,
        )

    def _storage_of(self, source: str) -> tuple[str, str | None]:
        """Where a source's files are (a URL or a folder) and the run behind it, if known."""
        parsed = parse_model_uri(source)
        if parsed.kind == LOGGED:
            model = self.get_logged_model(parsed.model_id)  # type: ignore[attr-defined]
            location = str(model.artifact_location)
            return (f"{location.rstrip('/')}/{parsed.path}" if parsed.path else location,
                    model.source_run_id)  # fmt: skip
        if parsed.kind == REGISTERED:
            version = self.registry_version(source)
            return str(version.storage_location or version.source), version.run_id
        if parsed.kind == RUN:
            return source, parsed.run_id or None
        return source, None

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.registry.get_version(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Versions matching a filter (`name = 'churn'`, `run_id IN ('a', 'b')`)."""
        # (MLflow 3's stores leave `aliases` empty in search results; get_model_version and
        # get_model_version_by_alias fill them: the same here)
        # (no filter or order of MLflow's reads aliases: only the page's versions are changed)
        page = search_versions(
            self.registry.list_versions(), filter_string, max_results, order_by, page_token
        )
        return PagedList([replace(v, aliases=[]) for v in page], page.token)

    def update_model_version(
        self, name: str, version: str | int, description: str | None = None
    ) -> ModelVersion:
        if description is None:  # MLflow's client refuses an update that changes nothing
            raise InvalidArgumentError(
                "Attempting to update model version with no new field values."
            )
        return self.registry.update_version(name, version, description=description)

    def delete_model_version(self, name: str, version: str | int) -> None:
        """Delete a version (its number is never given again; aliases naming it go)."""
        self.registry.delete_version(name, version)

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """MLflow's deprecated stages: move a version to `stage` (and, with
        `archive_existing_versions`, the others in that stage to Archived)."""
        target = stage_of(stage)
        number = version_number(version)
        if archive_existing_versions and target in ("Staging", "Production"):
            for other in self.registry.list_versions():
                if other.name == name and other.version != number and other.current_stage == target:
                    self.registry.update_version(name, other.version, current_stage="Archived")
        return self.registry.update_version(name, number, current_stage=target)

    def _version_in_stage(self, name: str, stage: str) -> int:
        latest = self.get_latest_versions(name, [stage])
        if not latest:
            raise NotFoundError(f"Registered model {name!r} has no version in stage {stage!r}")
        return latest[0].version

    def set_model_version_tag(
        self,
        name: str,
        version: str | int | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> None:
        """Tag a version, given by number, or as the latest one in `stage`."""
        number = _one_of(version, stage) or self._version_in_stage(name, str(stage))
        self.registry.set_version_tag(name, number, str(key or ""), value)

    def delete_model_version_tag(
        self,
        name: str,
        version: str | int | None = None,
        key: str | None = None,
        stage: str | None = None,
    ) -> None:
        number = _one_of(version, stage) or self._version_in_stage(name, str(stage))
        self.registry.delete_version_tag(name, number, str(key or ""))

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where a version's files are (its logged model's folder, a run's artifacts)."""
        found = self.registry.get_version(name, version)
        return str(found.storage_location or found.source)

    # models:/ URIs -------------------------------------------------------------------------
    def registry_version(self, uri: str) -> ModelVersion:
        """The version a `models:/<name>/<version>`, `models:/<name>@<alias>`,
        `models:/<name>/latest` or `models:/<name>/<stage>` URI names."""
        parsed = parse_model_uri(uri if uri.startswith(MODELS_SCHEME) else MODELS_SCHEME + uri)
        parsed = parsed.registered()
        name, suffix = parsed.name, parsed.suffix
        if parsed.alias:
            return self.registry.version_by_alias(name, parsed.alias)
        if suffix.isdigit():
            return self.registry.get_version(name, suffix)
        if suffix.lower() == "latest":
            live = [v for v in self.registry.list_versions() if v.name == name]
            if not live:
                self.registry.get_model(name)  # NotFoundError naming the model if it has none
                raise NotFoundError(f"Registered model {name!r} has no versions")
            return max(live, key=lambda v: v.version)
        return self.registry.get_version(name, self._version_in_stage(name, stage_of(suffix)))


def _one_of(version: Any, stage: Any) -> int | None:
    """The version given, None when a stage is (exactly one of the two must be)."""
    if (version is None) == (stage is None):
        raise InvalidArgumentError("Exactly one of 'version' and 'stage' must be given")
    return None if version is None else version_number(version)
