"""RestSource against a real MLflow 3 tracking server, and against servers that misbehave.

The module starts one `mlflow server` (SQLite backend, proxied artifacts) from
`.bench/mlflow-venv` on 127.0.0.1, fills it through MLflow's own client in a child process, and
compares what RestSource reads with what that client reads back (written to JSON by the child).
One run logs MLflow 3 logged models (a scikit-learn model through `mlflow.sklearn.log_model`,
others through the client); RestSource lists their files with the run's artifacts.
Without the venv the real-server tests are skipped (they fail when CI=true).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import math
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from reporter.importers.mlflow.rest import RestSource
from reporter.importers.mlflow.source import (
    ArtifactFile,
    SourceError,
    SourceExperiment,
    SourceRun,
)
from tests.mlflow_server import (
    VENV_PYTHON,
    free_port,
    mlflow_env,
    require_mlflow,
    running_server,
)

# Runs in the MLflow venv: fills the server, then writes what MlflowClient reads back.
POPULATE = r"""
import hashlib, json, os, sys, tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

out_path, local_root = sys.argv[1], sys.argv[2]
c = MlflowClient()
T0 = 1_700_000_000_000
work = Path(tempfile.mkdtemp())


def folder(name, files):
    root = work / name
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return str(root)


def metrics(run_id, key, values, t=T0, step0=0):
    batch = [Metric(key, v, t + i * 1000, step0 + i) for i, v in enumerate(values)]
    for i in range(0, len(batch), 1000):
        c.log_batch(run_id, metrics=batch[i : i + 1000])


alpha = c.create_experiment(
    "rest-alpha", tags={"mlflow.note.content": "Alpha: the *first* one", "team": "vision"}
)
beta = c.create_experiment("rest-beta", tags={"team": "nlp"})
gone = c.create_experiment("rest-gone")
local = c.create_experiment("rest-local", artifact_location=Path(local_root).as_uri())

parent = c.create_run(alpha, start_time=T0, run_name="parent", tags={"stage": "dev"}).info.run_id
c.log_batch(
    parent,
    params=[Param("lr", "0.01"), Param("layers", "3"), Param("optimizer", "adam")],
    tags=[RunTag("note", "ünïcode ✓"), RunTag("empty", "")],
)
metrics(parent, "loss", [1 / (i + 1) for i in range(30)])
metrics(parent, "acc", [i / 30 for i in range(30)])
metrics(parent, "val/loss", [0.9, 0.7, 0.8])
metrics(parent, "odd", [float("nan"), 2.5, float("-inf"), 1e300])
blob = bytes(range(256)) * 800
c.log_artifacts(parent, folder("parent", {
    "model.txt": b"weights",
    "plots/curve.bin": blob,
    "plots/deep/nested/info.json": b'{"a": 1}',
    "dir with space/\u00e4 file.txt": "ä".encode(),
    "empty.txt": b"",
}))
c.set_terminated(parent, "FINISHED", end_time=T0 + 60_000)

child = c.create_run(
    alpha, start_time=T0 + 1000, run_name="child", tags={"mlflow.parentRunId": parent}
).info.run_id
c.log_param(child, "fold", "1")
metrics(child, "loss", [0.5, 0.4, 0.3], t=T0 + 2000)
c.set_terminated(child, "FAILED", end_time=T0 + 5000)

deleted = c.create_run(alpha, start_time=T0 + 2000, run_name="deleted").info.run_id
metrics(deleted, "loss", [3.0], t=T0 + 2000)
c.log_artifacts(deleted, folder("deleted", {"gone.txt": b"bye"}))
c.set_terminated(deleted, "KILLED", end_time=T0 + 3000)
c.delete_run(deleted)

c.create_run(alpha, start_time=T0 + 3000, run_name="still-running")

long_run = c.create_run(beta, start_time=T0 + 4000, run_name="long").info.run_id
metrics(long_run, "long", [(i % 17) * 0.5 for i in range(1100)], step0=5)
c.set_terminated(long_run, "FINISHED", end_time=T0 + 9000)

gone_run = c.create_run(gone, start_time=T0 + 5000, run_name="in-deleted-exp").info.run_id
c.log_param(gone_run, "p", "v")
c.set_terminated(gone_run, "FINISHED", end_time=T0 + 6000)
c.delete_experiment(gone)

