"""Every TRACKER_* setting, read and checked in one place.

Settings are read when used (a test or a notebook may change one between calls). A value that
does not parse is an `InvalidArgumentError` naming the variable, the value and what is valid;
`check_all` raises it where a store is opened, before any background thread could meet it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reporter.core.errors import InvalidArgumentError


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, default, what it means and what is valid."""

    name: str
    default: str | None
    help: str
    valid: str  # what a valid value looks like, for the error message
    parse: Callable[[str], Any]


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(text)
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(text)


def _text(text: str) -> str:
    return text


TRACKING_URI = Setting(
    "TRACKER_TRACKING_URI",
    None,
    "where runs are recorded and read (the --store of every command)",
    "a folder, file:FOLDER or a URL such as s3://bucket/prefix",
    _text,
)
EXPERIMENT_NAME = Setting(
    "TRACKER_EXPERIMENT_NAME", None, "the experiment of runs started without one", "a name", _text
)
EXPERIMENT_ID = Setting(
    "TRACKER_EXPERIMENT_ID", None, "the experiment of runs started without one", "an id", _text
)
FLUSH_INTERVAL = Setting(
    "TRACKER_FLUSH_INTERVAL",
    "1",
    "seconds between background writes of logged rows",
    "a number of seconds > 0, e.g. 1",
    _positive_float,
)
HEARTBEAT_INTERVAL = Setting(
    "TRACKER_HEARTBEAT_INTERVAL",
    "10",
    "seconds between heartbeats of an open run",
    "a number of seconds > 0, e.g. 10",
    _positive_float,
)
HEARTBEAT_TIMEOUT = Setting(
    "TRACKER_HEARTBEAT_TIMEOUT",
    "60",
    "seconds without a heartbeat after which a RUNNING run reads as KILLED",
    "a number of seconds > 0, e.g. 60",
    _positive_float,
)
AUTO_COMPACT = Setting(
    "TRACKER_AUTO_COMPACT",
    "32",
    "finished-run parts before they are compacted: a process's own, and every process's in "
    "an experiment when a run ends (0: never)",
    "a whole number >= 0, e.g. 32",
    _non_negative_int,
)
COMPACT_IN_BACKGROUND = Setting(
    "TRACKER_COMPACT_IN_BACKGROUND",
    "true",
    "whether a process whose run ended starts a detached compactor once the experiment holds "
    "TRACKER_AUTO_COMPACT raw part files, whichever processes wrote them",
    f"one of {', '.join(_TRUE + _FALSE)}",
    _boolean,
)
LOG_ENVIRONMENT = Setting(
    "TRACKER_LOG_ENVIRONMENT",
    "true",
    "whether a run records the installed packages as environment/requirements.txt",
    f"one of {', '.join(_TRUE + _FALSE)}",
    _boolean,
)
S3_ENDPOINT_URL = Setting(
    "TRACKER_S3_ENDPOINT_URL",
    None,
    "the endpoint of an S3-compatible server (MinIO, Ceph, moto) for s3:// stores",
    "a URL such as http://127.0.0.1:9000",
    _text,
)

HTTP_RETRY_TIMEOUT = Setting(
    "TRACKER_HTTP_RETRY_TIMEOUT",
    "60",
    "seconds a request to a tracking server (http://) is retried after 429, 5xx or a failed "
    "connection before it fails",
    "a number of seconds > 0, e.g. 60",
    _positive_float,
)
HTTP_TIMEOUT = Setting(
    "TRACKER_HTTP_TIMEOUT",
    "120",
    "seconds one request to a tracking server (http://) may take",
    "a number of seconds > 0, e.g. 120",
    _positive_float,
)

SETTINGS = (
    TRACKING_URI,
    EXPERIMENT_NAME,
    EXPERIMENT_ID,
    FLUSH_INTERVAL,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    AUTO_COMPACT,
    COMPACT_IN_BACKGROUND,
    LOG_ENVIRONMENT,
    S3_ENDPOINT_URL,
    HTTP_RETRY_TIMEOUT,
    HTTP_TIMEOUT,
)

