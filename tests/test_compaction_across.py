"""Compaction across processes (autocompact): runs logged one per process end compacted by the
detached compactors their ends start, which keep every promise of `compact`.

* processes that each log one run and exit leave the experiment compacted (fewer raw parts
  than the threshold) and every run reading exactly as logged; a relative store path works;
* writers, their compactors and an explicit `tracker-report compact` racing lose nothing and
  read nothing twice;
* a compactor SIGKILLed before any one of its writes or deletes leaves every run readable
  whole, and a rerun finishes;
* a run still RUNNING in another process is never merged; archive summaries are untouched;
  a run gc removed does not come back;
* the logging process does not wait: it exits while the compactor it started is held at its
  start (by a sitecustomize gate in the compactor only);
* turned off (or on a memory:// store, or a tracking server's shared files), nothing starts.

Every test waits for the compactors it caused before it ends (`settle`): none outlives it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reporter
import reporter as mlflow
from reporter.core.errors import NotFoundError
from reporter.store.parquet import archive, autocompact, compaction, reader, schema, sync
from reporter.store.parquet import writer as writer_module
from reporter.store.parquet.fs import StoreFS
from reporter.store.parquet.store import ParquetStore
from reporter.tracking import fluent
from tests.conftest import CLI_CODE, PYTHON, python_env, store_fs
from tests.usage_helpers import (
    DAY_MS,
    contents_on_disk,
    delete_run_at,
    event_run_ids,
    s3_filesystem,
)

pytestmark = pytest.mark.slow

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server

THRESHOLD = 6  # TRACKER_AUTO_COMPACT in these tests: a run is 2 or 3 parts
EXPERIMENT = "across"
POINTS = 5

# one process, one run: run INDEX with a param, a tag and a metric history of POINTS steps
WRITER = """
import sys
import reporter as mlflow
uri, index, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("across")
with mlflow.start_run(run_name=f"r{index}") as run:
    mlflow.log_param("i", index)
    mlflow.set_tag("t", f"t{index % 3}")
    for step in range(points):
        mlflow.log_metric("m", index * 1000 + step, step=step)
print(run.info.run_id, flush=True)
"""

# a run that stays RUNNING until the file argv[2] exists, then ends
LONG_WRITER = """
import os, sys, time
import reporter as mlflow
uri, go, index = sys.argv[1], sys.argv[2], int(sys.argv[3])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("across")
with mlflow.start_run(run_name=f"r{index}") as run:
    mlflow.log_param("i", index)
    mlflow.set_tag("t", f"t{index % 3}")
    mlflow.log_metric("m", index * 1000, step=0)
    print(run.info.run_id, flush=True)
    while not os.path.exists(go):
        time.sleep(0.05)
    for step in range(1, 5):
        mlflow.log_metric("m", index * 1000 + step, step=step)
"""

# a compactor SIGKILLed just before its Nth write or delete in its main thread (the lease
# refresher's writes, every 10 s, are not counted): argv limit uri experiment token
KILLED_COMPACTOR = """
import os, signal, sys, threading
from reporter.store.parquet import autocompact
from reporter.store.parquet.fs import StoreFS
limit = int(sys.argv[1])
done = 0

def counted(method):
    def step(*args, **kwargs):
        global done
        if threading.current_thread() is threading.main_thread():
            if done >= limit:
                os.kill(os.getpid(), signal.SIGKILL)
            done += 1
        return method(*args, **kwargs)
    return step

for name in ("write_atomic", "delete"):
    setattr(StoreFS, name, counted(getattr(StoreFS, name)))
autocompact.compact(*sys.argv[2:5])
print(done, flush=True)
"""

# sitecustomize on PYTHONPATH: a compactor process (only) waits at its start for a file
GATE = """
import os, sys, time
if "reporter.store.parquet.autocompact" in sys.orig_argv:
    gate = os.environ.get("TEST_COMPACTOR_GATE", "")
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
"""


def experiment_ids(uri: str) -> list[str]:
    """Return the experiments of a store that have runs."""
    return StoreFS(uri).list_dirs(schema.RUNS_FOLDER)


def settle(uri: str) -> None:
    """Wait until no compactor holds a lease of the store (and ours have exited)."""
    fs = StoreFS(uri)
    assert autocompact.wait_for_compactors(fs, experiment_ids(uri), timeout_s=300)


@pytest.fixture(autouse=True)
def across(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Background compaction on (conftest turns it off for every other test), a small
    threshold; at the end no process of ours starts one again, and every one started ended."""
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "1")
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", str(THRESHOLD))
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "0")
    yield
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "0")
    fluent.reset()
    for writer in list(writer_module._WRITERS):  # joins every flusher: none starts one later
        writer.close()
    settle(store_uri)


