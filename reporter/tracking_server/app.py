"""The server's ASGI application: MLflow's REST and artifact APIs, the site at `/`, errors in
MLflow's JSON shape, request size limits and an orderly shutdown.

Built on Starlette (the ASGI toolkit FastAPI, and so MLflow 3's own server, stands on) and
served by uvicorn. FastAPI's request models would add nothing here: MLflow's messages are
read by `reporter.core.wire`, the same code our HTTP client uses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reporter.core.errors import ReporterError
from reporter.tracking.client import Client
from reporter.tracking_server import api, artifacts, users_api
from reporter.tracking_server.auth import Access, Authenticator, AuthOptions, Unauthenticated
from reporter.tracking_server.backend import Backend
from reporter.tracking_server.commit import GroupCommit
from reporter.tracking_server.guard import IDENTITY_KEY, AuditBuffer, Guard

log = logging.getLogger("reporter.tracking_server")

MB = 1024 * 1024
OPTIONS_ENV = "TRACKER_SERVER_OPTIONS"  # how `--workers` processes get their options


@dataclass
class ServerOptions:
    """What `tracker-report server` was asked for."""

    store: str
    max_body_bytes: int = 16 * MB  # a JSON request
    max_artifact_bytes: int = 2048 * MB  # one artifact upload
    site_dir: str | None = None  # serve this folder at / (None: no site)
    auth: dict[str, Any] | None = None  # AuthOptions' fields (None: no --auth)
    site_flags: dict[str, Any] | None = None  # how the site was built (its settings' flags)
    config_file: str | None = None  # ... and settings file, for the readers' views (--auth)
    rebuild_seconds: float = 2.0
    say: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr))


def error_response(exc: ReporterError, store_uri: str | None = None) -> JSONResponse:
    """Return MLflow's error answer: {"error_code", "message"} with its HTTP status. Messages
    are written for a local user; a server's clients are not told where its store is or
    which other experiments it holds (the part from "Known experiments" on)."""
    body = json.loads(exc.serialize_as_json())
    message = str(body.get("message", ""))
    if store_uri:
        message = message.replace(f" in {store_uri}", "").replace(store_uri, "the store")
    for cut in (" Known experiments:", "; available:"):
        message = message.split(cut, 1)[0]
    body["message"] = message
    return JSONResponse(body, status_code=exc.get_http_status_code())


class BodyTooLarge(ReporterError):
    """A request body over the server's limit."""

    error_code = "REQUEST_LIMIT_EXCEEDED"

    def get_http_status_code(self) -> int:
        return 413


class LimitBody:
    """ASGI middleware: refuse bodies over a limit (by Content-Length at once, else while
    reading) with 413 and MLflow's error JSON; artifact uploads have their own limit."""

    def __init__(self, app: ASGIApp, options: ServerOptions) -> None:
        self.app = app
        self.options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "PUT" and scope["path"].startswith(artifacts.PREFIX)
        limit = self.options.max_artifact_bytes if upload else self.options.max_body_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = error_response(self._error(int(declared), limit))
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise self._error(seen, limit)
            return message

        await self.app(scope, limited, send)

    @staticmethod
    def _error(size: int, limit: int) -> BodyTooLarge:
        return BodyTooLarge(
            f"Request body of {size:,} bytes (or more) is over this server's limit of "
            f"{limit:,} bytes (tracker-report server --max-body-mb / --max-artifact-mb)"
        )


class SiteFiles(StaticFiles):
    """The site's files, each answered from one open of the file.

    A rebuild replaces files atomically while the server answers; Starlette's FileResponse
    takes a file's size from one look (stat) and its bytes from a later open, so a page
    replaced between the two was answered with a Content-Length its bytes did not match (a
    client saw the connection cut). Reading what one open holds answers either the old page or
    the new one, whole. Site files are pages, scripts and small data; larger ones stream from
    the same open file."""

    WHOLE = 8 * 1024 * 1024  # bytes read at once; larger files stream from the open handle

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        import mimetypes

        try:
            handle = open(full_path, "rb")  # noqa: SIM115 - closed below, or by the stream
        except OSError:
            return Response("Not Found", status_code=404, media_type="text/plain")
        size = os.fstat(handle.fileno()).st_size
        media = mimetypes.guess_type(str(full_path))[0] or "application/octet-stream"
        if size <= self.WHOLE:
            with handle:
                data = handle.read()
            return Response(data, status_code=status_code, media_type=media)

        def chunks() -> Iterator[bytes]:
            with handle:
                while block := handle.read(1024 * 1024):
                    yield block

        headers = {"content-length": str(size)}
        return StreamingResponse(chunks(), status_code, headers=headers, media_type=media)


