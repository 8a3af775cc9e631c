"""`tracker-report import mlflow` from an MLflow file store and SQLite database.

The fixtures in tests/fixtures/mlflow were written by real MLflow (make_fixtures.py, run in
MLflow's own venv); expected.json holds every value MLflow's own client read back from them.
Each test imports a copy of a fixture and compares every value with expected.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reporter
from reporter.core import clock
from reporter.core.errors import NotFoundError
from reporter.importers.mlflow.importer import (
    Importer,
    MlflowImportWarning,
    import_mlflow,
    open_source,
)
from reporter.store.parquet.store import ParquetStore
from tests.conftest import CLI_CODE, PYTHON, python_env
from tests.mlflow_server import MLFLOW, mlflow_env, require_mlflow, running_server

CLI = [PYTHON, "-c", CLI_CODE]
FIXTURES = Path(__file__).parent / "fixtures" / "mlflow"
FAKE_ROOT = "/nonexistent/mlflow-fixture"  # what make_fixtures.py put for the logging machine
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))


def tree_digest(folder: Path) -> dict[str, str]:
    """Return {relative path: sha256} of every file below a folder."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def source_copy(tmp_path: Path) -> Path:
    """A private copy of the fixtures folder (the tests may damage or extend it)."""
    target = tmp_path / "mlflow"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("*.py", "expected.json"))
    return target


def source_of(kind: str, folder: Path) -> str:
    return str(folder / "mlruns") if kind == "file" else f"sqlite:///{folder / 'mlflow.db'}"


def expected_run(kind: str, name: str) -> dict[str, Any]:
    """Return what MLflow read back of the fixture run of that name."""
    return next(r for r in EXPECTED[kind]["runs"] if r["run_name"] == name)


def run_folder(source_copy: Path, run_id: str) -> Path:
    """Return a run's folder in the copied file store."""
    return next((source_copy / "mlruns").glob(f"*/{run_id}"))


def same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_everything(store_uri: str, kind: str) -> None:
    """Compare every experiment and run in the store with what MLflow read back."""
    expected = EXPECTED[kind]
    client = reporter.Client(store_uri)
    ours = {e.name: e for e in client.store.list_experiments()}
    for exp in expected["experiments"]:
        mine = ours[exp["name"]]
        tags = dict(exp["tags"])
        assert mine.description == tags.pop("mlflow.note.content", "")
        assert {k: mine.tags[k] for k in tags} == tags
        assert mine.lifecycle_stage == exp["lifecycle_stage"]
    assert len(expected["runs"]) >= 10
    for run in expected["runs"]:
        got = client.get_run(run["run_id"])
        info = got.info
        assert (
            ours[
                next(
                    e["name"]
                    for e in expected["experiments"]
                    if e["experiment_id"] == run["experiment_id"]
                )
            ].experiment_id
            == info.experiment_id
        )
        assert (
            info.run_name,
            info.status,
            info.start_time,
            info.end_time,
            info.user_id,
            info.lifecycle_stage,
        ) == (
            run["run_name"],
            run["status"],
            run["start_time"],
            run["end_time"],
            run["user_id"],
            run["lifecycle_stage"],
        )
        assert info.parent_run_id == run["tags"].get("mlflow.parentRunId")
        assert dict(got.data.params) == run["params"]
        tags = dict(got.data.tags)
        own = {k for k in tags if k.startswith("reporter.")}
        assert own == {"reporter.import.source", "reporter.import.digest"}
        # every tag under MLflow's own name (mlflow.runName, mlflow.parentRunId, ...)
        assert {k: v for k, v in tags.items() if k not in own} == run["tags"]
        assert set(got.data.metrics) == set(run["metrics"])
        for key, history in run["metrics"].items():
            mine_points = sorted(
                (m.step, m.timestamp, m.value) for m in client.get_metric_history(info.run_id, key)
            )
            want = sorted((s, t, v) for s, t, v in history)
            assert len(mine_points) == len(want), (run["run_name"], key)
            for a, b in zip(mine_points, want):
                assert a[:2] == b[:2] and same_number(a[2], b[2]), (run["run_name"], key, a, b)
            assert same_number(got.data.metrics[key], run["latest_metrics"][key])
        files = dict(client.store.list_artifacts(info.run_id))
        for path, digest in run["artifacts"].items():
            assert path in files, (run["run_name"], path)
            data = Path(client.download_artifacts(info.run_id, path)).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_import_brings_every_value_and_changes_nothing_in_the_source(kind, source_copy, store_uri):
    before = tree_digest(source_copy)
    summary = import_mlflow(source_of(kind, source_copy), store_uri)
    assert summary.runs_new == len(EXPECTED[kind]["runs"]) and not summary.skipped
    assert summary.experiments_created == len(EXPECTED[kind]["experiments"]) - 1  # Default
    check_everything(store_uri, kind)
    assert tree_digest(source_copy) == before  # nothing in the source was written


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_reimport_imports_nothing_new(kind, source_copy, store_uri):
    import_mlflow(source_of(kind, source_copy), store_uri)
    files = sorted(
        p.relative_to(store_uri).as_posix()
        for p in Path(store_uri).rglob("*")
        if p.is_file() and "_parts" not in p.parts and "_compacted" not in p.parts
    )
    events = reporter.Client(store_uri).search_runs(
        [e.experiment_id for e in reporter.Client(store_uri).store.list_experiments()]
    )
    again = import_mlflow(source_of(kind, source_copy), store_uri)
    assert (again.runs_new, again.runs_updated, again.points, again.artifacts_copied) == (
        0,
        0,
        0,
        0,
    )
    assert again.runs_unchanged == len(EXPECTED[kind]["runs"])
    assert (
        sorted(
            p.relative_to(store_uri).as_posix()
            for p in Path(store_uri).rglob("*")
            if p.is_file() and "_parts" not in p.parts and "_compacted" not in p.parts
        )
        == files
    )
    assert len(events) == len(
        reporter.Client(store_uri).search_runs(
            [e.experiment_id for e in reporter.Client(store_uri).store.list_experiments()]
        )
    )
    check_everything(store_uri, kind)


