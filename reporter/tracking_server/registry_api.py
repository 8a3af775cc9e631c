"""MLflow's model-registry REST API (`/api/2.0/mlflow/registered-models/...` and
`/model-versions/...`) over the store's registry, through the same `Client` as the library.

A version whose files are a logged model's is downloaded by MLflow's client from the URI
`get-download-uri` answers: the logged model's `mlflow-artifacts:/` location, which this
server proxies, never a path on the server's disk.

With `--auth`, permissions are per registered model (grants by name or glob; its creator
manages it), as MLflow's basic-auth app has them: reading needs READ, changing EDIT,
deleting MANAGE; registering a version needs EDIT on the model and READ on the run or logged
model it comes from; aliases need MANAGE (they decide what `models:/name@champion` loads).
Searches answer only the models the caller may read.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request

from reporter.core import wire
from reporter.core.access import REGISTERED_MODEL, exact_pattern
from reporter.core.errors import InvalidArgumentError
from reporter.core.model_registry import ModelVersion
from reporter.core.model_uri import LOGGED, REGISTERED, RUN, parse_model_uri
from reporter.core.permissions import DENY
from reporter.query.registry import search_models, search_versions
from reporter.tracking_server import requests as req
from reporter.tracking_server.auth import PermissionDenied
from reporter.tracking_server.backend import Backend, model_location, run_location
from reporter.tracking_server.guard import Rule, identity_of

MODELS_PAGE = 100  # MLflow's default max_results of search_registered_models
VERSIONS_PAGE = 10_000


def _tags(data: dict[str, Any]) -> dict[str, str]:
    return dict(wire.pairs_from_json(wire.list_from_json(data, "tags"), "tags"))


def _order_by(data: dict[str, Any]) -> list[str] | None:
    value = data.get("order_by")
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [wire.text_from_json(v, "order_by") for v in items]


def _max_results(data: dict[str, Any], default: int) -> int:
    value = data.get("max_results")
    return default if value in (None, "") else wire.int_from_json(value, "max_results")


def _version(data: dict[str, Any]) -> str:
    return req.required(data, "version")


def _readable(b: Backend, r: Request) -> Callable[[str], bool]:
    """Return whether the caller may read the registered model of a name."""
    guard, who = b.guard, identity_of(r.scope)
    if guard is None or who is None or who.admin:
        return lambda _: True
    return lambda name: guard.model_permission(who, name).can_read


async def _publish(b: Backend, r: Request, changes: list[dict[str, Any]]) -> None:
    """Record changes of grants a registry write makes (its creator's grant, grants following
    a rename), by the caller."""
    who = identity_of(r.scope)
    if b.guard is None or who is None:
        return
    for change in changes:
        await b.call(b.guard.access.publish, {**change, "by": who.user})


# registered models ------------------------------------------------------------------------
async def create_registered_model(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    name = req.required(data, "name")
    guard, who = b.guard, identity_of(r.scope)
    if guard is not None and who is not None and guard.model_permission(who, name) is DENY:
        # any signed-in user may create a registered model, unless a grant denies its name
        raise PermissionDenied(
            f"Permission denied: {who.user} may not create registered model {name!r}"
        )
    model = await b.call(
        b.client.create_registered_model,
        name,
        tags=_tags(data),
        description=req.optional(data, "description"),
    )
    if guard is not None and who is not None:  # its creator manages it, as in MLflow
        state = guard.access.state()
        await _publish(
            b, r, [state.grant(f"user:{who.user}", exact_pattern(name), "MANAGE", REGISTERED_MODEL)]
        )
    return {"registered_model": wire.registered_model_to_json(model)}


async def get_registered_model(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    model = await b.call(b.client.get_registered_model, req.required(data, "name"))
    return {"registered_model": wire.registered_model_to_json(model)}


async def rename_registered_model(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    name, new_name = req.required(data, "name"), req.required(data, "new_name")
    guard, who = b.guard, identity_of(r.scope)
    if guard is not None and who is not None:
        # grants by pattern follow names: a rename changes permissions, so it needs MANAGE
        # under the old name and under the new one, once the model's own grants moved there
        # (as renaming an experiment does here)
        guard.require_model(who, name, "manage")
        after = guard.access.state().after_rename(name, new_name)
        if not after.model_permission(who, new_name).can_manage:
            raise PermissionDenied(
                f"Permission denied: {who.user} may not manage registered model {name!r} "
                f"under the new name {new_name!r}; renaming changes which grants apply"
            )
    moves: list[dict[str, Any]] = []
    if guard is not None:  # the grants as they are now: a grant made after the rename stays
        moves = (await b.call(guard.access.reload)).follow_rename(name, new_name)
    model = await b.call(b.client.rename_registered_model, name, new_name)
    await _publish(b, r, moves)
    return {"registered_model": wire.registered_model_to_json(model)}


async def update_registered_model(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    model = await b.call(
        b.client.update_registered_model,
        req.required(data, "name"),
        description=req.optional(data, "description"),
    )
    return {"registered_model": wire.registered_model_to_json(model)}


async def delete_registered_model(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    name = req.required(data, "name")
    drops: list[dict[str, Any]] = []
    if b.guard is not None:  # the grants as they are now: a grant made after the delete stays
        drops = (await b.call(b.guard.access.reload)).forget_model(name)
    await b.call(b.client.delete_registered_model, name)
    await _publish(b, r, drops)
    return {}


async def search_registered_models(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    readable = _readable(b, r)
    models = [m for m in await b.call(b.client.registry.list_models) if readable(m.name)]
    found = await b.call(
        search_models,
        models,
        req.optional(data, "filter"),
        _max_results(data, MODELS_PAGE),
        _order_by(data),
        req.optional(data, "page_token"),
    )
    out: dict[str, Any] = {"registered_models": [wire.registered_model_to_json(m) for m in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


async def get_latest_versions(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    stages = data.get("stages")
    listed = None if stages is None else (stages if isinstance(stages, list) else [stages])
    found = await b.call(b.client.get_latest_versions, req.required(data, "name"), listed)
    return {"model_versions": [wire.model_version_to_json(v) for v in found]}


async def set_registered_model_tag(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(
        b.client.set_registered_model_tag,
        req.required(data, "name"),
        req.required(data, "key"),
        data.get("value", ""),
    )
    return {}


async def delete_registered_model_tag(
    b: Backend, data: dict[str, Any], _: Request
) -> dict[str, Any]:
    await b.call(
        b.client.delete_registered_model_tag, req.required(data, "name"), req.required(data, "key")
    )
    return {}


async def set_alias(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(
        b.client.set_registered_model_alias,
        req.required(data, "name"),
        req.required(data, "alias"),
        _version(data),
    )
    return {}


async def delete_alias(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(
        b.client.delete_registered_model_alias,
        req.required(data, "name"),
        req.required(data, "alias"),
    )
    return {}


async def get_version_by_alias(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    found = await b.call(
        b.client.get_model_version_by_alias,
        req.required(data, "name"),
        req.required(data, "alias"),
    )
    return {"model_version": wire.model_version_to_json(found)}


# versions -----------------------------------------------------------------------------------
def _invalid(source: str, by: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"Invalid model version source: '{source}'. The {by} request parameter must identify "
        "the resource that contains the source."
    )


def check_source(b: Backend, source: str, run_id: str | None, model_id: str | None) -> None:
    """MLflow's server rules for a version's source: no relative or NUL parts; `runs:/` only
    with its run's `run_id`, `models:/<model_id>` only with that `model_id`, a proxied
    `mlflow-artifacts:/` location only inside the run's or model's; no path on this server."""
    text = source
    while (unquoted := urllib.parse.unquote_plus(text)) != text:
        text = unquoted
    if "\x00" in text or ".." in text.split("/"):
        raise InvalidArgumentError(
            f"Invalid model version source: '{source}'. If supplying a source as an http, "
            "https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path "
            "must be provided without relative path references present. Please provide an "
            "absolute path."
        )
    parsed = urllib.parse.urlparse(source)
    scheme, by = parsed.scheme.lower(), "model_id" if model_id else "run_id"
    if scheme in ("", "file") or (len(scheme) == 1 and source[1:2] == ":"):
        raise InvalidArgumentError(
            f"Invalid model version source: '{source}'. A path on the tracking server cannot "
            f"be a model version source; give runs:/<run_id>/<path> or models:/<model_id>"
        )
    if scheme in ("runs", "models") and parsed.netloc:
        raise _invalid(source, by)
    named = parse_model_uri(source)
    if scheme == "runs" and (model_id or named.run_id != run_id):
        raise _invalid(source, by)
    if named.kind == LOGGED and named.model_id != model_id:
        raise _invalid(source, by)
    if scheme == "mlflow-artifacts":
        if model_id:
            model = b.client.get_logged_model(model_id)
            root = model_location(model.experiment_id, model_id)
        elif run_id:
            root = run_location(b.client.get_run(run_id).info.experiment_id, run_id)
        else:
            raise _invalid(source, by)
        if not (source == root or source.startswith(root.rstrip("/") + "/")):
            raise _invalid(source, by)


async def _require_source(
    b: Backend, r: Request, source: str, run_id: str | None, model_id: str | None
) -> None:
    """Registering needs READ on what the version comes from: its run's experiment, its logged
    model's, or the registered model a `models:/name/...` source names (as MLflow's)."""
    guard, who = b.guard, identity_of(r.scope)
    if guard is None or who is None:
        return
    # (the experiment, what the request named: errors name only that). Each must exist: a
    # version that names a run or logged model no one can check could point anywhere
    experiments = []
    if run_id:
        experiments.append((await b.call(b.store.experiment_of, run_id), f"run {run_id}"))
    for logged in sorted(m for m in {model_id, _logged_model_of(source)} if m):
        model = await b.call(b.client.get_logged_model, logged)
        experiments.append((model.experiment_id, f"logged model {logged}"))
    for exp_id, named in experiments:
        exp_name = await guard.experiment_name(exp_id)
        if exp_name is not None and not guard.permission(who, exp_id, exp_name).can_read:
            raise PermissionDenied(
                f"Permission denied: {who.user} may not read {named}, so may not register it"
            )
    registered = _registered_model_of(source)
    if registered is not None:
        guard.require_model(who, registered, "read")


def _logged_model_of(source: str) -> str | None:
    named = parse_model_uri(source)
    return named.model_id if named.kind == LOGGED else None


def _registered_model_of(source: str) -> str | None:
    named = parse_model_uri(source)
    return named.name if named.kind == REGISTERED else None


async def create_model_version(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    model_id = req.optional(data, "model_id") or None
    source, run_id = req.required(data, "source"), req.optional(data, "run_id") or None
    await _require_source(b, r, source, run_id, model_id)
    await b.call(check_source, b, source, run_id, model_id)
    version = await b.call(
        b.client.create_model_version,
        req.required(data, "name"),
        source,
        run_id=run_id,
        tags=_tags(data),
        run_link=req.optional(data, "run_link") or None,
        description=req.optional(data, "description"),
        model_id=model_id,
    )
    return {"model_version": wire.model_version_to_json(version)}


async def get_model_version(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    found = await b.call(b.client.get_model_version, req.required(data, "name"), _version(data))
    return {"model_version": wire.model_version_to_json(found)}


async def update_model_version(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    found = await b.call(
        b.client.update_model_version,
        req.required(data, "name"),
        _version(data),
        description=req.optional(data, "description"),
    )
    return {"model_version": wire.model_version_to_json(found)}


async def delete_model_version(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(b.client.delete_model_version, req.required(data, "name"), _version(data))
    return {}


async def search_model_versions(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    readable = _readable(b, r)
    # (MLflow's server leaves `aliases` empty in search results, as its client does)
    versions = [
        replace(v, aliases=[])
        for v in await b.call(b.client.registry.list_versions)
        if readable(v.name)
    ]
    found = await b.call(
        search_versions,
        versions,
        req.optional(data, "filter"),
        _max_results(data, VERSIONS_PAGE),
        _order_by(data),
        req.optional(data, "page_token"),
    )
    out: dict[str, Any] = {"model_versions": [wire.model_version_to_json(v) for v in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


async def transition_stage(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    archive = data.get("archive_existing_versions", False)
    if not isinstance(archive, bool):
        archive = str(archive).lower() == "true"
    found = await b.call(
        b.client.transition_model_version_stage,
        req.required(data, "name"),
        _version(data),
        req.required(data, "stage"),
        archive,
    )
    return {"model_version": wire.model_version_to_json(found)}


async def set_model_version_tag(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(
        b.client.set_model_version_tag,
        req.required(data, "name"),
        _version(data),
        req.required(data, "key"),
        data.get("value", ""),
    )
    return {}


async def delete_model_version_tag(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(
        b.client.delete_model_version_tag,
        req.required(data, "name"),
        _version(data),
        req.required(data, "key"),
    )
    return {}


async def get_download_uri(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    found = await b.call(b.client.get_model_version, req.required(data, "name"), _version(data))
    return {"artifact_uri": await b.call(_download_uri, b, found)}


def _download_uri(b: Backend, version: ModelVersion) -> str:
    """Where MLflow's client downloads a version from: the logged model's or the run's
    proxied location (`mlflow-artifacts:/`), or the source as registered."""
    source = str(version.source or "")
    named = parse_model_uri(source)
    if named.kind == LOGGED:
        model = b.client.get_logged_model(named.model_id)
        base = model_location(model.experiment_id, model.model_id)
        return f"{base}/{named.path}" if named.path else base
    if named.kind == RUN:
        run = b.client.get_run(named.run_id)
        base = run_location(run.info.experiment_id, named.run_id)
        return f"{base}/{named.path}" if named.path else base
    if named.kind == REGISTERED:
        raise InvalidArgumentError(
            f"Version {version.version} of {version.name} has source {source}"
        )
    return source


# what each endpoint needs on the registered model its `name` parameter names ("registry":
# the handler checks for itself); every write is audited
READ = Rule("registered_model")
UPDATE = Rule("registered_model", "update", write=True)
DELETE = Rule("registered_model", "delete", write=True)
MANAGE = Rule("registered_model", "manage", write=True)
SEARCH = Rule("registry")
CHECKED = Rule("registry", "update", write=True)
ENDPOINTS: list[tuple[str, str, Any, Rule]] = [
    ("POST", "/registered-models/create", create_registered_model, CHECKED),
    ("GET", "/registered-models/get", get_registered_model, READ),
    ("POST", "/registered-models/rename", rename_registered_model, CHECKED),
    ("PATCH", "/registered-models/update", update_registered_model, UPDATE),
    ("DELETE", "/registered-models/delete", delete_registered_model, DELETE),
    ("GET", "/registered-models/search", search_registered_models, SEARCH),
    ("POST", "/registered-models/get-latest-versions", get_latest_versions, READ),
    ("GET", "/registered-models/get-latest-versions", get_latest_versions, READ),
    ("POST", "/registered-models/set-tag", set_registered_model_tag, UPDATE),
    ("DELETE", "/registered-models/delete-tag", delete_registered_model_tag, UPDATE),
    ("POST", "/registered-models/alias", set_alias, MANAGE),
    ("DELETE", "/registered-models/alias", delete_alias, MANAGE),
    ("GET", "/registered-models/alias", get_version_by_alias, READ),
    ("POST", "/model-versions/create", create_model_version, UPDATE),
    ("GET", "/model-versions/get", get_model_version, READ),
    ("PATCH", "/model-versions/update", update_model_version, UPDATE),
    ("DELETE", "/model-versions/delete", delete_model_version, DELETE),
    ("GET", "/model-versions/search", search_model_versions, SEARCH),
    ("GET", "/model-versions/get-download-uri", get_download_uri, READ),
    ("POST", "/model-versions/transition-stage", transition_stage, UPDATE),
    ("POST", "/model-versions/set-tag", set_model_version_tag, UPDATE),
    ("DELETE", "/model-versions/delete-tag", delete_model_version_tag, DELETE),
]
