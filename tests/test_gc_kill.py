"""gc killed at any moment: every kept run reads as before, every run being removed reads as
deleted or not at all (never active), and a rerun finishes the job; writers logging meanwhile
lose nothing.

The invariant checked after each kill:
* every run gc keeps reads exactly as before (attributes, params, tags, metrics, histories,
  artifact bytes), and the logged model gc keeps reads too;
* a run being removed is either listed with lifecycle `deleted`, or listed nowhere and
  `get_run` does not find it (it may have lost artifacts or rows meanwhile: it is deleted);
* the experiment being removed reads as deleted while its record exists, and nothing of it is
  listed once the record is gone;
* a second gc, not killed, leaves exactly the store an uninterrupted gc leaves.

`test_kill_at_every_step` stops gc before each of its writes and deletions in turn (a
SIGKILL between two of them leaves the same files: each write is atomic), on a copy of one
store per step. `test_sigkill_while_writers_log` kills a real gc process at random moments
(once it has begun: while it gathers, waits or removes) while another process logs runs and
compacts them, merging the very files gc rewrites.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import reporter
import reporter as mlflow
from reporter.core.errors import NotFoundError
from reporter.store.parquet import fs as store_fs_module
from reporter.store.parquet import gc as gc_module
from reporter.store.parquet.store import ParquetStore
from reporter.store.protocol import AbstractStore
from tests.conftest import CLI_CODE, PYTHON, python_env
from tests.usage_helpers import (
    DAY_MS,
    GcStore,
    delete_run_at,
    event_run_ids,
    files_on_disk,
    log_run,
    make_gc_store,
    s3_filesystem,
    snapshot,
)

pytestmark = pytest.mark.slow

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """No compaction runs beside these gc calls: gc need not wait for one to finish."""
    monkeypatch.setattr(gc_module, "WAIT_S", 0.0)


MONTH_MS = 30 * DAY_MS


class Killed(BaseException):
    """Stands for SIGKILL: nothing of ours catches it, no cleanup of ours runs."""


def copy_store(uri: str, to: str) -> None:
    """Copy a whole store (a folder, or a prefix of the test bucket)."""
    if uri.startswith("s3://"):
        s3 = s3_filesystem()
        src, dst = uri[len("s3://") :], to[len("s3://") :]
        names = [n for n, i in s3.find(src, detail=True).items() if i.get("type") != "directory"]
        s3.copy(names, [dst + n[len(src) :] for n in names])
        return
    shutil.copytree(uri, to)


def count_writes(monkeypatch: pytest.MonkeyPatch, limit: int | None) -> list[int]:
    """Count this thread's writes and deletions to the store; raise Killed before write number
    limit+1. Other threads (a writer's flusher refreshing a heartbeat) stand for other
    processes: they are neither counted nor killed."""
    done = [0]
    StoreFS = store_fs_module.StoreFS
    owner = threading.get_ident()

    def counted(method: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != owner:
                return method(self, *args, **kwargs)
            if limit is not None and done[0] >= limit:
                raise Killed
            done[0] += 1
            return method(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(StoreFS, "delete", counted(StoreFS.delete))
    monkeypatch.setattr(StoreFS, "write_atomic", counted(StoreFS.write_atomic))
    return done


def every_run(store: AbstractStore) -> dict[str, str]:
    """Return {run id: lifecycle stage} of every run of every experiment."""
    exps = [e.experiment_id for e in store.list_experiments()]
    return {r.info.run_id: r.info.lifecycle_stage for r in store.list_runs(exps)}


def fresh(uri: str) -> ParquetStore:
    """Open the store as another process would: nothing this process knew is cached (a store
    object remembers which experiment each run it saw is in)."""
    return ParquetStore(uri)


def check_invariant(uri: str, made: GcStore, kept: dict[str, Any], kept_model: str) -> None:
    """Assert what a gc killed at any moment must leave (see the module docstring)."""
    store = fresh(uri)
    assert snapshot(store, list(kept)) == kept
    assert store.get_logged_model(kept_model).tags == {"stage": "dev"}
    runs = every_run(store)
    for run_id in made.old:
        if run_id in runs:
            assert runs[run_id] == "deleted", run_id
        else:
            with pytest.raises(NotFoundError):
                store.get_run(run_id)
    exps = {e.experiment_id: e for e in store.list_experiments()}
    if made.gone_exp in exps:
        assert exps[made.gone_exp].lifecycle_stage == "deleted"
    else:
        assert not set(made.gone_runs) & set(runs)


def check_finished(uri: str, made: GcStore, kept: dict[str, Any]) -> None:
    """Assert the store is what an uninterrupted gc leaves."""
    store = fresh(uri)
    assert snapshot(store, list(kept)) == kept
    assert set(every_run(store)) == set(kept)
    assert event_run_ids(uri) == set(kept)
    gone = [*made.old, *made.gone_runs, made.gone_exp]
    gone += [m for m, r in made.models.items() if r not in kept]
    assert not [p for p in files_on_disk(uri) if any(i in p for i in gone)]


def test_kill_at_every_step(store_uri, client, tmp_path, monkeypatch):
    made = make_gc_store(client, tmp_path, monkeypatch)
    keep = made.kept + made.recent
    kept = snapshot(client.store, keep)
    kept_model = next(m for m, r in made.models.items() if r in keep)
    reporter.Client(store_uri).store.close()

    reference = f"{store_uri}-reference"
    copy_store(store_uri, reference)
    with monkeypatch.context() as patch:
        writes = count_writes(patch, None)
        reporter.Client(reference).store.collect_garbage(MONTH_MS)
    steps = writes[0]
    check_finished(reference, made, kept)
    assert steps > 20  # models, run folders, rewrites, the experiment's files and records

    # every step on a folder; on the (slower) S3 test server, six spread over all of them
    points = range(steps) if store_uri.startswith("/") else range(0, steps, max(1, steps // 6))
    for step in points:
        copy = f"{store_uri}-kill-{step}"
        copy_store(store_uri, copy)
        with monkeypatch.context() as patch:
            count_writes(patch, step)
            with pytest.raises(Killed):
                reporter.Client(copy).store.collect_garbage(MONTH_MS)
        check_invariant(copy, made, kept, kept_model)
        reporter.Client(copy).store.collect_garbage(MONTH_MS)  # the rerun finishes the job
        check_finished(copy, made, kept)


WRITER = """
    import sys
    import reporter as mlflow
    mlflow.set_experiment("keep")
    count, points = int(sys.argv[1]), int(sys.argv[2])
    for r in range(count):
        with mlflow.start_run(run_name=f"w{r}") as run:
            mlflow.log_param("r", r)
            for step in range(points):
                mlflow.log_metric("m", r * 1000 + step, step=step)
        print(run.info.run_id, flush=True)
"""


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes a test starts: none is left running, no pipe left open."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_sigkill_while_writers_log(store_uri, client, tmp_path, monkeypatch, children):
    made = make_gc_store(client, tmp_path, monkeypatch)
    now = int(time.time() * 1000)
    mlflow.set_experiment("keep")
    more = [log_run(client, 20 + i, points=30) for i in range(12)]
    for run_id in more:  # more to remove: gc takes longer, kills land mid-way
        delete_run_at(client, run_id, now - 40 * DAY_MS, monkeypatch)
    made.old += more
    keep = made.kept + made.recent
    kept = snapshot(client.store, keep)
    kept_model = next(m for m, r in made.models.items() if r in keep)
    client.store.close()

    writes = 40 if store_uri.startswith("/") else 15  # runs the writer logs meanwhile
    env = {
        "TRACKER_TRACKING_URI": store_uri,
        "TRACKER_LOG_ENVIRONMENT": "0",
        "TRACKER_AUTO_COMPACT": "4",  # the writer compacts while gc rewrites the same files
        "TRACKER_FLUSH_INTERVAL": "0.05",
    }
    writer = subprocess.Popen(
        [PYTHON, "-c", textwrap.dedent(WRITER), str(writes), "200"],
        env=python_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children.append(writer)
    seed = int(os.environ.get("GC_KILL_SEED") or random.randrange(1 << 30))
    print(f"GC_KILL_SEED={seed}")  # shown when the test fails: rerun with it
    rng = random.Random(seed)
    gc_args = [
        PYTHON,
        "-c",
        CLI_CODE,
        "gc",
        "--store",
        store_uri,
        "--older-than",
        "30d",
        "--wait",
        "1",
    ]
    doomed = [*made.old, *made.gone_runs, made.gone_exp]
    for _kill in range(4):
        targeted = {p for p in files_on_disk(store_uri) if any(i in p for i in doomed)}
        proc = subprocess.Popen(
            gc_args,
            env=python_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(proc)
        # kill it once it has begun removing (a file of a doomed run went), a moment later
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            on_disk = files_on_disk(store_uri)
            if any(p not in on_disk for p in targeted):
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 1.5))  # in the gathering, the wait or the removal
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        check_invariant(store_uri, made, kept, kept_model)
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    written = out.split()
    assert len(written) == writes
    final = subprocess.run(gc_args, env=python_env(**env), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    # the writer lost nothing: every run, every point
    store = fresh(store_uri)
    for r, run_id in enumerate(written):
        history = store.get_metric_history(run_id, "m")
        assert [m.value for m in history] == [r * 1000 + s for s in range(200)], run_id
        assert store.get_run(run_id).data.params == {"r": str(r)}
    check_finished_with(store_uri, made, kept, set(written))


def check_finished_with(uri: str, made: GcStore, kept: dict[str, Any], extra: set[str]) -> None:
    """Assert an uninterrupted gc's store, plus the runs a writer added meanwhile."""
    store = fresh(uri)
    assert snapshot(store, list(kept)) == kept
    assert set(every_run(store)) == set(kept) | extra
    assert event_run_ids(uri) == set(kept) | extra
    gone = [*made.old, *made.gone_runs, made.gone_exp]
    assert not [p for p in files_on_disk(uri) if any(i in p for i in gone)]
