"""Read workers: a build's first pass reads an experiment's batches in this process and in
read workers at once, and the snapshot is the same as one process reads: frames, facts of the
points, inputs, warnings of damaged files; a worker that fails or dies leaves its batch to
the build (issue 20: both cores)."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import reporter as mlflow
from reporter.entities import Metric, Param
from reporter.view import loader, readers
from reporter.view.config import BuildConfig
from tests.site.failing_reader import DyingList

STORE_KINDS = ("local", "s3")


@pytest.fixture
def many_batches(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """12 runs of ~200 points each, params and a dataset input, left as raw parts."""
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    client = mlflow.Client(store_uri)
    rng = random.Random(5)
    exp = client.create_experiment("reads")
    for r in range(12):
        run = client.create_run(exp, run_name=f"r{r:02d}", start_time=1_700_000_000_000 + r)
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[
                Metric(k, rng.random(), 1_700_000_000_000 + s, s)
                for k in ("loss", "acc")
                for s in range(100 + r)
            ],
            params=[Param("lr", str(r % 3))],
        )
        client.set_terminated(rid)
    client.store.close()  # (its writer would flush at exit, after the test S3 server stopped)
    return store_uri


@pytest.fixture
def by_worker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the batches read workers read; the build's reader takes turns with them (it
    claims only when they claimed more, or none is left running)."""
    read: list[int] = []
    claim, put = readers.ReadPool.claim, readers.ReadPool._put

    def in_turn(self: readers.ReadPool, by: int) -> int | None:
        if by == -1:
            with self.lock:
                self.lock.wait_for(
                    lambda: (
                        sum(o != -1 for o in self.owner.values())
                        > sum(o == -1 for o in self.owner.values())
                        or not any(t.is_alive() for t in self.threads[: len(self.procs)])
                        or len(self.owner) >= len(self.groups)
                    ),
                    timeout=120,
                )
        got = claim(self, by)
        with self.lock:
            self.lock.notify_all()
        return got

    def recorded(self: readers.ReadPool, batch: int, result: Any) -> None:
        name = threading.current_thread().name
        if name.startswith("reporter-read-") and name != "reporter-read-here":
            read.append(batch)
        put(self, batch, result)

    monkeypatch.setattr(readers.ReadPool, "claim", in_turn)
    monkeypatch.setattr(readers.ReadPool, "_put", recorded)
    return read


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[readers.ReadPool]:
    """Every read pool the test's loads make."""
    made: list[readers.ReadPool] = []
    init = readers.ReadPool.__init__

    def recorded(self: readers.ReadPool, *args: Any) -> None:
        init(self, *args)
        made.append(self)

    monkeypatch.setattr(readers.ReadPool, "__init__", recorded)
    return made


def snapshot_of(store: str, workers: int) -> loader.StoreSnapshot:
    config = BuildConfig(store=store, batch_points=1000)
    return loader.load(loader.open_store(store), config, read_workers=workers)


def assert_same(a: loader.StoreSnapshot, b: loader.StoreSnapshot) -> None:
    assert a.warnings == b.warnings
    for x, y in zip(a.experiments, b.experiments, strict=True):
        pd.testing.assert_frame_equal(x.runs, y.runs)
        assert x.series.rows == y.series.rows
        assert x.series.lengths == y.series.lengths
        assert x.series.first_time == y.series.first_time
        assert x.series.facts == y.series.facts
        assert x.datasets == y.datasets


def test_a_snapshot_read_with_workers_equals_one_read_alone(
    many_batches: str, by_worker: list[int]
) -> None:
    alone = snapshot_of(many_batches, 0)
    shared = snapshot_of(many_batches, 1)
    assert by_worker, "no worker read a batch"
    assert len(alone.experiments[0].runs) == 12
    assert_same(alone, shared)


def test_read_workers_read_the_store_as_the_build_opened_it(
    many_batches: str,
    store_kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    by_worker: list[int],
) -> None:
    """An S3 store named with its endpoint in the URI (none in the environment), a folder
    named relatively: workers read that store; memory:// (this process's): no workers."""
    alone = snapshot_of(many_batches, 0)
    if store_kind == "s3":
        uri = f"{many_batches}?endpoint_url={os.environ['TRACKER_S3_ENDPOINT_URL']}"
        monkeypatch.delenv("TRACKER_S3_ENDPOINT_URL")
    else:
        monkeypatch.chdir(Path(many_batches).parent)
        uri = Path(many_batches).name
    assert_same(alone, snapshot_of(uri, 1))
    assert by_worker


