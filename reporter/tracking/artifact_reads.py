"""Read artifacts back: by URI (MLflow's `mlflow.artifacts`) and tables across runs.

An artifact URI is one of

    runs:/<run_id>/<path>           a run's file or folder, in the current tracking store
                                    (or the `tracking_uri` given)
    <store>/runs/<experiment_id>/<run_id>/artifacts/<path>
                                    what `get_artifact_uri` returns for a store that is not a
                                    local folder (s3://bucket/prefix/runs/...)
    /a/local/path, file:///a/path   a file or folder on this machine (a local store's
                                    artifact URIs are local paths)
    mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>
    mlflow-artifacts:/<experiment_id>/models/<model_id>/artifacts/<path>
                                    what a tracking server (http:// store) names a run's or
                                    a logged model's files, read through the current
                                    tracking URI
    models:/<model_id>[/<path>]     a logged model's files
    models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest
                                    a registered version: wherever its source is

`resolve_artifact_uri` is the one place a URI is read. A new kind of URI (models:/) is a case
there plus a branch in `_listing`, `_read` and `_fetch`, which reach the store.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from reporter.core import validation
from reporter.core.errors import InvalidArgumentError, NotFoundError, UnsupportedURIError
from reporter.core.model_uri import LOGGED, REGISTERED, parse_model_uri
from reporter.core.model_uri import RUN as RUN_URI
from reporter.store.uris import split_uri
from reporter.tracking import artifacts
from reporter.tracking.client import Client, FileInfo

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

RUN = "run"  # a run's artifact: owner_id is the run id
LOCAL = "local"  # a file or folder on this machine: path is a filesystem path
MODEL = "model"  # a logged model's file: owner_id is the model id
# a run's artifact URI in a store that is not a local folder
_IN_STORE = re.compile(r"^(?P<store>.+)/runs/[^/]+/(?P<run>[^/]+)/artifacts(?:/(?P<path>.*))?$")
# a logged model's artifact location in a store that is not a local folder
_MODEL_IN_STORE = re.compile(
    r"^(?P<store>.+)/models/[^/]+/(?P<model>m-[0-9a-f]{32})/artifacts(?:/(?P<path>.*))?$"
)
# a tracking server's proxied artifact locations (mlflow-artifacts:/...), after the scheme
_PROXIED_MODEL = re.compile(
    r"^/*(?:[^/]+/)?models/(?P<model>m-[0-9a-f]{32})/artifacts(?:/(?P<path>.*))?$"
)
_PROXIED_RUN = re.compile(r"^/*[^/]+/(?P<run>[^/]+)/artifacts(?:/(?P<path>.*))?$")


@dataclass(frozen=True)
class ArtifactLocation:
    """Where an artifact URI points."""

    kind: str  # RUN, MODEL or LOCAL
    path: str  # RUN, MODEL: the path under the owner's artifact root ("" is the root);
    # LOCAL: a path
    owner_id: str = ""  # RUN: the run id; MODEL: the logged model id
    tracking_uri: str | None = None  # the store; None is the current tracking URI


def resolve_artifact_uri(
    uri: str, tracking_uri: str | None = None, *, _hops: int = 0
) -> ArtifactLocation:
    """Return where an artifact URI points (see the module docstring for the forms)."""
    if not isinstance(uri, str) or not uri:
        raise InvalidArgumentError(f"An artifact URI must be a non-empty string, got {uri!r}")
    scheme, location = split_uri(uri)
    if scheme in ("runs", "models"):
        parsed = parse_model_uri(uri)  # the one parser of runs:/ and models:/ URIs
        if parsed.kind == RUN_URI and parsed.run_id:
            path = validation.artifact_path(parsed.path)
            loc = ArtifactLocation(RUN, path, parsed.run_id, tracking_uri)
            return _model_of_run(loc) or loc
        if parsed.kind == LOGGED:
            path = validation.artifact_path(parsed.path)
            return ArtifactLocation(MODEL, path, parsed.model_id, tracking_uri)
        if parsed.kind == REGISTERED:  # a registered version: where its source is
            if _hops >= 10:
                raise InvalidArgumentError(f"Model URI {uri!r}: sources refer to each other")
            version = Client(tracking_uri).registry_version(uri)
            return resolve_artifact_uri(str(version.source), tracking_uri, _hops=_hops + 1)
        raise InvalidArgumentError(
            f"Not a proper {scheme}:/ URI: {uri!r}; the forms are runs:/<run_id>/<path>, "
            "models:/<model_id>[/<path>] and models:/<name>/<version> or models:/<name>@<alias>"
        )
    if scheme == "file":
        if uri.startswith("file://"):
            location = url2pathname(urlsplit(uri).path)
        return ArtifactLocation(LOCAL, os.path.abspath(os.path.expanduser(location)))
    if scheme == "mlflow-artifacts":
        proxied = _proxied(uri, location, tracking_uri)
        if proxied is not None:
            return proxied
    model = _MODEL_IN_STORE.match(uri)
    if model:
        path = validation.artifact_path((model["path"] or "").rstrip("/"))
        return ArtifactLocation(MODEL, path, model["model"], model["store"])
    match = _IN_STORE.match(uri)
    if match:
        path = validation.artifact_path((match["path"] or "").rstrip("/"))
        return ArtifactLocation(RUN, path, match["run"], match["store"])
    raise UnsupportedURIError(
        f"Cannot read artifacts from {uri!r}: {scheme}: URIs are not supported. Use "
        "runs:/<run_id>/<path>, a local path or file:// URI, or a run's artifact URI "
        "(get_artifact_uri) in a store"
    )


def _proxied(uri: str, location: str, tracking_uri: str | None) -> ArtifactLocation | None:
    """Return the run or model file a tracking server's `mlflow-artifacts:` URI names (read
    through the tracking URI), or None for another layout."""
    if uri.startswith("mlflow-artifacts://"):  # mlflow-artifacts://host:port/path
        location = location.partition("/")[2]
    model = _PROXIED_MODEL.match(location)
    if model:
        path = validation.artifact_path((model["path"] or "").rstrip("/"))
        return ArtifactLocation(MODEL, path, model["model"], tracking_uri)
    run = _PROXIED_RUN.match(location)
    if run:
        path = validation.artifact_path((run["path"] or "").rstrip("/"))
        return ArtifactLocation(RUN, path, run["run"], tracking_uri)
    return None


def _model_of_run(loc: ArtifactLocation) -> ArtifactLocation | None:
    """Return the logged model `runs:/<run_id>/<name>[/...]` names when the run has no
    artifact there but logged a model of that name (MLflow 3 keeps a model's files with the
    model), else None."""
    head, _, rest = loc.path.partition("/")
    if not head:
        return None
    store = Client(loc.tracking_uri).store
    if any(p == loc.path or p.startswith(loc.path + "/") for p, _ in _listing(loc)):
        return None
    run = store.get_run(loc.owner_id)
    named = [
        m
        for m in store.list_logged_models([run.info.experiment_id])
        if m.source_run_id == loc.owner_id and m.name == head and not m.deleted
    ]
    if not named:
        return None
    newest = max(named, key=lambda m: m.creation_timestamp)
    return ArtifactLocation(MODEL, rest, newest.model_id, loc.tracking_uri)


# the store, by kind of location ----------------------------------------------------------
def _listing(loc: ArtifactLocation) -> list[tuple[str, int]]:
    """Return (path under the root, size) of every artifact file of the location's owner."""
    store = Client(loc.tracking_uri).store
    if loc.kind == MODEL:
        return store.list_model_artifacts(loc.owner_id)
    return store.list_artifacts(loc.owner_id)


