"""The local MLflow readers (FileStoreSource, SqliteSource), read directly.

Each test reads a private copy of the fixtures written by real MLflow (tests/fixtures/mlflow,
with expected.json), damaged or extended on disk as the test needs; nothing is mocked. The
logged-model tests have real MLflow (its own venv) write small stores at test time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reporter.importers.mlflow.file_store import FileStoreSource
from reporter.importers.mlflow.source import SourceError, SourceExperiment, SourceRun
from reporter.importers.mlflow.sqlite import SqliteSource
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow

FIXTURES = Path(__file__).parent / "fixtures" / "mlflow"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
Source = FileStoreSource | SqliteSource


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A private copy of the fixtures folder (the tests damage or extend it)."""
    target = tmp_path / "mlflow"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("*.py", "expected.json"))
    return target


def open_kind(kind: str, folder: Path, **options: object) -> Source:
    if kind == "file":
        return FileStoreSource(folder / "mlruns", **options)  # type: ignore[arg-type]
    return SqliteSource(f"sqlite:///{folder / 'mlflow.db'}", **options)  # type: ignore[arg-type]


def all_runs(source: Source) -> dict[str, SourceRun]:
    """Read every run of every experiment; nothing may fail."""
    out = {}
    for exp in source.experiments():
        assert isinstance(exp, SourceExperiment), exp
        for run in source.runs(exp.experiment_id):
            assert isinstance(run, SourceRun), run
            out[run.run_id] = run
    return out


def expected_run(kind: str, name: str) -> dict[str, Any]:
    return next(r for r in EXPECTED[kind]["runs"] if r["run_name"] == name)


def run_dir(folder: Path, name: str) -> Path:
    """The file-store folder of a fixture run, by name."""
    return next((folder / "mlruns").glob(f"*/{expected_run('file', name)['run_id']}"))


def sqlite_artifacts(folder: Path, name: str) -> Path:
    """The artifact folder of a SQLite fixture run, by name."""
    return folder / expected_run("sqlite", name)["artifact_uri"]


def execute(folder: Path, sql: str, *args: object) -> None:
    """Change the copied database (the readers never write)."""
    con = sqlite3.connect(folder / "mlflow.db")
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# --- 1. counts and latest --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_counts_and_latest_are_what_mlflow_holds(kind, copy):
    runs = all_runs(open_kind(kind, copy))
    for want in EXPECTED[kind]["runs"]:
        run = runs[want["run_id"]]
        assert run.counts == {k: len(v) for k, v in want["metrics"].items()}
        assert set(run.latest) == set(want["latest_metrics"])
        for key, value in want["latest_metrics"].items():
            assert same(run.latest[key].value, value), (run.run_name, key)


def test_sqlite_runs_take_latest_from_latest_metrics_and_read_no_points(copy):
    run = expected_run("sqlite", "baseline-finished")
    execute(
        copy,
        "UPDATE latest_metrics SET value = 99.5, step = 7 WHERE run_uuid = ? AND key = 'loss'",
        run["run_id"],
    )  # what MLflow shows as latest, whatever the points
    source = open_kind("sqlite", copy)
    assert isinstance(source, SqliteSource)
    statements: list[str] = []
    source.db.set_trace_callback(statements.append)
    got = all_runs(source)[run["run_id"]]
    assert (got.latest["loss"].value, got.latest["loss"].step) == (99.5, 7)
    assert got.counts == {k: len(v) for k, v in run["metrics"].items()}
    per_point = [
        s
        for s in statements
        if "FROM metrics" in s and "GROUP BY" not in s and "PARTITION BY" not in s
    ]
    assert not per_point, per_point


@pytest.mark.parametrize("damage", ["drop the table", "lose one row", "null timestamp"])
def test_sqlite_latest_is_computed_where_latest_metrics_lacks_it(damage, copy):
    run = expected_run("sqlite", "baseline-finished")
    failed = expected_run("sqlite", "diverged-failed")  # its latest point is a NaN
    if damage == "drop the table":
        execute(copy, "DROP TABLE latest_metrics")
    elif damage == "lose one row":
        execute(copy, "DELETE FROM latest_metrics WHERE key IN ('loss', 'weird')")
    else:
        execute(copy, "UPDATE latest_metrics SET timestamp = NULL")
    runs = all_runs(open_kind("sqlite", copy))
    for want in (run, failed):
        got = runs[want["run_id"]]
        assert set(got.latest) == set(want["latest_metrics"])
        for key, value in want["latest_metrics"].items():
            assert same(got.latest[key].value, value), key
    loss = runs[run["run_id"]].latest["loss"]  # step 4 was logged twice: the later is latest
    assert (loss.step, loss.value) == (4, 0.36)


