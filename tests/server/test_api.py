"""The tracking server's REST API against a real server process: MLflow's answers and error
shapes, bad input refused with nothing written, hostile artifact paths, size limits, the site
at `/`, and a graceful stop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reporter.tracking.client import Client
from tests.tracker_server import Server, running, store_state

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture()
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def store_of(server: Server) -> Path:
    return server.log.parent / "store"


def experiment_id(http: httpx.Client, name: str) -> str:
    """Return the id of the experiment of that name, made if there is none (as MLflow's
    set_experiment: a client that loses the race to create it reads the winner's)."""
    answer = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": name})
    if answer.status_code == 200:
        return str(answer.json()["experiment"]["experiment_id"])
    made = http.post(f"{API}/experiments/create", json={"name": name})
    if made.status_code == 200:
        return str(made.json()["experiment_id"])
    assert made.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", made.text
    return experiment_id(http, name)


def new_run(http: httpx.Client, experiment: str) -> tuple[str, str]:
    exp_id = experiment_id(http, experiment)
    run = http.post(f"{API}/runs/create", json={"experiment_id": exp_id, "run_name": "r"})
    assert run.status_code == 200, run.text
    return exp_id, run.json()["run"]["info"]["run_id"]


def test_a_write_answered_200_is_in_the_store(server, http):
    exp_id, run_id = new_run(http, "answers")
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "loss", "value": 1 / (i + 1), "timestamp": 1000 + i, "step": i}
            for i in range(50)
        ]
        + [{"key": "odd", "value": "NaN", "timestamp": 5, "step": 0}],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "team", "value": "vision"}],
    }
    assert http.post(f"{API}/runs/log-batch", json=batch).status_code == 200
    # read straight from the store, as another process: nothing waits in a buffer
    ours = Client(tracking_uri=str(store_of(server)))
    history = ours.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (i, 1 / (i + 1), 1000 + i) for i in range(50)
    ]
    run = ours.get_run(run_id)
    assert run.data.params == {"lr": "0.1"} and run.data.tags["team"] == "vision"
    # and through the API, in MLflow's shape
    got = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert got["info"]["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    metrics = {m["key"]: (m["value"], m["step"], m["timestamp"]) for m in got["data"]["metrics"]}
    assert metrics == {"loss": (pytest.approx(1 / 50), 49, 1049), "odd": ("NaN", 0, 5)}
    page = http.get(
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "loss", "max_results": 20},
    ).json()
    assert len(page["metrics"]) == 20 and page["next_page_token"]


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/runs/log-batch", b"{not json", "INVALID_PARAMETER_VALUE"),
        ("/runs/log-batch", b"[1, 2]", "INVALID_PARAMETER_VALUE"),
        ("/runs/log-batch", {"run_id": 5}, "INVALID_PARAMETER_VALUE"),
        ("/runs/log-batch", {"metrics": []}, "INVALID_PARAMETER_VALUE"),
        (
            "/runs/log-batch",
            {"run_id": "RUN", "metrics": [{"key": "m", "value": "abc", "timestamp": 1}]},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/runs/log-batch",
            {"run_id": "RUN", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": "x"}]},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/runs/log-batch",
            {"run_id": "RUN", "metrics": [{"key": "m\x01", "value": 1, "timestamp": 1}]},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/runs/log-batch",
            {"run_id": "RUN", "metrics": [{"key": "m", "value": 1, "timestamp": 1}] * 1001},
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/runs/log-batch",
            {"run_id": "0123456789abcdef0123456789abcdef"},
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "/runs/log-batch",
            {
                "run_id": "0123456789abcdef0123456789abcdef",
                "metrics": [{"key": "m", "value": 1, "timestamp": 1}],
            },
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "/runs/log-metric",
            {"run_id": "0123456789abcdef0123456789abcdef", "key": "m", "value": 1, "timestamp": 1},
            "RESOURCE_DOES_NOT_EXIST",
        ),
        ("/runs/log-metric", {"run_id": "../../etc", "key": "m", "value": 1, "timestamp": 1}, None),
        ("/runs/update", {"run_id": "nope", "status": "FINISHED"}, "RESOURCE_DOES_NOT_EXIST"),
        ("/experiments/create", {"name": ""}, "INVALID_PARAMETER_VALUE"),
        ("/no/such/endpoint", {}, "ENDPOINT_NOT_FOUND"),
    ],
)
def test_bad_requests_get_mlflow_errors_and_write_nothing(server, http, path, body, code):
    _, run_id = new_run(http, "bad input")
    if isinstance(body, dict) and body.get("run_id") == "RUN":
        body = {**body, "run_id": run_id}
    before = store_state(store_of(server))
    if isinstance(body, bytes):
        answer = http.post(API + path, content=body, headers={"Content-Type": "application/json"})
    else:
        answer = http.post(API + path, json=body)
    error = answer.json()
    assert set(error) >= {"error_code", "message"} and error["message"]
    if code is not None:
        assert error["error_code"] == code, error
    status = {"INVALID_PARAMETER_VALUE": 400, "RESOURCE_DOES_NOT_EXIST": 404}.get(code, 404)
    assert answer.status_code == status, answer.text
    assert store_state(store_of(server)) == before
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize(
    "path",
    [
        "../../outside.txt",
        "EXP/RUN/artifacts/../../../../outside.txt",
        "EXP/RUN/artifacts/%2e%2e/%2e%2e/%2e%2e/outside.txt",
        "EXP/RUN/artifacts/a%00b.txt",
        "EXP/other-run/artifacts/x.txt",
        "EXP/models/m-0123/artifacts/x.txt",
    ],
)
def test_hostile_artifact_paths_are_refused_and_nothing_is_written(server, http, path):
    exp_id, run_id = new_run(http, "hostile paths")
    root = server.log.parent
    before = store_state(store_of(server))
    around = {p.name for p in root.iterdir()}
    url = f"{ARTIFACTS}/{path.replace('EXP', exp_id).replace('RUN', run_id)}"
    answer = http.put(url, content=b"pwned")
    assert answer.status_code in (400, 404), answer.text
    # a client that removes dot segments itself reaches no endpoint at all
    codes = ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND")
    assert answer.json()["error_code"] in codes
    assert store_state(store_of(server)) == before
    assert {p.name for p in root.iterdir() if not p.name.endswith(".log")} <= around
    assert not (root.parent / "outside.txt").exists()


