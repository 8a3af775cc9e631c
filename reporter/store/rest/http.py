"""Requests to a tracking server: one connection pool, retries, credentials, MLflow's errors.

Guarantees:
- A request that fails with 429, a 5xx other than 501, or a failed connection is retried with
  exponential backoff and jitter (a `Retry-After` answer is honoured) until
  TRACKER_HTTP_RETRY_TIMEOUT seconds have passed since it was first sent; then it fails with
  `ServerUnreachableError` (no answer) or the server's error.
- MLflow's error JSON (`{"error_code": ..., "message": ...}`) becomes the matching exception of
  `reporter.core.errors` (NotFoundError for RESOURCE_DOES_NOT_EXIST, ...); every message names
  the server and the endpoint.
- Credentials and TLS follow MLflow's variables: MLFLOW_TRACKING_USERNAME/PASSWORD (basic),
  else MLFLOW_TRACKING_TOKEN (bearer); MLFLOW_TRACKING_INSECURE_TLS and
  MLFLOW_TRACKING_SERVER_CERT_PATH.
- Redirects are not followed (credentials must not go to another host).
- After a fork the child opens its own connections.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from reporter.core import env
from reporter.core.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    ReporterError,
    RunStateError,
    UnsupportedURIError,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
FIRST_BACKOFF = 0.1  # seconds before the first retry; doubled each time, up to MAX_BACKOFF
MAX_BACKOFF = 10.0
AUTH_HINT = (
    "set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, to "
    "credentials the server accepts"
)

# MLflow's error codes -> our exception classes (anything else: ReporterError with the code)
_ERRORS: dict[str, type[ReporterError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFoundError,
    "NOT_FOUND": NotFoundError,
    "RESOURCE_ALREADY_EXISTS": AlreadyExistsError,
    "ALREADY_EXISTS": AlreadyExistsError,
    "INVALID_PARAMETER_VALUE": InvalidArgumentError,
    "BAD_REQUEST": InvalidArgumentError,
    "MALFORMED_REQUEST": InvalidArgumentError,
    "INVALID_STATE": RunStateError,
}


class ServerUnreachableError(ReporterError, ConnectionError):
    """No answer from a tracking server (refused, timed out, reset) within the retry budget."""

    error_code = "TEMPORARILY_UNAVAILABLE"


class Cancelled(Exception):
    """A retry wait was cut short by the caller's stop event (the store is closing)."""


Body = bytes | Path | None  # a request body: bytes, or a file sent from disk


def redacted(uri: str) -> str:
    """Return a URI with the password of its user part (http://user:pw@host) shown as ***:
    what messages and logs may show."""
    parts = urlsplit(uri.strip())
    if parts.password is None:
        return uri.strip()
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{parts.username}:***@{host}", *parts[2:]))


def credentials_in(uri: str) -> tuple[str, str] | None:
    """Return the (user, password) written in a URI's user part, or None."""
    parts = urlsplit(uri.strip())
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


