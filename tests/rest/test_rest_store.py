"""Logging to a real `mlflow server` through the fluent API, read back by MLflow and by us.

MLflow's own client reads what we logged in a child process of the MLflow venv (it prints
JSON); values are compared one by one. Then failures: an unknown run, a server that is not
there, a server that answers 503 twice, a client killed while it logs.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import reporter
import reporter as mlflow
import reporter.sklearn
from reporter.core.entities import Metric, Param, RunTag
from reporter.core.errors import NotFoundError, ReporterError
from reporter.store.rest.http import ServerUnreachableError
from reporter.store.rest.store import RestStore
from tests.cli import run_cli
from tests.conftest import REPO, python_env
from tests.mlflow_server import VENV_PYTHON, free_port, mlflow_env, require_mlflow
from tests.rest.conftest import Server
from tests.rest.proxy import Forwarder, forwarding
from tests.tracker_server import running

# Runs in the MLflow venv: prints what MlflowClient reads of our runs and logged model.
READ_BACK = r"""
import json, sys
import mlflow
from mlflow import MlflowClient

url, run_id, child_id, model_id = sys.argv[1:5]
mlflow.set_tracking_uri(url)
c = MlflowClient()


def run(rid):
    r = c.get_run(rid)
    return {"status": r.info.status, "name": r.info.run_name, "params": r.data.params,
            "tags": r.data.tags, "metrics": r.data.metrics, "end_time": r.info.end_time}


def walk(rid, path=None):
    out = []
    for f in c.list_artifacts(rid, path):
        out += walk(rid, f.path) if f.is_dir else [[f.path, f.file_size]]
    return out


model = c.get_logged_model(model_id)
print(json.dumps({
    "run": run(run_id),
    "child": run(child_id),
    "history": {k: [[m.step, m.value, m.timestamp] for m in c.get_metric_history(run_id, k)]
                for k in ("loss", "acc")},
    "artifacts": sorted(walk(run_id)),
    "text": mlflow.artifacts.load_text(f"runs:/{run_id}/notes/a.txt"),
    "model": {"name": model.name, "status": str(model.status), "run": model.source_run_id,
              "params": model.params},
    "model_files": sorted(f.path for f in c.list_logged_model_artifacts(model_id)),
}))
"""


def mlflow_reads(url: str, *ids: str) -> dict[str, Any]:
    """Return what MLflow's own client reads of our runs (run in MLflow's venv)."""
    answer = subprocess.run(
        [str(VENV_PYTHON), "-c", READ_BACK, url, *ids],
        capture_output=True, text=True, timeout=120, env=mlflow_env(), check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr[-3000:]
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(params=["mlflow server", "tracker-report server"])
def server_uri(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """Point the tracking API at an empty server: MLflow's own (emptied) or ours (new)."""
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "0")
    if request.param == "mlflow server":
        url = request.getfixturevalue("fresh_server").url
        monkeypatch.setenv("TRACKER_TRACKING_URI", url)
        yield url
        return
    require_mlflow()  # the tests read back through MLflow's client too
    with running(tmp_path / "server-store", tmp_path) as ours:
        monkeypatch.setenv("TRACKER_TRACKING_URI", ours.url)
        yield ours.url


LOSS = [1.0, 0.5, 0.25, float("nan"), 0.125]


def log_a_training(tmp_path: Path) -> tuple[str, str, str]:
    """Log a parent run (params, histories, tags, files, a model) and a nested child."""
    mlflow.set_experiment("rest")
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "sub" / "b.bin").write_bytes(b"\x00\x01binary")
    (tmp_path / "one.txt").write_text("one file")
    with mlflow.start_run(run_name="parent") as run:
        mlflow.log_params({"lr": 0.1, "layers": 3})
        mlflow.set_tags({"team": "vision", "empty": ""})
        for step, value in enumerate(LOSS):
            mlflow.log_metric("loss", value, step=step * 10, timestamp=1_000 + step)
        mlflow.log_metrics({"acc": 0.9}, step=4)
        mlflow.log_text("hello", "notes/a.txt")
        mlflow.log_dict({"a": [1, 2]}, "config.json")
        mlflow.log_artifact(str(tmp_path / "one.txt"))
        mlflow.log_artifacts(str(tmp_path / "folder"), "data")
        mlflow.log_table({"x": [1, 2]}, "table.json")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("child_metric", 7.0)
        from sklearn.linear_model import LinearRegression

        fitted = LinearRegression().fit(np.array([[1.0], [2.0]]), np.array([2.0, 4.0]))
        info = reporter.sklearn.log_model(fitted, name="model", params={"alpha": "1"})
    return run.info.run_id, child.info.run_id, str(info.model_id)


