"""Hostile clients against a real `tracker-report server` process: each test is one attack and
the promise it tests (an MLflow-shaped 4xx with nothing written; no file read or written outside
a run's artifacts; no artifact that runs script; acknowledged writes kept; bounded memory; a
server that keeps answering and stops cleanly; no secret in an error). test_api.py holds the
ordinary cases; these are the odd ones."""

from __future__ import annotations

import base64
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from reporter.core.errors import ReporterError
from reporter.tracking.client import Client
from tests.tracker_server import Server, running, store_state

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
JSON = {"Content-Type": "application/json"}
INT64_MAX = 2**63 - 1


@pytest.fixture()
def http(server: Server) -> Iterator[httpx.Client]:
    # no keep-alive: a connection the server closed after an error must not fail the next test
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.url, timeout=30, limits=limits) as client:
        yield client


def store_of(server: Server) -> Path:
    return server.log.parent / "store"


def new_run(http: httpx.Client, experiment: str) -> tuple[str, str]:
    answer = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": experiment})
    if answer.status_code == 404:
        created = http.post(f"{API}/experiments/create", json={"name": experiment})
        exp_id = created.json()["experiment_id"]
    else:
        exp_id = answer.json()["experiment"]["experiment_id"]
    run = http.post(f"{API}/runs/create", json={"experiment_id": exp_id})
    assert run.status_code == 200, run.text
    return exp_id, run.json()["run"]["info"]["run_id"]


def assert_mlflow_error(answer: httpx.Response, status: int | tuple[int, ...]) -> None:
    """An MLflow-shaped JSON error with the expected status and no traceback."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert answer.status_code in statuses, answer.text[:500]
    error = answer.json()
    assert set(error) >= {"error_code", "message"}, error
    assert "Traceback" not in answer.text


# --- 1. bad input: a 4xx, never a 500, and nothing written --------------------------------
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 20_000 + b"]" * 20_000, id="deep-array"),
        pytest.param(b'{"a":' * 8_000 + b"1" + b"}" * 8_000, id="deep-object"),
        pytest.param(b'{"run_id": "RUN", "metrics": [{"key": "m", "value": 1' + b"0" * 400
                     + b', "timestamp": 1}]}', id="metric-value-beyond-float"),
        pytest.param(b'{"run_id": "RUN", "metrics": [{"key": "m", "value": 1' + b"0" * 5000
                     + b', "timestamp": 1}]}', id="int-of-5000-digits"),
    ],
)  # fmt: skip
def test_hostile_json_is_a_400_not_a_500(server, http, body):
    _, run_id = new_run(http, "hostile json")
    before = store_state(store_of(server))
    body = body.replace(b"RUN", run_id.encode())
    answer = http.post(f"{API}/runs/log-batch", content=body, headers=JSON)
    assert_mlflow_error(answer, 400)
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert store_state(store_of(server)) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{API}/experiments/get?experiment_id={'9' * 500}", None),
        ("POST", f"{API}/runs/search", {"experiment_ids": ["9" * 500]}),
        ("POST", f"{API}/runs/create", {"experiment_id": "9" * 500}),
    ],
)
def test_overlong_ids_are_a_4xx_not_a_500(server, http, method, path, body):
    before = store_state(store_of(server))
    answer = http.request(method, path, json=body)
    assert_mlflow_error(answer, (400, 404))
    assert store_state(store_of(server)) == before


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize(
    "name", ["f" * 300, "/".join(["d" * 200] * 3 + ["f" * 300])], ids=["long", "deep-long"]
)
def test_overlong_artifact_names_are_a_4xx_and_leave_no_folders(server, http, method, name):
    """A name over the file system's NAME_MAX (255 bytes) is the client's mistake."""
    exp_id, run_id = new_run(http, "long names")
    base = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts"
    assert http.put(f"{base}/plain.txt", content=b"x").status_code == 200  # the folder exists
    before = store_state(store_of(server))
    url = f"{base}/{name}"
    answer = http.request(method, url, content=b"x" if method == "PUT" else None)
    assert_mlflow_error(answer, (400, 404))
    assert store_state(store_of(server)) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/runs/create", {"experiment_id": "EXP", "start_time": 10**30}),
        ("/runs/create", {"experiment_id": "EXP", "start_time": -(10**30)}),
        ("/runs/create", {"experiment_id": "EXP", "start_time": INT64_MAX + 1}),
        ("/runs/update", {"run_id": "RUN", "status": "FINISHED", "end_time": 10**30}),
    ],
)
def test_run_times_beyond_64_bits_are_refused_and_search_still_answers(server, http, path, body):
    """A time the store cannot keep is refused like a metric's (400); accepted, it makes every
    later search of the experiment a 500."""
    exp_id, run_id = new_run(http, f"times {path} {sorted(body.values(), key=str)[0]}")
    body = {k: {"EXP": exp_id, "RUN": run_id}.get(v, v) for k, v in body.items()}
    answer = http.post(API + path, json=body)
    assert_mlflow_error(answer, 400)
    search = http.post(f"{API}/runs/search", json={"experiment_ids": [exp_id]})
    assert search.status_code == 200, search.text[:300]


def test_the_site_keeps_rebuilding_after_a_hostile_request(tmp_path):
    """One run with an impossible start time must not stop the site's rebuilds for good."""
    with (
        running(tmp_path / "store", tmp_path, ("--interval", "0.2")) as srv,
        httpx.Client(base_url=srv.url, timeout=30) as http,
    ):
        exp_id, _ = new_run(http, "poisoned")
        http.post(f"{API}/runs/create", json={"experiment_id": exp_id, "start_time": 10**30})
        new_run(http, "arrives-after")
        deadline = time.monotonic() + 90  # a rebuild under load can take a while
        while "arrives-after" not in http.get("/").text:
            assert time.monotonic() < deadline, f"no rebuild:\n{srv.log_text()[-2000:]}"
            time.sleep(0.2)