# --- 2. an unreadable experiment -------------------------------------------------------------


def test_an_unreadable_experiment_is_a_source_error_naming_its_file(copy):
    mlruns = copy / "mlruns"
    regression = mlruns / expected_run("file", "ridge")["experiment_id"]
    (regression / "meta.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    classifier = run_dir(copy, "baseline-finished").parent
    (classifier / "tags" / "team").write_bytes(b"\xff\xfe not utf-8")
    items = FileStoreSource(mlruns).experiments()
    errors = [str(i) for i in items if isinstance(i, SourceError)]
    assert len(errors) == 2
    assert any(str(regression / "meta.yaml") in e for e in errors)
    assert any(str(classifier / "tags" / "team") in e for e in errors)
    names = {i.name for i in items if isinstance(i, SourceExperiment)}
    assert names == {"Default", "fixture-deleted"}


# --- 3. an experiment or run folder given instead of the store --------------------------------


def test_an_experiment_or_run_folder_is_refused(copy):
    mlruns = copy / "mlruns"
    experiment = mlruns / "0"
    run = run_dir(copy, "default-experiment-run")
    assert FileStoreSource.looks_like(mlruns)
    assert not FileStoreSource.looks_like(experiment)  # its subfolders are runs
    with pytest.raises(
        SourceError, match="looks like an experiment folder; give its parent, the mlruns folder"
    ):
        FileStoreSource(experiment)
    with pytest.raises(SourceError, match="looks like a run folder"):
        FileStoreSource(run)


def test_a_run_folder_among_experiments_is_not_an_experiment(copy):
    mlruns = copy / "mlruns"
    shutil.copytree(run_dir(copy, "ridge"), mlruns / "stray-run")
    names = sorted(e.name for e in FileStoreSource(mlruns).experiments())  # type: ignore[union-attr]
    assert names == sorted(e["name"] for e in EXPECTED["file"]["experiments"])


# --- 4. raw values ---------------------------------------------------------------------------


def test_params_and_tags_keep_their_raw_bytes(copy):
    folder = run_dir(copy, "ridge")
    (folder / "params" / "crlf").write_bytes("one\r\ntwo\rthree ✓\n".encode())
    (folder / "tags" / "crlf").write_bytes(b"a\r\nb")
    run = all_runs(FileStoreSource(copy / "mlruns"))[expected_run("file", "ridge")["run_id"]]
    assert run.params["crlf"] == "one\r\ntwo\rthree ✓\n"
    assert run.tags["crlf"] == "a\r\nb"


# --- 5. regular files only, no link followed -------------------------------------------------


@contextmanager
def fifo_guard(fifos: list[Path]) -> Iterator[None]:
    """Open each FIFO for writing now and then: a reader that opened one (the bug) then gets
    an end of file, so the test fails instead of hanging forever."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.05):
            for fifo in fifos:
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    continue  # no reader: as it should be
                os.close(fd)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_file_store_reads_only_regular_files_and_follows_no_link(copy, tmp_path):
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret").write_text("1700000000000 1.0 0\n", encoding="utf-8")
    (outside / "folder" / "inner.txt").write_text("secret", encoding="utf-8")
    folder = run_dir(copy, "baseline-finished")
    fifos = [folder / sub / "fifo" for sub in ("params", "tags", "metrics", "artifacts")]
    for fifo in fifos:
        os.mkfifo(fifo)
    for sub in ("params", "tags", "metrics", "artifacts"):
        (folder / sub / "link").symlink_to(outside / "secret")
    (folder / "artifacts" / "linked").symlink_to(outside / "folder")
    (folder / "metrics" / "linked").symlink_to(outside / "folder")
    want = expected_run("file", "baseline-finished")
    source = FileStoreSource(copy / "mlruns")
    with fifo_guard(fifos):
        run = all_runs(source)[want["run_id"]]
        assert set(run.params) == set(want["params"])
        assert set(run.tags) == set(want["tags"])
        assert set(run.latest) == set(run.counts or {}) == set(want["metrics"])
        assert source.metric_history(run, "link") == []
        assert source.metric_history(run, "fifo") == []
        listed = source.artifacts(run)
        assert sorted(f.path for f in listed) == sorted(want["artifacts"])
        for path in ("fifo", "link", "linked/inner.txt"):
            with pytest.raises(SourceError):
                source.read_artifact(run, path)


def test_a_linked_artifact_folder_is_not_followed(copy, tmp_path):
    folder = run_dir(copy, "ridge")
    moved = tmp_path / "moved"
    (folder / "artifacts").rename(moved)
    (folder / "artifacts").symlink_to(moved)
    source = FileStoreSource(copy / "mlruns")
    run = all_runs(source)[expected_run("file", "ridge")["run_id"]]
    with pytest.raises(SourceError, match="symbolic link"):
        source.artifacts(run)


def test_sqlite_artifacts_are_regular_files_only(copy, tmp_path):
    (tmp_path / "secret").write_text("secret", encoding="utf-8")
    artifacts = sqlite_artifacts(copy, "ridge")
    os.mkfifo(artifacts / "fifo")
    (artifacts / "link").symlink_to(tmp_path / "secret")
    (artifacts / "results" / "linked").symlink_to(tmp_path)
    source = open_kind("sqlite", copy)
    run = all_runs(source)[expected_run("sqlite", "ridge")["run_id"]]
    with fifo_guard([artifacts / "fifo"]):
        assert [f.path for f in source.artifacts(run)] == ["results/coefficients.json"]
        for path in ("fifo", "link", "results/linked/secret"):
            with pytest.raises(SourceError):
                source.read_artifact(run, path)


# --- 6. an unreadable subfolder --------------------------------------------------------------


def deep_folder(parent: Path) -> None:
    """Make folders nested deeper than PATH_MAX below `parent`, a file at the bottom: os.walk
    cannot list the deepest ones (ENAMETOOLONG), as with an unreadable folder."""
    fd = os.open(parent, os.O_RDONLY)
    try:
        for _ in range(24):
            os.mkdir("d" * 250, dir_fd=fd)
            inner = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_an_artifact_folder_that_cannot_be_listed_raises(kind, copy):
    if kind == "file":
        folder = run_dir(copy, "ridge") / "artifacts"
    else:
        folder = sqlite_artifacts(copy, "ridge")
    deep_folder(folder)
    try:
        source = open_kind(kind, copy)
        run = all_runs(source)[expected_run(kind, "ridge")["run_id"]]
        with pytest.raises(SourceError, match="Cannot read folder"):
            source.artifacts(run)
    finally:
        shutil.rmtree(folder / ("d" * 250))


def test_a_params_folder_that_cannot_be_listed_skips_the_run(copy):
    folder = run_dir(copy, "ridge") / "params"
    deep_folder(folder)
    try:
        source = FileStoreSource(copy / "mlruns")
        exp_id = expected_run("file", "ridge")["experiment_id"]
        (item,) = list(source.runs(exp_id))
        assert isinstance(item, SourceError) and "Cannot read folder" in str(item)
    finally:
        shutil.rmtree(folder / ("d" * 250))


# --- 7. containment --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_artifacts_outside_the_source_are_read_only_when_allowed(kind, copy, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "artifacts"
    elsewhere.mkdir(parents=True)
    (elsewhere / "far.txt").write_text("far away", encoding="utf-8")
    want = expected_run(kind, "ridge")
    if kind == "file":
        folder = run_dir(copy, "ridge")
        meta = folder / "meta.yaml"
        text = meta.read_text(encoding="utf-8")
        old = next(line for line in text.splitlines() if line.startswith("artifact_uri:"))
        meta.write_text(text.replace(old, f"artifact_uri: {elsewhere.as_uri()}"), "utf-8")
        shutil.rmtree(folder / "artifacts")
    else:
        execute(
            copy,
            "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
            str(elsewhere),
            want["run_id"],
        )
        shutil.rmtree(sqlite_artifacts(copy, "ridge"))
    source = open_kind(kind, copy)
    run = all_runs(source)[want["run_id"]]
    with pytest.raises(SourceError, match=r"outside the source folder.*--artifacts-root DIR"):
        source.artifacts(run)
    with pytest.raises(SourceError, match="outside the source folder"):
        source.read_artifact(run, "far.txt")
    allowed = open_kind(kind, copy, artifact_roots=[tmp_path / "elsewhere"])
    run = all_runs(allowed)[want["run_id"]]
    assert [f.path for f in allowed.artifacts(run)] == ["far.txt"]
    assert allowed.read_artifact(run, "far.txt") == b"far away"


def test_a_linked_folder_inside_the_source_does_not_lead_out(copy, tmp_path):
    experiment = copy / "mlartifacts" / "2"
    experiment.rename(tmp_path / "two")
    experiment.symlink_to(tmp_path / "two")  # mlartifacts/2 -> outside
    source = open_kind("sqlite", copy)
    run = all_runs(source)[expected_run("sqlite", "ridge")["run_id"]]
    with pytest.raises(SourceError, match="outside the source folder"):
        source.artifacts(run)


def test_mlflow_artifacts_paths_with_dots_are_never_read(copy):
    (copy.parent / "secret").mkdir()
    (copy.parent / "secret" / "key.txt").write_text("secret", encoding="utf-8")
    want = expected_run("sqlite", "ridge")
    execute(
        copy,
        "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
        "mlflow-artifacts:/../../secret",
        want["run_id"],
    )
    for options in ({}, {"artifact_roots": [copy.parent]}):  # even where it leads is allowed
        source = open_kind("sqlite", copy, **options)
        run = all_runs(source)[want["run_id"]]
        with pytest.raises(SourceError, match=r"'\.\.'"):
            source.artifacts(run)


def test_mlflow_artifacts_uris_are_found_next_to_the_database(copy):
    want = expected_run("sqlite", "ridge")
    execute(
        copy,
        "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
        f"mlflow-artifacts:/2/{want['run_id']}/artifacts",
        want["run_id"],
    )
    source = open_kind("sqlite", copy)
    run = all_runs(source)[want["run_id"]]
    assert [f.path for f in source.artifacts(run)] == ["results/coefficients.json"]


# --- 8. remote artifact URIs -----------------------------------------------------------------


REMOTE = [
    "s3://bucket/1/abc/artifacts",
    "gs://bucket/x",
    "wasbs://c@acct.blob.core.windows.net/x",
    "abfss://c@acct.dfs.core.windows.net/x",
    "hdfs://namenode:8020/x",
    "dbfs:/databricks/x",
    "https://example.com/x",
    "http://example.com/x",
    "file://otherhost/x",
]


@pytest.mark.parametrize("uri", REMOTE)
def test_remote_artifact_uris_are_refused_with_advice(uri, copy):
    want = expected_run("sqlite", "ridge")
    execute(copy, "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", uri, want["run_id"])
    source = open_kind("sqlite", copy)
    run = all_runs(source)[want["run_id"]]
    with pytest.raises(
        SourceError,
        match=f"run {want['run_id']} are at .*which this import "
        "cannot read directly; import through the MLflow server URL instead",
    ):
        source.artifacts(run)


def test_remote_artifact_uri_in_the_file_store_is_refused(copy):
    folder = run_dir(copy, "ridge")
    meta = folder / "meta.yaml"
    text = meta.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("artifact_uri:"))
    meta.write_text(text.replace(old, "artifact_uri: s3://bucket/x/artifacts"), "utf-8")
    source = FileStoreSource(copy / "mlruns")
    run = all_runs(source)[expected_run("file", "ridge")["run_id"]]
    with pytest.raises(SourceError, match="import through the MLflow server URL"):
        source.artifacts(run)


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_a_run_without_artifacts_lists_none(kind, copy):
    want = expected_run(kind, "ridge")
    if kind == "file":
        shutil.rmtree(run_dir(copy, "ridge") / "artifacts")
    else:
        shutil.rmtree(sqlite_artifacts(copy, "ridge"))
    source = open_kind(kind, copy)
    assert source.artifacts(all_runs(source)[want["run_id"]]) == []


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_every_fixture_artifact_is_listed_and_read(kind, copy):
    source = open_kind(kind, copy)
    runs = all_runs(source)
    for want in EXPECTED[kind]["runs"]:
        run = runs[want["run_id"]]
        got = {
            f.path: hashlib.sha256(source.read_artifact(run, f.path)).hexdigest()
            for f in source.artifacts(run)
        }
        if want["artifacts"] or kind == "sqlite":
            assert got == want["artifacts"], run.run_name
        else:  # a run of a deleted experiment: MLflow looks where it was, not in .trash
            assert run.lifecycle_stage == "deleted"
            assert got == expected_run("sqlite", "orphan")["artifacts"]


# --- 9. MLflow 3 logged models ---------------------------------------------------------------


MAKE_MODELS = r"""
import json, sys
from pathlib import Path
import mlflow
from sklearn.linear_model import LogisticRegression

root = Path(sys.argv[1]).resolve()
model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
out = {}
for kind in ("file", "sqlite"):
    folder = root / kind
    folder.mkdir(parents=True)
    if kind == "file":
        mlflow.set_tracking_uri((folder / "mlruns").as_uri())
        exp = mlflow.create_experiment("models")
    else:
        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
        exp = mlflow.create_experiment(
            "models", artifact_location=(folder / "mlartifacts").as_uri())
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_text("the run's own file\n", "clf/readme.txt")  # takes the name "clf"
        names = {}
        for name in ("clf", "other"):
            info = mlflow.sklearn.log_model(
                model, name=name, serialization_format="cloudpickle",
                pip_requirements=["scikit-learn"])
            names[info.model_id] = name
    with mlflow.start_run(experiment_id=exp) as bare:
        mlflow.log_param("a", "1")
    client = mlflow.MlflowClient()
    out[kind] = {
        "run_id": run.info.run_id, "bare_run_id": bare.info.run_id, "models": names,
        "locations": {m: client.get_logged_model(m).artifact_location for m in names},
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def model_stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A file store and a SQLite store (artifacts next to it) where real MLflow 3 logged two
    scikit-learn models from one run (once per test module: MLflow takes seconds to start)."""
    require_mlflow()
    root = tmp_path_factory.mktemp("models")
    out = subprocess.run(
        [str(VENV_PYTHON), "-c", MAKE_MODELS, str(root)],
        capture_output=True,
        text=True,
        cwd=root,
        env=mlflow_env(MLFLOW_ALLOW_FILE_STORE="true"),
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return root, json.loads(out.stdout.strip().splitlines()[-1])


def model_files(location: str) -> dict[str, bytes]:
    folder = Path(location.removeprefix("file://"))
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("moved", [False, True], ids=["in place", "moved"])
@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_logged_models_come_with_their_run(kind, moved, model_stores, tmp_path):
    root, info = model_stores
    made = info[kind]
    folder = root / kind
    if moved:  # a copy elsewhere: the recorded locations are outside it, its own copies are in
        folder = tmp_path / "copy"
        shutil.copytree(root / kind, folder)
    source = open_kind(kind, folder)
    runs = all_runs(source)
    run = runs[made["run_id"]]
    listed = {f.path: f.size for f in source.artifacts(run)}
    clf, other = sorted(made["models"], key=lambda m: made["models"][m])
    expected = {"clf/readme.txt": len(b"the run's own file\n")}
    for model_id, prefix in ((clf, f"models/{clf}"), (other, "other")):
        files = model_files(made["locations"][model_id])
        assert {"MLmodel", "model.pkl"} <= set(files)
        for name, data in files.items():
            expected[f"{prefix}/{name}"] = len(data)
            assert source.read_artifact(run, f"{prefix}/{name}") == data
    assert listed == expected
    assert source.read_artifact(run, "clf/readme.txt") == b"the run's own file\n"
    assert source.artifacts(runs[made["bare_run_id"]]) == []
    with pytest.raises(SourceError):
        source.read_artifact(run, f"models/{clf}/../../clf/readme.txt")
