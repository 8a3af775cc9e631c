"""A store in an S3 bucket (moto's server on 127.0.0.1): objects land where the format says,
creating a file once holds under a race, `sync` copies between stores and resumes after an
interruption, and `build` from S3 makes the same site as from a local copy. Errors name the URI.

The store suites (tracking API, multi-process writers, kill -9, compaction racing writers,
artifacts, regressions) run on S3 too: see STORE_KINDS in those modules."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reporter
import reporter as mlflow
from reporter.site.build import build
from reporter.store.parquet import schema
from reporter.store.parquet.fs import StoreAccessError, StoreFS
from reporter.store.parquet.sync import sync
from reporter.view.config import BuildConfig
from tests.conftest import CLI_CODE, PYTHON, new_bucket, python_env


@pytest.fixture
def s3_uri(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    return f"s3://{new_bucket(s3_endpoint, monkeypatch)}/team/store"


def log_example(uri: str) -> list[str]:
    """Log two experiments with params, metric histories, tags and artifacts."""
    mlflow.set_tracking_uri(uri)
    ids = []
    for exp in ("energy", "vision"):
        mlflow.set_experiment(exp)
        for i in range(3):
            with mlflow.start_run(run_name=f"{exp}-{i}") as run:
                mlflow.log_params({"depth": i, "lr": 0.1})
                mlflow.set_tag("team", "grid")
                for step in range(40):
                    mlflow.log_metric("rmse", 1 / (step + 1) + i, step=step)
                mlflow.log_text(f"notes {i}", "notes.md")
                mlflow.log_image(np.full((3, 3, 3), i, dtype=np.uint8), "plots/a.png")
            ids.append(run.info.run_id)
    return ids


def test_objects_land_in_the_bucket_in_the_documented_layout(s3_uri, s3_endpoint):
    ids = log_example(s3_uri)
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    keys = [k.split("/team/store/", 1)[1] for k in fs.find(s3_uri)]
    assert schema.STORE_FILE in keys
    assert sum(k.startswith(f"{schema.EXPERIMENTS_FOLDER}/") for k in keys) == 2
    for run_id in ids:
        assert any(f"/{schema.PARTS_FOLDER}/{run_id}-" in k for k in keys)
        assert any(k.endswith(f"{run_id}/{schema.ARTIFACTS_FOLDER}/plots/a.png") for k in keys)
    frame = mlflow.search_runs(experiment_names=["energy"], order_by=["metrics.rmse ASC"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["run_name"]) == ["energy-0", "energy-1", "energy-2"]


def test_a_short_run_writes_no_heartbeat_a_long_one_does(s3_uri, monkeypatch):
    """A PUT saved per short run: its first events, stamped by the store, show it alive."""
    # the short run is open for less than its interval however slow the machine (the interval
    # is read at each flusher round); the long one's is short
    monkeypatch.setenv("TRACKER_HEARTBEAT_INTERVAL", "30")
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", "60")
    client = reporter.Client(s3_uri)
    exp = client.create_experiment("beats")
    short = client.create_run(exp, start_time=1_600_000_000_000).info.run_id
    client.set_terminated(short)
    monkeypatch.setenv("TRACKER_HEARTBEAT_INTERVAL", "0.3")
    long = client.create_run(exp, start_time=1_600_000_000_000).info.run_id
    assert client.get_run(long).info.status == "RUNNING"  # not KILLED by its old start_time
    fs = StoreFS(s3_uri)
    beat = fs.join(schema.RUNS_FOLDER, exp, long, schema.HEARTBEAT_FILE)
    deadline = time.monotonic() + 120
    while fs.mtime(beat) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fs.mtime(beat) is not None  # the flusher beat once the interval passed
    client.set_terminated(long)
    keys = [i.path for i in fs.list_files(fs.join(schema.RUNS_FOLDER, exp, short))]
    assert keys == [fs.join(schema.RUNS_FOLDER, exp, short, schema.RUN_MARKER_FILE)]


def test_creating_a_file_once_holds_when_writers_race(s3_uri):
    fs = StoreFS(s3_uri)
    wins: list[bool] = []
    start = threading.Barrier(8)

    def create(i: int) -> None:
        start.wait()
        wins.append(fs.write_atomic("once.json", f"{i}".encode(), if_absent=True))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    winner = fs.read_bytes("once.json").decode()
    assert winner.isdigit()  # one writer's content, whole


def test_sync_copies_resumes_and_builds_the_same_site(s3_uri, tmp_path, monkeypatch):
    local = str(tmp_path / "laptop")
    log_example(local)
    # an interrupted first sync: only some files made it (sync writes through fs.StoreFS)
    calls = {"n": 0}
    real = StoreFS.write_atomic

    def flaky(self: StoreFS, rel: str, data: bytes, *, if_absent: bool = False) -> bool:
        calls["n"] += 1
        if calls["n"] > 12:
            raise KeyboardInterrupt  # the user pressed Ctrl-C
        return real(self, rel, data, if_absent=if_absent)

    monkeypatch.setattr(StoreFS, "write_atomic", flaky)
    with pytest.raises(KeyboardInterrupt):
        sync(local, s3_uri)
    monkeypatch.setattr(StoreFS, "write_atomic", real)
    first = sync(local, s3_uri)  # resumes: copies the rest only
    assert first.skipped >= 10 and first.copied > 0
    again = sync(local, s3_uri)
    assert again.copied == 0 and again.skipped == first.copied + first.skipped
    # the site from the bucket is the site from the laptop, byte for byte
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(BuildConfig(store=local, out=str(tmp_path / "from-local")))
    build(BuildConfig(store=s3_uri, out=str(tmp_path / "from-s3")))

    def files(out: Path) -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in out.rglob("*")
            if p.is_file() and p.name != ".tracker-report-site"
        }

    from_local, from_s3 = files(tmp_path / "from-local"), files(tmp_path / "from-s3")
    assert from_local.keys() == from_s3.keys() and len(from_local) > 20
    # only each run's artifact_uri (where the store is) may differ, in the filter data
    local_root = StoreFS(local).url("").encode()
    differ = [
        k
        for k in from_local
        if from_local[k].replace(local_root, b"STORE")
        != from_s3[k].replace(s3_uri.encode(), b"STORE")
    ]
    assert differ == []
    assert sum(from_local[k] != from_s3[k] for k in from_local) == 2  # the two runs.js
    # and back: the bucket into a local cache, through the CLI
    result = subprocess.run(
        [
            PYTHON,
            "-c",
            CLI_CODE,
            "sync",
            s3_uri,
            str(tmp_path / "cache"),
            "--experiment",
            "vision",
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 experiments" in result.stdout
    cache = reporter.Client(str(tmp_path / "cache"))
    assert [e.name for e in cache.search_experiments() if e.name != "Default"] == ["vision"]


def test_errors_name_the_uri(s3_endpoint, monkeypatch):
    bucket_uri = f"s3://{new_bucket(s3_endpoint, monkeypatch)}-missing/store"
    with pytest.raises(reporter.NotFoundError, match="bucket does not exist") as missing:
        reporter.Client(bucket_uri).create_experiment("x")
    assert bucket_uri.split("//")[1].split("/")[0] in str(missing.value)
    with pytest.raises(reporter.NotFoundError, match="No tracker-report store at s3://"):
        reporter.Client(bucket_uri).store.require_existing()
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    uri = f"s3://nobody/store?endpoint_url=http://127.0.0.1:{port}"
    with pytest.raises(StoreAccessError, match="Cannot reach the object store for s3://nobody"):
        reporter.Client(uri).create_experiment("x")
    with pytest.raises(reporter.UnsupportedURIError, match="valid for s3://: endpoint_url"):
        reporter.Client("s3://b/store?colour=red").store.require_existing()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # connections
def test_denied_access_is_a_clear_error(tmp_path, monkeypatch):  # to the stopped server
    """A second S3 server that checks credentials (moto with IAM checks on), in its own
    process; wrong credentials are refused with a message naming the URI and what to check."""
    import socket
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=python_env(INITIAL_NO_AUTH_ACTION_COUNT="0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the moto server did not start"
                time.sleep(0.1)
        for key, value in {
            "AWS_ACCESS_KEY_ID": "nobody",
            "AWS_SECRET_ACCESS_KEY": "wrong",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TRACKER_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(
            StoreAccessError,
            match=r"Access denied to s3://locked/store/.*check "
            r"the credentials \(AWS_ACCESS_KEY_ID",
        ):
            reporter.Client("s3://locked/store").create_experiment("x")
        result = subprocess.run(
            [
                PYTHON,
                "-c",
                CLI_CODE,
                "build",
                "--store",
                "s3://locked/store",
                "--out",
                str(tmp_path / "site"),
            ],
            capture_output=True,
            text=True,
            env=python_env(),
            check=False,
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "Error: Access denied to s3://locked/store" in result.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_folder_markers_are_not_files(s3_uri, s3_endpoint):
    """Tools that make 'folders' in a bucket leave zero-byte keys ending in '/'; a listing
    skips them (no warning about a badly named part)."""
    import s3fs

    log_example(s3_uri)
    exp = reporter.Client(s3_uri).get_experiment_by_name("energy")
    assert exp is not None
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    base = s3_uri[len("s3://") :]
    for folder in (schema.PARTS_FOLDER, schema.COMPACTED_FOLDER):
        fs.pipe(f"{base}/{schema.RUNS_FOLDER}/{exp.experiment_id}/{folder}/", b"")
    listed = StoreFS(s3_uri).list_files(f"{schema.RUNS_FOLDER}/{exp.experiment_id}")
    assert listed and not [f for f in listed if f.path.endswith("/") or f.size == 0]
    assert len(reporter.Client(s3_uri).search_runs([exp.experiment_id])) == 3
