"""The store's promises under real concurrency: many processes, SIGKILL, racing compaction."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pandas as pd
import pytest

import reporter
from reporter.core import clock
from reporter.core.errors import StoreWarning
from reporter.store.parquet import schema
from tests.conftest import PYTHON, python_env, store_files, store_fs, store_paths

pytestmark = pytest.mark.slow

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


_children: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _reap_children() -> Iterator[None]:
    """A test that fails leaves no child running and no pipe open: an unclosed pipe's
    ResourceWarning would fail whichever later test the garbage collector runs in."""
    yield
    while _children:
        proc = _children.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def spawn(code: str, *args: str, **env: str) -> subprocess.Popen[str]:
    """Start a child Python running `code` (with these arguments) with this checkout's reporter."""
    proc = subprocess.Popen(
        [PYTHON, "-c", textwrap.dedent(code), *args],
        env=python_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _children.append(proc)
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> str:
    """Wait for a child and return its stdout; fail with its stderr if it failed."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


WRITER = """
    import sys
    import reporter as mlflow
    proc, runs, points = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    mlflow.set_experiment("shared")
    for r in range(runs):
        with mlflow.start_run(run_name=f"p{proc}-r{r}"):
            mlflow.log_param("proc", proc)
            for step in range(points):
                mlflow.log_metric("m", proc * 1e6 + r * 1e3 + step, step=step)
"""


def test_four_processes_log_at_once_and_every_point_is_found_once(store_uri):
    env = {"TRACKER_TRACKING_URI": store_uri, "TRACKER_LOG_ENVIRONMENT": "0"}
    procs = [spawn(WRITER, str(p), "25", "1000", **env) for p in range(4)]
    for proc in procs:
        finish(proc)
    client = reporter.Client(store_uri)
    shared = reporter.get_experiment_by_name("shared")
    assert shared is not None
    runs = client.search_runs_frame([shared.experiment_id])
    assert len(runs) == 100 and set(runs["status"]) == {"FINISHED"}
    for row in runs.itertuples():
        run_id, run_name = row.run_id, row.run_name
        assert isinstance(run_id, str) and isinstance(run_name, str)
        proc_no, r = (int(x[1:]) for x in run_name.split("-"))
        history = client.get_metric_history(run_id, "m")
        assert [m.step for m in history] == list(range(1000))
        assert [m.value for m in history] == [proc_no * 1e6 + r * 1e3 + s for s in range(1000)]
    # the same, read as plain Parquet after compaction, with no duplicate (run, step)
    client.compact()
    files = store_files(store_uri).values()
    events = pd.concat([pd.read_parquet(io.BytesIO(f)) for f in files], ignore_index=True)
    metrics = events[events["kind"] == "metric"]
    assert len(metrics) == 100_000
    assert not metrics.duplicated(["run_id", "step"]).any()


KILLED_WRITER = """
    import reporter as mlflow
    mlflow.set_experiment("victim")
    run = mlflow.start_run()
    print(run.info.run_id, flush=True)
    step = 0
    while True:
        for _ in range(500):
            mlflow.log_metric("m", float(step), step=step)
            step += 1
        if step == 5000:
            mlflow.Client().flush()
            print(step, flush=True)
"""


def test_sigkill_loses_at_most_the_last_flush_and_the_run_reads_killed(store_uri, monkeypatch):
    proc = spawn(
        KILLED_WRITER,
        TRACKER_TRACKING_URI=store_uri,
        TRACKER_FLUSH_INTERVAL="0.2",
        TRACKER_HEARTBEAT_INTERVAL="0.2",
        TRACKER_LOG_ENVIRONMENT="0",
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    flushed = int(proc.stdout.readline())
    time.sleep(0.6)  # let a few more background flushes and heartbeats happen
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)  # reap it and close the pipes
    client = reporter.Client(store_uri)
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", "30")
    assert client.get_run(run_id).info.status == "RUNNING"  # heartbeat still fresh
    # 31 s later on the reader's clock, with no sign of life since the kill: KILLED
    later = clock.now_ms() + 31_000
    monkeypatch.setattr(clock, "now_ms", lambda: later)
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    steps = [m.step for m in client.get_metric_history(run_id, "m")]
    assert steps == list(range(len(steps)))  # a prefix: nothing torn, nothing twice
    assert len(steps) >= flushed
    # the store stays readable and the dead run can be compacted
    assert len(client.search_runs_frame([run.info.experiment_id])) == 1
    client.compact()
    assert not store_paths(store_uri, folder=schema.PARTS_FOLDER)
    assert [m.step for m in client.get_metric_history(run_id, "m")] == steps
    assert client.get_run(run_id).info.status == "KILLED"


CHURN_WRITER = """
    import sys, time
    import reporter as mlflow
    proc, runs = int(sys.argv[1]), int(sys.argv[2])
    mlflow.set_experiment("churn")
    for r in range(runs):
        with mlflow.start_run(run_name=f"p{proc}-r{r}"):
            for step in range(50):
                mlflow.log_metric("m", step, step=step)
            mlflow.Client().flush()
            for step in range(50, 100):
                mlflow.log_metric("m", step, step=step)
"""

COMPACTOR = """
    import sys, time
    import reporter
    client = reporter.Client()
    end = time.time() + float(sys.argv[1])
    n = 0
    while time.time() < end:
        client.compact()
        n += 1
    print(n)
"""


def _check_no_duplicates(client: reporter.Client, exp_id: str) -> int:
    """Read all runs; fail on a run seen twice or a history with repeated steps."""
    runs = client.store.list_runs([exp_id])
    ids = [r.info.run_id for r in runs]
    assert len(ids) == len(set(ids))
    for run in runs:
        if run.info.status == "FINISHED":
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "m")]
            assert steps == list(range(100)), run.info.run_name
    return len(ids)


def test_compaction_racing_writers_and_readers(store_uri):
    env = {
        "TRACKER_TRACKING_URI": store_uri,
        "TRACKER_LOG_ENVIRONMENT": "0",
        "TRACKER_AUTO_COMPACT": "3",
    }
    writers = [spawn(CHURN_WRITER, str(p), "30", **env) for p in range(2)]
    compactors = [spawn(COMPACTOR, "6", **env) for _ in range(2)]
    client = reporter.Client(store_uri)
    exp_id = None
    reads = 0
    while any(w.poll() is None for w in writers):
        exp = client.get_experiment_by_name("churn")
        if exp is not None:
            exp_id = exp.experiment_id
            _check_no_duplicates(client, exp_id)
            reads += 1
    for proc in writers + compactors:
        finish(proc)
    assert exp_id is not None and reads > 0
    client.compact()
    assert _check_no_duplicates(client, exp_id) == 60
    assert not store_paths(store_uri, folder=schema.PARTS_FOLDER)
    assert len(store_paths(store_uri, folder=schema.COMPACTED_FOLDER)) == 1


def test_experiment_created_by_racing_processes_gets_one_id(store_uri):
    code = """
        import reporter as mlflow
        print(mlflow.set_experiment("race").experiment_id)
    """
    procs = [spawn(code, TRACKER_TRACKING_URI=store_uri) for _ in range(4)]
    ids = {finish(p).strip() for p in procs}
    assert len(ids) == 1
    assert [
        e.name for e in reporter.Client(store_uri).search_experiments() if e.name == "race"
    ] == ["race"]


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_forked_child_does_not_write_the_parents_pending_rows(store_uri):
    code = """
        import os
        import reporter as mlflow
        with mlflow.start_run() as run:
            mlflow.log_metric("m", 1.0, step=0)   # pending in the parent's buffer
            pid = os.fork()
            if pid == 0:
                mlflow.Client().flush()
                os._exit(0)
            os.waitpid(pid, 0)
        print(run.info.run_id)
    """
    run_id = finish(spawn(code, TRACKER_TRACKING_URI=store_uri)).strip()
    history = reporter.Client(store_uri).get_metric_history(run_id, "m")
    assert [(m.step, m.value) for m in history] == [(0, 1.0)]


EXPERIMENT_EDITOR = """
    import sys
    import reporter as mlflow
    proc, exp_id = int(sys.argv[1]), sys.argv[2]
    client = mlflow.Client()
    for i in range(25):
        client.set_experiment_tag(exp_id, f"p{proc}-t{i}", str(proc * 100 + i))
        if i == 10:
            client.set_experiment_tag(exp_id, "shared", str(proc))  # the same key: one wins
"""


def test_four_processes_editing_one_experiment_keep_every_edit(store_uri):
    client = reporter.Client(store_uri)
    exp_id = client.create_experiment("edited", tags={"kept": "yes"})
    env = {"TRACKER_TRACKING_URI": store_uri, "TRACKER_LOG_ENVIRONMENT": "0"}
    procs = [spawn(EXPERIMENT_EDITOR, str(p), exp_id, **env) for p in range(4)]
    for proc in procs:
        finish(proc)
    client.rename_experiment(exp_id, "edited, renamed")
    client.delete_experiment_tag(exp_id, "p0-t0")
    for exp in (client.get_experiment(exp_id), client.get_experiment_by_name("edited, renamed")):
        assert exp is not None and exp.name == "edited, renamed"
        expected = {f"p{p}-t{i}": str(p * 100 + i) for p in range(4) for i in range(25)}
        del expected["p0-t0"]
        shared = exp.tags.get("shared")
        assert shared in {"0", "1", "2", "3"}
        assert {k: v for k, v in exp.tags.items() if k not in ("shared", "kept")} == expected
        assert exp.tags["kept"] == "yes"
    (listed,) = [e for e in client.search_experiments() if e.experiment_id == exp_id]
    assert listed.tags == client.get_experiment(exp_id).tags
    # deleted and restored by two more edits; the runs' experiment still resolves by name
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    restored = client.get_experiment_by_name("edited, renamed")
    assert restored is not None
    assert restored.lifecycle_stage == "active"


KILLED_AT_START = """
    import sys, time
    import reporter as mlflow
    mlflow.set_experiment("short lives")
    run = mlflow.start_run()
    print(run.info.run_id, flush=True)
    time.sleep(600)  # killed long before this ends
"""


def test_a_run_killed_right_after_start_run_reads_killed(store_uri, monkeypatch):
    run_ids = []
    for _ in range(5):
        proc = spawn(KILLED_AT_START, TRACKER_TRACKING_URI=store_uri, TRACKER_LOG_ENVIRONMENT="0")
        assert proc.stdout is not None
        run_ids.append(proc.stdout.readline().strip())
        os.kill(proc.pid, signal.SIGKILL)  # within milliseconds of start_run returning
        proc.communicate(timeout=30)
    client = reporter.Client(store_uri)
    # 600 s: the first run's only sign of life is its start, read after four more processes
    # started (a loaded machine must not make it read KILLED); the clock is moved on below
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", "600")
    short_lives = client.get_experiment_by_name("short lives")
    assert short_lives is not None
    exp_id = short_lives.experiment_id
    frame = client.search_runs_frame([exp_id])
    assert sorted(frame["run_id"]) == sorted(run_ids)  # every run is listed at once
    assert {client.get_run(r).info.status for r in run_ids} == {"RUNNING"}  # within the timeout
    later = clock.now_ms() + 601_000
    monkeypatch.setattr(clock, "now_ms", lambda: later)
    assert list(client.search_runs_frame([exp_id])["status"]) == ["KILLED"] * len(run_ids)
    assert {client.get_run(r).info.status for r in run_ids} == {"KILLED"}
    assert {client.get_run(r).info.run_name for r in run_ids} != {""}  # its first events


def test_a_run_with_its_first_part_and_no_marker_is_found(store_uri):
    """A process killed inside create_run, after the first part and before the marker."""
    client = reporter.Client(store_uri)
    run_id = client.create_run(client.create_experiment("no marker")).info.run_id
    client.set_terminated(run_id)
    exp_id = client.get_run(run_id).info.experiment_id
    store_fs(client).delete(f"runs/{exp_id}/{run_id}/run.json")
    fresh = reporter.Client(store_uri)  # knows nothing of the run
    assert fresh.get_run(run_id).info.experiment_id == exp_id
    assert list(fresh.search_runs_frame([exp_id])["run_id"]) == [run_id]


def test_a_run_with_a_marker_and_no_events_reads_killed_after_the_timeout(store_uri, monkeypatch):
    """A process killed inside create_run, between the marker and the first events."""
    client = reporter.Client(store_uri)
    exp_id = client.create_experiment("died in create_run")
    run_id = "f" * 32
    client.store.ensure_run_marker(exp_id, run_id, created=1_700_000_000_000)
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", "30")
    with pytest.raises(reporter.NotFoundError, match="no readable events yet"):
        client.get_run(run_id)  # its process may still be writing them
    later = clock.now_ms() + 31_000
    monkeypatch.setattr(clock, "now_ms", lambda: later)
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.info.start_time == 1_700_000_000_000
    assert run.info.experiment_id == exp_id


SKEWED_WRITER = """
    import time
    real = time.time
    time.time = lambda: real() + 86400  # this machine's clock runs a day ahead
    time.time_ns = lambda: int(time.time() * 1e9)
    import reporter as mlflow
    mlflow.set_experiment("skewed")
    run = mlflow.start_run()
    for step in range(100):
        mlflow.log_metric("m", float(step), step=step)
    mlflow.Client().flush()
    print(run.info.run_id, flush=True)
    time.sleep(600)  # killed long before this ends
"""


def test_a_killed_writer_with_a_clock_a_day_ahead_reads_killed(store_uri, monkeypatch):
    proc = spawn(SKEWED_WRITER, TRACKER_TRACKING_URI=store_uri, TRACKER_LOG_ENVIRONMENT="0")
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    client = reporter.Client(store_uri)
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", "30")
    assert client.get_run(run_id).info.status == "RUNNING"  # just killed: within the timeout
    later = clock.now_ms() + 31_000  # a day is not needed: the skew is not trusted
    monkeypatch.setattr(clock, "now_ms", lambda: later)
    assert client.get_run(run_id).info.status == "KILLED"
    exp_id = client.get_run(run_id).info.experiment_id
    assert list(client.search_runs_frame([exp_id])["status"]) == ["KILLED"]
    assert len(client.get_metric_history(run_id, "m")) == 100


def test_a_reader_sees_edits_made_after_it_last_read_and_skips_a_damaged_one(store_uri):
    """Edit files are read once per process and kept; new ones are still found."""
    reader_client, writer_client = reporter.Client(store_uri), reporter.Client(store_uri)
    exp_id = writer_client.create_experiment("watched")
    writer_client.set_experiment_tag(exp_id, "a", "1")
    assert reader_client.get_experiment(exp_id).tags == {"a": "1"}
    writer_client.set_experiment_tag(exp_id, "b", "2")
    writer_client.set_experiment_tag(exp_id, "a", "3")
    writer_client.rename_experiment(exp_id, "watched, renamed")
    store_fs(writer_client).write_atomic(f"experiments/{exp_id}/0-broken.edit", b"{not json")
    with pytest.warns(StoreWarning, match="0-broken.edit"):
        exp = reader_client.get_experiment(exp_id)
    assert exp.tags == {"a": "3", "b": "2"} and exp.name == "watched, renamed"


MODEL_EDITOR = """
    import sys
    import reporter as mlflow
    model_id, proc = sys.argv[1], int(sys.argv[2])
    for i in range(5):
        mlflow.set_logged_model_tags(model_id, {f"p{proc}-{i}": str(i)})
        mlflow.log_model_params({f"param-p{proc}-{i}": str(i)}, model_id=model_id)
    mlflow.finalize_logged_model(model_id, "READY")
"""


def test_processes_changing_one_logged_model_at_once_all_keep_their_changes(store_uri):
    client = reporter.Client(store_uri)
    exp_id = client.create_experiment("models at once")
    model = client.create_logged_model(exp_id, name="shared", tags={"base": "1"})
    procs = [
        spawn(MODEL_EDITOR, model.model_id, str(p), TRACKER_TRACKING_URI=store_uri)
        for p in range(4)
    ]
    for proc in procs:
        finish(proc)
    back = reporter.Client(store_uri).get_logged_model(model.model_id)
    want = {f"p{p}-{i}": str(i) for p in range(4) for i in range(5)}
    assert back.tags == {"base": "1", **want}
    assert back.params == {f"param-{k}": v for k, v in want.items()}
    assert back.status.value == "READY"
