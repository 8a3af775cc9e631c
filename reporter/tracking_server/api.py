"""MLflow's tracking REST API (`/api/2.0/mlflow/...`) over the store.

Each endpoint reads MLflow's request fields, calls the same `Client` that `import reporter as
mlflow` uses (so validation, secret checks and search are one code), and answers MLflow's
response message. Writes are answered after their group commit (see `commit`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reporter.core import system_tags, validation, wire
from reporter.core.entities import Experiment, Metric, Run, RunStatus, ViewType
from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.core.logged_models import LoggedModel, LoggedModelStatus
from reporter.core.model_links import LoggedModelOutput
from reporter.tracking_server import requests as req
from reporter.tracking_server.artifacts import file_json
from reporter.tracking_server.auth import PermissionDenied
from reporter.tracking_server.backend import (
    Backend,
    experiment_location,
    model_location,
    run_location,
)
from reporter.tracking_server.guard import (
    PENDING,
    PendingAudit,
    Rule,
    audit_record,
    denied,
    identity_of,
    models_named,
)

Handler = Callable[[Backend, dict[str, Any], Request], Awaitable[dict[str, Any]]]

PREFIX = "/api/2.0/mlflow"
SEARCH_RUNS_DEFAULT = 1000
SEARCH_EXPERIMENTS_DEFAULT = 1000
HISTORY_PAGE = 25_000  # MLflow's GET_METRIC_HISTORY_MAX_RESULTS


# experiments --------------------------------------------------------------------------------
def experiment_json(exp: Experiment) -> dict[str, Any]:
    """Return an experiment as MLflow's server prints it (its artifact location proxied)."""
    shown = dataclasses.replace(exp, artifact_location=experiment_location(exp.experiment_id))
    return wire.experiment_to_json(shown)


