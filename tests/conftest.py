"""Shared fixtures: every test gets its own store and a clean fluent state."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import reporter
from reporter.store.parquet.fs import StoreFS
from reporter.store.parquet.store import ParquetStore
from reporter.tracking import fluent

if TYPE_CHECKING:
    import numpy as np

REPO = Path(__file__).resolve().parent.parent

# No detached compactor (autocompact) outlives a test, here or in the processes tests start:
# it would change file counts and write into folders being removed.
# tests/test_compaction_across.py turns them on and waits for every one it causes.
os.environ["TRACKER_COMPACT_IN_BACKGROUND"] = "0"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/frameworks/ runs in the frameworks' venv (`make pytest-frameworks`, which sets
    TRACKER_FRAMEWORK_TESTS=1); this venv has none of them."""
    if collection_path.name == "frameworks" and collection_path.parent == REPO / "tests":
        return os.environ.get("TRACKER_FRAMEWORK_TESTS") != "1"
    return None


def _reset_fluent() -> None:
    """End runs left active by a test and forget the chosen experiment and URI."""
    fluent.reset()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a module's tests on every store kind it names in STORE_KINDS (local, s3)."""
    kinds = getattr(metafunc.module, "STORE_KINDS", None)
    if kinds and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", kinds, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store a test runs on: a local folder, or a bucket on the S3 test server."""
    return str(getattr(request, "param", "local"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's) on 127.0.0.1, an ephemeral port, for the session."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_SESSION_TOKEN": "testing",
}


def new_bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Create an empty bucket on the test server; point this process (and children) at it."""
    import uuid

    import s3fs

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRACKER_S3_ENDPOINT_URL", endpoint)
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}).mkdir(bucket)
    return bucket


@pytest.fixture(autouse=True)
def _own_temporary_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporary files and folders made in this process (`download_artifacts` without a
    dst_path makes one that is the caller's to remove, as in MLflow) go to a folder of the
    test run's, which pytest cleans, rather than piling up in the machine's temporary folder
    (beside the test's tmp_path, not in it: tests list what is there)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("tempfile")))


@pytest.fixture(autouse=True)
def store_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_kind: str, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Point the tracking API at a fresh store for this test: a folder, or an S3 bucket."""
    _reset_fluent()
    if store_kind == "s3":
        if request.node.get_closest_marker("local_only"):
            pytest.skip("reads or damages the store's files on disk directly")
        bucket = new_bucket(request.getfixturevalue("s3_endpoint"), monkeypatch)
        uri = f"s3://{bucket}/store"
    else:
        uri = str(tmp_path / "store")
    monkeypatch.setenv("TRACKER_TRACKING_URI", uri)
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", os.environ.get("TRACKER_LOG_ENVIRONMENT", "1"))
    yield uri
    _reset_fluent()


@pytest.fixture
def client(store_uri: str) -> reporter.Client:
    """A client on the test's store."""
    return reporter.Client(store_uri)


# autologging tests (test_autolog*.py) ------------------------------------------------------
@pytest.fixture
def undo_autolog() -> Iterator[None]:
    """Autologging off before and after the test (the autolog modules use it for every test)."""
    reset_autologging()
    yield
    reset_autologging()


def reset_autologging() -> None:
    """Every integration off and no hook waiting, as in a new process (mlflow.autolog() leaves
    an integration the user configured with its own autolog() alone, as MLflow's does)."""
    import importlib

    reporter.autolog(disable=True)
    for flavor in ("sklearn", "xgboost", "lightgbm", "pytorch"):
        module = importlib.import_module(f"reporter.integrations.{flavor}.autologging")
        module.INTEGRATION.configure(None, lambda: None)
        module.INTEGRATION.configured_by_user = False


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    """Every other row of scikit-learn's iris data: 75 rows, 3 classes."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X[::2], y[::2]


def python_env(**extra: str) -> dict[str, str]:
    """Return an environment for a child Python that imports this checkout's reporter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


PYTHON = sys.executable
# python -c CLI_CODE ...: the command line, as the installed `tracker-report` runs it
CLI_CODE = "from reporter.commands.main import main; main()"


def as_in_a_terminal() -> None:
    """preexec_fn for a child that a test interrupts with SIGINT: Ctrl-C acts as it does in a
    terminal, even when this test run was started with SIGINT ignored (a background job)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def parquet_store(client: reporter.Client) -> ParquetStore:
    """The client's store as the Parquet store it is: for tests of the store's own files."""
    store = client.store
    assert isinstance(store, ParquetStore), type(store)
    return store


def store_fs(client: reporter.Client) -> StoreFS:
    """The Parquet store's filesystem (private to the store; tests of its files only)."""
    return parquet_store(client)._fs


def store_paths(uri: str, suffix: str = ".parquet", folder: str | None = None) -> list[str]:
    """Return the store-relative paths of the store's files ending in suffix (any store kind),
    optionally only those inside a folder of that name; nothing is read (a background
    compaction may delete a file the moment after it was listed)."""
    return sorted(
        info.path
        for info in StoreFS(uri).list_files("")
        if info.path.endswith(suffix) and (folder is None or folder in info.path.split("/")[:-1])
    )


def store_files(uri: str, suffix: str = ".parquet", folder: str | None = None) -> dict[str, bytes]:
    """Return {store-relative path: bytes} of the store's files ending in suffix (any store kind),
    optionally only those inside a folder of that name."""
    fs = StoreFS(uri)
    return {
        info.path: fs.read_bytes(info.path)
        for info in fs.list_files("")
        if info.path.endswith(suffix) and (folder is None or folder in info.path.split("/")[:-1])
    }