local_run = c.create_run(local, start_time=T0 + 6000, run_name="local-artifacts").info.run_id
c.log_artifacts(local_run, folder("local", {"a.txt": b"local a", "sub/b.txt": b"local b"}))
c.set_terminated(local_run, "FINISHED", end_time=T0 + 7000)

# MLflow 3 logged models of one run; `prefixes` is where RestSource must list each one's files
from sklearn.linear_model import LogisticRegression

modeled = c.create_run(beta, start_time=T0 + 7000, run_name="with-model").info.run_id
c.log_artifacts(modeled, folder("modeled", {"notes.txt": b"own", "taken/own.txt": b"own too"}))
prefixes = {}
with mlflow.start_run(run_id=modeled):
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    info = mlflow.sklearn.log_model(clf, name="clf", serialization_format="cloudpickle")
    prefixes[info.model_id] = "clf"


def client_model(name, files, run_id=modeled, delete=False):
    model_id = c.create_logged_model(beta, name=name, source_run_id=run_id).model_id
    if files:
        c.log_model_artifacts(model_id, folder(model_id, files))
    c.finalize_logged_model(model_id, "READY")
    if delete:
        c.delete_logged_model(model_id)
    return model_id


again = client_model("clf", {"MLmodel": b"second clf", "sub/w.bin": bytes(range(200))})
prefixes[again] = f"models/{again}"  # "clf" is the first model's
taken = client_model("taken", {"data.txt": b"taken"})
prefixes[taken] = f"models/{taken}"  # "taken" is a folder of the run's own artifacts
client_model("dropped", {"x.txt": b"deleted model"}, delete=True)
client_model("empty", {})  # no files: nothing listed
client_model("orphan", {"o.txt": b"no run"}, run_id=None)


def num(v):
    return repr(v) if v != v or v in (float("inf"), float("-inf")) else v


def artifact_files(repo, path=None):
    # the run's own files, through its artifact repository: `c.list_artifacts(run_id, "taken")`
    # goes through runs:/ and adds the files of a logged model named "taken" to the folder's
    out = {}
    for info in repo.list_artifacts(path):
        if info.is_dir:
            out.update(artifact_files(repo, info.path))
        else:
            out[info.path] = info.file_size
    return out


def model_files(model_id, path=None):
    out = {}
    for info in c.list_logged_model_artifacts(model_id, path):
        if info.is_dir:
            out.update(model_files(model_id, info.path))
        else:
            out[info.path] = info.file_size
    return out


def logged_models(exp_id, run_id):
    out = []
    for m in c.search_logged_models(experiment_ids=[exp_id], max_results=1000):
        if m.source_run_id != run_id:
            continue
        files = model_files(m.model_id)
        digests = {}
        if files:
            dst = mlflow.artifacts.download_artifacts(
                f"models:/{m.model_id}", dst_path=tempfile.mkdtemp()
            )
            digests = {p: hashlib.sha256((Path(dst) / p).read_bytes()).hexdigest() for p in files}
        out.append({
            "model_id": m.model_id, "name": m.name, "created": m.creation_timestamp,
            "prefix": prefixes.get(m.model_id),
            "files": {p: [size, digests[p]] for p, size in files.items()},
        })
    return sorted(out, key=lambda m: (m["created"], m["model_id"]))


