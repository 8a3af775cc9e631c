"""The store under real concurrency: many writers, SIGKILL, compactions racing writers, readers
and each other, and damaged files. Real processes and real files in each test's tmp_path."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import reporter
from reporter.core import clock
from reporter.core.errors import StoreWarning
from reporter.store.parquet import reader, schema
from tests import recipes
from tests.conftest import PYTHON, parquet_store, python_env, store_fs

CHILD_ENV = {"TRACKER_LOG_ENVIRONMENT": "0"}


def value_of(proc: int, run: int, step: int) -> float:
    """The value a child logs at a step: the test can tell every point apart."""
    return proc * 1e6 + run * 1e3 + step


# child processes ------------------------------------------------------------------------------
@contextlib.contextmanager
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """Track started children; any still running when the test ends is killed (by its pid)."""
    procs: list[subprocess.Popen[str]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def spawn(
    procs: list[subprocess.Popen[str]], code: str, *args: object, **env: str
) -> subprocess.Popen[str]:
    """Start `python -c code args...` with this checkout's reporter."""
    proc = subprocess.Popen(
        [PYTHON, "-c", textwrap.dedent(code), *map(str, args)],
        env=python_env(**CHILD_ENV, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    return proc


def read_line(proc: subprocess.Popen[str]) -> str:
    """Read one line a child printed; fail with its stderr if it died instead."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=60)
        pytest.fail(f"child exited with {proc.returncode} before printing:\n{err}")
    return line.strip()


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    """Wait for a child; return the rest of its stdout; fail with its stderr if it failed."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def start_together(procs: list[subprocess.Popen[str]], go: Path) -> None:
    """Wait until every child has printed 'ready', then let them all go at once."""
    for proc in procs:
        assert read_line(proc) == "ready"
    go.touch()


WAIT_FOR_GO = """
    def wait_for_go(path):
        print("ready", flush=True)
        while not os.path.exists(path):
            time.sleep(0.002)
"""


# reading the files without reporter -----------------------------------------------------------
def event_files(store: str, folder: str = "") -> list[Path]:
    """Return the Parquet files of a store (only those in `folder` if given)."""
    return sorted(p for p in Path(store).rglob("*.parquet") if not folder or folder in p.parts)


def all_events(store: str) -> pd.DataFrame:
    """Read every Parquet file of a store with plain pandas."""
    frames = [pd.read_parquet(f) for f in event_files(store)]
    events = pd.concat(frames, ignore_index=True)
    for name in ("run_id", "kind", "key", "part"):
        events[name] = events[name].astype(str)
    return events


def assert_fully_compacted(store: str) -> None:
    """No raw part is left and the experiment's events are in one compacted file."""
    assert event_files(store, schema.PARTS_FOLDER) == []
    assert len(event_files(store, schema.COMPACTED_FOLDER)) == 1


# 1. four processes log into one experiment at once --------------------------------------------
SHARED_WRITER = (
    """
    import os, sys, time
    import reporter
"""
    + WAIT_FOR_GO
    + """
    store, proc, runs, points, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
        int(sys.argv[4]), sys.argv[5]
    reporter.set_tracking_uri(store)
    exp_id = reporter.set_experiment("shared").experiment_id  # created by four racers
    client = reporter.Client(store)
    wait_for_go(go)
    for r in range(runs):
        tags = {"proc": proc, "run": r}
        if proc % 2:  # the client API
            rid = client.create_run(exp_id, tags=tags).info.run_id
            for step in range(points):
                client.log_metric(rid, "m", proc * 1e6 + r * 1e3 + step, step=step)
            client.set_terminated(rid)
        else:  # the fluent API
            with reporter.start_run(tags=tags):
                for step in range(points):
                    reporter.log_metric("m", proc * 1e6 + r * 1e3 + step, step=step)
"""
)


@pytest.mark.slow
def test_four_processes_log_at_once_and_every_point_is_found_once(tmp_path):
    store = str(tmp_path / "store")
    procs_, runs, points = 4, 25, 1000
    with children() as procs:
        for p in range(procs_):
            spawn(procs, SHARED_WRITER, store, p, runs, points, tmp_path / "go")
        start_together(procs, tmp_path / "go")
        for proc in procs:
            finish(proc)

    client = reporter.Client(store)
    (exp,) = [e for e in client.search_experiments() if e.name == "shared"]
    frame = client.search_runs_frame([exp.experiment_id])
    assert len(frame) == procs_ * runs and frame["run_id"].is_unique
    assert set(frame["status"]) == {"FINISHED"}
    owner = {
        rid: (int(p), int(r)) for rid, p, r in frame[["run_id", "tags.proc", "tags.run"]].to_numpy()
    }
    assert sorted(owner.values()) == [(p, r) for p in range(procs_) for r in range(runs)]

    def check_histories() -> None:
        for rid, (p, r) in owner.items():
            history = client.get_metric_history(rid, "m")
            assert [m.step for m in history] == list(range(points))
            assert [m.value for m in history] == [value_of(p, r, s) for s in range(points)]

    check_histories()
    client.compact()
    assert_fully_compacted(store)
    check_histories()
    # the same, read as plain Parquet: every point once, with its value
    events = all_events(store)
    metrics = events[events["kind"] == "metric"]
    assert len(metrics) == procs_ * runs * points
    assert not metrics.duplicated(["run_id", "step"]).any()
    proc_of = metrics["run_id"].map(lambda rid: owner[rid][0])
    run_of = metrics["run_id"].map(lambda rid: owner[rid][1])
    assert (metrics["value"] == proc_of * 1e6 + run_of * 1e3 + metrics["step"]).all()


# 2. SIGKILL -----------------------------------------------------------------------------------
KILLED_WRITER = """
    import sys, time
    import reporter
    store, flushed_after = sys.argv[1], int(sys.argv[2])
    client = reporter.Client(store)
    exp_id = client.create_experiment("victim")
    rid = client.create_run(exp_id).info.run_id
    print(rid, flush=True)
    step = 0
    while True:
        client.log_metric(rid, "m", step * 0.5, step=step)
        step += 1
        if step == flushed_after:
            reporter.Client().flush()  # the same store object (TRACKER_TRACKING_URI)
            print(step, flush=True)
        if step % 100 == 0:
            time.sleep(0.001)  # keep logging, at a pace that lets the flusher run
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_keeps_flushed_points_and_the_run_reads_killed(tmp_path, monkeypatch):
    store = str(tmp_path / "store")
    timeout_s = 30.0  # liveness is judged on the reader's clock, which the test moves
    monkeypatch.setenv("TRACKER_HEARTBEAT_TIMEOUT", str(timeout_s))  # read at call time
    with children() as procs:
        proc = spawn(
            procs,
            KILLED_WRITER,
            store,
            3000,
            TRACKER_TRACKING_URI=store,
            TRACKER_FLUSH_INTERVAL="0.2",
            TRACKER_HEARTBEAT_INTERVAL="0.2",
        )
        run_id = read_line(proc)
        flushed = int(read_line(proc))
        # let the background flusher publish at least one more part, then kill mid-stream
        parts = lambda: event_files(store, schema.PARTS_FOLDER)  # noqa: E731
        seen = len(parts())
        deadline = time.monotonic() + 60
        while len(parts()) == seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(parts()) > seen, "the flusher wrote nothing after the explicit flush"
        killed_at_ms = clock.now_ms()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    client = reporter.Client(store)

    def status_at(ms: float) -> str:
        """The run's status as a reader whose clock reads `ms` sees it (get_run and search)."""
        monkeypatch.setattr(clock, "now_ms", lambda: ms)
        status = client.get_run(run_id).info.status
        exp_id = client.get_run(run_id).info.experiment_id
        (searched,) = client.search_runs_frame([exp_id])["status"]
        assert searched == status
        return status

    # the process showed it was alive within the timeout before it died: the run reads RUNNING
    # at the moment of the kill, whether or not its heartbeat interval had passed yet ...
    assert status_at(killed_at_ms) == "RUNNING"
    # ... and KILLED once no sign of life is newer than the timeout
    assert status_at(killed_at_ms + (timeout_s + 1) * 1000) == "KILLED"

    history = client.get_metric_history(run_id, "m")
    steps = [m.step for m in history]
    assert len(steps) >= flushed
    assert steps == list(range(len(steps)))  # a prefix: nothing torn, nothing twice
    assert [m.value for m in history] == [s * 0.5 for s in steps]
    # the store stays readable and the dead run can be compacted
    exp_id = client.get_run(run_id).info.experiment_id
    (result,) = client.compact()
    assert result.parts_merged >= 2
    assert_fully_compacted(store)
    assert client.get_metric_history(run_id, "m") == history
    assert client.get_run(run_id).info.status == "KILLED"
    assert list(client.search_runs_frame([exp_id])["status"]) == ["KILLED"]


# 3. compaction racing writers and readers -----------------------------------------------------
CHURN_WRITER = (
    """
    import os, sys, time
    import reporter
"""
    + WAIT_FOR_GO
    + """
    store, exp_id, proc, runs, points, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), \\
        int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    release = sys.argv[7] if len(sys.argv) > 7 else None
    client = reporter.Client(store)
    wait_for_go(go)
    for r in range(runs):
        rid = client.create_run(exp_id, tags={"proc": proc, "run": r}).info.run_id
        for step in range(points):
            client.log_metric(rid, "m", proc * 1e6 + r * 1e3 + step, step=step)
            if step % 40 == 39:
                client.flush()  # several parts per run
        client.set_terminated(rid)
    deadline = time.time() + 60  # stay until the reader has read finished runs
    while release and not os.path.exists(release) and time.time() < deadline:
        time.sleep(0.05)
"""
)

COMPACTOR = (
    """
    import os, sys, time
    import reporter
"""
    + WAIT_FOR_GO
    + """
    store, go, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    until_merged = len(sys.argv) > 4
    client = reporter.Client(store)
    wait_for_go(go)
    rounds = merged = 0
    deadline = time.time() + 120
    # keep going after stop until something was merged: writers on a loaded machine may end
    # before a round finds a finished run (the test then checks the parts left for this one)
    while not os.path.exists(stop) or (until_merged and not merged and time.time() < deadline):
        merged += sum(result.parts_merged for result in client.compact())
        rounds += 1
    print(rounds, merged, flush=True)
"""
)


@pytest.mark.slow
def test_compaction_racing_writers_and_a_reader(tmp_path):
    store = str(tmp_path / "store")
    client = reporter.Client(store)
    exp_id = client.create_experiment("churn")
    writers_, runs, points = 2, 25, 100
    go, stop, release = tmp_path / "go", tmp_path / "stop", tmp_path / "release"
    reads = finished_reads = 0
    with children() as procs:
        writers = [
            # one writer also compacts its own finished runs, the other leaves that to others
            spawn(
                procs,
                CHURN_WRITER,
                store,
                exp_id,
                p,
                runs,
                points,
                go,
                release,
                TRACKER_AUTO_COMPACT=a,
            )
            for p, a in zip(range(writers_), ("3", "0"))
        ]
        compactor = spawn(procs, COMPACTOR, store, go, stop, "until-merged")
        start_together(procs, go)
        while any(w.poll() is None for w in writers):
            frame = client.search_runs_frame([exp_id])
            assert frame["run_id"].is_unique, "a run appeared twice"
            reads += 1
            for rid, status in frame[["run_id", "status"]].to_numpy():
                assert status in ("RUNNING", "FINISHED")
                if status == "FINISHED":
                    steps = [m.step for m in client.get_metric_history(rid, "m")]
                    assert len(steps) == len(set(steps)), "a point appeared twice"
                    assert len(steps) <= points
                    finished_reads += 1
            if finished_reads and reads >= 3:
                release.touch()  # on a loaded machine writers may finish within one read
        for writer in writers:
            finish(writer)
        stop.touch()
        rounds, merged = map(int, finish(compactor).split())
    assert reads > 0 and finished_reads > 0
    assert rounds > 0 and merged > 0  # the compactor did race the writers

    client.compact()
    assert_fully_compacted(store)
    frame = client.search_runs_frame([exp_id])
    assert len(frame) == writers_ * runs and frame["run_id"].is_unique
    assert set(frame["status"]) == {"FINISHED"}
    owner = {
        rid: (int(p), int(r)) for rid, p, r in frame[["run_id", "tags.proc", "tags.run"]].to_numpy()
    }
    assert sorted(owner.values()) == [(p, r) for p in range(writers_) for r in range(runs)]
    for rid, (p, r) in owner.items():
        history = client.get_metric_history(rid, "m")
        assert [(m.step, m.value) for m in history] == [
            (s, value_of(p, r, s)) for s in range(points)
        ]
    metrics = all_events(store).query("kind == 'metric'")
    assert len(metrics) == writers_ * runs * points
    assert not metrics.duplicated(["run_id", "step"]).any()


# 4. two compactors racing each other ----------------------------------------------------------
PREPARE = """
    import os, sys
    import reporter
    store, runs, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    client = reporter.Client(store)
    exp_id = client.create_experiment("two compactors")
    for r in range(runs):
        if r == runs // 2:  # auto-compaction makes compacted files of the first half only
            os.environ["TRACKER_AUTO_COMPACT"] = "0"
        rid = client.create_run(exp_id, tags={"run": r}).info.run_id
        client.log_param(rid, "run", r)
        for step in range(points):
            client.log_metric(rid, "m", r * 1e3 + step, step=step)
            if step == points // 2:
                client.flush()
        client.set_terminated(rid)
    print(exp_id)
"""


def count_rows(client: reporter.Client, exp_id: str) -> tuple[int, int, int]:
    """Read an experiment the way the store does: (rows, metric rows, distinct points)."""
    _, table = reader.read_events(store_fs(client), exp_id)
    events = table.select(["run_id", "kind", "step"]).to_pandas()
    metrics = events[events["kind"] == "metric"]
    distinct = len(metrics.drop_duplicates(["run_id", "step"]))
    return table.num_rows, len(metrics), distinct


@pytest.mark.slow
def test_two_compactors_racing_never_lose_or_duplicate_a_row(tmp_path):
    store = str(tmp_path / "store")
    runs, points = 80, 200
    with children() as procs:
        # a writer that compacts its own finished runs every 7 parts, then stops doing so: the
        # store starts with several compacted files and many raw parts
        exp_id = finish(
            spawn(procs, PREPARE, store, runs, points, TRACKER_AUTO_COMPACT="7")
        ).strip()
    client = reporter.Client(store)
    rows, metric_rows, distinct = count_rows(client, exp_id)
    assert metric_rows == distinct == runs * points
    raw_before = len(event_files(store, schema.PARTS_FOLDER))
    assert raw_before > 0

    go, stop = tmp_path / "go", tmp_path / "stop"
    reads = 0
    with children() as procs:
        compactors = [spawn(procs, COMPACTOR, store, go, stop) for _ in range(2)]
        start_together(procs, go)
        deadline = time.monotonic() + 300  # a hang's limit: the checks are the row counts
        settled = 0  # reads after the store was seen fully compacted
        while settled < 3:
            assert time.monotonic() < deadline, "the compactors never finished"
            assert count_rows(client, exp_id)[1:] == (metric_rows, distinct)
            reads += 1
            done = not event_files(store, schema.PARTS_FOLDER)
            settled += done and len(event_files(store, schema.COMPACTED_FOLDER)) == 1
        stop.touch()
        results = [tuple(map(int, finish(c).split())) for c in compactors]
    assert reads > 3
    assert all(rounds > 0 for rounds, _ in results)
    assert sum(merged for _, merged in results) > 0

    client.compact()
    assert_fully_compacted(store)
    assert count_rows(client, exp_id) == (rows, metric_rows, distinct)
    events = all_events(store)
    assert len(events) == rows
    metrics = events[events["kind"] == "metric"]
    assert len(metrics) == runs * points and not metrics.duplicated(["run_id", "step"]).any()
    frame = client.search_runs_frame([exp_id])
    assert len(frame) == runs and frame["run_id"].is_unique
    assert sorted(frame["params.run"].astype(int)) == list(range(runs))


# 5. short writer processes ending while flushing and compaction are busy ---------------------
SHORT_WRITER = """
    import atexit, sys, threading

    def no_thread_of_ours_left():  # registered first, so it runs after reporter's own hooks
        left = [t.name for t in threading.enumerate() if t.name.startswith("reporter")]
        if left:
            print("still running at finalization:", left, file=sys.stderr, flush=True)
            sys.stderr.flush()

    atexit.register(no_thread_of_ours_left)
    import reporter
    store, exp_id, proc, runs, points = sys.argv[1], sys.argv[2], int(sys.argv[3]), \\
        int(sys.argv[4]), int(sys.argv[5])
    client = reporter.Client(store)
    for r in range(runs):
        rid = client.create_run(exp_id, tags={"proc": proc, "run": r}).info.run_id
        for step in range(points):
            client.log_metric(rid, "m", proc * 1e6 + r * 1e3 + step, step=step)
            if step % 40 == 39:
                client.flush()  # several parts per run: auto-compaction has work to do
        client.set_terminated(rid)
    # a fluent run left open: its points are still buffered and the exit hook ends it, while
    # the end of the previous run has just woken the flusher to compact
    reporter.set_tracking_uri(store)
    reporter.start_run(experiment_id=exp_id, tags={"proc": proc, "run": runs})
    for step in range(points):
        reporter.log_metric("m", proc * 1e6 + runs * 1e3 + step, step=step)
"""


@pytest.mark.slow
def test_short_writer_processes_exit_cleanly_and_lose_nothing(tmp_path):
    """Processes that end while their flusher writes and compacts never abort (SIGABRT from a
    thread still inside pyarrow at finalization) and never lose their last buffered points."""
    store = str(tmp_path / "store")
    client = reporter.Client(store)
    exp_id = client.create_experiment("short lives")
    writers_, at_once, runs, points = 12, 3, 3, 100
    go, stop = tmp_path / "go", tmp_path / "stop"
    failures = []
    with children() as procs:
        compactor = spawn(procs, COMPACTOR, store, go, stop)
        start_together([compactor], go)
        for first in range(0, writers_, at_once):
            batch = [
                spawn(
                    procs,
                    SHORT_WRITER,
                    store,
                    exp_id,
                    p,
                    runs,
                    points,
                    TRACKER_AUTO_COMPACT="2",
                    TRACKER_FLUSH_INTERVAL="0.01",
                )
                for p in range(first, first + at_once)
            ]
            for proc in batch:
                _, err = proc.communicate(timeout=120)
                if proc.returncode != 0 or err.strip():
                    failures.append((proc.returncode, err.strip()[-500:]))
        stop.touch()
        finish(compactor)
    assert failures == []

    client.compact()
    frame = client.search_runs_frame([exp_id])
    # the unended last run of each process was ended FINISHED at its exit
    assert len(frame) == writers_ * (runs + 1) and frame["run_id"].is_unique
    assert set(frame["status"]) == {"FINISHED"}
    metrics = all_events(store).query("kind == 'metric'")
    assert len(metrics) == writers_ * (runs + 1) * points
    assert not metrics.duplicated(["run_id", "step"]).any()


def test_a_closed_writer_joins_its_flusher_and_still_writes(store_uri):
    """close() waits for the flusher thread, starts no new one, and later rows still land."""
    client = reporter.Client(store_uri)
    exp_id = client.create_experiment("closing")
    rid = client.create_run(exp_id).info.run_id
    client.log_metric(rid, "m", 1.0, step=0)
    writer = parquet_store(client)._writer
    thread = writer._thread
    assert thread is not None and thread.is_alive()
    writer.close()
    assert not thread.is_alive()
    client.log_metric(rid, "m", 2.0, step=1)  # after close: buffered, no thread started
    assert writer._thread is thread
    client.set_terminated(rid)  # ending the run writes in the caller's thread
    assert not writer._thread.is_alive()
    fresh = reporter.Client(store_uri)
    assert [(m.step, m.value) for m in fresh.get_metric_history(rid, "m")] == [(0, 1.0), (1, 2.0)]
    assert fresh.get_run(rid).info.status == "FINISHED"


# 6. damaged files -----------------------------------------------------------------------------
def test_truncated_and_foreign_parts_are_skipped_with_a_warning_and_kept(store_uri, client):
    exp_id = client.create_experiment("damaged")
    ids = []
    for i in range(3):
        rid = client.create_run(exp_id, tags={"i": str(i)}).info.run_id
        client.log_param(rid, "i", i)
        for step in range(20):
            client.log_metric(rid, "m", float(step), step=step)
            if step == 9:
                client.flush()  # at least two parts per run
        client.set_terminated(rid)
        ids.append(rid)
    a, b, c = ids
    parts = Path(store_uri, schema.RUNS_FOLDER, exp_id, schema.PARTS_FOLDER)
    # the first part of run a holding metrics (its very first part holds only its attributes)
    first_of_a = next(
        p
        for p in sorted(parts.glob(f"{a}-*.parquet"))
        if "metric" in set(pd.read_parquet(p)["kind"])
    )
    events = pd.read_parquet(first_of_a)
    lost = set(events.loc[events["kind"] == "metric", "step"])  # the steps that part holds
    kept = [s for s in range(20) if s not in lost]
    assert 19 in kept and 0 not in kept  # the run ended in a later part
    first_of_a.write_bytes(first_of_a.read_bytes()[:100])  # truncated
    foreign = parts / f"{b}-foreign.parquet"  # named like a part of run b
    pd.DataFrame({"x": [1]}).to_parquet(foreign)
    damaged = {first_of_a: first_of_a.read_bytes(), foreign: foreign.read_bytes()}

    def named(record: pytest.WarningsRecorder, path: Path) -> bool:
        return any(path.name in str(w.message) for w in record)

    def check_reads() -> None:
        with pytest.warns(StoreWarning) as record:
            run = client.get_run(a)  # the rest of run a reads
        assert named(record, first_of_a)
        assert run.info.status == "FINISHED" and run.data.metrics == {"m": 19.0}
        with pytest.warns(StoreWarning, match=re.escape(first_of_a.name)):
            history = client.get_metric_history(a, "m")
        assert [m.step for m in history] == kept
        with pytest.warns(StoreWarning, match=re.escape(foreign.name)):
            assert client.get_run(b).data.params == {"i": "1"}
        assert client.get_run(c).data.params == {"i": "2"}  # no warning: not its files
        assert len(client.get_metric_history(c, "m")) == 20
        client.store.clear_cache()  # the frame is cached per listing: read the files again
        with pytest.warns(StoreWarning) as record:
            frame = client.search_runs_frame([exp_id])
        assert named(record, first_of_a) and named(record, foreign)
        assert sorted(frame["run_id"]) == sorted(ids)
        assert frame.set_index("run_id").loc[[b, c], "params.i"].tolist() == ["1", "2"]

    check_reads()
    for _ in range(2):
        with pytest.warns(StoreWarning) as record:
            client.compact()
        assert named(record, first_of_a) and named(record, foreign)
        assert {p: p.read_bytes() for p in damaged} == damaged  # never deleted nor changed
        check_reads()
    assert set(parts.glob("*.parquet")) == set(damaged)  # only the damaged files stay raw


# 7. racing compactions and the plain-Parquet recipe -------------------------------------------
ONE_COMPACTION = (
    """
    import os, sys, time
    import reporter
"""
    + WAIT_FOR_GO
    + """
    store, go = sys.argv[1], sys.argv[2]
    client = reporter.Client(store)
    wait_for_go(go)
    print(sum(r.parts_merged for r in client.compact()), flush=True)
"""
)


@pytest.mark.slow
def test_racing_compactions_lose_nothing_and_the_documented_recipes_read_each_row_once(tmp_path):
    """Two compactions let go at once never lose a row. They may leave two copies on disk; the
    store's reader and the pandas and DuckDB recipes of docs/store-format.md (which take each
    part's rows from one file) still give each row exactly once, and so does plain pandas after
    one more compaction that runs alone."""
    for attempt in range(4):  # each attempt: a fresh store, two compactions let go at once
        store = str(tmp_path / f"store{attempt}")
        with children() as procs:
            exp_id = finish(spawn(procs, PREPARE, store, 40, 100, TRACKER_AUTO_COMPACT="0"))
            go = tmp_path / f"go{attempt}"
            racers = [spawn(procs, ONE_COMPACTION, store, go) for _ in range(2)]
            start_together(racers, go)
            merged = [int(finish(r)) for r in racers]
        assert sum(merged) >= 40 * 2  # every run's two parts, merged by one racer or both
        client = reporter.Client(store)
        assert count_rows(client, exp_id.strip())[1:] == (40 * 100, 40 * 100)
        metrics = recipes.pandas_recipe(store)["metrics"]
        assert len(metrics) == 40 * 100, f"attempt {attempt}: {len(metrics)} metric rows"
        assert not metrics.duplicated(["run_id", "step"]).any()
        points = sorted((run_id, n) for run_id, _, _, n in recipes.duckdb_recipe(store))
        assert len(points) == 40 and {n for _, n in points} == {100}
        client.compact()  # alone: afterwards every file holds different rows
        assert recipes.plain_metric_rows(store) == 40 * 100


def test_a_file_deleted_while_its_folder_is_listed_hides_no_other(tmp_path, monkeypatch):
    """A compaction deletes raw parts while readers list the folder. A file the folder read
    showed but that is gone by the time it is stat'ed is left out, and every other file is
    still listed. (It used to end the folder's listing: a build right after a run missed up to
    a dozen finished runs, 1 build in about 30.)"""
    import os

    from reporter.store.parquet.fs import StoreFS

    folder = tmp_path / "store" / "runs" / "1" / "_parts"
    folder.mkdir(parents=True)
    names = [f"f{i:02d}.parquet" for i in range(20)]
    for name in names:
        (folder / name).write_bytes(b"x")
    real = os.scandir
    gone: list[str] = []

    class Deleting:
        """os.scandir, with the second entry's file deleted after the folder was read."""

        def __init__(self, path: str) -> None:
            with real(path) as it:
                self.entries = list(it)
            if len(self.entries) > 2 and not gone:
                gone.append(self.entries[1].name)
                os.remove(self.entries[1].path)

        def __enter__(self) -> list[os.DirEntry[str]]:
            return self.entries

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(os, "scandir", Deleting)
    listed = StoreFS(str(tmp_path / "store")).list_files("runs/1/_parts")
    assert gone
    assert [f.path.rsplit("/", 1)[-1] for f in listed] == sorted(set(names) - set(gone))
