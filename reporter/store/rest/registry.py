"""The model registry of an MLflow tracking server, through MLflow's registry REST endpoints.

Version numbers, name claims and the rules are the server's; this only speaks its messages
(`reporter.core.wire`). Versions read back as numbers, as from a folder store. Imports
(`import_model`, `import_version`) are refused: MLflow's REST API gives each version the next
number and its own times, so an import's numbers and times could not be kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reporter.core import wire
from reporter.core.errors import UnsupportedURIError
from reporter.core.model_registry import (
    ModelVersion,
    RegisteredModel,
    check_alias,
    check_model_name,
    check_tag,
    version_number,
)
from reporter.store.protocol import AbstractRegistry
from reporter.store.rest.http import Http

PAGE = 1000  # MLflow's largest page of registered models


class RestRegistry(AbstractRegistry):
    """MLflow's registry endpoints (`registered-models/*`, `model-versions/*`)."""

    def __init__(self, http: Http) -> None:
        self.http = http

    def _pages(self, endpoint: str, field: str, page: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"max_results": page}
            if token:
                params["page_token"] = token
            answer = self.http.call("GET", endpoint, params=params)
            out.extend(answer.get(field) or [])
            token = answer.get("next_page_token")
            if not token:
                return out

    @staticmethod
    def _tags(tags: Mapping[str, Any] | None) -> list[dict[str, str]]:
        return [
            {"key": str(k), "value": "" if v is None else str(v)} for k, v in (tags or {}).items()
        ]

    # registered models ---------------------------------------------------------------------
    def list_models(self) -> list[RegisteredModel]:
        found = self._pages("registered-models/search", "registered_models", PAGE)
        return [wire.registered_model_from_json(m) for m in found]

    def get_model(self, name: str) -> RegisteredModel:
        answer = self.http.call("GET", "registered-models/get", params={"name": name})
        return wire.registered_model_from_json(answer.get("registered_model"))

    def create_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        check_model_name(name)  # here too: not every server refuses what MLflow's rules do
        for key, value in (tags or {}).items():
            check_tag(key, value)
        body: dict[str, Any] = {"name": name, "tags": self._tags(tags)}
        if description is not None:
            body["description"] = description
        answer = self.http.call("POST", "registered-models/create", body=body)
        return wire.registered_model_from_json(answer.get("registered_model"))

    def update_model(self, name: str, description: str | None) -> RegisteredModel:
        body = {"name": name, "description": description or ""}
        answer = self.http.call("PATCH", "registered-models/update", body=body)
        return wire.registered_model_from_json(answer.get("registered_model"))

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        check_model_name(new_name, "new_name")
        body = {"name": name, "new_name": new_name}
        answer = self.http.call("POST", "registered-models/rename", body=body)
        return wire.registered_model_from_json(answer.get("registered_model"))

    def delete_model(self, name: str) -> None:
        self.http.call("DELETE", "registered-models/delete", body={"name": name})

    def set_model_tag(self, name: str, key: str, value: Any) -> None:
        body = {"name": name, "key": key, "value": "" if value is None else str(value)}
        self.http.call("POST", "registered-models/set-tag", body=body)

    def delete_model_tag(self, name: str, key: str) -> None:
        self.http.call("DELETE", "registered-models/delete-tag", body={"name": name, "key": key})

    def set_alias(self, name: str, alias: str, version: Any) -> None:
        check_alias(alias)
        body = {"name": name, "alias": alias, "version": str(version_number(version))}
        self.http.call("POST", "registered-models/alias", body=body)

    def delete_alias(self, name: str, alias: str) -> None:
        self.http.call("DELETE", "registered-models/alias", body={"name": name, "alias": alias})

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        params = {"name": name, "alias": alias}
        answer = self.http.call("GET", "registered-models/alias", params=params)
        return wire.model_version_from_json(answer.get("model_version"))

    # versions ------------------------------------------------------------------------------
    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        storage_location: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        body: dict[str, Any] = {"name": name, "source": source, "tags": self._tags(tags)}
        for field, value in (
            ("run_id", run_id),
            ("run_link", run_link),
            ("description", description),
            ("model_id", model_id),
        ):
            if value is not None:
                body[field] = value
        answer = self.http.call("POST", "model-versions/create", body=body)
        return wire.model_version_from_json(answer.get("model_version"))

    def get_version(self, name: str, version: Any) -> ModelVersion:
        params = {"name": name, "version": str(version_number(version))}
        answer = self.http.call("GET", "model-versions/get", params=params)
        return wire.model_version_from_json(answer.get("model_version"))

    def list_versions(self) -> list[ModelVersion]:
        found = self._pages("model-versions/search", "model_versions", 10_000)
        return [wire.model_version_from_json(v) for v in found]

    def update_version(self, name: str, version: Any, **fields: Any) -> ModelVersion:
        number = str(version_number(version))
        if "current_stage" in fields:
            body = {"name": name, "version": number, "stage": fields["current_stage"]}
            body["archive_existing_versions"] = False
            self.http.call("POST", "model-versions/transition-stage", body=body)
        if fields.get("description") is not None:
            body = {"name": name, "version": number, "description": fields["description"]}
            self.http.call("PATCH", "model-versions/update", body=body)
        return self.get_version(name, number)

    def delete_version(self, name: str, version: Any) -> None:
        body = {"name": name, "version": str(version_number(version))}
        self.http.call("DELETE", "model-versions/delete", body=body)

    def set_version_tag(self, name: str, version: Any, key: str, value: Any) -> None:
        body = {
            "name": name,
            "version": str(version_number(version)),
            "key": key,
            "value": "" if value is None else str(value),
        }
        self.http.call("POST", "model-versions/set-tag", body=body)

    def delete_version_tag(self, name: str, version: Any, key: str) -> None:
        body = {"name": name, "version": str(version_number(version)), "key": key}
        self.http.call("DELETE", "model-versions/delete-tag", body=body)

    # imports -----------------------------------------------------------------------------------
    def import_model(self, model: RegisteredModel) -> bool:
        """Refuse: see the module docstring."""
        raise self._no_imports()

    def import_version(self, version: ModelVersion, *, deleted: bool = False) -> bool:
        """Refuse: see the module docstring."""
        raise self._no_imports()

    def _no_imports(self) -> UnsupportedURIError:
        return UnsupportedURIError(
            f"Cannot import a model registry into the tracking server {self.http.base}: an "
            "import keeps MLflow's version numbers and times, which its REST API makes anew. "
            "Import into a folder or an object store (./tracker-store, s3://bucket/prefix)."
        )