async def create_experiment(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    name = req.required(data, "name")
    tags = dict(wire.pairs_from_json(wire.list_from_json(data, "tags"), "tags"))
    if req.optional(data, "artifact_location"):
        raise InvalidArgumentError(
            "artifact_location is not supported: this server keeps every experiment's "
            "artifacts in its store (mlflow-artifacts:/<experiment_id>)"
        )
    exp_id = await b.call(b.client.create_experiment, name, tags=tags)
    who = identity_of(r.scope)
    if b.guard is not None and who is not None:  # its creator manages it, as in MLflow
        change = {"op": "grant", "who": f"user:{who.user}", "experiment": f"id:{exp_id}",
                  "permission": "MANAGE", "by": who.user}  # fmt: skip
        await b.call(b.guard.access.publish, change)
        pending = PENDING.get()
        if pending is not None:
            pending.record["experiment_id"] = exp_id
    return {"experiment_id": exp_id}


async def get_experiment(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    exp = await b.call(b.client.get_experiment, req.required(data, "experiment_id"))
    return {"experiment": experiment_json(exp)}


async def get_experiment_by_name(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    name = req.required(data, "experiment_name")
    exp = await b.call(b.client.get_experiment_by_name, name)
    if exp is None:
        raise NotFoundError(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment_json(exp)}


async def search_experiments(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    size = req.max_results(data, SEARCH_EXPERIMENTS_DEFAULT)
    view = _view_type(data.get("view_type"))
    exps = await b.call(
        b.client.search_experiments,
        view_type=view,
        filter_string=req.optional(data, "filter"),
        order_by=req.strings(data, "order_by"),
    )
    who = identity_of(r.scope)
    if b.guard is not None and who is not None:  # only what the caller may read
        guard = b.guard
        exps = [e for e in exps if guard.permission(who, e.experiment_id, e.name).can_read]
    chunk, token = req.page(exps, data, size)
    out: dict[str, Any] = {"experiments": [experiment_json(e) for e in chunk]}
    if token:
        out["next_page_token"] = token
    return out


async def delete_experiment(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(b.client.delete_experiment, req.required(data, "experiment_id"))
    return {}


async def restore_experiment(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(b.client.restore_experiment, req.required(data, "experiment_id"))
    return {}


async def update_experiment(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    exp_id = req.required(data, "experiment_id")
    new_name = req.optional(data, "new_name")
    if new_name:
        await b.call(b.client.rename_experiment, exp_id, new_name)
    else:
        await b.call(b.client.get_experiment, exp_id)
    return {}


async def set_experiment_tag(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    exp_id, key = req.required(data, "experiment_id"), req.required(data, "key")
    await b.call(b.client.set_experiment_tag, exp_id, key, req.optional(data, "value") or "")
    return {}


async def delete_experiment_tag(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    exp_id, key = req.required(data, "experiment_id"), req.required(data, "key")
    await b.call(b.client.delete_experiment_tag, exp_id, key)
    return {}


def _view_type(value: Any) -> int:
    """Return a ViewType from MLflow's enum name or number (default ACTIVE_ONLY)."""
    if value is None or value == "":
        return ViewType.ACTIVE_ONLY
    if isinstance(value, int) and not isinstance(value, bool):
        if value in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
            return value
    elif isinstance(value, str):
        if value.isdigit():
            return _view_type(int(value))
        return ViewType.from_string(value)
    raise InvalidArgumentError(
        f"Invalid value {value!r} for parameter 'view_type': valid values are "
        "ACTIVE_ONLY, DELETED_ONLY, ALL"
    )


# runs ---------------------------------------------------------------------------------------
def run_json(run: Run) -> dict[str, Any]:
    """Return a run as MLflow's server prints it (its artifact URI proxied)."""
    location = run_location(run.info.experiment_id, run.info.run_id)
    return wire.run_to_json(run, artifact_uri=location)


async def create_run(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    exp_id = req.optional(data, "experiment_id") or "0"
    tags = dict(wire.pairs_from_json(wire.list_from_json(data, "tags"), "tags"))
    user_id = req.optional(data, "user_id") or None
    if identity_of(r.scope) is not None:  # the signed-in user, whatever the client claims
        user_id = tags[system_tags.TAG_USER] = _signed_in_user(r, "")
    run = await b.call(  # durable on return: create_run writes the run's first file
        b.client.create_run,
        exp_id,
        start_time=req.optional_int(data, "start_time"),
        tags=tags,
        run_name=req.optional(data, "run_name") or None,
        parent_run_id=tags.get(system_tags.TAG_PARENT_RUN_ID) or None,
        user_id=user_id,
    )
    return {"run": run_json(run)}


async def get_run(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run = await b.call(b.client.get_run, req.required(data, "run_id", "run_uuid"))
    return {"run": run_json(run)}


async def update_run(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id", "run_uuid")
    status = req.optional(data, "status")
    if status is not None and status not in RunStatus.ALL:
        status = RunStatus.to_string(int(status)) if status.isdigit() else status
    name = req.optional(data, "run_name") or None
    end_time = req.optional_int(data, "end_time")

    def update() -> Run:
        b.store.experiment_of(run_id)  # RESOURCE_DOES_NOT_EXIST for an unknown run
        if name is not None:
            b.client.update_run(run_id, name=name)
        if status is not None and RunStatus.is_terminated(status):
            b.client.set_terminated(run_id, status, end_time)
        else:
            if status is not None:
                b.client.update_run(run_id, status=status)
            if end_time is not None:  # MLflow keeps an end time sent without a status
                b.store.set_attributes(run_id, end_time=validation.run_time("end_time", end_time))
        return b.client.get_run(run_id)

    run = await b.write(update)
    return {"run_info": run_json(run)["info"]}


async def delete_run(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(b.client.delete_run, req.required(data, "run_id"))  # flushes before returning
    return {}


async def restore_run(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    await b.call(b.client.restore_run, req.required(data, "run_id"))  # flushes before returning
    return {}


def _known_run(b: Backend, run_id: str) -> None:
    """Raise RESOURCE_DOES_NOT_EXIST for an unknown run, INVALID_STATE for a deleted one."""
    b.store.experiment_of(run_id)


async def log_metric(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id", "run_uuid")
    metric = wire.metric_from_json(data, "metric")
    if not metric.key:
        raise InvalidArgumentError("Missing value for required parameter 'key'.")
    model_id = metric.model_id
    if not model_id:  # the common case: a point queued at once
        await b.queue_rows(run_id, _metrics_queuer(b, run_id, [metric]))
        return {}

    def log() -> None:
        _known_run(b, run_id)
        b.client.log_batch(run_id, metrics=[metric])
        b.client.log_model_metrics(model_id, [_linked(metric, run_id)])

    await b.write(log)
    return {}


def _metrics_queuer(b: Backend, run_id: str, metrics: list[Metric]) -> Callable[[], None]:
    """Return what queues points of a run not linked to a model (the hot path)."""

    def queue() -> None:
        _known_run(b, run_id)
        b.client.log_batch(run_id, metrics=metrics)

    return queue


def _new_points(b: Backend, run_id: str, metrics: list[Metric]) -> list[Metric]:
    """Leave out points linked to a model that the run has already (MLflow's log_model
    sends the run's points again with the model's id; its server keeps each point once)."""
    linked = {m.key for m in metrics if m.model_id}
    if not linked:
        return metrics
    have = {
        (p.key, p.step, p.timestamp, p.value)
        for key in linked
        for p in b.client.get_metric_history(run_id, key)
    }
    return [
        m for m in metrics if not m.model_id or (m.key, m.step, m.timestamp, m.value) not in have
    ]


def _linked(metric: Metric, run_id: str) -> Metric:
    return dataclasses.replace(metric, run_id=run_id)


async def log_param(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id", "run_uuid")
    key = req.required(data, "key")
    value = wire.pairs_from_json([{"key": key, "value": data.get("value", "")}], "param")[0][1]

    def log() -> None:
        _known_run(b, run_id)
        b.client.log_param(run_id, key, value)

    await b.write(log)
    return {}


async def set_tag(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id", "run_uuid")
    key = req.required(data, "key")
    value = wire.pairs_from_json([{"key": key, "value": data.get("value", "")}], "tag")[0][1]
    if key == system_tags.TAG_USER:
        value = _signed_in_user(r, value)

    def log() -> None:
        _known_run(b, run_id)
        b.client.set_tag(run_id, key, value)
        if key == system_tags.TAG_RUN_NAME:  # MLflow renames the run with its tag
            b.store.set_attributes(run_id, run_name=value)

    await b.write(log)
    return {}


async def delete_tag(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run_id, key = req.required(data, "run_id"), req.required(data, "key")
    await b.write(b.client.delete_tag, run_id, key)
    return {}


async def log_batch(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id")
    metrics = [wire.metric_from_json(m, "metrics") for m in wire.list_from_json(data, "metrics")]
    params = wire.params_from_json(wire.list_from_json(data, "params"))
    tags = [
        dataclasses.replace(t, value=_signed_in_user(r, t.value))
        if t.key == system_tags.TAG_USER
        else t
        for t in wire.tags_from_json(wire.list_from_json(data, "tags"))
    ]
    _check_batch_limits(len(metrics), len(params), len(tags))
    if not params and not tags and not any(m.model_id for m in metrics):
        await b.queue_rows(run_id, _metrics_queuer(b, run_id, metrics))
        return {}

    def log() -> None:
        _known_run(b, run_id)
        b.client.log_batch(
            run_id, metrics=_new_points(b, run_id, metrics), params=params, tags=tags
        )
        names = [t.value for t in tags if t.key == system_tags.TAG_RUN_NAME]
        if names:
            b.store.set_attributes(run_id, run_name=names[-1])
        by_model: dict[str, list[Metric]] = {}
        for m in metrics:
            if m.model_id:
                by_model.setdefault(m.model_id, []).append(_linked(m, run_id))
        for model_id, points in by_model.items():
            b.client.log_model_metrics(model_id, points)

    await b.write(log)
    return {}


def _check_batch_limits(metrics: int, params: int, tags: int) -> None:
    for count, limit, what in (
        (metrics, wire.MAX_BATCH_METRICS, "metrics"),
        (params, wire.MAX_BATCH_PARAMS, "params"),
        (tags, wire.MAX_BATCH_TAGS, "tags"),
        (metrics + params + tags, wire.MAX_BATCH_ITEMS, "metrics, params and tags in all"),
    ):
        if count > limit:
            raise InvalidArgumentError(
                f"A batch logging request can contain at most {limit} {what}. Got {count} "
                f"{what}. Please split up the request into smaller batches."
            )


async def log_inputs(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id")
    datasets = [wire.dataset_input_from_json(d) for d in wire.list_from_json(data, "datasets")]
    models = [
        _ModelRef(req.required(wire.message(m, "models"), "model_id"))
        for m in wire.list_from_json(data, "models")
    ]

    def log() -> None:
        _known_run(b, run_id)
        b.client.log_inputs(run_id, datasets=datasets, models=models)

    await b.write(log)
    return {}


@dataclasses.dataclass(frozen=True)
class _ModelRef:
    model_id: str


async def log_outputs(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id")
    outputs = [wire.model_output_from_json(m) for m in wire.list_from_json(data, "models")]

    def log() -> None:
        _known_run(b, run_id)
        b.client.log_outputs(run_id, [LoggedModelOutput(o.model_id, o.step) for o in outputs])

    await b.write(log)
    return {}


async def search_runs(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    size = req.max_results(data, SEARCH_RUNS_DEFAULT)
    ids = req.strings(data, "experiment_ids")
    allowed = await _readable(b, r, ids)
    if allowed is not None:
        if not allowed:
            return {"runs": []}
        ids = allowed
    token = req.optional(data, "page_token")
    offset = req.decode_token(token) if token else 0

    def search() -> list[Run]:
        for exp_id in ids:
            b.store.require_experiment(exp_id)
        return b.client.search_runs(
            ids,
            filter_string=req.optional(data, "filter") or "",
            run_view_type=_view_type(data.get("run_view_type")),
            max_results=offset + size + 1,
            order_by=req.strings(data, "order_by"),
        )

    runs = await b.call(search)
    chunk = runs[offset : offset + size]
    out: dict[str, Any] = {"runs": [run_json(r) for r in chunk]}
    if len(runs) > offset + size:
        out["next_page_token"] = req.encode_token(offset + size)
    return out


async def get_metric_history(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    run_id = req.required(data, "run_id", "run_uuid")
    key = req.required(data, "metric_key")
    size = req.max_results(data, HISTORY_PAGE, limit=HISTORY_PAGE)

    def history() -> list[Metric]:
        _known_run(b, run_id)
        return b.client.get_metric_history(run_id, key)

    points = await b.call(history)
    chunk, token = req.page(points, data, size)
    out: dict[str, Any] = {"metrics": [wire.metric_to_json(m) for m in chunk]}
    if token:
        out["next_page_token"] = token
    return out


async def list_run_artifacts(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    from reporter.tracking.file_info import children

    run_id = req.required(data, "run_id", "run_uuid")
    path = req.optional(data, "path")

    def listing() -> tuple[str, list[Any]]:
        exp_id = b.store.experiment_of(run_id)
        return run_location(exp_id, run_id), children(b.store.list_artifacts(run_id), path)

    root, files = await b.call(listing)
    return {"root_uri": root, "files": [file_json(f) for f in files]}


# logged models ------------------------------------------------------------------------------
def model_json(model: LoggedModel) -> dict[str, Any]:
    """Return a logged model as MLflow's server prints it (its artifact URI proxied)."""
    location = model_location(model.experiment_id, model.model_id)
    return wire.logged_model_to_json(model, artifact_uri=location)


async def create_logged_model(b: Backend, data: dict[str, Any], _: Request) -> dict[str, Any]:
    exp_id = req.required(data, "experiment_id")
    model = await b.call(
        b.client.create_logged_model,
        exp_id,
        name=req.optional(data, "name") or None,
        source_run_id=req.optional(data, "source_run_id") or None,
        tags=dict(wire.pairs_from_json(wire.list_from_json(data, "tags"), "tags")),
        params=dict(wire.pairs_from_json(wire.list_from_json(data, "params"), "params")),
        model_type=req.optional(data, "model_type") or None,
    )
    return {"model": model_json(model)}


def _model_id(request: Request) -> str:
    return str(request.path_params["model_id"])


async def get_logged_model(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    model = await b.call(b.client.get_logged_model, _model_id(r))
    return {"model": model_json(model)}


async def finalize_logged_model(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    status = wire.model_status_from_json(data.get("status"))
    if status not in (LoggedModelStatus.READY, LoggedModelStatus.FAILED):
        raise InvalidArgumentError(
            "Invalid value for parameter 'status': a logged model is finalized as "
            "LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
        )
    model = await b.call(b.client.finalize_logged_model, _model_id(r), status)
    return {"model": model_json(model)}


async def delete_logged_model(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    model_id = _model_id(r)

    def delete() -> None:
        b.client.get_logged_model(model_id)
        b.client.delete_logged_model(model_id)

    await b.call(delete)
    return {}


async def set_logged_model_tags(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    model_id = _model_id(r)
    tags = dict(wire.pairs_from_json(wire.list_from_json(data, "tags"), "tags"))

    def set_tags() -> None:
        b.client.get_logged_model(model_id)
        b.client.set_logged_model_tags(model_id, tags)

    await b.call(set_tags)
    return {}


async def delete_logged_model_tag(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    key = str(r.path_params["tag_key"])
    await b.call(b.client.delete_logged_model_tag, _model_id(r), key)
    return {}


async def log_logged_model_params(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    model_id = _model_id(r)
    params = dict(wire.pairs_from_json(wire.list_from_json(data, "params"), "params"))

    def log() -> None:
        b.client.get_logged_model(model_id)
        b.client.log_model_params(model_id, params)

    await b.call(log)
    return {}


async def search_logged_models(b: Backend, data: dict[str, Any], r: Request) -> dict[str, Any]:
    size = req.max_results(data, 100)
    order = [dict(wire.message(o, "order_by")) for o in wire.list_from_json(data, "order_by")]
    datasets = [dict(wire.message(d, "datasets")) for d in wire.list_from_json(data, "datasets")]
    ids = req.strings(data, "experiment_ids")
    allowed = await _readable(b, r, ids)
    if allowed is not None:
        if not allowed:
            return {"models": []}
        ids = allowed
    models = await b.call(
        b.client.search_logged_models,
        ids,
        filter_string=req.optional(data, "filter") or None,
        datasets=datasets or None,
        order_by=order or None,
    )
    chunk, token = req.page(models, data, size)
    out: dict[str, Any] = {"models": [model_json(m) for m in chunk]}
    if token:
        out["next_page_token"] = token
    return out


async def list_logged_model_artifacts(
    b: Backend, data: dict[str, Any], r: Request
) -> dict[str, Any]:
    model_id = _model_id(r)
    path = req.optional(data, "artifact_directory_path")
    files = await b.call(b.client.list_logged_model_artifacts, model_id, path)
    return {"files": [file_json(f) for f in files]}


# access control -----------------------------------------------------------------------------
async def _readable(b: Backend, r: Request, ids: list[str]) -> list[str] | None:
    """Return the experiments of a search (all, if it names none) that the caller may
    read; None without --auth (search as asked)."""
    who = identity_of(r.scope)
    if b.guard is None or who is None:
        return None
    if not ids:
        ids = [e.experiment_id for e in await b.call(b.store.list_experiments)]
    return await b.guard.readable(who, ids)


def _refuse_user_tag(action: str, data: dict[str, Any]) -> None:
    """With --auth, MLflow's user tag is the signed-in creator's: no request changes it."""
    tags = data.get("tags") if action == "runs/log-batch" else None
    keys = [t.get("key") for t in tags if isinstance(t, dict)] if isinstance(tags, list) else []
    if action in ("runs/set-tag", "runs/delete-tag"):
        keys.append(data.get("key"))
    if system_tags.TAG_USER in keys:
        raise PermissionDenied(
            f"Permission denied: {system_tags.TAG_USER} is set by the server to the signed-in "
            "user who created the run, and cannot be changed"
        )


def _signed_in_user(r: Request, claimed: str) -> str:
    """Return the authenticated user for MLflow's user tag (a client's claim is replaced)."""
    who = identity_of(r.scope)
    return who.user if who is not None else claimed


# the routes ---------------------------------------------------------------------------------
SEARCH = Rule("search")
RUN_WRITE = Rule("run", "update", write=True)
EXPERIMENT_WRITE = Rule("experiment", "update", write=True)
MODEL_WRITE = Rule("model", "update", write=True)
ENDPOINTS: list[tuple[str, str, Handler, Rule]] = [
    ("GET", "/experiments/get-by-name", get_experiment_by_name, Rule("experiment_name")),
    ("POST", "/experiments/create", create_experiment, Rule("create", write=True)),
    ("POST", "/experiments/search", search_experiments, SEARCH),
    ("GET", "/experiments/search", search_experiments, SEARCH),
    ("GET", "/experiments/get", get_experiment, Rule("experiment")),
    ("POST", "/experiments/delete", delete_experiment, Rule("experiment", "delete", write=True)),
    ("POST", "/experiments/restore", restore_experiment, Rule("experiment", "delete", write=True)),
    ("POST", "/experiments/update", update_experiment, EXPERIMENT_WRITE),
    (
        "POST",
        "/experiments/set-experiment-tag",
        set_experiment_tag,
        EXPERIMENT_WRITE,
    ),
    (
        "POST",
        "/experiments/delete-experiment-tag",
        delete_experiment_tag,
        EXPERIMENT_WRITE,
    ),
    ("POST", "/runs/create", create_run, EXPERIMENT_WRITE),
    ("POST", "/runs/update", update_run, RUN_WRITE),
    ("POST", "/runs/delete", delete_run, Rule("run", "delete", write=True)),
    ("POST", "/runs/restore", restore_run, Rule("run", "delete", write=True)),
    ("POST", "/runs/log-metric", log_metric, RUN_WRITE),
    ("POST", "/runs/log-parameter", log_param, RUN_WRITE),
    ("POST", "/runs/set-tag", set_tag, RUN_WRITE),
    ("POST", "/runs/delete-tag", delete_tag, RUN_WRITE),
    ("GET", "/runs/get", get_run, Rule("run")),
    ("POST", "/runs/search", search_runs, SEARCH),
    ("POST", "/runs/log-batch", log_batch, RUN_WRITE),
    ("POST", "/runs/log-inputs", log_inputs, RUN_WRITE),
    ("POST", "/runs/outputs", log_outputs, RUN_WRITE),
    ("GET", "/metrics/get-history", get_metric_history, Rule("run")),
    ("GET", "/artifacts/list", list_run_artifacts, Rule("run")),
    ("POST", "/logged-models", create_logged_model, EXPERIMENT_WRITE),
    ("POST", "/logged-models/search", search_logged_models, SEARCH),
    ("GET", "/logged-models/{model_id}", get_logged_model, Rule("model")),
    (
        "PATCH",
        "/logged-models/{model_id}",
        finalize_logged_model,
        MODEL_WRITE,
    ),
    (
        "DELETE",
        "/logged-models/{model_id}",
        delete_logged_model,
        Rule("model", "delete", write=True),
    ),
    (
        "PATCH",
        "/logged-models/{model_id}/tags",
        set_logged_model_tags,
        MODEL_WRITE,
    ),
    (
        "DELETE",
        "/logged-models/{model_id}/tags/{tag_key:path}",
        delete_logged_model_tag,
        MODEL_WRITE,
    ),
    (
        "GET",
        "/logged-models/{model_id}/artifacts/directories",
        list_logged_model_artifacts,
        Rule("model"),
    ),
    (
        "POST",
        "/logged-models/{model_id}/params",
        log_logged_model_params,
        MODEL_WRITE,
    ),
]


def routes(backend: Backend) -> list[Route]:
    """Return a route per endpoint, at /api/2.0/mlflow/... and MLflow's /ajax-api/2.0/...;
    the paths of one endpoint with several methods share a route."""
    from reporter.tracking_server import registry_api

    by_path: dict[str, dict[str, tuple[Handler, Rule]]] = {}
    for method, path, handler, rule in [*ENDPOINTS, *registry_api.ENDPOINTS]:
        by_path.setdefault(path, {})[method] = (handler, rule)
    out = []
    for path, methods in by_path.items():
        endpoint = _endpoint(backend, path.lstrip("/"), methods)
        for prefix in (PREFIX, "/ajax-api/2.0/mlflow"):
            out.append(Route(prefix + path, endpoint, methods=list(methods)))
    return out


def _endpoint(
    backend: Backend, action: str, methods: Mapping[str, tuple[Handler, Rule]]
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        data = await req.params_of(request)
        handler, rule = methods[request.method]
        guard, who = backend.guard, identity_of(request.scope)
        if guard is None or who is None:  # no --auth
            return JSONResponse(await handler(backend, data, request))
        exp_id = None
        if rule.target in ("experiment", "experiment_name", "run", "model"):
            exp_id = await guard.experiment_of(rule, data, request.path_params)
            if exp_id is not None:
                allowed = guard.allowed(who, exp_id, rule.need)
                if allowed is None:
                    await guard.require(who, exp_id, rule.need)
                elif not allowed:
                    raise denied(who, exp_id, rule.need)
        if rule.target == "registered_model":
            guard.require_model(who, str(data.get("name", "")), rule.need)
        if not rule.write:
            return JSONResponse(await handler(backend, data, request))
        registry = rule.target in ("registered_model", "registry")  # checks its sources itself
        needs = {} if registry else models_named(data)
        models = await guard.require_models(who, needs) if needs else []
        if action == "experiments/update" and data.get("new_name") and exp_id is not None:
            await guard.require_rename(who, exp_id, str(data["new_name"]))
        _refuse_user_tag(action, data)
        if backend.audit is None:
            return JSONResponse(await handler(backend, data, request))
        shown = {**data, **request.path_params, **({"models": models} if models else {})}
        pending = PendingAudit(audit_record(who, action, request.method, exp_id, shown))
        token = PENDING.set(pending)
        try:
            body = await handler(backend, data, request)
        finally:
            PENDING.reset(token)
        if not pending.noted:  # written on return (not queued): its record needs a commit
            backend.note_audit(pending)
            await backend.commit.wait()
        if action == "experiments/update" and exp_id is not None:
            guard.forget(exp_id)  # its new name decides at once which grants apply
        return JSONResponse(body)

    return endpoint