def test_an_interrupted_import_is_completed_by_the_next(source_copy, store_uri):
    seen = []

    def interrupt(stage: str, done: int, total: int) -> None:
        seen.append(done)
        if done == 4:
            raise KeyboardInterrupt  # what Ctrl-C does between two runs

    with pytest.raises(KeyboardInterrupt):
        Importer(
            open_source(source_of("file", source_copy)), ParquetStore(store_uri), progress=interrupt
        ).run()
    assert max(seen) == 4
    summary = import_mlflow(source_of("file", source_copy), store_uri)
    assert summary.runs_unchanged == 4
    assert summary.runs_new == len(EXPECTED["file"]["runs"]) - 4
    check_everything(store_uri, "file")


def test_a_changed_run_gets_only_what_is_new(source_copy, store_uri):
    source = source_of("file", source_copy)
    import_mlflow(source, store_uri)
    run = expected_run("file", "still-running")
    run_dir = run_folder(source_copy, run["run_id"])
    key = next(iter(run["metrics"]))
    with (run_dir / "metrics" / key).open("a", encoding="utf-8") as handle:
        handle.write("1700009999000 0.125 999\n")  # MLflow's line: timestamp value step
    (run_dir / "tags" / "stage").write_text("later", encoding="utf-8")
    summary = import_mlflow(source, store_uri)
    assert (summary.runs_updated, summary.runs_new, summary.points) == (1, 0, 1)
    history = reporter.Client(store_uri).get_metric_history(run["run_id"], key)
    assert len(history) == len(run["metrics"][key]) + 1  # the old points once, the new one
    assert (history[-1].step, history[-1].value) == (999, 0.125)
    assert reporter.Client(store_uri).get_run(run["run_id"]).data.tags["stage"] == "later"


