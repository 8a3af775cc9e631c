"""MLflow's fluent registry functions: `register_model`, `search_registered_models`,
`search_model_versions`, `set_model_version_tag`, `set_registry_uri`, `get_registry_uri`."""

from __future__ import annotations

import contextlib
from typing import Any

from reporter.core.errors import AlreadyExistsError
from reporter.core.model_registry import ModelVersion, RegisteredModel
from reporter.core.model_uri import LOGGED, MODELS_SCHEME, RUN, parse_model_uri
from reporter.query.registry import PagedList
from reporter.tracking import uri as tracking_uri

set_registry_uri = tracking_uri.set_registry_uri
get_registry_uri = tracking_uri.get_registry_uri


def _client() -> Any:
    from reporter.tracking.client import Client

    return Client(registry_uri=tracking_uri.get_registry_uri())


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = 300,
    *,
    tags: dict[str, Any] | None = None,
    env_pack: Any = None,
) -> ModelVersion:
    """Register the model at `model_uri` as the next version of `name` (created if new).

    `runs:/<run_id>/<name>` naming a model the run logged registers that logged model
    (`models:/<model_id>`), as MLflow 3 does; `models:/<model_id>`, a registered version's
    `models:/` URI, another `runs:/` path or a folder are registered as given."""
    client = _client()
    source, run_id, model_id = _source(client, str(model_uri))
    with contextlib.suppress(AlreadyExistsError):  # registered already: the next version
        client.create_registered_model(name)
    return client.create_model_version(name, source, run_id=run_id, tags=tags, model_id=model_id)


def _source(client: Any, model_uri: str) -> tuple[str, str | None, str | None]:
    """(source, run id, logged model id) of a model URI."""
    parsed = parse_model_uri(model_uri)
    if parsed.kind == RUN:
        run_id, path = parsed.run_path()
        experiment_id = client.get_run(run_id).info.experiment_id
        logged = [
            m
            for m in client.store.list_logged_models([experiment_id])
            if m.source_run_id == run_id and m.name == path and not m.deleted
        ]
        if logged:  # the model the run logged under that name (MLflow 3 registers it)
            model = max(logged, key=lambda m: m.creation_timestamp)
            return f"{MODELS_SCHEME}{model.model_id}", run_id, model.model_id
        return model_uri, run_id, None
    if parsed.kind == LOGGED and not parsed.path:
        return model_uri, client.get_logged_model(parsed.model_id).source_run_id, parsed.model_id
    return model_uri, None, None


def search_registered_models(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[RegisteredModel]:
    """Every registered model matching the filter (all pages), as MLflow's fluent function."""
    return _all_pages(
        lambda token: _client().search_registered_models(
            filter_string, 100 if max_results is None else max_results, order_by, token
        ),
        max_results,
    )


def search_model_versions(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[ModelVersion]:
    """Every model version matching the filter (all pages)."""
    return _all_pages(
        lambda token: _client().search_model_versions(
            filter_string, 10_000 if max_results is None else max_results, order_by, token
        ),
        max_results,
    )


def _all_pages(page: Any, max_results: int | None) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        found: PagedList[Any] = page(token)
        out.extend(found)
        token = found.token
        if not token or (max_results is not None and len(out) >= max_results):
            return out[:max_results] if max_results is not None else out


def set_model_version_tag(
    name: str, version: str | None = None, key: str | None = None, value: Any = None
) -> None:
    """Tag a model version."""
    _client().set_model_version_tag(name, version, key, value)
