"""Stateless, so it scales out: two `tracker-report server` processes on one S3 store (moto's
server on 127.0.0.1), behind a real reverse proxy (Debian's nginx, round-robin, on loopback),
lose and double nothing while many clients log through the proxy at once.

The clients are threads speaking MLflow's REST API with httpx, and one real MLflow client
process (from MLflow's venv). The assertions are on the store itself, read directly with
reporter's `Client`: every acknowledged run, param and metric point is there exactly once, and
nginx's access log shows that both servers answered requests.

nginx is optional locally (the tests skip without it); under CI=true they fail without it
(tests/nginx.py).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reporter.core.entities import RunStatus
from reporter.tracking.client import Client
from tests.mlflow_server import VENV_PYTHON, free_port, mlflow_env, require_mlflow
from tests.nginx import Proxy, nginx, nginx_binary
from tests.tracker_server import Server, running

STORE_KINDS = ["s3"]

API = "/api/2.0/mlflow"
TIMEOUT = 120.0  # seconds for one request (a CPU hog beside the test slows everything)
CLIENTS = 16  # httpx client threads
RUNS_PER_CLIENT = 2
BATCHES = 2  # log-batch calls per run, each of BATCH_KEYS x BATCH_STEPS points
BATCH_KEYS = ("loss", "acc")
BATCH_STEPS = 50
SINGLES = 8  # log-metric calls per run
MLFLOW_RUNS = 3  # runs of the real MLflow client


# what the clients logged -------------------------------------------------------------------
Point = tuple[int, float, int]  # step, value, timestamp


@dataclass
class Logged:
    """What one run was acknowledged to hold."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[Point]] = field(default_factory=dict)