def test_unreadable_runs_and_files_are_skipped_with_a_warning(source_copy, store_uri):
    runs = EXPECTED["sqlite"]["runs"]
    broken = next(r for r in runs if r["run_name"] == "baseline-finished")
    (
        source_copy
        / "mlartifacts"
        / broken["experiment_id"]
        / broken["run_id"]
        / "artifacts"
        / "notes.txt"
    ).unlink()
    file_runs = EXPECTED["file"]["runs"]
    bad = next(r for r in file_runs if r["run_name"] == "ridge")
    (run_folder(source_copy, bad["run_id"]) / "meta.yaml").write_text(
        "run_id: [unclosed", encoding="utf-8"
    )
    with pytest.warns(MlflowImportWarning, match="meta.yaml"):
        summary = import_mlflow(source_of("file", source_copy), store_uri)
    assert summary.runs_new == len(file_runs) - 1 and len(summary.skipped) == 1
    with pytest.raises(NotFoundError):
        reporter.Client(store_uri).get_run(bad["run_id"])
    assert (
        "ridge" in summary.skipped[0]
        or bad["run_id"] in summary.skipped[0]
        or ("meta.yaml" in summary.skipped[0])
    )
    other = str(Path(store_uri).parent / "other-store")
    result = import_mlflow(source_of("sqlite", source_copy), other)
    assert result.runs_new == len(runs)
    files = dict(reporter.Client(other).store.list_artifacts(broken["run_id"]))
    assert "notes.txt" not in files and "config.json" in files


def test_cli_imports_and_reports(source_copy, store_uri):
    out = subprocess.run(
        [
            *CLI,
            "import",
            "mlflow",
            source_of("sqlite", source_copy),
            "--store",
            store_uri,
            "--experiment",
            "fixture-classifier",
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        check=False,
    )
    assert out.returncode == 0, out.stderr
    wanted = [
        r
        for r in EXPECTED["sqlite"]["runs"]
        if r["experiment_id"]
        == next(
            e["experiment_id"]
            for e in EXPECTED["sqlite"]["experiments"]
            if e["name"] == "fixture-classifier"
        )
    ]
    assert f"runs: {len(wanted)} new, 0 updated, 0 unchanged" in out.stdout
    assert [e.name for e in reporter.Client(store_uri).store.list_experiments()] == [
        "fixture-classifier"
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["import", "mlflow", "{missing}"], 2, "not an MLflow source"),
        (["import", "mlflow", "{file}", "--experiment", "nope"], 2, "No experiment 'nope'"),
        (["import", "mlflow", "sqlite:///{missing}"], 1, "No SQLite database"),
        (["import", "mlflow", "sqlite:///{not_db}"], 1, "not an MLflow tracking database"),
    ],
)
def test_cli_errors_are_clear(args, code, message, source_copy, store_uri, tmp_path):
    not_db = tmp_path / "x.db"
    not_db.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    values = {
        "missing": str(tmp_path / "nothing"),
        "file": str(source_copy / "mlruns"),
        "not_db": str(not_db),
    }
    argv = [a.format(**values) for a in args] + ["--store", store_uri]
    out = subprocess.run(
        [*CLI, *argv], capture_output=True, text=True, env=python_env(), check=False
    )
    assert out.returncode == code, (out.stdout, out.stderr)
    assert message in out.stderr and "Traceback" not in out.stderr


@pytest.fixture
def served_fixture(source_copy: Path) -> Iterator[str]:
    """MLflow's own server over a copy of the SQLite fixture (its artifact paths pointed at
    the copy, as they were on the machine that logged them); yields the server's URL."""
    db = source_copy / "mlflow.db"
    with sqlite3.connect(db) as con:
        for table, column in (("runs", "artifact_uri"), ("experiments", "artifact_location")):
            con.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, ?)",
                (FAKE_ROOT, str(source_copy)),
            )
    require_mlflow()
    upgraded = subprocess.run(
        [str(MLFLOW), "db", "upgrade", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=mlflow_env(),
        check=False,
    )
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]  # a newer MLflow 3 in CI
    with running_server(source_copy, f"sqlite:///{db}", source_copy / "mlartifacts") as url:
        yield url


def test_import_over_rest_from_a_live_mlflow_server(served_fixture, store_uri):
    summary = import_mlflow(served_fixture, store_uri)
    assert summary.runs_new == len(EXPECTED["sqlite"]["runs"]) and not summary.skipped
    check_everything(store_uri, "sqlite")
    again = import_mlflow(served_fixture, store_uri)
    assert (again.runs_new, again.runs_updated, again.points, again.artifacts_copied) == (
        0,
        0,
        0,
        0,
    )
    assert again.runs_unchanged == len(EXPECTED["sqlite"]["runs"])


def exp_dir(source_copy: Path, name: str) -> Path:
    """Return a file-store experiment folder by experiment name."""
    for meta in (source_copy / "mlruns").glob("*/meta.yaml"):
        if f"name: {name}\n" in meta.read_text(encoding="utf-8"):
            return meta.parent
    raise AssertionError(name)