expected = {"experiments": {}, "runs": {}}
for e in c.search_experiments(view_type=ViewType.ALL):
    expected["experiments"][e.experiment_id] = {
        "experiment_id": e.experiment_id, "name": e.name, "lifecycle_stage": e.lifecycle_stage,
        "tags": dict(e.tags), "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
    }
    runs = expected["runs"][e.experiment_id] = {}
    for r in c.search_runs([e.experiment_id], run_view_type=ViewType.ALL, max_results=1000):
        i, d = r.info, r.data
        files = artifact_files(get_artifact_repository(i.artifact_uri))
        digests = {}
        if files:
            dst = mlflow.artifacts.download_artifacts(run_id=i.run_id, dst_path=tempfile.mkdtemp())
            digests = {p: hashlib.sha256((Path(dst) / p).read_bytes()).hexdigest() for p in files}
        runs[i.run_id] = {
            "run": {
                "run_id": i.run_id, "experiment_id": i.experiment_id, "run_name": i.run_name,
                "status": i.status, "start_time": i.start_time, "end_time": i.end_time,
                "user_id": i.user_id, "lifecycle_stage": i.lifecycle_stage,
                "artifact_uri": i.artifact_uri, "params": dict(d.params), "tags": dict(d.tags),
                "latest": {m.key: [m.step, m.timestamp, num(m.value)] for m in d._metric_objs},
            },
            "histories": {
                key: [[m.step, m.timestamp, num(m.value)]
                      for m in c.get_metric_history(i.run_id, key)]
                for key in d.metrics
            },
            "artifacts": {p: [size, digests[p]] for p, size in files.items()},
            "models": logged_models(e.experiment_id, i.run_id),
        }
