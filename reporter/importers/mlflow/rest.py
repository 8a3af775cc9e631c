"""Read a running MLflow tracking server through its REST API (standard library only).

Endpoints used, relative to the URL given (checked against an MLflow 3.17 server):

- `POST /api/2.0/mlflow/experiments/search` (`view_type: ALL`, paged by `page_token`)
- `POST /api/2.0/mlflow/runs/search` (`run_view_type: ALL`, up to 1000 runs a page)
- `GET /api/2.0/mlflow/metrics/get-history` (`run_id`, `metric_key`, `max_results`, paged)
- `GET /api/2.0/mlflow/artifacts/list` (`run_id`, `path`; folders are listed one by one)
- `GET /get-artifact?path=&run_uuid=` for a file's bytes: the server reads the run's artifact
  store itself, proxied (`mlflow-artifacts:`) or not. For `mlflow-artifacts:` runs,
  `GET /api/2.0/mlflow-artifacts/artifacts/<path>` is tried when that fails.

MLflow 3's logged models (`log_model`) are listed with their run's artifacts, as the file-store
and SQLite readers list them: each model whose `source_run_id` is the run under its name, or
under `models/<model_id>` when the run's own artifacts or an earlier model (oldest first) have
that name; a model without files takes no name. Deleted models are left out by the server.

- `POST /api/2.0/mlflow/logged-models/search` (`experiment_ids`, paged): once per experiment;
  a server without it (404, 405 or 501 that is not an MLflow error, or `ENDPOINT_NOT_FOUND`:
  MLflow 2) has no logged models
- `GET /api/2.0/mlflow/logged-models/<model_id>/artifacts/directories`
  (`artifact_directory_path`, paged; folders are listed one by one)
- `GET /ajax-api/2.0/mlflow/logged-models/<model_id>/artifacts/files?artifact_file_path=` for a
  model file's bytes (MLflow 3.17 serves it under `/ajax-api/` only); for an `mlflow-artifacts:`
  model, `GET /api/2.0/mlflow-artifacts/artifacts/<path>` is tried when that fails.

The model registry (`registered_models`):

- `GET /api/2.0/mlflow/registered-models/search` (`max_results`, paged by `page_token`)
- `GET /api/2.0/mlflow/registered-models/get` (`name`) for each model's aliases (a search
  answer of older servers has none)
- `GET /api/2.0/mlflow/model-versions/search` (`max_results`, paged): every version the server
  has not deleted (a deleted version's number is a gap). Protobuf JSON writes an unset text as
  "", so an empty description, user, run id or run link reads as None.

A server without these endpoints has no registry.

Credentials come as MLflow's clients take them: `MLFLOW_TRACKING_USERNAME` and
`MLFLOW_TRACKING_PASSWORD` (basic auth), else `MLFLOW_TRACKING_TOKEN` (bearer); a `token`
given to `RestSource` wins over both. Protobuf JSON writes a NaN metric as the string "NaN"
and may write 64-bit integers as strings; both are read. Requests that fail with 429 or 5xx, or
whose connection is reset, are retried twice with a growing pause. Redirects are not followed
(credentials must not go to another host); the message names where the server points.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, NoReturn
from urllib.parse import quote, unquote, urlencode, urlparse, urlunparse

from reporter.importers.mlflow.source import (
    ArtifactFile,
    ArtifactPlace,
    MetricPoint,
    SourceError,
    SourceExperiment,
    SourceModelVersion,
    SourceRegisteredModel,
    SourceRun,
    plain_parts,
)

API = "/api/2.0/mlflow"
PROXY_API = "/api/2.0/mlflow-artifacts/artifacts"
AJAX_API = "/ajax-api/2.0/mlflow"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# statuses a web server that is not MLflow gives for an API path or a POST
FOREIGN_STATUS = frozenset({404, 405, 501})
AUTH_HINT = (
    "set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
    "to credentials the server accepts"
)


class _HTTPError(SourceError):
    """A SourceError for an HTTP error answer: its status and MLflow error code (if any)."""

    def __init__(self, message: str, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class _Model(NamedTuple):
    """An MLflow 3 logged model made by a run, as logged-models/search gives it."""

    model_id: str
    name: str
    artifact_uri: str
    created: int  # creation_timestamp_ms (0 when absent)


# per experiment: run id -> its logged models (oldest first), and run id -> why an entry naming
# that run (EVERY_RUN: one naming no readable run) cannot be read
_Models = tuple[dict[str, list[_Model]], dict[str, str]]
EVERY_RUN = "*"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn a redirect into an HTTPError (3xx) instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _int(value: Any, what: str) -> int | None:
    """Return a JSON integer (a number, or a string as protobuf writes int64), None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{what} is {value!r}, not an integer")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what} is {value!r}, not an integer") from None