def test_a_run_id_that_is_a_path_is_refused_before_anything_is_written(source_copy, tmp_path):
    run = expected_run("file", "ridge")
    meta = run_folder(source_copy, run["run_id"]) / "meta.yaml"
    text = meta.read_text(encoding="utf-8")
    meta.write_text(
        text.replace(f"run_id: {run['run_id']}", "run_id: ../../../escaped").replace(
            f"run_uuid: {run['run_id']}", "run_uuid: ../../../escaped"
        ),
        encoding="utf-8",
    )
    store = tmp_path / "deep" / "store"
    with pytest.warns(MlflowImportWarning, match="cannot be stored"):
        summary = import_mlflow(source_of("file", source_copy), str(store))
    assert summary.runs_new == len(EXPECTED["file"]["runs"]) - 1
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "deep" / "escaped").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "mlflow"]


class FlakySource:
    """A real file-store source whose first read of one artifact fails (a network hiccup)."""

    def __init__(self, inner, path: str) -> None:
        self.inner, self.path, self.failed = inner, path, False
        self.uri = inner.uri

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_artifact(self, run, path):
        from reporter.importers.mlflow.source import SourceError

        if path == self.path and not self.failed:
            self.failed = True
            raise SourceError(f"connection reset while reading {path}")
        return self.inner.read_artifact(run, path)


def test_an_artifact_that_failed_is_fetched_by_the_next_import(source_copy, store_uri):
    source = open_source(source_of("file", source_copy))
    run = expected_run("file", "baseline-finished")
    flaky = FlakySource(source, "notes.txt")
    with pytest.warns(MlflowImportWarning, match="connection reset"):
        Importer(flaky, ParquetStore(store_uri)).run()
    assert "notes.txt" not in dict(ParquetStore(store_uri).list_artifacts(run["run_id"]))
    again = Importer(flaky, ParquetStore(store_uri)).run()
    assert (again.runs_updated, again.artifacts_copied, again.points) == (1, 1, 0)
    check_everything(store_uri, "file")


def test_backfilled_points_below_the_latest_step_are_imported(source_copy, store_uri):
    source = source_of("file", source_copy)
    import_mlflow(source, store_uri)
    run = expected_run("file", "diverged-failed")
    run_dir = run_folder(source_copy, run["run_id"])
    with (run_dir / "metrics" / "loss").open("a", encoding="utf-8") as handle:
        handle.write("1700000000500 9.5 1\n")  # an early step, logged late
    summary = import_mlflow(source, store_uri)
    assert (summary.runs_updated, summary.points) == (1, 1)
    history = reporter.Client(store_uri).get_metric_history(run["run_id"], "loss")
    assert (1, 1700000000500, 9.5) in {(m.step, m.timestamp, m.value) for m in history}
    assert len(history) == len(run["metrics"]["loss"]) + 1


def test_renamed_deleted_and_restored_experiments_follow_the_source(source_copy, store_uri):
    source = source_of("file", source_copy)
    import_mlflow(source, store_uri)
    folder = exp_dir(source_copy, "fixture-regression")
    meta = folder / "meta.yaml"
    meta.write_text(
        meta.read_text(encoding="utf-8").replace(
            "name: fixture-regression", "name: regression-renamed"
        ),
        encoding="utf-8",
    )
    trash = source_copy / "mlruns" / ".trash"
    (deleted,) = list(trash.iterdir())
    restored = source_copy / "mlruns" / deleted.name
    deleted.rename(restored)
    (restored / "meta.yaml").write_text(
        (restored / "meta.yaml")
        .read_text(encoding="utf-8")
        .replace("lifecycle_stage: deleted", "lifecycle_stage: active"),
        encoding="utf-8",
    )
    summary = import_mlflow(source, store_uri)
    assert not summary.skipped
    client = reporter.Client(store_uri)
    names = {e.name: e.lifecycle_stage for e in client.store.list_experiments()}
    assert "fixture-regression" not in names and names["regression-renamed"] == "active"
    assert names["fixture-deleted"] == "active"
    ridge = expected_run("file", "ridge")
    assert client.get_experiment(client.get_run(ridge["run_id"]).info.experiment_id).name == (
        "regression-renamed"
    )