def server_url(uri: str) -> str:
    """Return the base URL of a tracking URI (no trailing slash, no user part); a clear error
    if malformed. A user and password in the URI are sent as basic auth (`credentials_in`)."""
    text = uri.strip()
    parts = urlsplit(text)
    uri = redacted(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsupportedURIError(
            f"Tracking URI {uri!r} is not a tracking server URL: use http:// or https:// with a "
            "host, e.g. http://127.0.0.1:5000"
        )
    if parts.query or parts.fragment or any(c.isspace() for c in text):
        raise UnsupportedURIError(
            f"Tracking URI {uri!r}: give the server's base URL, without spaces, '?' or '#' "
            "(e.g. http://127.0.0.1:5000)"
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise UnsupportedURIError(f"Tracking URI {uri!r} has a bad port") from None
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def quote_path(path: str) -> str:
    """Return an artifact path quoted for a URL (slashes kept)."""
    return quote(path, safe="/")


class Http:
    """Requests to one tracking server, shared by every thread of a process."""

    def __init__(self, uri: str) -> None:
        self.base = server_url(uri)
        self._uri_auth = credentials_in(uri)
        env.check_http()  # a bad MLFLOW_TRACKING_* value fails here, not in a background thread
        self._client: httpx.Client | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    # the connection pool ---------------------------------------------------------------------
    def client(self) -> httpx.Client:
        """Return this process's httpx client (a new one after a fork)."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = self._new_client()
                self._pid = os.getpid()
                # a store nobody closes still closes its connections when it goes away
                weakref.finalize(self, _close_quietly, self._client, self._pid)
            return self._client

    def _new_client(self) -> httpx.Client:
        """Make an httpx client with MLflow's credentials and TLS settings."""
        import ssl

        import httpx

        headers = {"User-Agent": "tracker-report"}
        auth: tuple[str, str] | None = env.tracking_basic_auth() or self._uri_auth
        token = env.tracking_token()
        if auth is None and token:
            headers["Authorization"] = f"Bearer {token}"
        verify: bool | ssl.SSLContext = True
        cert_path = env.tracking_server_cert_path()
        if env.tracking_insecure_tls():
            verify = False
        elif cert_path:
            verify = ssl.create_default_context(cafile=cert_path)
        return httpx.Client(
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=env.http_timeout(),
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connections (a later request opens new ones)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()

    def forget_after_fork(self) -> None:
        """Drop the parent's connections in a forked child without closing them."""
        self._client = None
        self._lock = threading.Lock()

    # MLflow's API ----------------------------------------------------------------------------
    def call(
        self,
        method: str,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Send one request to `/api/2.0/mlflow/<endpoint>` and return the JSON answer."""
        url = f"{self.base}{API}/{endpoint}"
        content = None if body is None else json.dumps(body, allow_nan=False).encode()
        response = self.request(method, url, content, params, stop=stop, json_body=True)
        return _json_of(response, self.describe(method, url))

    def request(
        self,
        method: str,
        url: str,
        body: Body = None,
        params: Mapping[str, Any] | None = None,
        *,
        stop: threading.Event | None = None,
        json_body: bool = False,
        stream_to: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """Send a request with retries; return a 2xx answer, else raise the mapped error.

        `stream_to` receives a successful answer unread (a download) inside the request.
        """
        import httpx

        what = self.describe(method, url)
        deadline = time.monotonic() + env.http_retry_timeout()
        attempt = 0
        headers = {"Content-Type": "application/json"} if json_body else {}
        while True:
            attempt += 1
            wait: float | None = None
            failure: str
            try:
                with _opened(body) as content:
                    request = self.client().build_request(
                        method, url, content=content, params=params, headers=headers
                    )
                    response = self.client().send(request, stream=True)
                try:
                    if response.status_code < 300:
                        if stream_to is not None:
                            stream_to(response)
                        else:
                            response.read()
                        return response
                    response.read()
                finally:
                    response.close()
                if response.status_code not in RETRY_STATUS:
                    raise error_of(response, what)
                failure = f"HTTP {response.status_code}"
                wait = _retry_after(response)
            except httpx.TransportError as exc:
                if _certificate_refused(exc):  # not a passing failure: retrying cannot help
                    raise ServerUnreachableError(
                        f"The tracking server {self.base} ({what}) presented a TLS certificate "
                        f"this machine does not trust ({exc}). Name its CA bundle in "
                        "MLFLOW_TRACKING_SERVER_CERT_PATH, or set "
                        "MLFLOW_TRACKING_INSECURE_TLS=true to skip the check."
                    ) from None
                failure = _transport_failure(exc)
            left = deadline - time.monotonic()
            pause = wait if wait is not None else _backoff(attempt)
            if left <= 0 or pause > left:
                if failure.startswith("HTTP "):
                    raise error_of(response, what)
                raise ServerUnreachableError(
                    f"Cannot reach the tracking server {self.base} ({what}): {failure}; tried "
                    f"{attempt} time{'s' if attempt > 1 else ''} in "
                    f"{env.http_retry_timeout():g} s ({env.HTTP_RETRY_TIMEOUT.name}). Is the "
                    "server running, and is the tracking URI right?"
                )
            log.debug("%s failed (%s); retrying in %.2f s", what, failure, pause)
            if stop is not None:
                if stop.wait(pause):
                    raise Cancelled(what)
            else:
                time.sleep(pause)

    def describe(self, method: str, url: str) -> str:
        """Return "METHOD /path" of a request, for messages."""
        path = url[len(self.base) :] if url.startswith(self.base) else url
        return f"{method} {path}"


def _close_quietly(client: httpx.Client, pid: int) -> None:
    """Close a client's connections (in the process that opened them)."""
    if pid == os.getpid():
        client.close()


class _opened:
    """Context manager: a request body as httpx takes it (a file is opened for each attempt)."""

    def __init__(self, body: Body) -> None:
        self._body = body
        self._file: Any = None

    def __enter__(self) -> Any:
        if isinstance(self._body, Path):
            self._file = open(self._body, "rb")
            return self._file
        return self._body

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


def _backoff(attempt: int) -> float:
    """Return the pause before retry `attempt` (1-based): doubling, capped, with jitter."""
    base = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt - 1))
    return base * random.uniform(0.5, 1.0)


def _retry_after(response: httpx.Response) -> float | None:
    """Return the seconds a Retry-After header asks for (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _certificate_refused(exc: BaseException) -> bool:
    """Return True if a failed connection is a TLS certificate the client does not trust."""
    import ssl

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _transport_failure(exc: Exception) -> str:
    """Return a short reason for a failed connection."""
    import httpx

    kinds = (
        (httpx.ConnectTimeout, "connection timed out"),
        (httpx.ConnectError, "connection failed"),
        (httpx.TimeoutException, f"no answer within {env.http_timeout():g} s"),
        (httpx.RemoteProtocolError, "the connection was closed mid-answer"),
    )
    for kind, reason in kinds:
        if isinstance(exc, kind):
            return f"{reason} ({exc})" if str(exc) else reason
    return f"{type(exc).__name__}: {exc}"


def error_of(response: httpx.Response, what: str) -> ReporterError:
    """Return the exception for an error answer: MLflow's error JSON mapped to our classes."""
    status = response.status_code
    base = str(response.request.url).split("/api/", 1)[0] if response.request else ""
    where = f"Tracking server {base} ({what})"
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error_code"), str):
        code = data["error_code"]
        message = str(data.get("message") or code)
        if status in (401, 403) or code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return ReporterError(f"{where}: {message}; {AUTH_HINT}", error_code=code)
        kind = _ERRORS.get(code, ReporterError)
        return kind(f"{where}: {message}", error_code=code)
    if isinstance(data, dict) and "detail" in data:  # FastAPI's errors (the artifact routes)
        detail = data["detail"]
        if status == 404:
            return NotFoundError(f"{where}: {detail}")
        return ReporterError(f"{where}: HTTP {status}: {detail}")
    text = response.text.strip().replace("\n", " ")[:200]
    if status in (401, 403):
        return ReporterError(f"{where}: HTTP {status} {text}; {AUTH_HINT}")
    if 300 <= status < 400:
        target = response.headers.get("Location", "?")
        return ReporterError(
            f"{where}: HTTP {status}, redirected to {target}; give that address as the tracking "
            "URI (redirects are not followed)"
        )
    if status == 404:
        return NotFoundError(
            f"{where}: HTTP 404 {text} (is this an MLflow tracking server of version 2.0 or "
            "later, and the URI its base address?)"
        )
    return ReporterError(f"{where}: HTTP {status} {text}")


def _json_of(response: httpx.Response, what: str) -> dict[str, Any]:
    """Return the JSON object of a successful answer; a clear error if it is not one."""
    if not response.content.strip():
        return {}
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        text = response.text.strip()[:200]
        raise ReporterError(f"{what} answered with something that is not JSON: {text!r}")
    return data