def run_writers(
    uri: str, indices: list[int], *, parallel: int = 3, cwd: str | None = None, **env: str
) -> dict[int, str]:
    """Log run i for each index, each in a process of its own (`parallel` at a time);
    return {index: run id}."""
    pending, out = list(indices), {}
    running: list[tuple[int, subprocess.Popen[str]]] = []
    while pending or running:
        while pending and len(running) < parallel:
            index = pending.pop(0)
            proc = subprocess.Popen(
                [PYTHON, "-c", WRITER, uri, str(index), str(POINTS)],
                env=python_env(**env),
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            running.append((index, proc))
        index, proc = running.pop(0)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr and "failed" not in stderr, stderr
        out[index] = stdout.split()[-1]
    return out


def start_long_writer(uri: str, go: Path, **env: str) -> subprocess.Popen[str]:
    """Start LONG_WRITER (run 100, RUNNING until the file `go` exists)."""
    return subprocess.Popen(
        [PYTHON, "-c", LONG_WRITER, uri, str(go), "100"],
        env=python_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def log_here(indices: list[int]) -> dict[int, str]:
    """Log the same runs as WRITER does, in this process."""
    mlflow.set_experiment(EXPERIMENT)
    out = {}
    for index in indices:
        with mlflow.start_run(run_name=f"r{index}") as run:
            mlflow.log_param("i", index)
            mlflow.set_tag("t", f"t{index % 3}")
            for step in range(POINTS):
                mlflow.log_metric("m", index * 1000 + step, step=step)
        out[index] = run.info.run_id
    return out


def log_quietly(
    monkeypatch: pytest.MonkeyPatch, client: reporter.Client, indices: list[int]
) -> dict[int, str]:
    """Prepare a store here: log runs with no compaction of any kind, then close this
    process's writer (its flusher no longer compacts or starts compactors; later ends in this
    process write at once, and only its `close` starts a compactor)."""
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "0")
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    runs = log_here(indices)
    client.store.close()
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", str(THRESHOLD))
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "1")
    return runs


def check_runs(uri: str, runs: dict[int, str], points: int = POINTS) -> None:
    """Every run reads exactly as logged (each point once), from a fresh store object."""
    client = ParquetStore(uri)  # nothing cached by an earlier read
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp is not None
    listed = [r.info.run_id for r in client.list_runs([exp.experiment_id])]
    assert len(listed) == len(set(listed))
    assert set(runs.values()) <= set(listed)
    for index, run_id in runs.items():
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED", run_id
        assert run.data.params == {"i": str(index)}
        assert run.data.tags["t"] == f"t{index % 3}"
        history = [(m.step, m.value) for m in client.get_metric_history(run_id, "m")]
        assert history == [(s, index * 1000 + s) for s in range(points)], run_id


def exp_id_of(uri: str) -> str:
    exp = reporter.Client(uri).get_experiment_by_name(EXPERIMENT)
    assert exp is not None
    return exp.experiment_id


def compacted_parts(uri: str, exp_id: str) -> set[str]:
    """Return every part id the experiment's compacted files hold."""
    fs = StoreFS(uri)
    out: set[str] = set()
    for info in reader.list_compacted(fs, exp_id).compacted:
        out.update(reader.FOOTERS.get(fs, info) or ())
    return out


def lease_of(uri: str, exp_id: str) -> autocompact.Lease | None:
    return autocompact.read_lease(StoreFS(uri), exp_id)[0]