def test_imported_running_runs_stay_running(source_copy, store_uri, monkeypatch):
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", "1")
    import_mlflow(source_of("sqlite", source_copy), store_uri)
    later = clock.now_ms() + 1500  # the readers' clock moves on: no process heart-beats it
    monkeypatch.setattr(clock, "now_ms", lambda: later)
    run = next(r for r in EXPECTED["sqlite"]["runs"] if r["status"] == "RUNNING")
    client = reporter.Client(store_uri)
    client.store.clear_cache()
    assert client.get_run(run["run_id"]).info.status == "RUNNING"
    frame = client.search_runs_frame([client.get_run(run["run_id"]).info.experiment_id])
    assert set(frame.loc[frame["run_id"] == run["run_id"], "status"]) == {"RUNNING"}


def test_a_store_inside_the_source_or_a_file_is_refused(source_copy, tmp_path):
    out = subprocess.run(
        [
            *CLI,
            "import",
            "mlflow",
            str(source_copy / "mlruns"),
            "--store",
            str(source_copy / "mlruns" / "store"),
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        check=False,
    )
    assert out.returncode == 2 and "would write into the source" in out.stderr
    assert not (source_copy / "mlruns" / "store").exists()
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    out = subprocess.run(
        [*CLI, "import", "mlflow", str(source_copy / "mlruns"), "--store", str(afile)],
        capture_output=True,
        text=True,
        env=python_env(),
        check=False,
    )
    assert out.returncode == 1 and "is a file" in out.stderr and "Traceback" not in out.stderr


def clone_runs(source_copy: Path, name: str, count: int) -> list[str]:
    """Copy one file-store run `count` times under new run ids (an MLflow folder with many
    runs, so an import takes long enough to be killed midway); return the new ids."""
    import uuid

    run = expected_run("file", name)
    original = run_folder(source_copy, run["run_id"])
    ids = []
    for _ in range(count):
        new = uuid.uuid4().hex
        target = original.parent / new
        shutil.copytree(original, target)
        meta = target / "meta.yaml"
        meta.write_text(
            meta.read_text(encoding="utf-8").replace(run["run_id"], new), encoding="utf-8"
        )
        ids.append(new)
    return ids


@pytest.mark.slow
def test_imports_killed_midway_are_completed_by_the_next(source_copy, store_uri):
    """kill -9 the import while it works (when its progress says k runs are done), then
    import again: whatever each kill left, the store ends with every value exactly once."""
    import signal

    clones = clone_runs(source_copy, "baseline-finished", 150)
    source = source_of("file", source_copy)
    total = len(EXPECTED["file"]["runs"]) + len(clones)
    client = reporter.Client(store_uri)
    for target in (40, 80, 120):
        proc = subprocess.Popen(
            [*CLI, "import", "mlflow", source, "--store", store_uri],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=python_env(),
        )
        assert proc.stderr is not None
        with proc.stderr:
            for line in proc.stderr:
                done = (
                    int(line.split(": ")[1].split("/")[0])
                    if line.startswith("importing runs: ")
                    else 0
                )
                if done >= target:
                    proc.send_signal(signal.SIGKILL)  # runs are being written right now
                    break
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the import ended before it was killed"
        client.store.clear_cache()
        imported = client.search_runs(
            [e.experiment_id for e in client.store.list_experiments()], run_view_type=3
        )
        assert target <= len(imported) < total  # killed midway
    summary = import_mlflow(source, store_uri)
    assert summary.runs_new + summary.runs_updated + summary.runs_unchanged == total
    assert summary.runs_unchanged >= 120  # what the kills had finished is not redone
    check_everything(store_uri, "file")  # every history compared point by point: no doubles
    original = expected_run("file", "baseline-finished")
    want = {k: sorted(map(tuple, v)) for k, v in original["metrics"].items()}
    for run_id in clones:
        got = {
            k: sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, k))
            for k in want
        }
        assert {k: [p[:2] for p in v] for k, v in got.items()} == {
            k: [p[:2] for p in v] for k, v in want.items()
        }
        assert sorted(dict(client.store.list_artifacts(run_id))) == sorted(original["artifacts"])
    assert import_mlflow(source, store_uri).runs_unchanged == total
