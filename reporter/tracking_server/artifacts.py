"""MLflow's proxied artifact API (`/api/2.0/mlflow-artifacts/artifacts/...`) over the store.

Paths are the ones the server hands out in artifact URIs: `<exp>/<run>/artifacts/<file>` for a
run and `<exp>/models/<model>/artifacts/<file>` for a logged model. Every path is checked to
stay inside its run's or model's files before anything is read or written ('..', absolute
paths and NUL are refused). Uploads stream to a temporary file (never whole in memory) and are
copied into the store through the store seam. Downloads are served so that no artifact can run
script in the server's origin, which also serves the report site.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from reporter.core import validation
from reporter.core.errors import InvalidArgumentError, NotFoundError, ReporterError
from reporter.tracking.file_info import FileInfo, children
from reporter.tracking_server.backend import MODELS_FOLDER, RUN_ARTIFACTS, Backend
from reporter.tracking_server.guard import PendingAudit, audit_record, identity_of

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
CHUNK = 1024 * 1024

# shown in the browser as themselves; every other type is a download (HTML, SVG, scripts...)
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "application/json",
    }
)
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class NotImplementedByServer(ReporterError):
    """An MLflow endpoint this server does not offer."""

    error_code = "NOT_IMPLEMENTED"


@dataclass(frozen=True)
class Target:
    """The files an artifact path points into: a run's or a logged model's, and where."""

    kind: str  # "run" or "model"
    owner: str  # run id or model id
    experiment_id: str
    path: str  # relative to the owner's artifact root ("" for the root)


def resolve(raw: str) -> Target:
    """Return what an artifact path names; INVALID_PARAMETER_VALUE for a hostile path,
    RESOURCE_DOES_NOT_EXIST for one that names no run or model."""
    clean = validation.artifact_path(raw, "artifact path")
    parts = clean.split("/") if clean else []
    if len(parts) >= 3 and parts[2] == RUN_ARTIFACTS and parts[1] != MODELS_FOLDER:
        return Target("run", parts[1], parts[0], "/".join(parts[3:]))
    if len(parts) >= 4 and parts[1] == MODELS_FOLDER and parts[3] == RUN_ARTIFACTS:
        return Target("model", parts[2], parts[0], "/".join(parts[4:]))
    raise NotFoundError(
        f"Artifact path {raw!r} names no run's or logged model's files: they are "
        f"<experiment_id>/<run_id>/artifacts/... and "
        f"<experiment_id>/models/<model_id>/artifacts/..."
    )


async def authorize(b: Backend, request: Request, experiment_id: str, need: str) -> None:
    """With --auth: raise PERMISSION_DENIED unless the caller has `need` on the experiment."""
    who = identity_of(request.scope)
    if b.guard is not None and who is not None:
        await b.guard.require(who, experiment_id, need)


def _check_owner(b: Backend, target: Target) -> None:
    """Raise RESOURCE_DOES_NOT_EXIST unless the run or model is in that experiment."""
    if target.kind == "run":
        found = b.store.experiment_of(target.owner)
    else:
        found = b.store.get_logged_model(target.owner).experiment_id
    if found != target.experiment_id:
        raise NotFoundError(
            f"No {target.kind} {target.owner!r} in experiment {target.experiment_id!r}"
        )


def _listing(b: Backend, target: Target) -> list[tuple[str, int]]:
    _check_owner(b, target)
    if target.kind == "run":
        return b.store.list_artifacts(target.owner)
    return b.store.list_model_artifacts(target.owner)


async def list_artifacts(b: Backend, request: Request) -> JSONResponse:
    """GET ...?path=P: the files and folders directly under P (names only, as MLflow)."""
    raw = request.query_params.get("path", "")
    try:
        target = resolve(raw)
    except NotFoundError:  # above any run's files (an experiment's folder): nothing to list
        validation.artifact_path(raw, "artifact path")
        return JSONResponse({})
    await authorize(b, request, target.experiment_id, "read")
    files: list[FileInfo] = await b.call(lambda: children(_listing(b, target), target.path or None))
    names = [FileInfo(f.path.rsplit("/", 1)[-1], f.is_dir, f.file_size) for f in files]
    return JSONResponse({"files": [file_json(f) for f in names]})


async def download(b: Backend, target: Target) -> Response:
    """Answer an artifact file's bytes, streamed from a temporary copy."""
    if not target.path:
        raise InvalidArgumentError("Download a file, not the artifact root")
    handle, local = tempfile.mkstemp(prefix="reporter-artifact-")
    os.close(handle)

    def fetch() -> None:
        _check_owner(b, target)
        try:
            if target.kind == "run":
                b.store.download_artifact_file(target.owner, target.path, local)
            else:
                b.store.download_model_artifact_file(target.owner, target.path, local)
        except (IsADirectoryError, NotADirectoryError):
            raise NotFoundError(
                f"Artifact {target.path!r} is a folder, or below a file: download a file "
                "(list a folder with GET /api/2.0/mlflow-artifacts/artifacts?path=...)"
            ) from None

    try:
        await b.call(fetch)
    except BaseException:
        os.unlink(local)
        raise
    name = target.path.rsplit("/", 1)[-1]
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    inline = guessed in INLINE_TYPES
    media = guessed if inline else "application/octet-stream"
    return FileResponse(
        local,
        media_type=media,
        headers=SAFE_HEADERS,
        filename=None if inline else name,
        content_disposition_type="inline" if inline else "attachment",
        background=BackgroundTask(os.unlink, local),
    )


