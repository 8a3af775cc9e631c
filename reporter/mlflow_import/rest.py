"""Read a running MLflow tracking server through its REST API (standard library only).

Endpoints used, relative to the URL given (checked against an MLflow 3.17 server):

- `POST /api/2.0/mlflow/experiments/search` (`view_type: ALL`, paged by `page_token`)
- `POST /api/2.0/mlflow/runs/search` (`run_view_type: ALL`, up to 1000 runs a page)
- `GET /api/2.0/mlflow/metrics/get-history` (`run_id`, `metric_key`, `max_results`, paged)
- `GET /api/2.0/mlflow/artifacts/list` (`run_id`, `path`; folders are listed one by one)
- `GET /get-artifact?path=&run_uuid=` for a file's bytes: the server reads the run's artifact
  store itself, proxied (`mlflow-artifacts:`) or not. For `mlflow-artifacts:` runs,
  `GET /api/2.0/mlflow-artifacts/artifacts/<path>` is tried when that fails.

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
from typing import Any, NoReturn
from urllib.parse import quote, unquote, urlencode, urlparse, urlunparse

from reporter.mlflow_import.source import (
    ArtifactFile,
    MetricPoint,
    SourceError,
    SourceExperiment,
    SourceRun,
)

API = "/api/2.0/mlflow"
PROXY_API = "/api/2.0/mlflow-artifacts/artifacts"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# statuses a web server that is not MLflow gives for an API path or a POST
FOREIGN_STATUS = frozenset({404, 405, 501})
AUTH_HINT = (
    "set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
    "to credentials the server accepts"
)


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
        where = f"{self.uri}{endpoint}"
        if status in (401, 403):
            detail = f": {mlflow_error[1]}" if mlflow_error else ""
            raise SourceError(
                f"The MLflow tracking server at {self.uri} refused access (HTTP {status}"
                f"{detail}); {AUTH_HINT}"
            )
        if 300 <= status < 400:
            location = headers.get("Location") if headers is not None else None
            raise SourceError(
                f"{where} redirects (HTTP {status}) to {location or 'another address'}; give "
                "the tracking server's own base URL (redirects are not followed)"
            )
        if mlflow_error is not None:
            code, message = mlflow_error
            raise SourceError(
                f"The MLflow tracking server at {self.uri} answered {code}: {message}"
            )
        if status in FOREIGN_STATUS:
            raise SourceError(
                f"{where} answered HTTP {status} {reason}: not an MLflow tracking server? Give "
                "the tracking server's base URL, e.g. http://127.0.0.1:5000"
            )
        raise SourceError(f"{where} failed: HTTP {status} {reason}")

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

    def artifacts(self, run: SourceRun) -> list[ArtifactFile]:
        """Return every file under the run's artifact root, folder by folder."""
        out: list[ArtifactFile] = []
        folders = [""]
        visited: set[str] = set()
        while folders:
            folder = folders.pop(0)
            visited.add(folder)
            request = {"run_id": run.run_id}
            if folder:
                request["path"] = folder
            for page in self._pages("GET", "/artifacts/list", request, "files"):
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
                            f"Cannot list the artifacts of run {run.run_id} ({where}) from "
                            f"{self.uri}: {exc}"
                        ) from None
                    if item.get("is_dir"):
                        folders.append(path)
                    else:
                        out.append(ArtifactFile(path, size))
        return out

    def read_artifact(self, run: SourceRun, path: str) -> bytes:
        """Return one artifact file's bytes, via `/get-artifact` (the proxied-artifacts
        endpoint as a fallback for `mlflow-artifacts:` runs)."""
        params = {"path": path, "run_uuid": run.run_id}
        try:
            return self._request("GET", "/get-artifact", params)
        except SourceError as exc:
            first = exc
        parsed = urlparse(run.artifact_uri)
        if parsed.scheme != "mlflow-artifacts":
            raise SourceError(f"Cannot read artifact {path!r} of run {run.run_id}: {first}")
        relative = unquote(parsed.path).strip("/") + "/" + path
        try:
            return self._request("GET", PROXY_API, quoted_path=f"{PROXY_API}/{quote(relative)}")
        except SourceError:
            raise SourceError(
                f"Cannot read artifact {path!r} of run {run.run_id}: {first}"
            ) from None

    def close(self) -> None:
        """Nothing to release: each request opens and closes its own connection."""


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