def test_end_time_without_status_is_kept(server, http):
    """MLflow's UpdateRun stores end_time on its own; a 200 must not drop it."""
    _, run_id = new_run(http, "end time")
    answer = http.post(f"{API}/runs/update", json={"run_id": run_id, "end_time": 12345})
    assert answer.status_code == 200, answer.text
    info = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["info"]
    assert info.get("end_time") == 12345


def test_a_renamed_experiments_name_cannot_be_created_again(server, http):
    created = http.post(f"{API}/experiments/create", json={"name": "before-rename"})
    exp_id = created.json()["experiment_id"]
    renamed = http.post(
        f"{API}/experiments/update", json={"experiment_id": exp_id, "new_name": "after-rename"}
    )
    assert renamed.status_code == 200, renamed.text
    again = http.post(f"{API}/experiments/create", json={"name": "after-rename"})
    assert_mlflow_error(again, 400)
    assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    names = Counter(
        e["name"]
        for e in http.post(f"{API}/experiments/search", json={"max_results": 1000}).json()[
            "experiments"
        ]
    )
    assert names["after-rename"] == 1


@pytest.mark.parametrize(
    "token",
    [
        base64.b64encode(b'{"offset": -1}').decode(),
        base64.b64encode(b'{"offset": "1"}').decode(),
        base64.b64encode(b'{"offset": 1e400}').decode(),
        base64.b64encode(b'{"offset": NaN}').decode(),
        base64.b64encode(b"[1]").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
        "!!!",
        "a" * 10_000,
    ],
)
def test_forged_page_tokens_are_a_400_everywhere(server, http, token):
    exp_id, run_id = new_run(http, "tokens")
    asks = [
        http.post(f"{API}/runs/search", json={"experiment_ids": [exp_id], "page_token": token}),
        http.post(f"{API}/experiments/search", json={"page_token": token}),
        http.get(
            f"{API}/metrics/get-history",
            params={"run_id": run_id, "metric_key": "m", "page_token": token},
        ),
    ]
    for answer in asks:
        assert_mlflow_error(answer, 400)