def test_one_run_processes_leave_the_experiment_compacted(store_uri, tmp_path):
    local = not store_uri.startswith("s3://")
    count = 30 if local else 12
    # a local store given as a relative path: the compactor gets it resolved
    where = "store" if local else store_uri
    runs = run_writers(where, list(range(count)), cwd=str(tmp_path))
    settle(store_uri)

    exp_id = exp_id_of(store_uri)
    fs = StoreFS(store_uri)
    assert len(autocompact.raw_parts(fs, exp_id)) < THRESHOLD
    compacted = reader.list_compacted(fs, exp_id).compacted
    assert 1 <= len(compacted) <= 2 * compaction.TIER_FILES
    lease = lease_of(store_uri, exp_id)
    assert lease is not None and lease.state == "done"
    check_runs(store_uri, runs)
    # the lease is this store's state: a copy of the store does not take it along
    copy = str(tmp_path / "copy")
    sync.sync(store_uri, copy)
    assert lease_of(copy, exp_id) is None
    check_runs(copy, runs)


def test_a_sweep_in_one_process_and_one_run_processes_share_the_work(store_uri, client):
    """A long-lived process compacts its own finished runs in its flusher (and counts the
    others' parts after that) while one-run processes start compactors beside it."""
    done: dict[int, str] = {}
    others = threading.Thread(target=lambda: done.update(run_writers(store_uri, [100, 101, 102])))
    others.start()
    try:
        here = log_here(list(range(12)))
    finally:
        others.join()
    client.store.close()
    settle(store_uri)
    exp_id = exp_id_of(store_uri)
    assert len(autocompact.raw_parts(StoreFS(store_uri), exp_id)) < THRESHOLD
    check_runs(store_uri, {**here, **done})