def call(http: httpx.Client, url: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST one API request; fail the test unless it is answered 200."""
    answer = http.post(f"{url}{API}/{endpoint}", json=body, timeout=TIMEOUT)
    assert answer.status_code == 200, f"{endpoint}: {answer.status_code} {answer.text[:1000]}"
    return dict(answer.json())


def http_client(url: str, experiment_id: str, client: int) -> dict[str, Logged]:
    """Log RUNS_PER_CLIENT runs over plain HTTP; return what was acknowledged, by run id."""
    logged: dict[str, Logged] = {}
    with httpx.Client() as http:
        for r in range(RUNS_PER_CLIENT):
            body = {"experiment_id": experiment_id, "run_name": f"http-{client}-{r}"}
            run_id = call(http, url, "runs/create", body)["run"]["info"]["run_id"]
            run = logged[run_id] = Logged()
            params = {"client": str(client), "run": str(r)}
            call(http, url, "runs/log-batch", {"run_id": run_id, "params": pair_list(params)})
            run.params.update(params)
            for b in range(BATCHES):
                points = {
                    key: [point(client, r, k, b * BATCH_STEPS + s) for s in range(BATCH_STEPS)]
                    for k, key in enumerate(BATCH_KEYS)
                }
                metrics = [
                    {"key": key, "step": step, "value": value, "timestamp": ts}
                    for key, rows in points.items()
                    for step, value, ts in rows
                ]
                call(http, url, "runs/log-batch", {"run_id": run_id, "metrics": metrics})
                for key, rows in points.items():
                    run.metrics.setdefault(key, []).extend(rows)
            for s in range(SINGLES):
                step, value, ts = point(client, r, 9, s)
                metric = {"key": "single", "step": step, "value": value, "timestamp": ts}
                call(http, url, "runs/log-metric", {"run_id": run_id, **metric})
                run.metrics.setdefault("single", []).append((step, value, ts))
            end = {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)}
            call(http, url, "runs/update", end)
    return logged


def point(client: int, run: int, key: int, step: int) -> Point:
    """Return a point whose value names where it came from (so a mix-up shows)."""
    value = client * 1000 + run * 100 + key + step / 1024
    return step, value, 1_700_000_000_000 + client * 1_000_000 + step


def pair_list(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in pairs.items()]


# a real MLflow client process: log_metric and log_batch, through the proxy
MLFLOW_SCRIPT = """
import json, sys
import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

experiment, runs = sys.argv[1], int(sys.argv[2])
mlflow.set_experiment(experiment)
client = MlflowClient()
out = {}
for r in range(runs):
    with mlflow.start_run(run_name=f"mlflow-{r}") as run:
        run_id = run.info.run_id
        mlflow.log_params({"framework": "mlflow", "run": r})
        single = []
        for step in range(20):
            value, ts = r + step / 8, 1_600_000_000_000 + step
            mlflow.log_metric("single", value, step=step, timestamp=ts)
            single.append((step, value, ts))
        batch = [Metric("batch", r * 10 + s / 4, 1_600_000_000_000 + s, s) for s in range(300)]
        client.log_batch(run_id, metrics=batch)
        out[run_id] = {
            "params": {"framework": "mlflow", "run": str(r)},
            "metrics": {"single": single, "batch": [(m.step, m.value, m.timestamp) for m in batch]},
        }
print(json.dumps(out))
"""


@contextmanager
def mlflow_client(url: str, experiment: str, workdir: Path) -> Iterator[subprocess.Popen[str]]:
    """Run MLflow's own client logging MLFLOW_RUNS runs through the proxy (killed if the test
    fails before it ends)."""
    env = mlflow_env(MLFLOW_TRACKING_URI=url, MLFLOW_HTTP_REQUEST_TIMEOUT=str(int(TIMEOUT)))
    command = [str(VENV_PYTHON), "-c", MLFLOW_SCRIPT, experiment, str(MLFLOW_RUNS)]
    with subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def mlflow_result(proc: subprocess.Popen[str]) -> dict[str, Logged]:
    """Wait for the MLflow client; return what it was acknowledged, by run id."""
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"the MLflow client failed:\n{err[-4000:]}"
    return {
        run_id: Logged(
            params=entry["params"],
            metrics={k: [tuple(p) for p in v] for k, v in entry["metrics"].items()},
        )
        for run_id, entry in json.loads(out.strip().splitlines()[-1]).items()
    }


# checks ------------------------------------------------------------------------------------
def assert_store_holds(store: Client, experiment_id: str, expected: dict[str, Logged]) -> None:
    """Assert the experiment holds exactly the expected runs, each point exactly once."""
    runs = store.search_runs([experiment_id], max_results=100_000)
    ids = [r.info.run_id for r in runs]
    assert len(ids) == len(set(ids)), "a run is listed twice"
    lost, unexpected = sorted(set(expected) - set(ids)), sorted(set(ids) - set(expected))
    assert not lost and not unexpected, f"lost runs {lost}, unexpected runs {unexpected}"
    for run in runs:
        want = expected[run.info.run_id]
        assert run.info.status == RunStatus.FINISHED, run.info
        assert {k: run.data.params[k] for k in want.params} == want.params
        for key, points in want.metrics.items():
            history = store.get_metric_history(run.info.run_id, key)
            got = Counter((m.step, m.value, m.timestamp) for m in history)
            doubled = {p: n for p, n in got.items() if n > 1}
            assert not doubled, f"{run.info.run_id} {key}: points stored twice: {doubled}"
            assert set(got) == set(points), (
                f"{run.info.run_id} {key}: lost {sorted(set(points) - set(got))[:10]}, "
                f"unexpected {sorted(set(got) - set(points))[:10]}"
            )
            last = max(points)  # the run's latest value: highest step, then timestamp
            assert run.data.metrics[key] == last[1]


# tests -------------------------------------------------------------------------------------
@contextmanager
def two_servers_behind_nginx(
    store_uri: str, tmp_path: Path
) -> Iterator[tuple[Proxy, list[Server]]]:
    """Two server processes on one store, and nginx in front of them."""
    nginx_binary()  # skip before starting anything when nginx is absent
    with ExitStack() as stack:
        servers = [
            stack.enter_context(running(store_uri, tmp_path, port=free_port())) for _ in range(2)
        ]
        proxy = stack.enter_context(nginx(tmp_path / "nginx", [s.url for s in servers]))
        yield proxy, servers


def test_two_servers_behind_nginx_lose_and_double_nothing(store_uri, tmp_path):
    require_mlflow()
    with two_servers_behind_nginx(store_uri, tmp_path) as (proxy, servers):
        with httpx.Client() as http:
            exp_id = call(http, proxy.url, "experiments/create", {"name": "scale-out"})[
                "experiment_id"
            ]
        with mlflow_client(proxy.url, "scale-out-mlflow", tmp_path) as mlflow_proc:
            with ThreadPoolExecutor(CLIENTS) as pool:
                futures = [pool.submit(http_client, proxy.url, exp_id, c) for c in range(CLIENTS)]
                expected: dict[str, Logged] = {}
                for future in futures:
                    expected.update(future.result())
            from_mlflow = mlflow_result(mlflow_proc)
        served = proxy.upstreams()
        for server in servers:
            assert server.proc.poll() is None, server.log_text()[-4000:]
    # both servers answered a fair share of the requests (round-robin)
    addresses = {s.url.removeprefix("http://") for s in servers}
    assert set(served) == addresses, served
    total = sum(served.values())
    assert min(served.values()) > total / 4, served
    assert len(expected) == CLIENTS * RUNS_PER_CLIENT
    store = Client(tracking_uri=store_uri)
    assert_store_holds(store, exp_id, expected)
    mlflow_exp = store.get_experiment_by_name("scale-out-mlflow")
    assert mlflow_exp is not None
    assert_store_holds(store, mlflow_exp.experiment_id, from_mlflow)


def test_racing_creates_of_one_experiment_lose_nothing(store_uri, tmp_path):
    """Clients creating one experiment name at once, each with its own tag, through both
    servers: the store holds one experiment, every answer names it, and each creator that
    was answered 200 has its tag stored (the others are told RESOURCE_ALREADY_EXISTS)."""
    racers = 8
    with two_servers_behind_nginx(store_uri, tmp_path) as (proxy, _):
        barrier = threading.Barrier(racers)

        def create(racer: int) -> httpx.Response:
            body = {"name": "contested", "tags": [{"key": f"racer-{racer}", "value": "1"}]}
            with httpx.Client() as http:
                barrier.wait()
                return http.post(f"{proxy.url}{API}/experiments/create", json=body, timeout=TIMEOUT)

        with ThreadPoolExecutor(racers) as pool:
            answers = list(pool.map(create, range(racers)))
        assert len(proxy.upstreams()) == 2
    store = Client(tracking_uri=store_uri)
    found = [e for e in store.search_experiments() if e.name == "contested"]
    assert len(found) == 1, found
    stored = found[0]
    for racer, answer in enumerate(answers):
        if answer.status_code == 200:
            assert answer.json()["experiment_id"] == stored.experiment_id
            assert f"racer-{racer}" in stored.tags, (
                f"racer {racer} was answered 200 but its tag is not stored: {stored.tags}; "
                f"answers: {[a.status_code for a in answers]}"
            )
        else:
            assert answer.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", answer.text
