"""Model URIs to local folders: `models:/<model_id>`, registered versions
(`models:/<name>/<version>`, `models:/<name>@<alias>`, `models:/<name>/latest`,
`models:/<name>/<stage>`), `runs:/<run_id>/<path>`, local paths.

`runs:/<run_id>/<name>` names the run's artifact folder `<name>`, or, as in MLflow 3, the model
named `<name>` that the run logged (whose files live with the model, not the run).
"""

from __future__ import annotations

import os
from typing import Any

from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.core.logged_models import LoggedModel
from reporter.core.model_uri import LOGGED, REGISTERED, RUN, parse_model_uri


def _client() -> Any:
    from reporter.tracking.client import Client

    return Client()


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """Split `runs:/<run_id>/<path>` into (run id, path)."""
    return parse_model_uri(uri).run_path()


def logged_model_of_run(run_id: str, name: str) -> LoggedModel | None:
    """Return the newest model named `name` that a run logged, or None."""
    client = _client()
    run = client.get_run(run_id)
    found = [
        m
        for m in client.store.list_logged_models([run.info.experiment_id])
        if m.source_run_id == run_id and m.name == name and not m.deleted
    ]
    return max(found, key=lambda m: m.creation_timestamp) if found else None


MAX_HOPS = 10  # a version whose source is another version's URI, ...


def model_id_of(uri: str, hops: int = 0) -> str:
    """Return the logged model id a `models:/` URI names: `models:/<model_id>`, or a
    registered version's (`models:/<name>/<version>`, `@<alias>`, `/latest`) whose source is a
    logged model."""
    parsed = parse_model_uri(uri)
    if parsed.kind == LOGGED:
        return parsed.model_id
    source = registered_source(uri, hops)
    if parse_model_uri(source).kind in (LOGGED, REGISTERED):
        return model_id_of(source, hops + 1)
    raise InvalidArgumentError(
        f"Model URI {uri!r} names a registered version whose source {source!r} is not a "
        "logged model"
    )


def registered_source(uri: str, hops: int = 0) -> str:
    """The source of the registered version a `models:/<name>...` URI names."""
    if hops >= MAX_HOPS:
        raise InvalidArgumentError(f"Model URI {uri!r}: sources refer to each other in a loop")
    version = _client().registry_version(uri)
    return str(version.source)


def resolve_model(uri: str) -> tuple[str, str] | None:
    """Return ("model", model_id) or ("run", run_id) of a store URI, None for a local path."""
    parsed = parse_model_uri(uri)
    if parsed.kind in (LOGGED, REGISTERED):
        return "model", model_id_of(uri)
    if parsed.kind == RUN:
        return "run", parsed.run_path()[0]
    return None


def download_model(uri: str, dst_path: str | None = None, *, _hops: int = 0) -> str:
    """Return a local folder holding the model (or file) a URI names, downloading if needed."""
    uri = os.fspath(uri)
    client = _client()
    parsed = parse_model_uri(uri)
    if parsed.kind == REGISTERED:  # a registered version: its source, wherever that is
        hops = _hops + 1
        if hops > MAX_HOPS:
            raise InvalidArgumentError(f"Model URI {uri!r}: sources refer to each other")
        return download_model(registered_source(uri, _hops), dst_path, _hops=hops)
    if parsed.kind == LOGGED:
        return str(client.download_logged_model_artifacts(parsed.model_id, parsed.path, dst_path))
    if parsed.kind == RUN:
        run_id, path = parsed.run_path()
        head, _, rest = path.partition("/")
        try:
            return str(client.download_artifacts(run_id, path, dst_path))
        except NotFoundError:
            model = logged_model_of_run(run_id, head) if head else None
            if model is None:
                raise NotFoundError(
                    f"{uri}: run {run_id} has no artifact {path!r} and logged no model named "
                    f"{head!r}"
                ) from None
            return str(client.download_logged_model_artifacts(model.model_id, rest, dst_path))
    local = uri[len("file://") :] if uri.startswith("file://") else uri
    if "://" in local or not os.path.exists(local):
        raise NotFoundError(
            f"No model at {uri!r}; give models:/<model_id>, runs:/<run_id>/<path> or a local "
            "model folder"
        )
    return local