def test_writers_compactors_and_an_explicit_compact_racing_lose_nothing(store_uri, tmp_path):
    local = not store_uri.startswith("s3://")
    count = 24 if local else 10
    done: dict[int, str] = {}
    failed: list[BaseException] = []

    def write() -> None:
        try:
            for start in range(0, count, 4):  # in batches, so the readers see some done
                done.update(run_writers(store_uri, list(range(start, min(start + 4, count)))))
        except BaseException as exc:
            failed.append(exc)

    writers = threading.Thread(target=write)
    writers.start()
    fs = StoreFS(store_uri)
    while writers.is_alive() and not fs.exists(schema.STORE_FILE):  # the first run makes it
        time.sleep(0.05)
    compact = [PYTHON, "-c", CLI_CODE, "compact", "--store", store_uri]
    compacts = 0
    while writers.is_alive():
        proc = subprocess.run(compact, env=python_env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        compacts += 1
        if done:
            check_runs(store_uri, dict(done))  # mid-race: what ended reads whole, once
    writers.join()
    assert not failed, failed
    assert compacts >= 1
    settle(store_uri)
    check_runs(store_uri, done)
    assert len(done) == count


def prepare_kill_store(
    client: reporter.Client, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[int, str]]:
    """A store that gives a compactor every kind of step: four compacted files of one size
    tier (merged), a leftover of an interrupted compaction, and raw parts of ended runs."""
    runs: dict[int, str] = {}
    fs = store_fs(client)
    for batch in range(4):
        runs.update(log_quietly(monkeypatch, client, list(range(batch * 4, batch * 4 + 4))))
        exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id  # type: ignore[union-attr]
        compaction.compact_parts(fs, exp_id, reader.list_experiment(fs, exp_id).parts)
    runs.update(log_quietly(monkeypatch, client, [16, 17]))
    listing = reader.list_experiment(fs, exp_id)
    table, _, _ = reader.read_plan(fs, reader.ReadPlan(whole=list(listing.parts.values())))
    compaction.publish(fs, exp_id, table, list(listing.parts))  # raw parts not deleted
    runs.update(log_quietly(monkeypatch, client, [18, 19, 20, 21]))
    sizes = [i.size for i in reader.list_compacted(fs, exp_id).compacted]
    tiers = {int(math.log(size, compaction.TIER_FACTOR)) for size in sizes[:4]}
    assert len(sizes) == 5 and len(tiers) == 1, sizes
    return exp_id, runs


def copy_store(uri: str, to: str) -> None:
    """Copy a whole store (a folder, or a prefix of the test bucket)."""
    if uri.startswith("s3://"):
        s3 = s3_filesystem()
        src, dst = uri[len("s3://") :], to[len("s3://") :]
        names = [n for n, i in s3.find(src, detail=True).items() if i.get("type") != "directory"]
        s3.copy(names, [dst + n[len(src) :] for n in names])
        return
    shutil.copytree(uri, to)


def killed_compactor(uri: str, exp_id: str, limit: int) -> tuple[int, str]:
    """Take the lease as a logging process does, run a compactor killed before its
    `limit`-th change; return its exit code and what it printed."""
    fs = StoreFS(uri)
    token = uuid.uuid4().hex
    assert autocompact._take(fs, exp_id, token, autocompact.read_lease(fs, exp_id)[1])
    proc = subprocess.Popen(
        [PYTHON, "-c", KILLED_COMPACTOR, str(limit), uri, exp_id, token],
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lease = autocompact.Lease("running", token, pid=proc.pid, time_ms=int(time.time() * 1000))
    fs.write_atomic(autocompact.lease_rel(exp_id), lease.to_bytes())
    out, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, -signal.SIGKILL), err
    return proc.returncode, out


def test_a_compactor_killed_at_any_step_leaves_every_run_whole(store_uri, client, monkeypatch):
    exp_id, runs = prepare_kill_store(client, monkeypatch)
    check_runs(store_uri, runs)
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "1")

    reference = f"{store_uri}-reference"
    copy_store(store_uri, reference)
    code, out = killed_compactor(reference, exp_id, 10_000)
    assert code == 0
    steps = int(out.split()[-1])
    assert steps > 15  # publish, deletes of raw parts and leftovers, tier merges, the lease
    check_finished(reference, exp_id, runs)

    # every step on a folder; on the (slower) S3 test server, six spread over all of them
    local = not store_uri.startswith("s3://")
    points = range(steps) if local else range(0, steps, max(1, steps // 6))
    for step in points:
        copy = f"{store_uri}-kill-{step}"
        copy_store(store_uri, copy)
        code, _ = killed_compactor(copy, exp_id, step)
        assert code == -signal.SIGKILL, step
        check_runs(copy, runs)
        lease = lease_of(copy, exp_id)
        assert lease is not None and not lease.live(int(time.time() * 1000))  # its pid is gone
        autocompact.compact(copy, exp_id, uuid.uuid4().hex)  # the rerun finishes the job
        check_finished(copy, exp_id, runs)


def check_finished(uri: str, exp_id: str, runs: dict[int, str]) -> None:
    """Every run reads whole, every raw part is merged, the compacted files are few."""
    check_runs(uri, runs)
    fs = StoreFS(uri)
    assert autocompact.raw_parts(fs, exp_id) == []
    assert len(reader.list_compacted(fs, exp_id).compacted) <= compaction.TIER_FILES


def test_a_running_run_is_never_compacted_until_it_ends(store_uri, tmp_path):
    local = not store_uri.startswith("s3://")
    go = tmp_path / "go"
    long = start_long_writer(store_uri, go)
    try:
        assert long.stdout is not None
        long_id = long.stdout.readline().strip()
        assert long_id, long.stderr.read() if long.stderr else ""
        runs = run_writers(store_uri, list(range(12 if local else 8)))
        settle(store_uri)
        exp_id = exp_id_of(store_uri)
        mine = [
            p for p in autocompact.raw_parts(StoreFS(store_uri), exp_id) if p.startswith(long_id)
        ]
        assert mine  # still raw
        assert not [p for p in compacted_parts(store_uri, exp_id) if p.startswith(long_id)]
        assert reporter.Client(store_uri).get_run(long_id).info.status == "RUNNING"
        lease = lease_of(store_uri, exp_id)
        assert lease is not None and long_id in lease.running
        check_runs(store_uri, runs)
    finally:
        go.touch()
        _, err = long.communicate(timeout=300)
    assert long.returncode == 0, err
    runs.update(run_writers(store_uri, list(range(20, 24))))  # more ends: a compactor starts
    settle(store_uri)
    runs[100] = long_id
    assert not [
        p for p in autocompact.raw_parts(StoreFS(store_uri), exp_id) if p.startswith(long_id)
    ]
    check_runs(store_uri, runs)


def test_runs_that_end_while_a_round_finds_them_running_are_compacted_by_that_compactor(
    store_uri, client, monkeypatch
):
    """A round lists three runs still running and merges nothing; they end (in processes that
    see the lease held and start no compactor) before it is done: the compactor runs another
    round rather than leaving their parts raw with no one left to count them."""
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "0")  # only the compactor below
    exp_id = client.create_experiment(EXPERIMENT)
    runs = {
        index: client.create_run(exp_id, run_name=f"r{index}").info.run_id for index in (0, 1, 2)
    }
    for index, run_id in runs.items():
        client.log_param(run_id, "i", index)
        client.set_tag(run_id, "t", f"t{index % 3}")
        for step in range(POINTS):
            client.log_metric(run_id, "m", index * 1000 + step, step=step)
    client.store.flush()
    fs = StoreFS(store_uri)
    before = len(autocompact.raw_parts(fs, exp_id))
    rounds: list[int] = []
    real_round = compaction.compact_in_tiers

    def round_then_the_runs_end(*args: Any, **kwargs: Any) -> Any:
        done = real_round(*args, **kwargs)
        rounds.append(done.result.parts_merged if done is not None else -1)
        if len(rounds) == 1:  # they end now, after the round listed them running
            for run_id in runs.values():
                client.set_terminated(run_id)
            client.store.flush()
            assert len(autocompact.raw_parts(fs, exp_id)) > before  # their ends
        return done

    monkeypatch.setattr(compaction, "compact_in_tiers", round_then_the_runs_end)
    token = uuid.uuid4().hex
    assert autocompact._take(fs, exp_id, token, None, os.getpid())
    autocompact.compact(store_uri, exp_id, token)
    assert rounds[0] == 0 and len(rounds) >= 2  # the first merged nothing: all were running
    check_finished(store_uri, exp_id, runs)
    lease = lease_of(store_uri, exp_id)
    assert lease is not None and lease.state == "done" and lease.running == []


def test_archive_summaries_are_untouched(store_uri, client, tmp_path, monkeypatch):
    archive_uri = f"{store_uri}-archive"
    here = log_quietly(monkeypatch, client, [0, 1, 2])
    exp_id = exp_id_of(store_uri)
    # run 0 archived; run 1's pass interrupted after its summary was published (its events
    # are still raw parts, which compactors now merge: they stay left out by the archive rule)
    client.store.archive_runs([here[0]], archive_uri)
    fs = store_fs(client)
    _, table = reader.read_events(fs, exp_id)
    rows = archive.run_rows(table, here[1])
    dest = StoreFS(archive_uri)
    copied = archive.copy_run(fs, dest, exp_id, here[1], rows, fs.uri, 1_700_000_000_000)
    part = archive.summary_part(here[1], copied.parts)
    note = {"run_id": here[1], "location": dest.uri, "time": 1_700_000_000_000,
            "parts": copied.parts, "summary_part": part}  # fmt: skip
    archive.write_manifest(dest, copied.manifest)
    summary = archive.summarize(rows, here[1], part, dest.uri, 1_700_000_000_000, "FINISHED")
    archive.publish_summaries(fs, exp_id, [(summary, note)])
    summaries = contents_on_disk(store_uri, ".parquet")
    summaries = {p: b for p, b in summaries.items() if f"/{schema.ARCHIVED_FOLDER}/" in p}
    assert len(summaries) == 2
    fresh = reporter.Client(store_uri)
    before = {rid: fresh.get_run(rid).data for rid in here.values()}
    histories = {rid: fresh.get_metric_history(rid, "m") for rid in here.values()}
    assert len(histories[here[1]]) == 1  # the summary's latest point only

    runs = run_writers(store_uri, list(range(10, 22 if not store_uri.startswith("s3") else 18)))
    settle(store_uri)

    after = contents_on_disk(store_uri, ".parquet")
    assert {p: b for p, b in after.items() if f"/{schema.ARCHIVED_FOLDER}/" in p} == summaries
    assert set(copied.parts) <= compacted_parts(store_uri, exp_id)  # merged, still left out
    fresh = reporter.Client(store_uri)
    assert {rid: fresh.get_run(rid).data for rid in here.values()} == before
    assert {rid: fresh.get_metric_history(rid, "m") for rid in here.values()} == histories
    check_runs(store_uri, runs)
    client.store.archive_runs([here[1]], archive_uri)  # the next pass finishes it
    assert reporter.Client(store_uri).get_run(here[1]).data == before[here[1]]


def test_a_run_gc_removed_does_not_come_back(store_uri, client, monkeypatch):
    here = log_quietly(monkeypatch, client, list(range(6)))
    doomed = [here[0], here[2], here[4]]
    old = int(time.time() * 1000) - 2 * DAY_MS
    for run_id in doomed:
        delete_run_at(client, run_id, old, monkeypatch)
    client.store.flush()
    local = not store_uri.startswith("s3://")
    done: dict[int, str] = {}
    writers = threading.Thread(
        target=lambda: done.update(run_writers(store_uri, list(range(10, 28 if local else 18))))
    )
    writers.start()
    try:
        while not done and writers.is_alive():  # gc once compactors are at work
            time.sleep(0.05)
        report = reporter.Client(store_uri).store.collect_garbage(DAY_MS, wait_s=1.0)
        assert {t.id for t in report.items} | {r for r, _ in report.skipped} >= set(doomed)
        check_never_active(store_uri, doomed)
    finally:
        writers.join()
    settle(store_uri)
    check_never_active(store_uri, doomed)
    reporter.Client(store_uri).store.collect_garbage(DAY_MS, wait_s=0.0)  # whatever came back
    assert not set(doomed) & event_run_ids(store_uri)
    for run_id in doomed:
        with pytest.raises(NotFoundError):
            reporter.Client(store_uri).get_run(run_id)
    kept = {i: here[i] for i in (1, 3, 5)}
    check_runs(store_uri, {**kept, **done})


def check_never_active(uri: str, run_ids: list[str]) -> None:
    """Each of these runs is gone, or reads deleted: never active again."""
    client = reporter.Client(uri)
    for run_id in run_ids:
        with contextlib.suppress(NotFoundError):
            assert client.get_run(run_id).info.lifecycle_stage == "deleted", run_id


def gate_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A sitecustomize that holds compactors at their start until the returned file exists."""
    site = tmp_path / "gate"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(GATE))
    gate = tmp_path / "gate-open"
    path = str(site) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return gate, {"PYTHONPATH": path, "TEST_COMPACTOR_GATE": str(gate)}


def test_the_logging_process_does_not_wait_for_its_compactor(
    store_uri, client, tmp_path, monkeypatch
):
    here = log_quietly(monkeypatch, client, [0, 1, 2])  # six raw parts: the next end starts one
    exp_id = exp_id_of(store_uri)
    raw = autocompact.raw_parts(StoreFS(store_uri), exp_id)
    assert len(raw) >= THRESHOLD
    gate, extra = gate_env(tmp_path)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "1")

    # a process that logs one run exits while the compactor it started is held
    runs = run_writers(store_uri, [3])
    lease = lease_of(store_uri, exp_id)
    assert lease is not None and lease.state == "running" and lease.pid is not None
    assert lease.live(int(time.time() * 1000))
    os.kill(lease.pid, 0)  # alive, held at its start
    assert not gate.exists()
    assert set(raw) <= set(autocompact.raw_parts(StoreFS(store_uri), exp_id))  # untouched
    # this process too: the run ends and the store closes while the compactor is held
    runs.update(log_here([4]))
    client.store.close()
    assert not autocompact._children  # it saw the live lease and started none
    gate.touch()
    settle(store_uri)
    assert len(autocompact.raw_parts(StoreFS(store_uri), exp_id)) < THRESHOLD
    check_runs(store_uri, {**here, **runs})


def test_end_run_returns_while_the_compactor_it_started_runs(
    store_uri, client, tmp_path, monkeypatch
):
    here = log_quietly(monkeypatch, client, [0, 1])
    gate, extra = gate_env(tmp_path)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    here.update(log_here([2]))  # its end counts six raw parts or more: a compactor starts
    (proc,) = autocompact._children
    assert proc.poll() is None  # held at its start, and end_run has returned
    lease = lease_of(store_uri, exp_id_of(store_uri))
    assert lease is not None and lease.pid == proc.pid and lease.live(int(time.time() * 1000))
    gate.touch()
    settle(store_uri)
    assert proc.returncode == 0
    assert len(autocompact.raw_parts(StoreFS(store_uri), exp_id_of(store_uri))) < THRESHOLD
    check_runs(store_uri, here)


@pytest.mark.parametrize("setting", [{"TRACKER_COMPACT_IN_BACKGROUND": "0"},
                                     {"TRACKER_AUTO_COMPACT": "0"}])  # fmt: skip
def test_turned_off_nothing_starts(store_uri, setting):
    runs = run_writers(store_uri, list(range(8)), **setting)
    exp_id = exp_id_of(store_uri)
    assert lease_of(store_uri, exp_id) is None
    assert not reader.list_compacted(StoreFS(store_uri), exp_id).compacted
    assert len(autocompact.raw_parts(StoreFS(store_uri), exp_id)) >= 2 * len(runs)
    check_runs(store_uri, runs)


@pytest.mark.local_only
def test_memory_stores_and_shared_files_start_nothing(store_uri, monkeypatch):
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "1")
    assert not autocompact.enabled(StoreFS("memory://across"))
    mlflow.set_tracking_uri("memory://across")
    log_here([0, 1, 2])
    reporter.Client("memory://across").store.close()
    shared = ParquetStore(store_uri)
    shared.serve_clients()  # a tracking server: its shared files are merged by size tier
    exp = shared.create_experiment(EXPERIMENT)
    for _ in range(3):
        run = shared.create_run(exp, "r", "u", 0, [])
        shared.end_run(run.info.run_id, "FINISHED", 1)
    shared.close()
    assert not autocompact._children
    assert lease_of(store_uri, exp) is None


@pytest.mark.local_only
def test_the_lease_keeps_one_compactor_and_is_taken_over_when_stale(
    store_uri, client, monkeypatch, tmp_path
):
    log_quietly(monkeypatch, client, [0, 1, 2, 3])
    exp_id = exp_id_of(store_uri)
    fs = StoreFS(store_uri)
    rel = autocompact.lease_rel(exp_id)
    now = int(time.time() * 1000)
    monkeypatch.setenv("TRACKER_COMPACT_IN_BACKGROUND", "1")
    gate, extra = gate_env(tmp_path)  # held: the store stays as it is between the cases
    for key, value in extra.items():
        monkeypatch.setenv(key, value)

    def lease(**fields: Any) -> None:
        base: dict[str, Any] = {"state": "running", "token": "t", "pid": None, "time_ms": now}
        fs.write_atomic(rel, autocompact.Lease(**{**base, **fields}).to_bytes())

    lease(pid=os.getpid())  # a live compactor: none starts
    assert autocompact.start_if_due(fs, exp_id, ()) is None
    lease(pid=None)  # being started by another process: none starts
    assert autocompact.start_if_due(fs, exp_id, ()) is None
    # the last compactor found run 0 and 1 still running: their parts do not count ...
    some = {p.split("/", 1)[0] for p in autocompact.raw_parts(fs, exp_id)}
    lease(state="done", running=sorted(some))
    assert autocompact.start_if_due(fs, exp_id, ()) is None
    # ... nor when it kept the parts it saw of them and those did not change ...
    parts = autocompact.raw_parts(fs, exp_id)
    seen = {run: sorted(p for p in parts if p.startswith(f"{run}/")) for run in some}
    lease(state="done", running=sorted(some), seen=seen)
    assert autocompact.start_if_due(fs, exp_id, ()) is None
    # ... unless one ended here
    pid = autocompact.start_if_due(fs, exp_id, sorted(some))
    assert pid is not None and autocompact.read_lease(fs, exp_id)[0].pid == pid  # type: ignore[union-attr]
    assert autocompact.start_if_due(fs, exp_id, sorted(some)) is None  # it holds the lease
    gate.touch()
    settle(store_uri)
    gate.unlink()
    # runs the last compactor saw running ended in other processes, each counting only its
    # own parts then: their ends are new parts, and the next process to count counts them
    log_quietly(monkeypatch, client, [4, 5, 6])
    parts = autocompact.raw_parts(fs, exp_id)
    ended = {p.split("/", 1)[0] for p in parts}
    seen = {run: sorted(p for p in parts if p.startswith(f"{run}/"))[:1] for run in ended}
    lease(state="done", running=sorted(ended), seen=seen)
    assert autocompact.start_if_due(fs, exp_id, ()) is not None
    gate.touch()
    settle(store_uri)
    gate.unlink()
    log_quietly(monkeypatch, client, [4, 5, 6])
    dead = subprocess.run([PYTHON, "-c", "import os; print(os.getpid())"], capture_output=True)
    lease(pid=int(dead.stdout))  # its process is gone: taken over at once
    assert autocompact.start_if_due(fs, exp_id, ()) is not None
    gate.touch()
    settle(store_uri)
    gate.unlink()
    log_quietly(monkeypatch, client, [7, 8, 9])
    lease(host="elsewhere", pid=1, time_ms=now - 61_000)  # not refreshed for a minute
    assert autocompact.start_if_due(fs, exp_id, ()) is not None
    gate.touch()
    settle(store_uri)


# a compactor whose host clock runs ten minutes ahead of the store's (several hosts on one
# bucket): argv uri experiment token
SKEWED_COMPACTOR = """
import sys, time
real = time.time
time.time = lambda: real() + 600
from reporter.store.parquet import autocompact
autocompact.compact(*sys.argv[1:4])
"""


def test_a_compactor_whose_clock_runs_ahead_leaves_a_running_run_raw(
    store_uri, client, tmp_path, monkeypatch
):
    """Heartbeats carry the store's time: a compactor judging them by a clock ten minutes
    ahead would take a live run for dead. It judges by the store's time (its lease's)."""
    runs = log_quietly(monkeypatch, client, [0, 1, 2])
    go = tmp_path / "go"
    long = start_long_writer(store_uri, go, TRACKER_COMPACT_IN_BACKGROUND="0")
    try:
        assert long.stdout is not None
        long_id = long.stdout.readline().strip()
        assert long_id
        exp_id = exp_id_of(store_uri)
        fs = StoreFS(store_uri)
        token = uuid.uuid4().hex
        assert autocompact._take(fs, exp_id, token, autocompact.read_lease(fs, exp_id)[1])
        out = subprocess.run(
            [PYTHON, "-c", SKEWED_COMPACTOR, store_uri, exp_id, token],
            env=python_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        raw = autocompact.raw_parts(fs, exp_id)
        assert [p for p in raw if p.startswith(long_id)]  # still raw: it is running
        assert not [p for p in compacted_parts(store_uri, exp_id) if p.startswith(long_id)]
        assert not [p for p in raw if not p.startswith(long_id)]  # the ended runs: merged
        assert reporter.Client(store_uri).get_run(long_id).info.status == "RUNNING"
    finally:
        go.touch()
        _, err = long.communicate(timeout=300)
    assert long.returncode == 0, err
    runs[100] = long_id
    check_runs(store_uri, runs)


# three runs, each flushed twice, in one process that then exits at once: its flusher is
# compacting its own finished parts (TRACKER_AUTO_COMPACT=4) as the interpreter shuts down
EXIT_WRITER = """
import sys, time
import reporter as mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("across")
for index in range(3):
    with mlflow.start_run(run_name=f"r{index}") as run:
        mlflow.log_param("i", index)
        mlflow.set_tag("t", f"t{index % 3}")
        for step in range(5):
            mlflow.log_metric("m", index * 1000 + step, step=step)
            time.sleep(0.02)
    print(run.info.run_id, flush=True)
"""


def test_a_process_exiting_while_its_flusher_compacts_exits_quietly(store_uri):
    """Its writers close before concurrent.futures stops taking work at interpreter
    shutdown (an object store's client needs it): the round in flight finishes, nothing is
    said on stderr, every run reads whole."""
    for attempt in range(3):
        proc = subprocess.run(
            [PYTHON, "-c", EXIT_WRITER, store_uri],
            env=python_env(TRACKER_AUTO_COMPACT="4", TRACKER_FLUSH_INTERVAL="0.05"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", (attempt, proc.stderr)
        ids = proc.stdout.split()
        check_runs(store_uri, {i: ids[i] for i in range(3)}, points=5)
        settle(store_uri)