def test_artifacts_round_trip_and_never_run_script(server, http):
    exp_id, run_id = new_run(http, "artifacts")
    base = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts"
    page = b"<script>alert(document.domain)</script>"
    assert http.put(f"{base}/report/page.html", content=page).status_code == 200
    assert http.put(f"{base}/report/data.json", content=b'{"a": 1}').status_code == 200
    listing = http.get(ARTIFACTS, params={"path": f"{exp_id}/{run_id}/artifacts/report"}).json()
    assert {(f["path"], f["file_size"]) for f in listing["files"]} == {
        ("page.html", len(page)),
        ("data.json", 8),
    }
    got = http.get(f"{base}/report/page.html")
    assert got.content == page
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in got.headers["content-security-policy"]
    assert got.headers["x-content-type-options"] == "nosniff"
    shown = http.get(f"{base}/report/data.json")
    assert shown.headers["content-type"].startswith("application/json")
    assert http.get(f"{base}/report/missing.txt").status_code == 404


def test_bodies_over_the_limits_get_413_and_write_nothing(server, http):
    exp_id, run_id = new_run(http, "limits")
    before = store_state(store_of(server))
    big = {"run_id": run_id, "tags": [{"key": "t", "value": "x" * 60_000}]}
    answer = http.post(f"{API}/runs/log-batch", json=big)
    assert answer.status_code == 413
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(30):
            yield b"x" * 10_000

    url = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/big.bin"
    assert http.put(url, content=chunks()).status_code == 413
    assert store_state(store_of(server)) == before
    assert http.put(url, content=b"x" * 100_000).status_code == 200  # under the limit