def _read(loc: ArtifactLocation, rel: str) -> bytes:
    """Return the bytes of one artifact file of the location's owner."""
    store = Client(loc.tracking_uri).store
    if loc.kind == MODEL:
        return store.read_model_artifact(loc.owner_id, rel)
    return store.read_artifact(loc.owner_id, rel)


def _fetch(loc: ArtifactLocation, rel: str, local_path: str) -> None:
    """Copy one artifact file of the location's owner to a local path."""
    store = Client(loc.tracking_uri).store
    if loc.kind == MODEL:
        store.download_model_artifact_file(loc.owner_id, rel, local_path)
    else:
        store.download_artifact_file(loc.owner_id, rel, local_path)


def _files_under(loc: ArtifactLocation) -> list[str]:
    """Return the artifact files at or below the location's path; NotFoundError if none (an
    artifact root may be empty)."""
    files = [
        p for p, _ in _listing(loc) if not loc.path or p == loc.path or p.startswith(loc.path + "/")
    ]
    if not files and (loc.path or loc.kind == MODEL):
        owner = "Logged model" if loc.kind == MODEL else "Run"
        raise NotFoundError(f"{owner} {loc.owner_id} has no artifact at {loc.path!r}")
    return files


# MLflow's mlflow.artifacts ---------------------------------------------------------------
def _location(
    artifact_uri: str | None,
    run_id: str | None,
    artifact_path: str | None,
    tracking_uri: str | None,
) -> ArtifactLocation:
    """Return the location named by exactly one of an artifact URI and a run id."""
    if (artifact_uri is None) == (run_id is None):
        raise InvalidArgumentError("Exactly one of `run_id` or `artifact_uri` must be specified")
    if artifact_uri is not None:
        if artifact_path is not None:
            raise InvalidArgumentError(
                "`artifact_path` cannot be specified if `artifact_uri` is specified"
            )
        return resolve_artifact_uri(artifact_uri, tracking_uri)
    assert run_id is not None
    return ArtifactLocation(RUN, validation.artifact_path(artifact_path), run_id, tracking_uri)


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> str:
    """Copy an artifact file or folder to `dst_path` (a new temporary folder if None) and
    return the local path of the copy, `dst_path/<its name>` (a run's whole artifact root
    goes to `dst_path` itself). A local path is returned as it is when dst_path is None.
    `registry_uri` is accepted for MLflow's signature (registered-version URIs,
    `models:/<name>/<version>`, read the tracking URI's registry)."""
    loc = _location(artifact_uri, run_id, artifact_path, tracking_uri)
    if dst_path is not None:
        os.makedirs(dst_path, exist_ok=True)
    if loc.kind == LOCAL:
        return _copy_local(loc.path, dst_path)
    files = _files_under(loc)
    dst = os.path.abspath(dst_path) if dst_path is not None else tempfile.mkdtemp()
    target = os.path.join(dst, posixpath.basename(loc.path)) if loc.path else dst
    for rel in files:
        below = rel[len(loc.path) :].lstrip("/") if loc.path else rel
        _fetch(loc, rel, os.path.join(target, *below.split("/")) if below else target)
    return target