def test_fluent_logging_reads_back_in_mlflow_and_in_ours(server_uri: str, tmp_path: Path) -> None:
    run_id, child_id, model_id = log_a_training(tmp_path)
    seen = mlflow_reads(server_uri, run_id, child_id, model_id)
    assert seen["run"]["status"] == "FINISHED" and seen["run"]["name"] == "parent"
    assert seen["run"]["params"] == {"lr": "0.1", "layers": "3"}
    assert seen["run"]["tags"]["team"] == "vision" and seen["run"]["tags"]["empty"] == ""
    assert seen["child"]["tags"]["mlflow.parentRunId"] == run_id
    assert seen["child"]["metrics"] == {"child_metric": 7.0}
    assert seen["child"]["status"] == "FINISHED"
    loss = seen["history"]["loss"]
    assert [s for s, _, _ in loss] == [0, 10, 20, 30, 40]
    assert [t for _, _, t in loss] == [1000, 1001, 1002, 1003, 1004]
    values = [float(v) for _, v, _ in loss]
    assert values[:3] + values[4:] == [1.0, 0.5, 0.25, 0.125] and np.isnan(values[3])
    assert [(s, v) for s, v, _ in seen["history"]["acc"]] == [(4, 0.9)]
    files = dict(map(tuple, seen["artifacts"]))
    assert files["notes/a.txt"] == 5 and files["data/sub/b.bin"] == 8 and files["one.txt"] == 8
    assert {"config.json", "table.json"} <= set(files) and seen["text"] == "hello"
    assert seen["model"] == {
        "name": "model",
        "status": "READY",
        "run": run_id,
        "params": {"lr": "0.1", "layers": "3", "alpha": "1"},
    }
    assert {"MLmodel", "model.pkl", "requirements.txt"} <= set(seen["model_files"])

    # ours reads the same
    client = reporter.Client(server_uri)
    run = client.get_run(run_id)
    assert (run.data.params, run.info.status) == (seen["run"]["params"], "FINISHED")
    assert run.data.tags == seen["run"]["tags"] and run.info.end_time == seen["run"]["end_time"]
    ours = [(m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, "loss")]
    assert [(s, t) for s, _, t in ours] == [(s, t) for s, _, t in loss]
    assert client.get_run(child_id).info.parent_run_id == run_id
    assert sorted((f, s) for f, s in client.store.list_artifacts(run_id)) == sorted(
        (f, s) for f, s in seen["artifacts"]
    )
    assert mlflow.artifacts.load_text(client.get_artifact_uri(run_id, "notes/a.txt")) == "hello"
    assert mlflow.load_table("table.json")["x"].tolist() == [1, 2]
    loaded = reporter.sklearn.load_model(f"models:/{model_id}")
    assert loaded.predict(np.array([[3.0]])).tolist() == pytest.approx([6.0])
    frame = mlflow.search_runs()
    assert isinstance(frame, pd.DataFrame)
    assert set(frame["run_id"]) == {run_id, child_id}
    assert frame.set_index("run_id").loc[run_id, "metrics.loss"] == 0.125


def test_a_site_builds_from_the_server(server_uri: str, tmp_path: Path) -> None:
    run_id, _, _ = log_a_training(tmp_path)
    out = tmp_path / "site"
    result = run_cli("build", "--store", server_uri, "--out", str(out))
    assert result.returncode == 0, result.stderr
    series = _series(out / "runs" / run_id / "series.js", run_id)
    steps = np.frombuffer(base64.b64decode(series["loss"]["step"]), dtype=np.float64)
    values = np.frombuffer(base64.b64decode(series["loss"]["value"]), dtype=np.float64)
    assert steps.tolist() == [0, 10, 20, 30, 40]
    assert np.array_equal(values, np.array(LOSS), equal_nan=True)
    html = (out / "runs" / run_id / "index.html").read_text()
    assert "parent" in html and "vision" in html
    assert (out / "runs" / run_id / "artifacts" / "notes" / "a.txt").read_text() == "hello"


def _series(path: Path, run_id: str) -> dict[str, Any]:
    """Return the metric series a run page's series.js holds."""
    first = path.read_text().splitlines()[0]
    prefix = f'["{run_id}"] = '
    data: dict[str, Any] = json.loads(first[first.index(prefix) + len(prefix) :].rstrip(";"))
    return data