class NoSniff:
    """ASGI middleware: answers carry `X-Content-Type-Options: nosniff`, so a browser takes
    each file of the site as the type it is served as, never guessing script from content."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        await self.app(scope, receive, with_header)


class Authenticate:
    """ASGI middleware: establish who is calling before anything else runs (401 otherwise);
    /health and /version stay open, as in MLflow."""

    OPEN = frozenset({"/health", "/version"})

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.OPEN:
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        repeated = False
        for name, value in scope.get("headers") or []:
            key = name.lower()
            repeated = repeated or key in headers
            headers[key] = value
        peer = scope["client"][0] if scope.get("client") else ""
        try:
            if repeated and self.authenticator.ambiguous(scope.get("headers") or []):
                raise Unauthenticated("The request repeats an identity header: refused")
            who = await self.authenticator.identify(headers, peer)
        except Unauthenticated as exc:
            log.warning("refused %s %r from %s: %s", scope["method"], scope["path"], peer, exc)
            response = error_response(exc)
            if self.authenticator.options.mode == "basic":
                response.headers["WWW-Authenticate"] = 'Basic realm="mlflow"'
            await response(scope, receive, send)
            return
        scope[IDENTITY_KEY] = who
        await self.app(scope, receive, send)


def create_app(options: ServerOptions) -> Starlette:
    """Return the server application for a store."""
    client = Client(tracking_uri=options.store)
    store = client.store
    store.serve_clients()
    store.get_experiment("0")  # the Default experiment exists from the start, as in MLflow's
    guard, audit = None, None
    if options.auth is not None and options.auth.get("mode", "none") != "none":
        from reporter.core.permissions import get_permission
        from reporter.store.access import open_access_log

        auth = AuthOptions(**options.auth)
        access = Access(
            open_access_log(store, auth.users_file),
            get_permission(auth.default_permission),
            auth.refresh_seconds,
        )
        guard, audit = Guard(Authenticator(auth, access), store), AuditBuffer()

    def flush() -> None:
        """A group commit: the rows, then the audit records of the requests it answers."""
        store.flush()
        records = audit.take() if audit is not None else []
        if records:
            try:
                store.append_audit(records)
            except BaseException:
                assert audit is not None
                audit.put_back(records)
                raise

    commit = GroupCommit(flush)
    backend = Backend(client, store, commit, guard, audit)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from anyio import to_thread

        to_thread.current_default_thread_limiter().total_tokens = 64
        commit.start()
        try:
            yield
        finally:  # uvicorn drained the requests in flight: write what they queued
            commit.stop()
            store.close()
            options.say("Stopped: everything accepted is written.")

    async def health(request: Request) -> Response:
        return Response("OK", media_type="text/plain")

    async def version(request: Request) -> Response:
        from reporter.core.version import __version__

        return Response(__version__, media_type="text/plain")

    async def server_info(request: Request) -> Response:
        """MLflow 3's capability probe: what this server does not do, said up front (the
        artifact client asks before transfers; a 404 made it ask again every time)."""
        return JSONResponse(
            {
                "store_type": None,
                "workspaces_enabled": False,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": False,
                "multipart_downloads_enabled": False,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                "features_enabled": {"gateway": False},
            }
        )

    async def unknown_api(request: Request) -> Response:
        return JSONResponse(
            {
                "error_code": "ENDPOINT_NOT_FOUND",
                "message": f"No API endpoint {request.method} {request.url.path} on this "
                "server (tracker-report implements MLflow's tracking and artifact APIs)",
            },
            status_code=404,
        )

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/api/3.0/mlflow/server-info", server_info, methods=["GET"]),
        Route("/ajax-api/3.0/mlflow/server-info", server_info, methods=["GET"]),
        *api.routes(backend),
        *artifacts.routes(backend),
        *(users_api.routes(backend) if guard is not None else []),
        Route("/api/{rest:path}", unknown_api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route(
            "/ajax-api/{rest:path}", unknown_api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        ),
    ]
    if options.site_dir is not None:
        site: ASGIApp = NoSniff(SiteFiles(directory=options.site_dir, html=True))
        if guard is not None:  # each caller sees only the experiments they may read
            from reporter.tracking_server.views import SiteViews
            from reporter.view.config import load_config

            config = load_config(options.site_flags or {}, options.config_file)
            site = SiteViews(
                config,
                store,
                guard,
                site,
                lambda folder: NoSniff(SiteFiles(directory=folder, html=True)),
                options.rebuild_seconds,
            )
        routes.append(Mount("/", app=site))

    async def reporter_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ReporterError)
        return error_response(exc, store.uri)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith(("/api/", "/ajax-api/")):
            code = "ENDPOINT_NOT_FOUND" if exc.status_code in (404, 405) else "BAD_REQUEST"
            return JSONResponse(
                {"error_code": code, "message": str(exc.detail)}, status_code=exc.status_code
            )
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        message = f"{type(exc).__name__}: {exc}".replace(store.uri, "the store")
        if os.sep in message:  # a path of this machine: for the server's log, not the client
            message = f"{type(exc).__name__} (the server's log has the details)"
        return JSONResponse(
            {"error_code": "INTERNAL_ERROR", "message": f"{message} (see the server's log)"},
            status_code=500,
        )

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ReporterError: reporter_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
    )
    app.state.backend = backend
    return app


def asgi(options: ServerOptions) -> ASGIApp:
    """Return the application wrapped in authentication (with --auth) and the body limit."""
    app = create_app(options)
    backend: Backend = app.state.backend
    inner: ASGIApp = app
    if backend.guard is not None:
        inner = Authenticate(app, backend.guard.authenticator)
    return LimitBody(inner, options)


def from_environment() -> ASGIApp:
    """Return the application of a `--workers` process (its options in $TRACKER_SERVER_OPTIONS)."""
    return asgi(ServerOptions(**json.loads(os.environ[OPTIONS_ENV])))