async def upload(b: Backend, target: Target, request: Request) -> JSONResponse:
    """PUT: stream the body to a temporary file, then copy it into the store."""
    if not target.path:
        raise InvalidArgumentError("Upload to a file path, not the artifact root")
    handle, local = tempfile.mkstemp(prefix="reporter-upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)

        def store() -> None:
            _check_owner(b, target)
            try:
                if target.kind == "run":
                    b.store.log_artifact_file(target.owner, local, target.path)
                else:
                    b.store.log_model_artifact_file(target.owner, local, target.path)
            except (IsADirectoryError, NotADirectoryError, FileExistsError):
                raise InvalidArgumentError(
                    f"Cannot upload to {target.path!r}: a folder is there, or a file is where "
                    "a folder of the path should be"
                ) from None

        await b.call(store)
    finally:
        os.unlink(local)
    who = identity_of(request.scope)
    if b.audit is not None and who is not None:  # the upload's audit record, durable too
        data = {"path": target.path, f"{target.kind}_id": target.owner}
        action = f"mlflow-artifacts/{target.kind}-file"
        b.note_audit(PendingAudit(audit_record(who, action, "PUT", target.experiment_id, data)))
        await b.commit.wait()
    return JSONResponse({})


def routes(backend: Backend) -> list[Route]:
    """The artifact routes: list, download, upload (delete is not offered)."""

    async def listing(request: Request) -> Response:
        return await list_artifacts(backend, request)

    async def one(request: Request) -> Response:
        target = resolve(str(request.path_params["artifact_path"]))
        if request.method == "GET":
            await authorize(backend, request, target.experiment_id, "read")
            return await download(backend, target)
        if request.method == "PUT":
            await authorize(backend, request, target.experiment_id, "update")
            return await upload(backend, target, request)
        raise NotImplementedByServer(
            "Deleting artifacts is not offered: a store's files are kept (see the README)"
        )

    async def get_artifact(request: Request) -> Response:
        """MLflow's UI endpoint: /get-artifact?run_id=...&path=..."""
        run_id = request.query_params.get("run_id") or request.query_params.get("run_uuid")
        if not run_id:
            raise InvalidArgumentError("Missing value for required parameter 'run_id'.")
        exp_id = await backend.call(backend.store.experiment_of, run_id)
        await authorize(backend, request, exp_id, "read")
        path = validation.artifact_path(request.query_params.get("path", ""), "path")
        return await download(backend, Target("run", run_id, exp_id, path))

    return [
        Route(PREFIX, listing, methods=["GET"]),
        Route(PREFIX + "/{artifact_path:path}", one, methods=["GET", "PUT", "DELETE"]),
        Route("/get-artifact", get_artifact, methods=["GET"]),
        Route("/ajax-api/2.0/mlflow/get-artifact", get_artifact, methods=["GET"]),
    ]


def file_json(info: FileInfo) -> dict[str, Any]:
    """Return an MLflow FileInfo message."""
    out: dict[str, Any] = {"path": info.path, "is_dir": info.is_dir}
    if info.file_size is not None:
        out["file_size"] = info.file_size
    return out
