"""The tracking URI: where runs are recorded, and the store object for it."""

from __future__ import annotations

import os
import threading

from reporter.errors import UnsupportedURIError
from reporter.store.fs import split_uri, supported_schemes
from reporter.store.parquet import ParquetStore

DEFAULT_TRACKING_URI = "./tracker-store"
ENV_TRACKING_URI = "TRACKER_TRACKING_URI"

_uri: str | None = None
_stores: dict[str, ParquetStore] = {}
_lock = threading.Lock()


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Set where runs are recorded: a folder, ``file:FOLDER`` or an fsspec URL like s3://."""
    global _uri
    text = os.fspath(uri)
    validate_uri(text)
    _uri = text


def get_tracking_uri() -> str:
    """Return the tracking URI: the one set, else $TRACKER_TRACKING_URI, else ./tracker-store."""
    return _uri or os.environ.get(ENV_TRACKING_URI) or DEFAULT_TRACKING_URI


def is_tracking_uri_set() -> bool:
    """Return True if a URI was set explicitly or through the environment."""
    return _uri is not None or ENV_TRACKING_URI in os.environ


def validate_uri(uri: str) -> None:
    """Raise UnsupportedURIError for a scheme this installation cannot open."""
    if not isinstance(uri, str) or not uri:
        raise UnsupportedURIError(f"Tracking URI must be a non-empty string, got {uri!r}")
    scheme, _ = split_uri(uri)
    if scheme in ("file", "memory"):
        return
    if scheme in ("http", "https", "databricks", "sqlite", "postgresql", "mysql", "mssql"):
        raise UnsupportedURIError(
            f"Tracking URI {uri!r}: {scheme}:// is an MLflow server or database backend, which "
            "tracker-report does not write to. Use a folder (./tracker-store) or an object store "
            f"URL. Supported schemes: {', '.join(supported_schemes())}. "
            "To bring MLflow runs over, use `tracker-report import mlflow`."
        )
    if scheme not in supported_schemes():
        raise UnsupportedURIError(
            f"Tracking URI {uri!r}: unknown scheme {scheme!r}. Supported schemes: "
            f"{', '.join(supported_schemes())} (a plain path means a local folder)."
        )


def store_for(uri: str | None = None) -> ParquetStore:
    """Return the (per process, per URI) store object."""
    text = uri or get_tracking_uri()
    key = _store_key(text)
    store = _stores.get(key)
    if store is None:
        validate_uri(text)
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = ParquetStore(text)
    return store


def _store_key(uri: str) -> str:
    """Normalise a URI so that ./x, file:./x and the absolute path share one store object."""
    scheme, location = split_uri(uri)
    if scheme == "file":
        return os.path.abspath(os.path.expanduser(location or "."))
    return uri.rstrip("/")