def test_no_read_workers_for_a_store_in_this_process_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = f"memory://reads-{uuid.uuid4().hex}"
    client = mlflow.Client(memory)
    exp = client.create_experiment("mem")
    for _ in range(6):
        run_id = client.create_run(exp).info.run_id
        client.log_batch(run_id, metrics=[Metric("m", s / 3, 1, s) for s in range(300)])
    client.store.close()
    pools: list[Any] = []
    monkeypatch.setattr(readers.ReadPool, "__init__", lambda self, *a: pools.append(a))
    snapshot = snapshot_of(memory, 1)
    assert pools == []
    assert len(snapshot.experiments[0].runs) == 6


def test_a_compacted_store_is_read_by_workers_too(many_batches: str, by_worker: list[int]) -> None:
    """A compacted file's run dictionary names every run of the file, whichever batch is
    read: a worker's batch of it is still its batch (and is taken in)."""
    mlflow.Client(many_batches).compact()
    alone = snapshot_of(many_batches, 0)
    shared = snapshot_of(many_batches, 1)
    assert by_worker, "no worker's batch was taken in"
    assert_same(alone, shared)


@pytest.mark.local_only
def test_damaged_files_read_by_a_worker_are_said_as_the_build_says_them(
    many_batches: str, by_worker: list[int]
) -> None:
    parts = sorted(Path(many_batches).rglob("_parts/*.parquet"))
    for part in parts[::2]:  # every other run's part: in the worker's batches and the build's
        part.write_bytes(part.read_bytes()[:40])
    alone = snapshot_of(many_batches, 0)
    shared = snapshot_of(many_batches, 1)
    assert by_worker
    assert any("damaged" in w or "skipp" in w for w in alone.warnings), alone.warnings
    assert_same(alone, shared)


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_read_worker_that_fails_leaves_its_batch_to_the_build(
    many_batches: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    by_worker: list[int],
) -> None:
    alone = snapshot_of(many_batches, 0)
    marker = tmp_path / "failed"
    job = readers.ReadPool.job

    def dying(self: readers.ReadPool) -> readers.ReadJob:
        items = DyingList(self.groups)
        items.fail_on, items.how, items.marker = 2, how, str(marker)
        return dataclasses.replace(job(self), groups=items)

    monkeypatch.setattr(readers.ReadPool, "job", dying)
    shared = snapshot_of(many_batches, 1)
    assert marker.read_text().startswith(how)  # the worker did stop, at its second batch
    assert len(by_worker) == 1
    assert_same(alone, shared)


def test_a_read_error_in_the_build_is_raised_as_without_workers(
    many_batches: str, monkeypatch: pytest.MonkeyPatch, pools: list[readers.ReadPool]
) -> None:
    """An error reading a batch in the build's own reader stops the load with that error
    (and its workers with it)."""
    from reporter.store.parquet.store import ParquetStore

    read = ParquetStore.read_run_batch
    calls = []

    def failing(self: ParquetStore, exp_id: str, run_ids: list[str]) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk on fire")
        return read(self, exp_id, run_ids)

    monkeypatch.setattr(ParquetStore, "read_run_batch", failing)
    with pytest.raises(OSError, match="disk on fire"):
        snapshot_of(many_batches, 1)
    assert pools
    for proc in (p for pool in pools for p in pool.procs):
        assert proc.poll() is not None  # stopped and reaped


def test_a_read_worker_that_reads_other_runs_is_not_believed(
    many_batches: str, monkeypatch: pytest.MonkeyPatch, by_worker: list[int]
) -> None:
    """A worker that reads runs other than its batch's (another store than the build's):
    the build reads that batch itself and the snapshot is the one it reads alone."""
    alone = snapshot_of(many_batches, 0)
    job = readers.ReadPool.job
    pools: list[readers.ReadPool] = []

    def shifted(self: readers.ReadPool) -> readers.ReadJob:
        pools.append(self)
        sent = job(self)
        return dataclasses.replace(sent, groups=[*sent.groups[1:], sent.groups[0]])

    monkeypatch.setattr(readers.ReadPool, "job", shifted)
    assert_same(alone, snapshot_of(many_batches, 1))
    assert any(owner != -1 for pool in pools for owner in pool.owner.values())  # it read
    assert by_worker == []  # (and what it read was dropped)


def test_no_more_read_workers_than_batches_to_share(
    many_batches: str, pools: list[readers.ReadPool]
) -> None:
    snapshot_of(many_batches, 64)
    assert pools and all(0 < len(p.procs) < len(p.groups) for p in pools)
