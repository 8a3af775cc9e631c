"""The tracking URI: where runs are recorded, and the store object for it."""

from __future__ import annotations

import os
import threading

from reporter.core import env
from reporter.store import registry
from reporter.store.protocol import AbstractStore
from reporter.store.registry import validate_uri as validate_uri
from reporter.store.uris import split_uri

DEFAULT_TRACKING_URI = "./tracker-store"
ENV_TRACKING_URI = env.TRACKING_URI.name

_uri: str | None = None
_stores: dict[str, AbstractStore] = {}
_lock = threading.Lock()


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Set where runs are recorded: a folder, ``file:FOLDER`` or an fsspec URL like s3://."""
    global _uri
    text = os.fspath(uri)
    validate_uri(text)
    _uri = text


def get_tracking_uri() -> str:
    """Return the tracking URI: the one set, else $TRACKER_TRACKING_URI, else ./tracker-store."""
    return _uri or env.tracking_uri() or DEFAULT_TRACKING_URI


_registry_uri: str | None = None


def set_registry_uri(uri: str | os.PathLike[str]) -> None:
    """Set where the model registry is kept (MLflow's `set_registry_uri`): any store URI."""
    global _registry_uri
    text = os.fspath(uri)
    validate_uri(text)
    _registry_uri = text


def get_registry_uri() -> str:
    """Return the registry URI: the one set, else the tracking URI (as MLflow)."""
    return _registry_uri or get_tracking_uri()


def reset() -> None:
    """Forget URIs set with set_tracking_uri / set_registry_uri ($TRACKER_TRACKING_URI
    applies again)."""
    global _uri, _registry_uri
    _uri = None
    _registry_uri = None


def close_store(uri: str) -> None:
    """Close this process's store object for the URI, if any, and forget it (the next use
    opens a new one)."""
    with _lock:
        store = _stores.pop(_store_key(uri), None)
    if store is not None:
        store.close()


def flush_stores() -> None:
    """Write every row this process's store objects hold in memory before returning."""
    with _lock:
        stores = list(_stores.values())
    for store in stores:
        store.flush()


def is_tracking_uri_set() -> bool:
    """Return True if a URI was set explicitly or through the environment."""
    return _uri is not None or env.tracking_uri() is not None


def store_for(uri: str | None = None) -> AbstractStore:
    """Return the (per process, per URI) store object."""
    text = uri or get_tracking_uri()
    key = _store_key(text)
    store = _stores.get(key)
    if store is None:
        factory = registry.factory_for(text)
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = factory(text)
    return store


def _store_key(uri: str) -> str:
    """Normalise a URI so that ./x, file:./x and the absolute path share one store object."""
    scheme, location = split_uri(uri)
    if scheme == "file":
        return os.path.abspath(os.path.expanduser(location or "."))
    return uri.rstrip("/")