# MLflow's own variables for a tracking server's credentials and TLS, under MLflow's names, so
# that one environment serves MLflow's client and ours (read by the http:// store only)
TRACKING_TOKEN = Setting(
    "MLFLOW_TRACKING_TOKEN", None, "the bearer token sent to a tracking server", "a token", _text
)
TRACKING_USERNAME = Setting(
    "MLFLOW_TRACKING_USERNAME",
    None,
    "the user name sent to a tracking server (basic auth, with MLFLOW_TRACKING_PASSWORD)",
    "a user name",
    _text,
)
TRACKING_PASSWORD = Setting(
    "MLFLOW_TRACKING_PASSWORD",
    None,
    "the password sent to a tracking server (basic auth, with MLFLOW_TRACKING_USERNAME)",
    "a password",
    _text,
)
TRACKING_INSECURE_TLS = Setting(
    "MLFLOW_TRACKING_INSECURE_TLS",
    "false",
    "whether https:// tracking servers are used without checking their certificate",
    f"one of {', '.join(_TRUE + _FALSE)}",
    _boolean,
)
TRACKING_SERVER_CERT_PATH = Setting(
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    None,
    "a CA bundle (PEM file) that https:// tracking servers' certificates are checked against",
    "the path of a PEM file",
    _text,
)
MLFLOW_TRACKING_URI = Setting(
    "MLFLOW_TRACKING_URI",
    None,
    "where runs are recorded when TRACKER_TRACKING_URI is not set (MLflow's variable)",
    "a folder, or a URL such as http://host:5000 or s3://bucket/prefix",
    _text,
)
MLFLOW_SETTINGS = (
    MLFLOW_TRACKING_URI,
    TRACKING_TOKEN,
    TRACKING_USERNAME,
    TRACKING_PASSWORD,
    TRACKING_INSECURE_TLS,
    TRACKING_SERVER_CERT_PATH,
)


def read(setting: Setting) -> Any:
    """Return a setting's value (parsed), its default when unset or empty, None if neither."""
    raw = os.environ.get(setting.name, "")
    text = raw if raw.strip() else setting.default
    if text is None:
        return None
    try:
        return setting.parse(text)
    except (ValueError, OverflowError):
        default = f" (default {setting.default})" if setting.default is not None else ""
        raise InvalidArgumentError(
            f"Environment variable {setting.name}={raw!r} is not valid: {setting.valid}"
            f"{default}. It sets {setting.help}."
        ) from None


def check_all() -> None:
    """Raise InvalidArgumentError for the first TRACKER_* setting whose value is not valid."""
    for setting in SETTINGS:
        read(setting)


def tracking_uri() -> str | None:
    """$TRACKER_TRACKING_URI, else MLflow's $MLFLOW_TRACKING_URI, else None."""
    value: str | None = read(TRACKING_URI)
    if value is None:
        value = read(MLFLOW_TRACKING_URI)
    return value


def flush_interval() -> float:
    """Seconds between background flushes (default 1)."""
    return float(read(FLUSH_INTERVAL))


def heartbeat_interval() -> float:
    """Seconds between heartbeats of an open run (default 10)."""
    return float(read(HEARTBEAT_INTERVAL))


def heartbeat_timeout() -> float:
    """Seconds without a heartbeat after which a RUNNING run reads as KILLED (default 60)."""
    return float(read(HEARTBEAT_TIMEOUT))


def auto_compact_parts() -> int:
    """Finished-run parts written before they are compacted; 0 is never (default 32)."""
    return int(read(AUTO_COMPACT))


def compact_in_background() -> bool:
    """Whether a run's end may start a detached compactor of its experiment (default true)."""
    return bool(read(COMPACT_IN_BACKGROUND))


def log_environment() -> bool:
    """Whether runs record the installed packages (default true)."""
    return bool(read(LOG_ENVIRONMENT))


def http_retry_timeout() -> float:
    """Seconds a tracking server request is retried before it fails (default 60)."""
    return float(read(HTTP_RETRY_TIMEOUT))


def http_timeout() -> float:
    """Seconds one tracking server request may take (default 120)."""
    return float(read(HTTP_TIMEOUT))


def check_http() -> None:
    """Raise InvalidArgumentError for the first tracking server setting that is not valid."""
    for setting in MLFLOW_SETTINGS:
        read(setting)


def tracking_token() -> str | None:
    """$MLFLOW_TRACKING_TOKEN (a bearer token), or None."""
    value: str | None = read(TRACKING_TOKEN)
    return value


def tracking_basic_auth() -> tuple[str, str] | None:
    """($MLFLOW_TRACKING_USERNAME, $MLFLOW_TRACKING_PASSWORD), or None when no user is set."""
    user: str | None = read(TRACKING_USERNAME)
    if user is None:
        return None
    password: str | None = read(TRACKING_PASSWORD)
    return user, password or ""


def tracking_insecure_tls() -> bool:
    """Whether https:// tracking servers' certificates are left unchecked (default false)."""
    return bool(read(TRACKING_INSECURE_TLS))


def tracking_server_cert_path() -> str | None:
    """$MLFLOW_TRACKING_SERVER_CERT_PATH (a CA bundle), or None."""
    value: str | None = read(TRACKING_SERVER_CERT_PATH)
    return value


def experiment_name() -> str | None:
    """$TRACKER_EXPERIMENT_NAME, or None."""
    value: str | None = read(EXPERIMENT_NAME)
    return value


def experiment_id() -> str | None:
    """$TRACKER_EXPERIMENT_ID, or None."""
    value: str | None = read(EXPERIMENT_ID)
    return value


def s3_endpoint_url() -> str | None:
    """$TRACKER_S3_ENDPOINT_URL, or None."""
    value: str | None = read(S3_ENDPOINT_URL)
    return value