def _float(value: Any, what: str) -> float:
    """Return a JSON number; protobuf JSON writes NaN and infinities as "NaN", "Infinity"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{what} is {value!r}, not a number")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{what} is {value!r}, not a number") from None


def _str(value: Any, what: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{what} is {value!r}, not a string")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    """Return a JSON list field (MLflow leaves empty lists out)."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key!r} is {type(value).__name__}, not a list")
    return value


def _pairs(data: dict[str, Any], key: str) -> dict[str, str]:
    """Return MLflow's `[{"key": k, "value": v}, ...]` (params, tags) as a dict."""
    out: dict[str, str] = {}
    for item in _list(data, key):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ValueError(f"bad entry in {key}: {item!r}")
        out[item["key"]] = _str(item.get("value"), f"{key} {item['key']!r}")
    return out


def _point(item: Any) -> tuple[str, MetricPoint]:
    """Return (key, point) of a metric as the API writes it."""
    if not isinstance(item, dict) or not isinstance(item.get("key"), str):
        raise ValueError(f"bad metric entry {item!r}")
    key = item["key"]
    timestamp = _int(item.get("timestamp"), f"timestamp of metric {key!r}")
    return key, MetricPoint(
        step=_int(item.get("step"), f"step of metric {key!r}") or 0,
        timestamp=0 if timestamp is None else timestamp,
        value=_float(item.get("value"), f"value of metric {key!r}"),
    )