def test_wrong_methods_duplicate_params_and_wrong_types(server, http):
    _, run_id = new_run(http, "shapes")
    before = store_state(store_of(server))
    assert_mlflow_error(http.get(f"{API}/runs/log-batch"), 404)
    assert_mlflow_error(http.put(f"{API}/runs/create", json={}), 404)
    assert_mlflow_error(http.delete(f"{API}/runs/get"), 404)
    assert_mlflow_error(http.get(f"{API}/runs/get?run_id={run_id}&run_id=other"), 400)
    for bad in (
        {"run_id": [run_id]},
        {"run_id": run_id, "metrics": "m"},
        {"run_id": run_id, "metrics": [{"key": "m", "value": True, "timestamp": 1}]},
        {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1.5}]},
        {"run_id": run_id, "params": [{"key": "p", "value": {"a": 1}}]},
        {"run_id": run_id, "tags": [{"key": "a\nb", "value": "v"}]},
    ):
        assert_mlflow_error(http.post(f"{API}/runs/log-batch", json=bad), 400)
    assert_mlflow_error(http.post(f"{API}/runs/log-batch", content=b"null", headers=JSON), 400)
    assert store_state(store_of(server)) == before


# --- 2. no file outside a run's artifacts -----------------------------------------------------
def test_symlinks_planted_in_the_store_are_not_followed(server, http, tmp_path):
    exp_id, run_id = new_run(http, "symlinks")
    http.put(f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/plain.txt", content=b"mine")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOPSECRET")
    folder = store_of(server) / "runs" / exp_id / run_id / "artifacts"
    (folder / "filelink").symlink_to(outside / "secret.txt")
    (folder / "dirlink").symlink_to(outside)
    base = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts"
    reads = [
        http.get(f"{base}/filelink"),
        http.get(f"{base}/dirlink/secret.txt"),
        http.get("/get-artifact", params={"run_id": run_id, "path": "filelink"}),
        http.get("/get-artifact", params={"run_id": run_id, "path": "dirlink/secret.txt"}),
    ]
    for answer in reads:
        assert b"TOPSECRET" not in answer.content
        assert_mlflow_error(answer, (400, 404))
    written = http.put(f"{base}/dirlink/planted.txt", content=b"PWNED")
    assert_mlflow_error(written, (400, 404))
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "TOPSECRET"


def test_another_runs_files_are_out_of_reach_under_this_experiment(server, http):
    exp_a, run_a = new_run(http, "reach-a")
    exp_b, run_b = new_run(http, "reach-b")
    assert http.put(f"{ARTIFACTS}/{exp_b}/{run_b}/artifacts/s.txt", content=b"B").status_code == 200
    before = store_state(store_of(server))
    for path in (
        f"{exp_a}/{run_b}/artifacts/s.txt",
        f"{exp_a}/{run_a}/artifacts/..%2f..%2f{run_b}%2fartifacts%2fs.txt",
        f"{exp_a}/{run_a}/artifacts/..%5c..%5c{run_b}%5cartifacts%5cs.txt",
        f"{exp_a}/{run_a}/run.json",
        f"{exp_a}/_parts/x",
        "store.json",
        "%2fetc%2fpasswd",
    ):
        for method in ("GET", "PUT"):
            answer = http.request(method, f"{ARTIFACTS}/{path}", content=b"X")
            assert_mlflow_error(answer, (400, 404))
    assert store_state(store_of(server)) == before