Path(out_path).write_text(json.dumps(expected, indent=1))
"""


@dataclass
class Server:
    url: str
    expected: dict[str, Any]
    root: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real MLflow tracking server on 127.0.0.1, filled once for the module."""
    require_mlflow()
    root = tmp_path_factory.mktemp("mlflow-server")
    backend = f"sqlite:///{root / 'mlflow.db'}"
    with running_server(root, backend, root / "mlartifacts") as url:
        script = root / "populate.py"
        script.write_text(POPULATE, encoding="utf-8")
        out = root / "expected.json"
        done = subprocess.run(
            [str(VENV_PYTHON), str(script), str(out), str(root / "local-artifacts")],
            cwd=root, env=mlflow_env(MLFLOW_TRACKING_URI=url), capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        yield Server(url, json.loads(out.read_text()), root)


@pytest.fixture(autouse=True)
def _no_mlflow_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


class CountingSource(RestSource):
    """A RestSource that records the endpoints it calls."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.calls: list[str] = []

    def _request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> bytes:
        self.calls.append(endpoint)
        return super()._request(method, endpoint, *args, **kwargs)


def _num(value: float) -> float | str:
    """What the populate script writes for a metric value (non-finite ones as repr)."""
    return repr(value) if math.isnan(value) or math.isinf(value) else value


def _run_dict(run: SourceRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "experiment_id": run.experiment_id, "run_name": run.run_name,
        "status": run.status, "start_time": run.start_time, "end_time": run.end_time,
        "user_id": run.user_id, "lifecycle_stage": run.lifecycle_stage,
        "artifact_uri": run.artifact_uri, "params": run.params, "tags": run.tags,
        "latest": {k: [p.step, p.timestamp, _num(p.value)] for k, p in run.latest.items()},
    }  # fmt: skip


def _points(source: RestSource, run: SourceRun, key: str) -> list[list[Any]]:
    return [[p.step, p.timestamp, _num(p.value)] for p in source.metric_history(run, key)]


def _runs(source: RestSource, exp_id: str) -> dict[str, SourceRun]:
    out = {}
    for item in source.runs(exp_id):
        assert isinstance(item, SourceRun), item
        out[item.run_id] = item
    return out


def _all_runs(source: RestSource, server: Server) -> list[SourceRun]:
    return [run for exp_id in server.expected["runs"] for run in _runs(source, exp_id).values()]


def _by_name(source: RestSource, server: Server, name: str) -> SourceRun:
    (run,) = [r for r in _all_runs(source, server) if r.run_name == name]
    return run


def _expected_files(item: dict[str, Any]) -> dict[str, list[Any]]:
    """A run's files as MLflow's client reads them: its own, then its logged models' files
    under the prefix the populate script gives each (none for a model without files)."""
    files = dict(item["artifacts"])
    for model in item["models"]:
        if model["prefix"] is None:
            assert not model["files"], model
            continue
        files.update({f"{model['prefix']}/{p}": v for p, v in model["files"].items()})
    return files


def _models(server: Server, run: SourceRun) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = server.expected["runs"][run.experiment_id][run.run_id]["models"]
    return models


MODELS_SEARCH = "/api/2.0/mlflow/logged-models/search"


# --- the real server ------------------------------------------------------------------------


def test_experiments_are_those_mlflow_reads(server: Server) -> None:
    got = {}
    for e in RestSource(server.url).experiments():
        assert isinstance(e, SourceExperiment), e
        got[e.experiment_id] = e.__dict__
    assert got == server.expected["experiments"]
    names = {e["name"]: e for e in got.values()}
    assert {"Default", "rest-alpha", "rest-beta", "rest-gone", "rest-local"} == set(names)
    assert names["rest-alpha"]["tags"]["mlflow.note.content"] == "Alpha: the *first* one"
    assert names["rest-gone"]["lifecycle_stage"] == "deleted"


def test_runs_are_those_mlflow_reads(server: Server) -> None:
    source = RestSource(server.url + "/")
    assert source.uri == server.url
    for exp_id, runs in server.expected["runs"].items():
        got = {run_id: _run_dict(run) for run_id, run in _runs(source, exp_id).items()}
        assert got == {run_id: item["run"] for run_id, item in runs.items()}
    by_name = {r.run_name: r for r in _all_runs(source, server)}
    assert by_name["child"].tags["mlflow.parentRunId"] == by_name["parent"].run_id
    assert by_name["deleted"].lifecycle_stage == "deleted"
    assert by_name["child"].status == "FAILED"
    assert by_name["still-running"].end_time is None and by_name["still-running"].latest == {}
    assert by_name["parent"].latest["odd"].value == 1e300  # the point of the highest step
    assert by_name["parent"].tags["note"] == "ünïcode ✓"
    assert by_name["parent"].artifact_uri.startswith("mlflow-artifacts:")
    assert by_name["local-artifacts"].artifact_uri.startswith("file://")


def test_metric_histories_are_those_mlflow_reads(server: Server) -> None:
    source = RestSource(server.url)
    for exp_id, runs in server.expected["runs"].items():
        got_runs = _runs(source, exp_id)
        for run_id, item in runs.items():
            run = got_runs[run_id]
            assert set(run.latest) == set(item["histories"])
            for key, points in item["histories"].items():
                assert _points(source, run, key) == points, (run.run_name, key)
    parent = _by_name(source, server, "parent")
    odd = source.metric_history(parent, "odd")
    assert math.isnan(odd[0].value) and odd[1].value == 2.5
    assert source.metric_history(parent, "no-such-metric") == []


def test_small_pages_read_the_same(server: Server) -> None:
    """Every paged endpoint, with pages small enough to need several requests."""
    plain = RestSource(server.url)
    paged = CountingSource(server.url)
    paged.experiments_page, paged.runs_page, paged.history_page = 1, 2, 100
    paged.models_page = 1
    assert paged.experiments() == plain.experiments()
    assert paged.calls.count("/api/2.0/mlflow/experiments/search") == 5
    for exp_id in server.expected["runs"]:
        assert _runs(paged, exp_id) == _runs(plain, exp_id)
    alpha_runs = len(server.expected["runs"][_exp_id(server, "rest-alpha")])
    assert alpha_runs == 4
    long_run = _by_name(plain, server, "long")
    paged.calls.clear()
    history = paged.metric_history(long_run, "long")
    assert history == plain.metric_history(long_run, "long")
    assert len(history) == 1100 and paged.calls.count("/api/2.0/mlflow/metrics/get-history") == 11
    parent = _by_name(plain, server, "parent")
    paged.history_page = 7
    for key in parent.latest:
        assert _points(paged, parent, key) == _points(plain, parent, key)
    paged.history_page = 10  # 30 points: the last page is exactly full
    paged.calls.clear()
    assert paged.metric_history(parent, "loss") == plain.metric_history(parent, "loss")
    assert paged.calls.count("/api/2.0/mlflow/metrics/get-history") == 3
    runs = _all_runs(plain, server)
    paged.calls.clear()
    for run in runs:
        assert paged.artifacts(run) == plain.artifacts(run)
    # one search per experiment with runs: rest-beta's 5 live models take 5 pages of one
    assert paged.calls.count(MODELS_SEARCH) == 5 + 3


def _exp_id(server: Server, name: str) -> str:
    (exp_id,) = [k for k, e in server.expected["experiments"].items() if e["name"] == name]
    return str(exp_id)


def test_artifacts_are_those_mlflow_reads(server: Server) -> None:
    source = RestSource(server.url)
    checked = 0
    for exp_id, runs in server.expected["runs"].items():
        for run_id, item in _runs(source, exp_id).items():
            expected = _expected_files(runs[run_id])
            files = source.artifacts(item)
            assert {f.path: f.size for f in files} == {p: v[0] for p, v in expected.items()}
            assert len(files) == len(expected)
            for f in files:
                data = source.read_artifact(item, f.path)
                assert hashlib.sha256(data).hexdigest() == expected[f.path][1], f.path
                checked += 1
    assert checked == 5 + 1 + 2 + 2 + 5 + 2 + 1  # parent, deleted, local, with-model (+models)
    parent = _by_name(source, server, "parent")
    assert source.read_artifact(parent, "dir with space/ä file.txt") == "ä".encode()
    assert source.read_artifact(parent, "plots/curve.bin") == bytes(range(256)) * 800
    assert source.artifacts(_by_name(source, server, "child")) == []


def test_proxied_artifact_endpoint_is_the_fallback(server: Server) -> None:
    """When /get-artifact fails, an mlflow-artifacts: run is read via the proxy endpoint."""

    class NoGetArtifact(CountingSource):
        def _request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> bytes:
            if endpoint == "/get-artifact":
                self.calls.append(endpoint)
                raise SourceError("no /get-artifact here")
            return super()._request(method, endpoint, *args, **kwargs)

    source = NoGetArtifact(server.url)
    parent = _by_name(source, server, "parent")
    source.artifacts(parent)  # (searches the experiment's logged models)
    source.calls.clear()
    assert source.read_artifact(parent, "dir with space/ä file.txt") == "ä".encode()
    assert source.read_artifact(parent, "plots/deep/nested/info.json") == b'{"a": 1}'
    assert source.calls == ["/get-artifact", "/api/2.0/mlflow-artifacts/artifacts"] * 2
    with pytest.raises(SourceError, match=r"'nope\.txt' of run .*no /get-artifact here"):
        source.read_artifact(parent, "nope.txt")
    local = _by_name(source, server, "local-artifacts")  # file: URI, no fallback
    with pytest.raises(SourceError, match="no /get-artifact here"):
        source.read_artifact(local, "a.txt")


def test_logged_models_are_listed_with_their_run(server: Server) -> None:
    """MLflow 3's log_model files come under the model's name, or under models/<model_id> when
    the run's own files or an older model have the name (as the file-store and SQLite readers
    list them; MLflow's `runs:/<run>/clf` finds the newest "clf" model instead); deleted models,
    models without files and models of no run are not listed."""
    source = RestSource(server.url)
    run = _by_name(source, server, "with-model")
    models = _models(server, run)
    assert [m["name"] for m in models] == ["clf", "clf", "taken", "empty"]
    _, again, taken, _ = (m["model_id"] for m in models)
    paths = {f.path for f in source.artifacts(run)}
    assert paths == {
        "notes.txt", "taken/own.txt", "clf/MLmodel", "clf/conda.yaml", "clf/model.pkl",
        "clf/python_env.yaml", "clf/requirements.txt", f"models/{again}/MLmodel",
        f"models/{again}/sub/w.bin", f"models/{taken}/data.txt",
    }  # fmt: skip
    assert b"sklearn" in source.read_artifact(run, "clf/MLmodel")
    assert source.artifacts(_by_name(source, server, "long")) == []

    fresh = CountingSource(server.url)  # read without listing first
    run = _by_name(fresh, server, "with-model")
    fresh.calls.clear()
    assert fresh.read_artifact(run, f"models/{again}/sub/w.bin") == bytes(range(200))
    assert fresh.read_artifact(run, "clf/MLmodel") == source.read_artifact(run, "clf/MLmodel")
    assert fresh.read_artifact(run, "taken/own.txt") == b"own too"
    assert fresh.calls.count(MODELS_SEARCH) == 1
    files = f"/ajax-api/2.0/mlflow/logged-models/{again}/artifacts/files"
    assert files in fresh.calls
    missing = r"'clf/nope' of run [0-9a-f]{32} \(logged model m-[0-9a-f]+\).*RESOURCE_DOES_NOT"
    with pytest.raises(SourceError, match=missing):
        fresh.read_artifact(run, "clf/nope")


def test_proxied_artifact_endpoint_is_the_fallback_for_models(server: Server) -> None:
    class NoModelFiles(CountingSource):
        def _request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> bytes:
            if endpoint.endswith("/artifacts/files"):
                self.calls.append(endpoint)
                raise SourceError("no model files here")
            return super()._request(method, endpoint, *args, **kwargs)

    source = NoModelFiles(server.url)
    run = _by_name(source, server, "with-model")
    again = _models(server, run)[1]["model_id"]
    source.artifacts(run)
    source.calls.clear()
    assert source.read_artifact(run, f"models/{again}/MLmodel") == b"second clf"
    assert source.calls == [
        f"/ajax-api/2.0/mlflow/logged-models/{again}/artifacts/files",
        "/api/2.0/mlflow-artifacts/artifacts",
    ]
    with pytest.raises(SourceError, match=r"'clf/nope' of run .*no model files here"):
        source.read_artifact(run, "clf/nope")


def test_missing_artifact_and_run_are_clear_errors(server: Server) -> None:
    source = RestSource(server.url)
    parent = _by_name(source, server, "parent")
    missing = r"'nope\.txt' of run [0-9a-f]{32}.*RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(SourceError, match=missing):
        source.read_artifact(parent, "nope.txt")
    with pytest.raises(SourceError, match="Cannot read artifact 'plots'"):
        source.read_artifact(parent, "plots")  # a folder
    ghost = SourceRun(
        run_id="0" * 32, experiment_id="1", run_name="", status="FINISHED", start_time=None,
        end_time=None, user_id="", lifecycle_stage="active", artifact_uri="",
    )  # fmt: skip
    with pytest.raises(SourceError, match=r"RESOURCE_DOES_NOT_EXIST.*not found"):
        source.artifacts(ghost)


def test_unknown_experiment_has_no_runs_and_a_bad_id_is_the_servers_error(server: Server) -> None:
    source = RestSource(server.url)
    assert list(source.runs("987654")) == []
    with pytest.raises(SourceError, match="INVALID_PARAMETER_VALUE: Invalid experiment ID 'abc'"):
        list(source.runs("abc"))


# --- servers that are not (working) MLflow servers ------------------------------------------

Responder = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def fake_server(respond: Responder, methods: tuple[str, ...] = ("GET", "POST")) -> Iterator[str]:
    """Serve `respond(handler)` for each request on 127.0.0.1; yield the base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    def handle(self: http.server.BaseHTTPRequestHandler) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        respond(self)

    for method in methods:
        setattr(Handler, f"do_{method}", handle)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def send(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes | dict[str, Any] = b"",
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    handler.send_response(status)
    kind = "application/json" if isinstance(body, dict) else "text/html"
    headers = {"Content-Type": kind, "Content-Length": str(len(data)), **(headers or {})}
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def test_unreachable_server_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # closed: nothing listens there
    source = RestSource(url, timeout=5)
    sent: list[str] = []
    real_open = source._opener.open

    def counted(request: Any, *args: Any, **kwargs: Any) -> Any:  # the real opener, counted
        sent.append(request.full_url)
        return real_open(request, *args, **kwargs)

    source._opener.open = counted  # type: ignore[method-assign,assignment]
    with pytest.raises(SourceError) as caught:
        source.experiments()
    message = str(caught.value)
    assert url in message and "check the server is running" in message
    assert len(sent) == 1  # a refused connection is not retried


def test_not_an_mlflow_server_404() -> None:
    with fake_server(lambda h: send(h, 404, b"<html>Not Found</html>")) as url:
        with pytest.raises(SourceError, match=r"HTTP 404 .*not an MLflow tracking server\?") as e:
            RestSource(url).experiments()
        assert f"{url}/api/2.0/mlflow/experiments/search" in str(e.value)
        with pytest.raises(SourceError, match=r"not an MLflow tracking server\?"):
            RestSource(url).metric_history(_run(), "loss")


def test_not_an_mlflow_server_without_post() -> None:
    """Python's http.server answers POST with 501: no MLflow there either."""
    with fake_server(lambda h: send(h, 200, b"<html>hi</html>"), methods=("GET",)) as url:
        with pytest.raises(SourceError, match=r"HTTP 501 .*not an MLflow tracking server\?"):
            RestSource(url).experiments()
        with pytest.raises(SourceError, match=r"not answer with a JSON object: not an MLflow"):
            RestSource(url).metric_history(_run(), "loss")


def test_auth_failure_names_the_env_vars() -> None:
    seen: list[str | None] = []

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        send(handler, 401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="mlflow"'})

    with fake_server(respond) as url:
        with pytest.raises(SourceError, match=r"HTTP 401.*MLFLOW_TRACKING_TOKEN.*USERNAME") as e:
            RestSource(url).experiments()
        assert url in str(e.value)
        assert seen == [None]  # not retried


def test_credentials_are_sent_like_mlflow_clients_do(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        send(handler, 200, {"experiments": []})

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    with fake_server(respond) as url:
        RestSource(url, token="given").experiments()
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "from-env")
        RestSource(url).experiments()
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
        RestSource(url).experiments()  # basic auth wins over the env token, as in MLflow
        RestSource(url, token="given").experiments()
        with_user = url.replace("http://", "http://bob:p%40ss@")
        source = RestSource(with_user + "/")
        source.experiments()
        assert source.uri == url.replace("http://", "http://***@")
    assert seen == [
        "Bearer given", "Bearer from-env", basic("ann", "s3cret"), "Bearer given",
        basic("bob", "p@ss"),
    ]  # fmt: skip


def test_retries_429_and_5xx_then_succeeds() -> None:
    answers: list[tuple[int, bytes | dict[str, Any], dict[str, str]]] = [
        (503, b"busy", {}),
        (429, b"slow down", {"Retry-After": "0"}),
        (200, {"experiments": [{"experiment_id": "7", "name": "x", "tags": []}]}, {}),
    ]

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        status, body, headers = answers.pop(0)
        send(handler, status, body, headers)

    with fake_server(respond) as url:
        source = RestSource(url)
        source.backoff = 0.01
        (exp,) = source.experiments()
    assert isinstance(exp, SourceExperiment), exp
    assert (exp.experiment_id, exp.name, exp.lifecycle_stage, exp.tags) == ("7", "x", "active", {})
    assert answers == []


def test_gives_up_after_retries_with_the_servers_message() -> None:
    count = []

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        count.append(1)
        send(handler, 500, {"error_code": "INTERNAL_ERROR", "message": "disk on fire"})

    with fake_server(respond) as url:
        source = RestSource(url)
        source.backoff = 0.01
        with pytest.raises(SourceError, match="INTERNAL_ERROR: disk on fire"):
            source.experiments()
    assert len(count) == 3


def test_retries_a_dropped_connection() -> None:
    calls = []

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        calls.append(1)
        if len(calls) == 1:
            handler.close_connection = True  # no answer at all: the client sees a reset
            return
        send(handler, 200, {"experiments": []})

    with fake_server(respond) as url:
        source = RestSource(url)
        source.backoff = 0.01
        assert source.experiments() == []
    assert len(calls) == 2


def test_redirect_is_not_followed() -> None:
    hits = []

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        send(handler, 302, b"", {"Location": "https://elsewhere.invalid/api"})

    with (
        fake_server(respond) as url,
        pytest.raises(SourceError, match=r"redirects .*https://elsewhere\.invalid/api"),
    ):
        RestSource(url, token="secret").experiments()
    assert len(hits) == 1


def test_a_malformed_run_is_yielded_as_an_error_naming_it() -> None:
    good = {"info": {"run_id": "a" * 32, "experiment_id": "1", "status": "FINISHED",
                     "start_time": "1700000000000", "lifecycle_stage": "active"},
            "data": {"metrics": [{"key": "m", "value": "NaN", "timestamp": 5, "step": "2"}],
                     "params": [{"key": "p", "value": "1"}]}}  # fmt: skip
    bad = {"info": {"run_id": "b" * 32, "start_time": "yesterday"}, "data": {}}
    pages: list[dict[str, Any]] = [
        {"runs": [good], "next_page_token": "t1"},
        {"runs": [bad, "junk", good]},
    ]

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        send(handler, 200, pages.pop(0))

    with fake_server(respond) as url:
        items = list(RestSource(url).runs("1"))
    assert len(items) == 3  # the repeated good run comes once
    first, second, third = items
    assert isinstance(first, SourceRun) and first.run_id == "a" * 32
    assert first.start_time == 1_700_000_000_000 and first.params == {"p": "1"}
    assert math.isnan(first.latest["m"].value) and first.latest["m"].step == 2
    assert isinstance(second, SourceError) and "b" * 32 in str(second)
    assert "'yesterday'" in str(second) and url in str(second)
    assert isinstance(third, SourceError) and "run #3" in str(third)


def test_a_repeated_page_token_stops_paging() -> None:
    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        send(handler, 200, {"experiments": [], "next_page_token": "same"})

    with (
        fake_server(respond) as url,
        pytest.raises(SourceError, match="page token 'same' again"),
    ):
        RestSource(url).experiments()


def test_artifact_listing_that_loops_is_an_error() -> None:
    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        send(handler, 200, {"files": [{"path": "", "is_dir": True}]})

    with (
        fake_server(respond) as url,
        pytest.raises(SourceError, match="not inside the folder listed"),
    ):
        RestSource(url).artifacts(_run())


def test_a_server_without_logged_models_lists_the_runs_files() -> None:
    """An MLflow 2 server has no logged-models API: it answers 404; no model is listed."""
    hits: list[str] = []

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        if "/logged-models/" in handler.path:
            send(handler, 404, b"<html>Not Found</html>")
        elif handler.path.startswith("/get-artifact"):
            send(handler, 200, b"abc")
        else:
            send(handler, 200, {"files": [{"path": "a.txt", "file_size": "3"}]})

    with fake_server(respond) as url:
        source = RestSource(url)
        assert source.artifacts(_run()) == [ArtifactFile("a.txt", 3)]
        other = replace(_run(), run_id="d" * 32, experiment_id="2")
        assert source.artifacts(other) == [ArtifactFile("a.txt", 3)]
        assert RestSource(url).read_artifact(_run(), "a.txt") == b"abc"
    assert sum(path.startswith(MODELS_SEARCH) for path in hits) == 2  # once per source


def test_a_malformed_logged_model_fails_its_run() -> None:
    answers: dict[str, Any] = {}

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.path == MODELS_SEARCH:
            send(handler, 200, answers)
        else:
            send(handler, 200, {})

    other = replace(_run(), run_id="d" * 32)
    with fake_server(respond) as url:
        answers["models"] = [
            {"info": {"model_id": 5, "source_run_id": "c" * 32}},
            {"info": {"model_id": ["x"], "source_run_id": ""}},  # of no run: ignored
        ]
        source = RestSource(url)
        with pytest.raises(SourceError, match=f"of run {'c' * 32}: bad entry in {url}.*is 5"):
            source.artifacts(_run())
        assert source.artifacts(other) == []
        answers["models"] = ["junk"]  # whose run is unknown: every run of the experiment fails
        source = RestSource(url)
        for run in (_run(), other):
            with pytest.raises(SourceError, match=f"{url}.*no model info in junk"):
                source.read_artifact(run, "a.txt")


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/", "http://", "127.0.0.1:5000", "http://127.0.0.1:5000/?x=1",
     "http://127.0.0.1:99999", "http://127.0.0.1:5000/a b"],
)  # fmt: skip
def test_url_must_be_an_http_base_url(url: str) -> None:
    with pytest.raises(SourceError, match="not a tracking server URL"):
        RestSource(url)


def test_url_keeps_its_path_and_loses_the_trailing_slash() -> None:
    source = RestSource("https://127.0.0.1:8443/mlflow/")
    assert source.uri == source.base == "https://127.0.0.1:8443/mlflow"


def _run() -> SourceRun:
    return SourceRun(
        run_id="c" * 32, experiment_id="1", run_name="r", status="FINISHED", start_time=None,
        end_time=None, user_id="", lifecycle_stage="active", artifact_uri="",
    )  # fmt: skip