def _copy_local(path: str, dst_path: str | None) -> str:
    """Return a local file or folder, copied into dst_path when one is given."""
    if not os.path.exists(path):
        raise NotFoundError(f"No such artifact: {path!r}")
    if dst_path is None:
        return path
    target = os.path.join(os.path.abspath(dst_path), os.path.basename(path.rstrip(os.sep)))
    if os.path.isdir(path):
        shutil.copytree(path, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(path, target)
    return target


def _file_bytes(artifact_uri: str) -> bytes:
    """Return the bytes of the artifact file a URI names."""
    loc = resolve_artifact_uri(artifact_uri)
    if loc.kind == LOCAL:
        if os.path.isdir(loc.path):
            raise InvalidArgumentError(f"{artifact_uri!r} is a folder, not a file")
        if not os.path.isfile(loc.path):
            raise NotFoundError(f"No such artifact: {loc.path!r}")
        with open(loc.path, "rb") as handle:
            return handle.read()
    files = _files_under(loc)
    if files != [loc.path]:
        raise InvalidArgumentError(f"{artifact_uri!r} is a folder, not a file")
    return _read(loc, loc.path)


def load_text(artifact_uri: str) -> str:
    """Return the text of an artifact file (UTF-8)."""
    data = _file_bytes(artifact_uri)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgumentError(
            f"The artifact {artifact_uri!r} is not UTF-8 text", error_code="BAD_REQUEST"
        ) from None


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """Return the dict of a JSON artifact file (YAML too when it ends in .yaml or .yml)."""
    text = load_text(artifact_uri)
    yaml_file = artifact_uri.lower().endswith((".yaml", ".yml"))
    try:
        if yaml_file:
            import yaml

            value = yaml.safe_load(text)
        else:
            value = json.loads(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        kind = "YAML" if yaml_file else "JSON"
        raise InvalidArgumentError(
            f"Unable to form a {kind} object from the content of {artifact_uri!r}: {exc}",
            error_code="BAD_REQUEST",
        ) from None
    result: dict[str, Any] = value
    return result


def load_image(artifact_uri: str) -> Any:
    """Return an image artifact as a PIL image (needs Pillow)."""
    import io

    pil = artifacts._pil()
    data = _file_bytes(artifact_uri)
    try:
        image = pil.open(io.BytesIO(data))
        image.load()
    except Exception:
        raise InvalidArgumentError(
            f"Unable to form a PIL Image object from the content of {artifact_uri!r}",
            error_code="BAD_REQUEST",
        ) from None
    return image


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    """Return the files and folders directly inside an artifact folder (none for a file or a
    path that does not exist); paths are relative to the run's artifact root, as MLflow's."""
    loc = _location(artifact_uri, run_id, artifact_path, tracking_uri)
    if loc.kind == LOCAL:
        return _list_local(loc.path)
    prefix = loc.path
    out: dict[str, FileInfo] = {}
    for rel, size in _listing(loc):
        if prefix and not rel.startswith(prefix + "/"):
            continue
        head, sep, _ = (rel[len(prefix) + 1 :] if prefix else rel).partition("/")
        full = f"{prefix}/{head}" if prefix else head
        out[full] = FileInfo(full, True, None) if sep else FileInfo(full, False, size)
    return [out[k] for k in sorted(out)]


def _list_local(path: str) -> list[FileInfo]:
    """List a local folder as MLflow does: paths start with the folder's own name."""
    if not os.path.isdir(path):
        return []
    base = os.path.basename(path.rstrip(os.sep))
    out = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        is_dir = entry.is_dir()
        out.append(
            FileInfo(f"{base}/{entry.name}", is_dir, None if is_dir else entry.stat().st_size)
        )
    return out


# tables across runs (MLflow's load_table) --------------------------------------------------
def load_table(
    client: Client,
    experiment_id: str,
    artifact_file: str,
    run_ids: list[str] | None = None,
    extra_columns: list[str] | None = None,
) -> pd.DataFrame:
    """Return the table `artifact_file` of every active run of an experiment that has it (or of
    the runs in run_ids), one below the other; `extra_columns` adds columns of the search_runs
    frame (run_id, params.lr, tags.x, ...) with each run's value."""
    import pandas as pd

    from reporter.query import search

    rel = validation.artifact_path(artifact_file, "artifact_file")
    holding = {
        rid
        for rid, files in client.store.list_experiment_artifacts(str(experiment_id)).items()
        if any(path == rel for path, _ in files)
    }
    runs = search.to_mlflow_frame(client.search_runs_frame([str(experiment_id)]))
    if run_ids:
        runs = runs[runs["run_id"].isin(list(run_ids))]
    runs = runs[runs["run_id"].isin(holding)]
    skipped = sorted(set(run_ids or ()) - set(runs["run_id"]))
    if skipped and not runs.empty:
        log.warning(
            "load_table: runs %s are skipped: not active runs of experiment %s with a table %r",
            ", ".join(skipped),
            experiment_id,
            rel,
        )
    if runs.empty:
        among = f" among {', '.join(run_ids)}" if run_ids else ""
        raise NotFoundError(
            "No runs found with the corresponding table artifact: no active run of experiment "
            f"{experiment_id}{among} has an artifact {rel!r}"
        )
    tables = []
    for _, run in runs.iterrows():
        table = artifacts.read_table(
            client.store.read_artifact(run["run_id"], rel, str(experiment_id)), rel
        )
        for column in extra_columns or []:
            if column not in run.index:
                raise InvalidArgumentError(
                    f"load_table: extra column {column!r} is not a column of search_runs; "
                    f"valid: {', '.join(map(str, run.index))}"
                )
            name = column
            if column in table.columns:
                name = f"{column}_"
                log.warning(
                    "load_table: the table has a column %r already; the run's value is %r",
                    column,
                    name,
                )
            table[name] = run[column]
        tables.append(table)
    return pd.concat(tables, ignore_index=True)