def test_artifacts_named_like_temporary_files_are_listed_or_refused(server, http):
    """A `.tmp-*` name is the store's temporary-file prefix: an upload answered 200 under that
    name must show in the listing (as MLflow's would), or be refused."""
    exp_id, run_id = new_run(http, "tmp names")
    base = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts"
    answer = http.put(f"{base}/.tmp-weights.bin", content=b"w")
    if answer.status_code != 200:
        assert_mlflow_error(answer, 400)
        return
    listing = http.get(ARTIFACTS, params={"path": f"{exp_id}/{run_id}/artifacts"}).json()
    assert ".tmp-weights.bin" in {f["path"] for f in listing.get("files", [])}


# --- 3. no artifact runs script in the server's origin ---------------------------------------
SCRIPT = b"<script>alert(document.domain)</script>"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'),
        ("a.xhtml", b'<html xmlns="http://www.w3.org/1999/xhtml">' + SCRIPT + b"</html>"),
        ("a.xml", b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'),
        ("a.HTML", SCRIPT),
        ("a.png.html", SCRIPT),
        ("a.js", b"alert(1)"),
        ("a.mjs", b"alert(1)"),
        ("noext", SCRIPT),
        ("a.png", SCRIPT),  # a lie about its type: nosniff keeps it an image
        ("a.txt", SCRIPT),
        ("a.json", SCRIPT),
    ],
)
def test_no_artifact_runs_script_in_the_origin(server, http, name, content):
    exp_id, run_id = new_run(http, "script")
    assert http.put(f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/{name}", content=content)
    for answer in (
        http.get(f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/{name}"),
        http.get("/get-artifact", params={"run_id": run_id, "path": name}),
    ):
        assert answer.status_code == 200 and answer.content == content
        kind = answer.headers["content-type"].split(";")[0]
        assert kind in {"application/octet-stream", "image/png", "text/plain", "application/json"}
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in answer.headers["content-security-policy"]
        if kind == "application/octet-stream":
            assert answer.headers["content-disposition"].startswith("attachment")


# --- 5. size limits --------------------------------------------------------------------------
def test_api_bodies_over_the_limit_get_413_chunked_too(server, http):
    _, run_id = new_run(http, "api limits")
    before = store_state(store_of(server))
    body = b'{"run_id": "%s", "tags": [{"key": "t", "value": "%s"}]}' % (
        run_id.encode(),
        b"x" * 60_000,
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    answer = http.post(f"{API}/runs/log-batch", content=chunks(), headers=JSON)
    assert_mlflow_error(answer, 413)
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert store_state(store_of(server)) == before


@pytest.mark.slow
def test_memory_stays_bounded_while_a_big_artifact_streams(tmp_path):
    size = 256 << 20
    with running(tmp_path / "store", tmp_path, ("--no-site",)) as srv:
        with httpx.Client(base_url=srv.url, timeout=120) as http:
            exp_id, run_id = new_run(http, "big")
            status = Path(f"/proc/{srv.proc.pid}/status")

            def rss_mb() -> int:
                line = next(x for x in status.read_text().splitlines() if x.startswith("VmRSS"))
                return int(line.split()[1]) // 1024

            base, peak = rss_mb(), [0]
            done = threading.Event()

            def watch() -> None:
                while not done.wait(0.05):
                    peak[0] = max(peak[0], rss_mb())

            watcher = threading.Thread(target=watch)
            watcher.start()
            block = os.urandom(1 << 20)
            url = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/big.bin"
            try:
                put = http.put(url, content=(block for _ in range(size >> 20)))
                assert put.status_code == 200, put.text
                with http.stream("GET", url) as got:
                    assert sum(len(b) for b in got.iter_raw(1 << 20)) == size
            finally:
                done.set()
                watcher.join()
        assert peak[0] - base < 64, f"RSS grew from {base} MB to {peak[0]} MB"


# --- 6. misbehaving clients ------------------------------------------------------------------
@pytest.mark.slow
def test_a_client_that_disconnects_mid_upload_leaves_no_temporary_file(tmp_path):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {"TMPDIR": str(private_tmp)}
    with running(tmp_path / "store", tmp_path, ("--no-site",), env=env) as srv:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            exp_id, run_id = new_run(http, "cut")
        port = int(srv.url.rsplit(":", 1)[1])
        path = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/cut.bin"
        for head in (f"Content-Length: {100 << 20}", "Transfer-Encoding: chunked"):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\n{head}\r\n\r\n".encode())
                for _ in range(8):
                    block = b"a" * (1 << 20)
                    sock.sendall(block if "Length" in head else b"100000\r\n" + block + b"\r\n")
                deadline = time.monotonic() + 60  # generous: CI machines are loaded
                while not list(private_tmp.iterdir()):  # the upload is being spooled
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        deadline = time.monotonic() + 60
        while list(private_tmp.iterdir()):
            assert time.monotonic() < deadline, list(private_tmp.iterdir())
            time.sleep(0.05)
        assert not (store_of(srv) / "runs" / exp_id / run_id / "artifacts").exists() or not list(
            (store_of(srv) / "runs" / exp_id / run_id / "artifacts").iterdir()
        )
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            assert http.get("/health").status_code == 200


@pytest.mark.slow
def test_connections_that_never_finish_a_request_are_closed(server):
    """A client holding a connection without sending a whole request (idle, or a byte now and
    then) is dropped after a timeout; otherwise a few thousand such sockets exhaust the
    server's file descriptors and no one else can connect."""
    port = int(server.url.rsplit(":", 1)[1])
    idle = socket.create_connection(("127.0.0.1", port))
    partial = socket.create_connection(("127.0.0.1", port))
    partial.sendall(b"GET /health HTTP/1.1\r\nHo")
    deadline = time.monotonic() + 40  # the head deadline is 10 s; a loaded machine is late
    open_ = {"idle": idle, "partial": partial}
    try:
        while open_ and time.monotonic() < deadline:
            for name, sock in list(open_.items()):
                sock.settimeout(0.5)
                try:
                    sock.recv(4096)  # b"" when closed, or an answer such as a 408
                except TimeoutError:
                    continue  # still held open
                except OSError:
                    pass  # reset: closed
                del open_[name]
        assert not open_, f"still open after 40 s: {sorted(open_)}"
    finally:
        idle.close()
        partial.close()


def test_concurrent_creates_of_one_name_make_one_experiment(server):
    barrier = threading.Barrier(16)

    def create(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            barrier.wait()
            return http.post(f"{API}/experiments/create", json={"name": "raced"}).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = Counter(pool.map(create, range(16)))
    assert codes == {200: 1, 400: 15}
    stored = [e for e in Client(tracking_uri=str(store_of(server))).search_experiments()]
    assert [e.name for e in stored].count("raced") == 1


# --- 4 and 7. acknowledged writes survive kill -9; SIGTERM answers what is in flight ---------
@pytest.mark.slow
def test_every_kind_of_acknowledged_write_survives_kill_9_with_workers(tmp_path):
    store = tmp_path / "store"
    acked: list[tuple[str, ...]] = []
    lock = threading.Lock()
    stop = threading.Event()
    with running(store, tmp_path, ("--no-site", "--workers", "2")) as srv:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            exp_id = http.post(f"{API}/experiments/create", json={"name": "k"}).json()[
                "experiment_id"
            ]

        def writer(t: int) -> None:
            with httpx.Client(base_url=srv.url, timeout=30) as http:
                i = 0
                while not stop.is_set():
                    try:
                        body = {"experiment_id": exp_id, "run_name": f"r{t}-{i}"}
                        run = http.post(f"{API}/runs/create", json=body)
                        run_id = run.json()["run"]["info"]["run_id"]
                        with lock:
                            acked.append(("run", run_id, f"r{t}-{i}"))
                        batch = {
                            "run_id": run_id,
                            "params": [{"key": "p", "value": str(i)}],
                            "tags": [{"key": "t", "value": str(t)}],
                        }
                        if http.post(f"{API}/runs/log-batch", json=batch).status_code == 200:
                            with lock:
                                acked.append(("batch", run_id, str(i), str(t)))
                        url = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts/f.txt"
                        if http.put(url, content=run_id.encode() * 50).status_code == 200:
                            with lock:
                                acked.append(("file", run_id))
                        done = {"run_id": run_id, "status": "FINISHED", "end_time": 7}
                        if http.post(f"{API}/runs/update", json=done).status_code == 200:
                            with lock:
                                acked.append(("finished", run_id))
                    except (httpx.TransportError, KeyError, ValueError):
                        return
                    i += 1

        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(writer, t) for t in range(12)]
            deadline = time.monotonic() + 180  # a condition, with room for a loaded machine
            while len(acked) < 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            srv.kill()
            stop.set()
            for future in futures:
                future.result()
    assert len(acked) >= 200
    client = Client(tracking_uri=str(store))
    for kind, run_id, *rest in acked:
        run = client.get_run(run_id)
        if kind == "run":
            assert run.info.run_name == rest[0]
        elif kind == "batch":
            assert run.data.params["p"] == rest[0] and run.data.tags["t"] == rest[1]
        elif kind == "file":
            path = store / "runs" / exp_id / run_id / "artifacts" / "f.txt"
            assert path.read_bytes() == run_id.encode() * 50
        else:
            assert (run.info.status, run.info.end_time) == ("FINISHED", 7)


@pytest.mark.slow
def test_sigterm_answers_uploads_in_flight_and_exits_0(tmp_path):
    spool = tmp_path / "server-tmp"  # the server's temporary files: one per upload it handles
    spool.mkdir()
    with running(tmp_path / "store", tmp_path, ("--no-site",), env={"TMPDIR": str(spool)}) as srv:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            exp_id, run_id = new_run(http, "term")
        answers: dict[str, int] = {}
        go = threading.Event()  # set once SIGTERM was sent: the rest of each body follows

        def upload(name: str) -> None:
            def slowly() -> Iterator[bytes]:
                yield b"x" * 1000
                go.wait(120)
                for _ in range(19):
                    yield b"x" * 1000
                    time.sleep(0.01)

            url = f"{srv.url}{ARTIFACTS}/{exp_id}/{run_id}/artifacts/{name}"
            answers[name] = httpx.put(url, content=slowly(), timeout=120).status_code

        threads = [threading.Thread(target=upload, args=(f"u{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120  # until the server handles all four (mid-body)
        while len(list(spool.glob("reporter-upload-*"))) < 4:
            assert time.monotonic() < deadline, "the server never took the four uploads"
            time.sleep(0.01)
        os.killpg(srv.proc.pid, signal.SIGTERM)
        go.set()
        for thread in threads:
            thread.join()
        assert srv.stop() == 0
    assert answers == {f"u{i}": 200 for i in range(4)}
    folder = tmp_path / "store" / "runs" / exp_id / run_id / "artifacts"
    assert {p.name: p.stat().st_size for p in folder.iterdir()} == {
        f"u{i}": 20_000 for i in range(4)
    }


# --- 8. secrets ------------------------------------------------------------------------------
def test_credentials_never_appear_in_client_errors(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "PASSWORD-in-env")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "TOKEN-in-env")
    with_userinfo = server.url.replace("http://", "http://bob:PASSWORD-in-uri@")
    for uri in (server.url, with_userinfo):
        with pytest.raises(ReporterError) as caught:
            Client(tracking_uri=uri).get_run("0" * 32)
        for secret in ("PASSWORD-in-env", "TOKEN-in-env", "PASSWORD-in-uri"):
            assert secret not in str(caught.value)
    log = server.log_text()
    assert "PASSWORD-in" not in log and "TOKEN-in-env" not in log