class RestSource:
    """An MLflow tracking server, read through its REST API; nothing is written to it."""

    # page sizes (the server's limits: 50000 experiments or runs a page)
    experiments_page = 1000
    runs_page = 1000
    history_page = 10000
    models_page = 100  # logged models (MLflow's default page; the server sets no limit)
    registry_page = 1000  # registered models (the server's limit) and versions
    retries = 2
    backoff = 0.5  # seconds before the first retry; doubled each time

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30) -> None:
        parsed = urlparse(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise SourceError(
                f"{url!r} is not a tracking server URL. Valid: http:// or https:// with a host, "
                "e.g. http://127.0.0.1:5000"
            )
        if any(ch.isspace() or not ch.isprintable() for ch in url.strip()):
            raise SourceError(
                f"{url!r} is not a tracking server URL: it holds spaces or control characters"
            )
        if parsed.query or parsed.fragment:
            raise SourceError(
                f"{url!r} is not a tracking server URL: give its base URL, without '?' or '#' "
                "(e.g. http://127.0.0.1:5000)"
            )
        try:
            port = parsed.port
        except ValueError:
            raise SourceError(f"{url!r} is not a tracking server URL: bad port") from None
        netloc = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
        if port is not None:
            netloc += f":{port}"
        path = parsed.path.rstrip("/")
        self.base = urlunparse((parsed.scheme, netloc, path, "", "", ""))
        # what the user gave, minus credentials and the trailing slash (it goes into messages
        # and the store's import tags)
        shown = netloc if parsed.username is None else f"***@{netloc}"
        self.uri = urlunparse((parsed.scheme, shown, path, "", "", ""))
        self.timeout = timeout
        self.headers = {
            "Accept": "application/json",
            "User-Agent": "tracker-report (mlflow import)",
        }
        username = os.environ.get("MLFLOW_TRACKING_USERNAME")
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
        if parsed.username is not None:
            username, password = unquote(parsed.username), unquote(parsed.password or "")
        env_token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif username and password is not None:
            basic = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {basic}"
        elif env_token:
            self.headers["Authorization"] = f"Bearer {env_token}"
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._models: dict[str, _Models | SourceError] = {}  # experiment id -> its models
        self._no_models = False  # the server has no logged-models API (MLflow 2)
        self._layouts: dict[str, list[tuple[str, _Model]]] = {}  # run id -> (prefix, model)

    # HTTP ----------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        endpoint: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        quoted_path: str = "",
    ) -> bytes:
        """Send one request (retrying transient failures) and return the answer's body.

        Raises SourceError with a message for the user on any failure."""
        url = self.base + (quoted_path or endpoint)
        if params:
            url += "?" + urlencode(params, quote_via=quote)
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(self.retries + 1):
            pause = self.backoff * 2**attempt
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    return bytes(response.read())
            except urllib.error.HTTPError as exc:
                try:
                    text = exc.read()
                except (OSError, http.client.HTTPException):
                    text = b""
                finally:
                    exc.close()
                if exc.code in RETRY_STATUS and attempt < self.retries:
                    time.sleep(self._retry_after(exc.headers.get("Retry-After"), pause))
                    continue
                self._http_error(endpoint, exc.code, exc.reason, text, exc.headers)
            except urllib.error.URLError as exc:
                reason = exc.reason
                if _transient(reason) and attempt < self.retries:
                    time.sleep(pause)
                    continue
                self._unreachable(endpoint, reason)
            except http.client.InvalidURL as exc:
                raise SourceError(f"Cannot request {url!r}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                if _transient(exc) and attempt < self.retries:
                    time.sleep(pause)
                    continue
                self._unreachable(endpoint, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _retry_after(header: str | None, pause: float) -> float:
        """Return the pause before a retry: the server's Retry-After (seconds, at most 30)."""
        if header and header.strip().isdigit():
            return min(float(header.strip()), 30.0)
        return pause

    def _unreachable(self, endpoint: str, reason: object) -> NoReturn:
        if isinstance(reason, ssl.SSLError):
            raise SourceError(
                f"Cannot talk TLS with the MLflow tracking server at {self.uri} ({reason}); "
                "check the URL's scheme and the server's certificate"
            )
        if isinstance(reason, TimeoutError):
            raise SourceError(
                f"The MLflow tracking server at {self.uri} did not answer {endpoint} within "
                f"{self.timeout:g} s; check the server is running and not overloaded"
            )
        raise SourceError(
            f"Cannot reach the MLflow tracking server at {self.uri} ({reason}); check the "
            "server is running and the URL is right (e.g. http://127.0.0.1:5000)"
        )

    def _http_error(
        self, endpoint: str, status: int, reason: str, text: bytes, headers: Any
    ) -> NoReturn:
        """Raise the SourceError for an HTTP error answer."""
        mlflow_error = _mlflow_error(text)
        code = None if mlflow_error is None else mlflow_error[0]
        where = f"{self.uri}{endpoint}"
        if status in (401, 403):
            detail = f": {mlflow_error[1]}" if mlflow_error else ""
            message = (
                f"The MLflow tracking server at {self.uri} refused access (HTTP {status}"
                f"{detail}); {AUTH_HINT}"
            )
        elif 300 <= status < 400:
            location = headers.get("Location") if headers is not None else None
            message = (
                f"{where} redirects (HTTP {status}) to {location or 'another address'}; give "
                "the tracking server's own base URL (redirects are not followed)"
            )
        elif mlflow_error is not None:
            message = f"The MLflow tracking server at {self.uri} answered {code}: {mlflow_error[1]}"
        elif status in FOREIGN_STATUS:
            message = (
                f"{where} answered HTTP {status} {reason}: not an MLflow tracking server? Give "
                "the tracking server's base URL, e.g. http://127.0.0.1:5000"
            )
        else:
            message = f"{where} failed: HTTP {status} {reason}"
        raise _HTTPError(message, status, code)

    def _json(
        self,
        method: str,
        endpoint: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call an API endpoint and return its JSON object."""
        data = self._request(method, API + endpoint, params, body)
        try:
            answer = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not isinstance(answer, dict):
            raise SourceError(
                f"{self.uri}{API}{endpoint} did not answer with a JSON object: not an MLflow "
                "tracking server? Give the tracking server's base URL, e.g. http://127.0.0.1:5000"
            )
        return answer

    def _pages(
        self, method: str, endpoint: str, request: dict[str, Any], items: str
    ) -> Iterator[list[Any]]:
        """Yield the `items` list of each page of a paged endpoint."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            request = dict(request)
            if token:
                request["page_token"] = token
            if method == "GET":
                params = {k: str(v) for k, v in request.items()}
                answer = self._json(method, endpoint, params=params)
            else:
                answer = self._json(method, endpoint, body=request)
            try:
                yield _list(answer, items)
            except ValueError as exc:
                raise SourceError(f"Cannot read {self.uri}{API}{endpoint}: {exc}") from None
            token = answer.get("next_page_token") or None
            if token is None:
                return
            if not isinstance(token, str) or token in seen:
                raise SourceError(
                    f"{self.uri}{API}{endpoint} returned the page token {token!r} again; "
                    "stopped paging"
                )
            seen.add(token)

    # Source --------------------------------------------------------------------------------
    def experiments(self) -> list[SourceExperiment | SourceError]:
        """Return every experiment, deleted ones included."""
        out: dict[str, SourceExperiment] = {}
        request = {"view_type": "ALL", "max_results": self.experiments_page}
        for page in self._pages("POST", "/experiments/search", request, "experiments"):
            for item in page:
                exp = self._experiment(item)
                out.setdefault(exp.experiment_id, exp)
        return list(out.values())

    def _experiment(self, item: Any) -> SourceExperiment:
        given = item.get("experiment_id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise ValueError(f"not an object: {item!r}")
            exp_id = _str(item.get("experiment_id"), "experiment_id")
            if not exp_id:
                raise ValueError("no experiment_id")
            return SourceExperiment(
                experiment_id=exp_id,
                name=_str(item.get("name"), "name"),
                lifecycle_stage=_str(item.get("lifecycle_stage"), "lifecycle_stage", "active"),
                tags=_pairs(item, "tags"),
                creation_time=_int(item.get("creation_time"), "creation_time"),
                last_update_time=_int(item.get("last_update_time"), "last_update_time"),
            )
        except ValueError as exc:
            raise SourceError(f"Cannot read experiment {given!r} from {self.uri}: {exc}") from None

    def runs(self, experiment_id: str) -> Iterator[SourceRun | SourceError]:
        """Yield every run of an experiment, deleted ones included, oldest first."""
        request = {
            "experiment_ids": [experiment_id],
            "run_view_type": "ALL",
            "max_results": self.runs_page,
            "order_by": ["attributes.start_time ASC"],
        }
        seen: set[str] = set()
        number = 0
        for page in self._pages("POST", "/runs/search", request, "runs"):
            for item in page:
                number += 1
                info = item.get("info") if isinstance(item, dict) else None
                run_id = None
                if isinstance(info, dict):
                    run_id = info.get("run_id") or info.get("run_uuid")
                try:
                    run = self._run(item, experiment_id)
                except (ValueError, TypeError) as exc:
                    which = f"run {run_id}" if isinstance(run_id, str) else f"run #{number}"
                    yield SourceError(
                        f"Cannot read {which} of experiment {experiment_id} from {self.uri}: {exc}"
                    )
                    continue
                if run.run_id not in seen:  # a run created while paging may shift a page
                    seen.add(run.run_id)
                    yield run

    def _run(self, item: Any, experiment_id: str) -> SourceRun:
        """Return a run from its runs/search JSON (ValueError if malformed)."""
        if not isinstance(item, dict) or not isinstance(item.get("info"), dict):
            raise ValueError(f"no run info in {str(item)[:200]}")
        info = item["info"]
        data = item.get("data") or {}
        if not isinstance(data, dict):
            raise ValueError(f"run data is {type(data).__name__}, not an object")
        run_id = _str(info.get("run_id") or info.get("run_uuid"), "run_id")
        if not run_id:
            raise ValueError("no run_id")
        tags = _pairs(data, "tags")
        latest = dict(_point(metric) for metric in _list(data, "metrics"))
        return SourceRun(
            run_id=run_id,
            experiment_id=_str(info.get("experiment_id"), "experiment_id", experiment_id)
            or experiment_id,
            run_name=_str(info.get("run_name"), "run_name") or tags.get("mlflow.runName", ""),
            status=_str(info.get("status"), "status", "FINISHED") or "FINISHED",
            start_time=_int(info.get("start_time"), "start_time"),
            end_time=_int(info.get("end_time"), "end_time"),
            user_id=_str(info.get("user_id"), "user_id"),
            lifecycle_stage=_str(info.get("lifecycle_stage"), "lifecycle_stage", "active")
            or "active",
            artifact_uri=_str(info.get("artifact_uri"), "artifact_uri"),
            params=_pairs(data, "params"),
            tags=tags,
            latest=latest,
        )

    def metric_history(self, run: SourceRun, key: str) -> list[MetricPoint]:
        """Return every point of a run's metric, in the order the server gives them (a SQL
        store orders them by timestamp, step and value; a file store as logged)."""
        request = {"run_id": run.run_id, "metric_key": key, "max_results": self.history_page}
        out = []
        for page in self._pages("GET", "/metrics/get-history", request, "metrics"):
            for item in page:
                try:
                    got, point = _point(item)
                except ValueError as exc:
                    raise SourceError(
                        f"Cannot read metric {key!r} of run {run.run_id} from {self.uri}: {exc}"
                    ) from None
                if got == key:
                    out.append(point)
        return out

    def _walk(
        self, endpoint: str, request: dict[str, str], key: str, what: str
    ) -> tuple[list[ArtifactFile], list[str]]:
        """Return every file and folder below an artifact root, listed folder by folder
        (`key` names the request field for a subfolder)."""
        files: list[ArtifactFile] = []
        dirs: list[str] = []
        folders = [""]
        visited: set[str] = set()
        while folders:
            folder = folders.pop(0)
            visited.add(folder)
            asked = dict(request)
            if folder:
                asked[key] = folder
            for page in self._pages("GET", endpoint, asked, "files"):
                for item in page:
                    try:
                        if not isinstance(item, dict):
                            raise ValueError(f"bad entry {item!r}")
                        path = _str(item.get("path"), "path")
                        size = _int(item.get("file_size"), "file_size")
                        inside = path.startswith(folder + "/") if folder else bool(path)
                        if not inside or path in visited:
                            raise ValueError(f"{path!r} is not inside the folder listed")
                    except ValueError as exc:
                        where = f"folder {folder!r}" if folder else "the root folder"
                        raise SourceError(
                            f"Cannot list the artifacts of {what} ({where}) from {self.uri}: {exc}"
                        ) from None
                    if item.get("is_dir"):
                        folders.append(path)
                        dirs.append(path)
                    else:
                        files.append(ArtifactFile(path, size))
        return files, dirs

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every file under the run's artifact root, folder by folder, then the files
        of the logged models the run made, each under its model's prefix."""
        what = f"run {run.run_id}"
        own, own_dirs = self._walk("/artifacts/list", {"run_id": run.run_id}, "path", what)
        out = list(own)
        layout: list[tuple[str, _Model]] = []
        used: list[str] = []
        for model in self._run_models(run):
            files, _ = self._walk(
                f"/logged-models/{quote(model.model_id, safe='')}/artifacts/directories",
                {},
                "artifact_directory_path",
                f"logged model {model.model_id} of run {run.run_id}",
            )
            if not files:
                continue
            for prefix in (model.name, f"models/{model.model_id}"):
                if _free(prefix, [f.path for f in own], own_dirs, used):
                    used.append(prefix)
                    layout.append((prefix, model))
                    out += [ArtifactFile(f"{prefix}/{f.path}", f.size) for f in files]
                    break
        self._layouts[run.run_id] = layout
        return out

    def _run_models(self, run: SourceRun) -> list[_Model]:
        """Return the logged models the run made, oldest first (one search per experiment)."""
        found = self._models.get(run.experiment_id)
        if found is None:
            try:
                found = self._search_models(run.experiment_id)
            except SourceError as exc:
                found = exc
            self._models[run.experiment_id] = found
        if isinstance(found, SourceError):
            raise SourceError(f"Cannot list the logged models of run {run.run_id}: {found}")
        by_run, broken = found
        why = broken.get(run.run_id) or broken.get(EVERY_RUN)
        if why is not None:
            raise SourceError(f"Cannot list the logged models of run {run.run_id}: {why}")
        return by_run.get(run.run_id, [])

    def _search_models(self, experiment_id: str) -> _Models:
        """Search an experiment's logged models (none when the server has no such API)."""
        by_id: dict[str, tuple[str, _Model]] = {}
        broken: dict[str, str] = {}
        if self._no_models:
            return {}, broken
        request = {"experiment_ids": [experiment_id], "max_results": self.models_page}
        try:
            for page in self._pages("POST", "/logged-models/search", request, "models"):
                for item in page:
                    try:
                        run_id, model = _logged_model(item)
                    except ValueError as exc:
                        info = item.get("info") if isinstance(item, dict) else None
                        owner = info.get("source_run_id") if isinstance(info, dict) else None
                        if owner == "":
                            continue  # not made by a run: no run lists it
                        key = owner if isinstance(owner, str) else EVERY_RUN
                        broken[key] = (
                            f"bad entry in {self.uri}{API}/logged-models/search (experiment "
                            f"{experiment_id}): {exc}"
                        )
                        continue
                    by_id.setdefault(model.model_id, (run_id, model))
        except _HTTPError as exc:
            foreign = exc.code is None and exc.status in FOREIGN_STATUS
            if foreign or exc.code == "ENDPOINT_NOT_FOUND":
                self._no_models = True  # an MLflow 2 server: no logged models anywhere
                return {}, {}
            raise
        by_run: dict[str, list[_Model]] = {}
        for run_id, model in sorted(by_id.values(), key=lambda m: (m[1].created, m[1].model_id)):
            if run_id:
                by_run.setdefault(run_id, []).append(model)
        return by_run, broken

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes, via `/get-artifact` (the proxied-artifacts
        endpoint as a fallback for `mlflow-artifacts:` runs); a logged model's file (under its
        listed prefix) via the logged model's files endpoint, with the same fallback."""
        layout = self._layouts.get(run.run_id)
        if layout is None:
            layout = []
            if self._run_models(run):  # the prefixes depend on the run's own files
                self.artifacts(run)
                layout = self._layouts[run.run_id]
        for prefix, model in sorted(layout, key=lambda item: -len(item[0])):
            if path.startswith(prefix + "/"):
                relative = path[len(prefix) + 1 :]
                endpoint = (
                    f"{AJAX_API}/logged-models/{quote(model.model_id, safe='')}/artifacts/files"
                )
                return self._download(
                    endpoint,
                    {"artifact_file_path": relative},
                    model.artifact_uri,
                    relative,
                    f"artifact {path!r} of run {run.run_id} (logged model {model.model_id})",
                )
        params = {"path": path, "run_uuid": run.run_id}
        what = f"artifact {path!r} of run {run.run_id}"
        return self._download("/get-artifact", params, run.artifact_uri, path, what)

    def _download(
        self, endpoint: str, params: dict[str, str], artifact_uri: str, relative: str, what: str
    ) -> bytes:
        """GET a file's bytes; for an `mlflow-artifacts:` root, the proxied-artifacts endpoint
        is tried when that fails. SourceError names the first failure."""
        try:
            return self._request("GET", endpoint, params)
        except SourceError as exc:
            first = exc
        parsed = urlparse(artifact_uri)
        if parsed.scheme != "mlflow-artifacts":
            raise SourceError(f"Cannot read {what}: {first}")
        full = unquote(parsed.path).strip("/") + "/" + relative
        try:
            return self._request("GET", PROXY_API, quoted_path=f"{PROXY_API}/{quote(full)}")
        except SourceError:
            raise SourceError(f"Cannot read {what}: {first}") from None

    def artifact_places(self, run: SourceRun) -> list[ArtifactPlace]:
        """Return where the run's listed artifacts come from: its root, its logged models."""
        if run.run_id not in self._layouts:
            self.artifacts(run)
        places = [ArtifactPlace("", (run.artifact_uri,))]
        for prefix, model in self._layouts[run.run_id]:
            places.append(ArtifactPlace(prefix, (model.artifact_uri,), model.model_id))
        return places

    # the model registry ----------------------------------------------------------------------
    def registered_models(self) -> list[SourceRegisteredModel | SourceError]:
        """Return every registered model with its live versions (none when the server has no
        registry); an entry that cannot be read is a SourceError naming it."""
        found: dict[str, Any] = {}
        try:
            request = {"max_results": self.registry_page}
            pages = self._pages("GET", "/registered-models/search", request, "registered_models")
            for page in pages:
                for item in page:
                    name = item.get("name") if isinstance(item, dict) else None
                    found.setdefault(name if isinstance(name, str) else f"#{len(found)}", item)
        except _HTTPError as exc:
            if (exc.code is None and exc.status in FOREIGN_STATUS) or (
                exc.code == "ENDPOINT_NOT_FOUND"
            ):
                return []  # a server without the registry
            raise
        versions: dict[str, list[Any]] = {}
        request = {"max_results": self.registry_page}
        for page in self._pages("GET", "/model-versions/search", request, "model_versions"):
            for item in page:
                name = item.get("name") if isinstance(item, dict) else None
                versions.setdefault(name if isinstance(name, str) else "", []).append(item)
        out: list[SourceRegisteredModel | SourceError] = []
        for name, item in found.items():
            what = f"registered model {name!r} of {self.uri}"
            try:
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    raise ValueError(f"not a registered model: {str(item)[:200]}")
                full = self._json("GET", "/registered-models/get", params={"name": name})
                model = full.get("registered_model")
                if not isinstance(model, dict):
                    raise ValueError("registered-models/get answered no registered_model")
                out.append(_registered_model(name, model, versions.get(name, []), what))
            except ValueError as exc:
                out.append(SourceError(f"Cannot read {what}: {exc}"))
            except _HTTPError as exc:  # an MLflow error about this model (deleted meanwhile)
                if exc.code is None:
                    raise  # the server itself failed: the import stops, saying why
                out.append(SourceError(f"Cannot read {what}: {exc}"))
        return out

    def data_folders(self) -> list[Path]:
        """Return the local folders holding the source's data (an import must not write there)."""
        return []

    def close(self) -> None:
        """Nothing to release: each request opens and closes its own connection."""


def _logged_model(item: Any) -> tuple[str, _Model]:
    """Return (source run id, model) of a logged-models/search entry (ValueError if bad)."""
    info = item.get("info") if isinstance(item, dict) else None
    if not isinstance(info, dict):
        raise ValueError(f"no model info in {str(item)[:200]}")
    model_id = _str(info.get("model_id"), "model_id")
    if not model_id:
        raise ValueError("no model_id")
    created = _int(info.get("creation_timestamp_ms"), f"creation time of model {model_id}")
    return _str(info.get("source_run_id"), f"source_run_id of model {model_id}"), _Model(
        model_id=model_id,
        name=_str(info.get("name"), f"name of model {model_id}") or model_id,
        artifact_uri=_str(info.get("artifact_uri"), f"artifact_uri of model {model_id}"),
        created=created or 0,
    )


def _text(value: Any, what: str) -> str | None:
    """Return an optional text field; protobuf JSON writes an unset one as "" (None here)."""
    return _str(value, what) or None


def _registered_model(
    name: str, item: dict[str, Any], version_items: list[Any], what: str
) -> SourceRegisteredModel:
    """Return a registered model from its registered-models/get JSON and its versions' search
    entries (ValueError if the model's own fields are malformed; a malformed version is an
    error of the model)."""
    aliases: dict[str, int] = {}
    errors: list[SourceError] = []
    for entry in _list(item, "aliases"):
        try:
            if not isinstance(entry, dict) or not isinstance(entry.get("alias"), str):
                raise ValueError(f"bad alias entry {entry!r}")
            number = _int(entry.get("version"), f"version of alias {entry['alias']!r}")
            if number is None:
                raise ValueError(f"alias {entry['alias']!r} names no version")
            aliases[entry["alias"]] = number
        except ValueError as exc:
            errors.append(SourceError(f"Cannot read an alias of {what}: {exc}"))
    versions = []
    for entry in version_items:
        number = entry.get("version") if isinstance(entry, dict) else None
        try:
            versions.append(_model_version(entry, name))
        except ValueError as exc:
            errors.append(SourceError(f"Cannot read version {number!r} of {what}: {exc}"))
    return SourceRegisteredModel(
        name=name,
        creation_timestamp=_int(item.get("creation_timestamp"), "creation_timestamp"),
        last_updated_timestamp=_int(item.get("last_updated_timestamp"), "last_updated_timestamp"),
        description=_text(item.get("description"), "description"),
        tags=_pairs(item, "tags"),
        aliases=aliases,
        versions=tuple(sorted(versions, key=lambda v: v.version)),
        errors=tuple(errors),
    )


def _model_version(item: Any, name: str) -> SourceModelVersion:
    """Return a version from its model-versions/search JSON (ValueError if malformed)."""
    if not isinstance(item, dict):
        raise ValueError(f"not a model version: {item!r}")
    number = _int(item.get("version"), "version")
    if number is None:
        raise ValueError("no version number")
    return SourceModelVersion(
        name=name,
        version=number,
        creation_timestamp=_int(item.get("creation_timestamp"), "creation_timestamp"),
        last_updated_timestamp=_int(item.get("last_updated_timestamp"), "last_updated_timestamp"),
        current_stage=_str(item.get("current_stage"), "current_stage") or "None",
        description=_text(item.get("description"), "description"),
        user_id=_text(item.get("user_id"), "user_id"),
        source=_text(item.get("source"), "source"),
        storage_location=_text(item.get("storage_location"), "storage_location"),
        run_id=_text(item.get("run_id"), "run_id"),
        run_link=_text(item.get("run_link"), "run_link"),
        status=_str(item.get("status"), "status") or "READY",
        status_message=_text(item.get("status_message"), "status_message"),
        tags=_pairs(item, "tags"),
        model_id=_text(item.get("model_id"), "model_id"),
    )


def _free(prefix: str, files: list[str], dirs: list[str], used: list[str]) -> bool:
    """Return True if a logged model may be listed under `prefix`: a plain path that is not
    one of the run's own files or folders, nor on the way to or below one of its files, nor
    overlapping the prefix of an earlier model (the file-store and SQLite readers' rule)."""

    def overlaps(a: str, b: str) -> bool:
        return a == b or a.startswith(b + "/") or b.startswith(a + "/")

    return (
        plain_parts(prefix) is not None
        and not any(overlaps(prefix, other) for other in [*used, *files])
        and not any(d == prefix or d.startswith(prefix + "/") for d in dirs)
    )


def _transient(reason: object) -> bool:
    """Return True for a connection failure worth retrying (reset, dropped, cut short)."""
    return isinstance(
        reason,
        (
            ConnectionResetError,
            ConnectionAbortedError,
            BrokenPipeError,
            http.client.RemoteDisconnected,
            http.client.IncompleteRead,
        ),
    )


def _mlflow_error(text: bytes) -> tuple[str, str] | None:
    """Return (error_code, message) of an MLflow JSON error body, None if it is not one."""
    try:
        answer = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(answer, dict) and isinstance(answer.get("error_code"), str):
        return answer["error_code"], str(answer.get("message", ""))
    return None
