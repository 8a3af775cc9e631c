"""Which store implementation opens a tracking URI: one factory per scheme.

The Parquet store opens a local folder (a plain path or `file:`), `memory://` and every object
store fsspec can reach here (`s3://` with s3fs installed, ...). The REST store
(`reporter.store.rest`) opens `http://` and `https://`: an MLflow tracking server. Another
implementation registers its schemes with `register`; each passes the conformance suite in
`tests/store_contract/`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from reporter.core.errors import UnsupportedURIError
from reporter.store.protocol import AbstractStore
from reporter.store.uris import split_uri

StoreFactory = Callable[[str], AbstractStore]

# Schemes of MLflow's own backends, which no store here writes to (unless one is registered)
MLFLOW_BACKENDS = ("databricks", "sqlite", "postgresql", "mysql", "mssql")
SERVER_SCHEMES = ("http", "https")  # a tracking server, through MLflow's REST API

_factories: dict[str, StoreFactory] = {}
_lock = threading.Lock()


def register(scheme: str, factory: StoreFactory) -> None:
    """Open URIs of `scheme` with `factory(uri)` from now on (replacing any earlier one)."""
    with _lock:
        _factories[scheme.lower()] = factory


def _parquet(uri: str) -> AbstractStore:
    from reporter.store.parquet.store import ParquetStore

    return ParquetStore(uri)


def _rest(uri: str) -> AbstractStore:
    from reporter.store.rest.store import RestStore

    return RestStore(uri)


def supported_schemes() -> list[str]:
    """Return the URI schemes this installation can open, local ones first."""
    from reporter.store.parquet.fs import supported_schemes as parquet_schemes

    known = [s for s in parquet_schemes() if s not in SERVER_SCHEMES] + list(SERVER_SCHEMES)
    return known + sorted(s for s in _factories if s not in known)


def factory_for(uri: str) -> StoreFactory:
    """Return what opens this URI; UnsupportedURIError naming the valid schemes if nothing."""
    if not isinstance(uri, str) or not uri:
        raise UnsupportedURIError(f"Tracking URI must be a non-empty string, got {uri!r}")
    scheme, _ = split_uri(uri)
    registered = _factories.get(scheme)
    if registered is not None:
        return registered
    if scheme in SERVER_SCHEMES:
        return _rest
    if scheme in ("file", "memory"):
        return _parquet
    if scheme in MLFLOW_BACKENDS:
        raise UnsupportedURIError(
            f"Tracking URI {uri!r}: {scheme}:// is an MLflow database backend, which "
            "tracker-report does not write to. Use a folder (./tracker-store), an object store "
            "URL, or the URL of an MLflow server in front of that database "
            f"(http://host:5000). Supported schemes: {', '.join(supported_schemes())}. "
            "To bring MLflow runs over, use `tracker-report import mlflow`."
        )
    if scheme not in supported_schemes():
        raise UnsupportedURIError(
            f"Tracking URI {uri!r}: unknown scheme {scheme!r}. Supported schemes: "
            f"{', '.join(supported_schemes())} (a plain path means a local folder)."
        )
    return _parquet


def opens_alike(uri: str) -> bool:
    """Whether another process opens this URI with the same factory as this one: no factory
    was registered for its scheme here (a registration is this process's alone)."""
    scheme, _ = split_uri(uri)
    with _lock:
        return scheme not in _factories


def validate_uri(uri: str) -> None:
    """Raise UnsupportedURIError for a URI this installation cannot open."""
    factory_for(uri)


def open_store(uri: str) -> AbstractStore:
    """Return a new store object for the URI (commands that read; the tracking layer keeps
    one per URI and process, see `reporter.tracking.uri.store_for`)."""
    return factory_for(uri)(uri)