# errors -------------------------------------------------------------------------------------
def test_an_unknown_run_is_not_found(server_uri: str) -> None:
    with pytest.raises(NotFoundError, match="runs/get"):
        reporter.Client(server_uri).get_run(uuid.uuid4().hex)


def test_an_unreachable_server_fails_start_run_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("TRACKER_HTTP_RETRY_TIMEOUT", "0.5")
    mlflow.set_tracking_uri(url)
    started = time.monotonic()
    with pytest.raises(ServerUnreachableError) as caught:
        mlflow.start_run()
    assert time.monotonic() - started < 10
    assert isinstance(caught.value, ReporterError)
    message = str(caught.value)
    assert (
        url in message and "/api/2.0/mlflow/" in message and "TRACKER_HTTP_RETRY_TIMEOUT" in message
    )


class _Flaky(Forwarder):
    """Forwards every request to the real server, except the first two log-batch requests,
    which are answered 503 (Retry-After: 0)."""

    refusals = 2
    batches: ClassVar[list[bytes]] = []

    def intercept(self, body: bytes | None) -> bool:
        if not self.path.endswith("/runs/log-batch"):
            return False
        with self.lock:
            type(self).batches.append(body or b"")
            refuse = len(type(self).batches) <= type(self).refusals
        if refuse:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
        return refuse


@pytest.fixture
def flaky_proxy(fresh_server: Server) -> Iterator[str]:
    _Flaky.batches = []
    with forwarding(_Flaky, fresh_server.url) as url:
        yield url


def test_a_batch_refused_twice_with_503_arrives_once(
    flaky_proxy: str, fresh_server: Server
) -> None:
    store = RestStore(flaky_proxy)
    exp_id = store.create_experiment("flaky")
    run_id = store.create_run(exp_id, "r", "me", 1, []).info.run_id
    store.log_batch(
        run_id,
        metrics=[Metric("m", float(i), 100 + i, i) for i in range(3)],
        params=[Param("p", "1")],
        tags=[RunTag("t", "x")],
    )
    store.flush()
    store.close()
    assert len(_Flaky.batches) == 3 and len(set(_Flaky.batches)) == 1  # the same batch, thrice
    direct = RestStore(fresh_server.url)
    history = direct.get_metric_history(run_id, "m")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (i, float(i), 100 + i) for i in range(3)
    ]
    run = direct.get_run(run_id)
    assert run.data.params == {"p": "1"} and run.data.tags["t"] == "x"
    direct.close()


# a client killed while it logs ----------------------------------------------------------------
KILLED_CHILD = r"""
import sys, time
import reporter as mlflow
mlflow.set_experiment("killed")
progress = open(sys.argv[1], "w")
with mlflow.start_run() as run:
    progress.write(run.info.run_id + "\n")
    progress.flush()
    for step in range(10**6):
        mlflow.log_metric("x", step * 0.5, step=step)
        progress.write(f"{step}\n")
        progress.flush()
        time.sleep(0.002)
"""


def _steps_on_server(client: reporter.Client, run_id: str) -> list[int]:
    return [m.step for m in client.get_metric_history(run_id, "x")]


def _wait(condition: Any, seconds: float, what: str) -> Any:
    """Return condition()'s first truthy value; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


@pytest.mark.slow
def test_a_killed_client_leaves_a_prefix_at_most_one_interval_behind(
    server_uri: str, tmp_path: Path
) -> None:
    interval = 0.5
    progress = tmp_path / "progress.txt"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(progress)],
        env=python_env(TRACKER_FLUSH_INTERVAL=str(interval)), cwd=REPO,
    )  # fmt: skip
    try:
        lines = _wait(lambda: progress.exists() and progress.read_text().split(), 60, "a run")
        run_id = lines[0]
        client = reporter.Client(server_uri)
        # what the child has logged by now reaches the server within a flush interval or so
        _wait(lambda: len(progress.read_text().split()) > 20, 60, "20 logged steps")
        logged = int(progress.read_text().split()[-1])
        _wait(
            lambda: (s := _steps_on_server(client, run_id)) and s[-1] >= logged,
            interval * 4 + 30,  # liveness only: a loaded machine may be slow
            f"step {logged} on the server",
        )
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    steps = _steps_on_server(client, run_id)
    values = [m.value for m in client.get_metric_history(run_id, "x")]
    assert steps == list(range(len(steps))) and values == [s * 0.5 for s in steps]  # a prefix
    assert len(steps) > logged
    final = int(progress.read_text().split()[-1])
    assert len(steps) <= final + 1  # nothing the child did not log