def test_searches_page_like_mlflow(server, http):
    exp_id, _ = new_run(http, "paging")
    for _ in range(4):
        new_run(http, "paging")
    seen: list[str] = []
    token = None
    while True:
        body = {"experiment_ids": [exp_id], "max_results": 2, "order_by": ["start_time ASC"]}
        if token:
            body["page_token"] = token
        answer = http.post(f"{API}/runs/search", json=body).json()
        seen += [r["info"]["run_id"] for r in answer["runs"]]
        token = answer.get("next_page_token")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5
    bad = http.post(f"{API}/runs/search", json={"experiment_ids": [exp_id], "page_token": "zz"})
    assert bad.status_code == 400


def test_the_site_is_served_and_rebuilt_as_runs_arrive(tmp_path):
    with running(tmp_path / "store", tmp_path, ("--interval", "0.2")) as srv:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            index = http.get("/")
            assert "<html" in index.text.lower()
            assert index.headers["x-content-type-options"] == "nosniff"
            new_run(http, "arrives-later")
            deadline = time.monotonic() + 60
            while "arrives-later" not in http.get("/").text:
                assert time.monotonic() < deadline, "the site was not rebuilt"
                time.sleep(0.2)
        assert srv.stop() == 0
    assert "everything accepted is written" in srv.log_text()


@pytest.mark.slow
def test_workers_share_one_port_and_one_store(tmp_path):
    import concurrent.futures

    with running(tmp_path / "store", tmp_path, ("--no-site", "--workers", "2")) as srv:

        def one_client(index: int) -> str:
            with httpx.Client(base_url=srv.url, timeout=60) as http:
                _, run_id = new_run(http, "workers")
                points = [
                    {"key": "m", "value": float(i), "timestamp": i, "step": i} for i in range(20)
                ]
                for chunk in range(0, 20, 5):
                    batch = {"run_id": run_id, "metrics": points[chunk : chunk + 5]}
                    assert http.post(f"{API}/runs/log-batch", json=batch).status_code == 200
                return run_id

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            run_ids = list(pool.map(one_client, range(16)))
        assert srv.stop() == 0
    ours = Client(tracking_uri=str(tmp_path / "store"))
    for run_id in run_ids:
        history = ours.get_metric_history(run_id, "m")
        assert [m.step for m in history] == list(range(20))
    (exp,) = [e for e in ours.search_experiments() if e.name == "workers"]
    assert len(ours.search_runs([exp.experiment_id])) == 16


@pytest.mark.slow
def test_pages_are_whole_while_the_site_is_rebuilt(tmp_path):
    """A rebuild replaces pages while they are being served: every answer is a whole page
    (Starlette's file response took a page's size and its bytes from two looks)."""
    import threading

    with running(tmp_path / "store", tmp_path, ("--interval", "0.1")) as srv:
        stop = threading.Event()

        def keep_changing() -> None:
            with httpx.Client(base_url=srv.url, timeout=60) as http:
                while not stop.is_set():
                    new_run(http, "changing")

        writer = threading.Thread(target=keep_changing)
        writer.start()
        try:
            with httpx.Client(base_url=srv.url, timeout=60) as http:
                deadline = time.monotonic() + 90
                while "changing" not in http.get("/").text:  # the first rebuild with runs
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                for _ in range(300):
                    page = http.get("/")
                    assert page.status_code == 200
                    assert page.text.rstrip().endswith("</html>"), page.text[-200:]
        finally:
            stop.set()
            writer.join()


def test_a_page_replaced_after_its_size_was_read_is_answered_whole(tmp_path):
    """The race above, made certain: the size Starlette looked up belongs to the old page."""
    import os

    from reporter.tracking_server.app import SiteFiles

    page = tmp_path / "index.html"
    page.write_text("<html>" + "old " * 100 + "</html>")
    looked_up = os.stat(page)
    fresh = tmp_path / "fresh.html"
    fresh.write_text("<html>new</html>")
    os.replace(fresh, page)  # what a rebuild does
    scope = {"type": "http", "method": "GET", "headers": []}
    answer = SiteFiles(directory=tmp_path).file_response(page, looked_up, scope)
    assert answer.body == b"<html>new</html>"
    assert int(answer.headers["content-length"]) == len(answer.body)
