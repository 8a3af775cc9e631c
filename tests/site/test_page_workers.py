"""Page workers: run pages of experiments bigger than a batch are made by other processes as
well as the build's, and the site is the same byte for byte whichever process made which
batch, however many workers, when a worker fails or dies, and when none can start (issue 20:
both cores)."""

from __future__ import annotations

import dataclasses
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

import reporter as mlflow
from reporter.core.errors import InvalidArgumentError
from reporter.entities import Metric, Param
from reporter.site import workers
from reporter.site.build import build
from reporter.site.render import SiteTooLargeError
from reporter.site.theme import resolve_theme
from reporter.view.config import BuildConfig
from tests.site.failing_reader import DyingWriter, FailingReader, HeldReader, RefusingReader

STORE_KINDS = ("local", "s3")
STEPS = 120


@pytest.fixture
def sweep(store_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """16 runs of two histories and a final metric, params to group by, children of a parent,
    text artifacts (previewed and copied), in one experiment; a run of another experiment."""
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the same build time stamp
    client = mlflow.Client(store_uri)
    rng = random.Random(3)
    note = tmp_path / "notes.md"
    for name, runs in (("sweep", 16), ("other", 1)):
        exp = client.create_experiment(name)
        parent = None
        for r in range(runs):
            run = client.create_run(
                exp,
                run_name=f"{name}-{r:02d}",
                start_time=1_700_000_000_000 + r * 1000,
                parent_run_id=parent if parent and r % 4 else None,
            )
            rid = run.info.run_id
            parent = parent or rid
            base = 1_700_000_000_000 + r * 1000
            metrics = [
                Metric(key, rng.random() / (s + 1), base + s * 10, s)
                for key in ("loss", "acc")
                for s in range(STEPS + r)
            ]
            metrics.append(Metric("rmse", rng.random(), base + 5, 0))
            client.log_batch(
                rid,
                metrics=metrics,
                params=[Param("opt", rng.choice(["adam", "sgd"])), Param("lr", str(r % 3))],
            )
            if r % 5 == 0:
                note.write_text(f"# run {r}\n\nnotes <b>of</b> run {r}\n")
                client.log_artifact(rid, str(note))
            client.set_terminated(rid, end_time=base + 10 * STEPS)
    client.store.close()  # (its writer would flush at exit, after the test S3 server stopped)
    return store_uri


def site_files(out: Path) -> dict[str, bytes]:
    """Every file of a built site by path, but the manifest (it holds the settings)."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != ".tracker-report-site"
    }


def config_of(store: str, out: Path, page_workers: int, **settings: Any) -> BuildConfig:
    settings = {"batch_points": 1000, **settings}
    return BuildConfig(
        store=store,
        out=str(out),
        artifacts="copy",
        max_points=50,
        page_workers=page_workers,
        **settings,
    )


def built(store: str, out: Path, page_workers: int, **settings: Any) -> dict[str, bytes]:
    build(config_of(store, out, page_workers, **settings))
    return site_files(out)


def with_reader(monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    """Hand page workers the points reader `make(reader)` returns instead of the build's."""
    start = workers.PageWorkers.start

    def started(self: workers.PageWorkers, stream: Any, data: Any, *args: Any) -> Any:
        reader = make(data.points)
        return start(self, stream, dataclasses.replace(data, points=reader), *args)

    monkeypatch.setattr(workers.PageWorkers, "start", started)


@pytest.fixture
def from_workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the batches whose pages a worker made (as the build receives them). The build
    takes turns with its workers (it claims a batch only when they claimed more than it
    did, or none is left running): left alone, it makes a small store's few batches before
    a worker has started."""
    made: list[int] = []
    claim = workers.PagePool.claim

    def in_turn(self: workers.PagePool, by: int = workers.BUILD) -> Any:
        with self.lock:
            if by == workers.BUILD:
                self.lock.wait_for(
                    lambda: (
                        sum(o != -1 for o in self.owner.values())
                        > sum(o == -1 for o in self.owner.values())
                        or not any(t.is_alive() for t in self.threads)
                        or len(self.owner) >= self.batches
                    ),
                    timeout=120,
                )
            got = claim(self, by)
            self.lock.notify_all()
            return got

    monkeypatch.setattr(workers.PagePool, "claim", in_turn)
    outcome = workers.PagePool._outcome

    def counted(self: workers.PagePool, batch: int, wait: bool) -> Any:
        got = outcome(self, batch, wait)
        if isinstance(got, tuple):
            made.append(batch)
        return got

    monkeypatch.setattr(workers.PagePool, "_outcome", counted)
    return made


@pytest.mark.parametrize("count", [1, 2])
def test_a_site_made_with_page_workers_equals_one_made_alone(
    sweep: str, tmp_path: Path, count: int, from_workers: list[int]
) -> None:
    alone = built(sweep, tmp_path / "alone", 0)
    shared = built(sweep, tmp_path / "shared", count)
    assert from_workers, "no worker made a batch"
    assert sorted(shared) == sorted(alone)
    assert [p for p in alone if alone[p] != shared[p]] == []
    # what the comparison covers: run pages, series, copies, grouped lines, the sitemap-free
    # index of pages in order, the storage page
    assert sum(p.startswith("runs/") and p.endswith("index.html") for p in alone) == 17
    assert any("/artifacts/" in p for p in alone)
    assert any(p.endswith("/groups/0.js") for p in alone)
    assert "storage/index.html" in alone


def test_the_measuring_pass_counts_what_workers_would_write(
    sweep: str, tmp_path: Path, from_workers: list[int]
) -> None:
    """--max-site-mb measures the site first (a worker measures its batches too): a limit
    just over the site passes, just under it fails before anything is written."""
    files = built(sweep, tmp_path / "first", 0)
    size_mb = sum(map(len, files.values())) / 1024 / 1024
    built(sweep, tmp_path / "fits", 1, max_site_mb=size_mb * 1.2)
    assert from_workers
    with pytest.raises(SiteTooLargeError):
        built(sweep, tmp_path / "over", 1, max_site_mb=size_mb * 0.5)
    assert not (tmp_path / "over" / "index.html").exists()


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_worker_that_fails_leaves_its_batch_to_the_build(
    sweep: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, from_workers: list[int]
) -> None:
    alone = built(sweep, tmp_path / "alone", 0)
    marker = tmp_path / "failed"
    with_reader(
        monkeypatch,
        lambda points: FailingReader(**vars(points), fail_on=2, how=how, marker=str(marker)),
    )
    shared = built(sweep, tmp_path / "shared", 1)
    assert marker.read_text().startswith(how)  # the worker did fail, at its second batch
    assert len(from_workers) == 1  # its first batch came back; the rest made here
    assert sorted(shared) == sorted(alone)
    assert [p for p in alone if alone[p] != shared[p]] == []


def test_without_an_interpreter_to_start_the_build_makes_every_batch(
    sweep: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_workers: list[int]
) -> None:
    alone = built(sweep, tmp_path / "alone", 0)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    shared = built(sweep, tmp_path / "shared", 1)
    assert from_workers == []
    assert shared == alone


def test_a_build_that_stops_stops_its_workers(
    sweep: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_workers: list[int]
) -> None:
    """A build interrupted while workers make pages kills them: none is left running."""
    pools: list[workers.PagePool] = []
    start = workers.PagePool.start

    def recorded(self: workers.PagePool, *args: Any) -> None:
        pools.append(self)
        start(self, *args)

    monkeypatch.setattr(workers.PagePool, "start", recorded)

    def interrupt(what: str, done: int, total: int) -> None:
        if what == "pages" and done >= 3 and pools:
            raise KeyboardInterrupt

    config = BuildConfig(store=sweep, out=str(tmp_path / "site"), batch_points=1000, page_workers=1)
    with pytest.raises(KeyboardInterrupt):
        build(config, progress=interrupt)
    assert pools and all(p.procs for p in pools)
    for proc in (p for pool in pools for p in pool.procs):
        assert proc.poll() is not None  # reaped: not running, not a zombie


@pytest.mark.parametrize("bad", [-1, 65, True, 1.0, "1"])
def test_page_workers_setting_is_checked(sweep: str, bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="page_workers must be an integer from 0 to 64"):
        BuildConfig(store=sweep, page_workers=bad).validate()


def test_one_worker_by_default_on_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert workers.default_workers() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert workers.default_workers() == 0
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert workers.default_workers() == 0


def test_page_workers_is_a_setting_of_the_config_file(tmp_path: Path) -> None:
    """Set in tracker-report.toml as the README shows; a value of the wrong type is an error
    naming the setting."""
    from reporter.view.config import load_config

    good = tmp_path / "good.toml"
    good.write_text("page_workers = 1\n")
    assert load_config({}, str(good)).page_workers == 1
    bad = tmp_path / "bad.toml"
    bad.write_text('page_workers = "two"\n')
    with pytest.raises(InvalidArgumentError, match="page_workers"):
        load_config({}, str(bad))


@pytest.mark.parametrize("sigchld", ["default", "ignored"])
def test_a_worker_killed_while_publishing_a_file_leaves_no_temporary_file(
    sweep: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    from_workers: list[int],
    sigchld: str,
) -> None:
    """Also when the host ignores SIGCHLD (a killed child's exit status then reads 0)."""
    import signal

    alone = built(sweep, tmp_path / "alone", 0)
    before = signal.getsignal(signal.SIGCHLD)
    if sigchld == "ignored":
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    marker = tmp_path / "killed"
    with_reader(
        monkeypatch, lambda points: DyingWriter(**vars(points), fail_on=2, marker=str(marker))
    )
    try:
        shared = built(sweep, tmp_path / "shared", 1)
    finally:
        signal.signal(signal.SIGCHLD, before)
    assert marker.read_text().startswith("killed publishing")  # it died mid-file
    assert len(from_workers) == 1
    assert shared == alone  # (site_files lists every file: no .tmp-* among them)


def test_a_slow_worker_holds_back_claims_not_memory(
    sweep: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a worker holds the next batch to write, no process claims a batch more than the
    pool's window beyond it: what waits to be written stays a few batches, however slow."""
    alone = built(sweep, tmp_path / "alone", 0, batch_points=500)
    release = tmp_path / "release"
    with_reader(monkeypatch, lambda points: HeldReader(**vars(points), release=str(release)))
    claim = workers.PagePool.claim
    ahead: list[int] = []  # how far beyond the next batch to write each claim was
    waited: list[int] = []

    def watched(self: workers.PagePool, by: int = workers.BUILD) -> Any:
        with self.lock:
            if by == workers.BUILD and not self.owner:  # the worker's turn first
                self.lock.wait_for(lambda: bool(self.owner), timeout=120)
            got = claim(self, by)
            if got == workers.WAIT:
                waited.append(self.emitted)
                release.touch()  # the worker may go on now
            elif got is not None:
                ahead.append(got - self.emitted - self.window)
            return got

    monkeypatch.setattr(workers.PagePool, "claim", watched)
    shared = built(sweep, tmp_path / "shared", 1, batch_points=500)
    assert waited[:1] == [0]  # the build stopped claiming while the worker held batch 0
    assert ahead and max(ahead) <= 0
    assert shared == alone


def test_an_error_is_raised_at_its_batch_as_one_process_raises_it(
    sweep: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_workers: list[int]
) -> None:
    """Every batch's run pages fail (naming the batch): the worker's batch 0 and the build's
    batch 1 both fail, and the error raised is batch 0's, as in a build of one process."""
    groups: list[list[str]] = []
    start = workers.PageWorkers.start

    def started(
        self: workers.PageWorkers, stream: Any, data: Any, runs: Any, g: Any, *a: Any
    ) -> Any:
        if len(g) > 1:  # (the sweep, not the experiment of one run)
            groups.extend(g)
        refusing = RefusingReader(**vars(data.points))
        return start(self, stream, dataclasses.replace(data, points=refusing), runs, g, *a)

    def refused(points: Any) -> Any:  # the build's own batches
        raise RuntimeError(f"the batch of {min(r for r, _ in points.slices())} refused")

    monkeypatch.setattr(workers.PageWorkers, "start", started)
    monkeypatch.setattr(workers, "index_metrics", refused)
    with pytest.raises(RuntimeError) as raised:
        build(config_of(sweep, tmp_path / "shared", 1))
    assert len(groups) > 2
    assert str(raised.value) == f"the batch of {min(groups[0])} refused"


def test_workers_read_the_store_as_the_build_opened_it(
    sweep: str,
    store_kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    from_workers: list[int],
) -> None:
    """An S3 store named with its endpoint in the URI (none in the environment): the workers
    read that server too; a folder named relatively, from another working directory; a
    folder named through /proc/self/cwd (in a worker, its own: it refuses that folder)."""
    if store_kind == "s3":
        uri = f"{sweep}?endpoint_url={os.environ['TRACKER_S3_ENDPOINT_URL']}"
        monkeypatch.delenv("TRACKER_S3_ENDPOINT_URL")
    else:
        monkeypatch.chdir(Path(sweep).parent)
        uri = Path(sweep).name
    alone = built(uri, tmp_path / "alone", 0)  # (a site names its store as the build was told)
    shared = built(uri, tmp_path / "shared", 1)
    assert from_workers
    assert shared == alone
    if store_kind == "local":
        from_workers.clear()
        uri = f"/proc/self/cwd/{Path(sweep).name}"
        alone = built(uri, tmp_path / "alone-proc", 0)
        assert built(uri, tmp_path / "shared-proc", 1) == alone
        assert from_workers == []


def test_no_workers_for_a_store_no_other_process_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memory:// store and a scheme registered in this process: the build makes every
    batch itself (no worker is started), and the site is complete."""
    import uuid

    from reporter.store import registry
    from reporter.store.parquet.store import ParquetStore
    from reporter.view import loader

    started: list[int] = []
    monkeypatch.setattr(workers.PagePool, "start", lambda self, *a: started.append(1))
    memory = f"memory://pages-{uuid.uuid4().hex}"
    client = mlflow.Client(memory)
    exp = client.create_experiment("mem")
    for _ in range(6):
        run_id = client.create_run(exp).info.run_id
        client.log_batch(run_id, metrics=[Metric("m", s / 3, 1, s) for s in range(300)])
    client.store.close()
    build(config_of(memory, tmp_path / "site", 1))
    assert (
        sum(
            p.startswith("runs/") and p.endswith("index.html")
            for p in site_files(tmp_path / "site")
        )
        == 6
    )
    assert loader.worker_uri(ParquetStore(memory), memory) is None
    folder = str(tmp_path / "store")
    monkeypatch.setitem(registry._factories, "file", ParquetStore)
    assert loader.worker_uri(ParquetStore(folder), folder) is None
    monkeypatch.delitem(registry._factories, "file")

    class Scaled(ParquetStore):  # a store of this process's own, on a folder
        pass

    monkeypatch.setitem(registry._factories, "scaled", lambda uri: Scaled(folder))
    assert loader.worker_uri(Scaled(folder), "scaled://x") is None
    assert loader.worker_uri(Scaled(folder), folder) is None  # (opened some other way)
    assert loader.worker_uri(ParquetStore(folder), folder) == os.path.abspath(folder)
    assert started == []


def test_page_workers_are_not_started_for_points_read_once(sweep: str, tmp_path: Path) -> None:
    """An experiment whose points were read whole (a tracking server's): none to share."""
    from reporter.view import loader
    from reporter.view.points import SeriesSource

    config = config_of(sweep, tmp_path / "site", 1)
    data = next(
        d
        for d in loader.load(loader.open_store(sweep), config).experiments
        if d.experiment.name == "sweep"
    )
    whole = dataclasses.replace(
        data, series=SeriesSource.of(data.series.read(list(data.series.rows)))
    )
    pages = workers.PageWorkers(1, sweep, resolve_theme("default"), tmp_path, False, None)  # type: ignore[arg-type]
    assert pages.start(None, whole, None, [["a"], ["b"]], False) is None  # type: ignore[arg-type]


def test_artifact_reads_of_workers_are_counted(sweep: str, tmp_path: Path) -> None:
    """What workers read of the store is in the build's counts: the same artifacts."""
    alone = build(config_of(sweep, tmp_path / "alone", 0))
    shared = build(config_of(sweep, tmp_path / "shared", 1))
    assert alone.artifact_reads is not None and shared.artifact_reads is not None
    assert set(shared.artifact_reads.fetched) == set(alone.artifact_reads.fetched)
    assert shared.artifact_reads.fetched


def test_workers_that_read_another_store_are_not_believed(
    sweep: str,
    store_kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    from_workers: list[int],
) -> None:
    """Page workers handed another store (set up in the build's process in a way they cannot
    see, say) read points other than the build counted: the build makes their batches."""
    import shutil

    if store_kind != "local":
        pytest.skip("the other store is a copy of the folder")
    alone = built(sweep, tmp_path / "alone", 0)
    other = tmp_path / "other"
    shutil.copytree(sweep, other)
    client = mlflow.Client(str(other))
    exp = client.get_experiment_by_name("sweep")
    assert exp is not None
    for run in client.search_runs([exp.experiment_id]):
        client.log_batch(run.info.run_id, metrics=[Metric("extra", 9.0, 1, 0)])
    client.store.close()
    start = workers.PageWorkers.start

    def elsewhere(self: workers.PageWorkers, *args: Any) -> Any:
        self.store_uri = str(other)
        return start(self, *args)

    monkeypatch.setattr(workers.PageWorkers, "start", elsewhere)
    shared = built(sweep, tmp_path / "shared", 1)
    assert from_workers == []  # (its first batch was refused: the build made them all)
    assert shared == alone


def test_a_worker_whose_output_is_not_ours_is_dropped(
    sweep: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Something in the worker's start-up prints (a sitecustomize, say): the build drops it
    at once and makes its batches, rather than waiting on it."""
    import subprocess

    from reporter.view import readers

    alone = built(sweep, tmp_path / "alone", 0)
    start = readers.start_worker

    def chatty(module: str) -> subprocess.Popen[bytes]:
        proc = start(module)
        proc.kill()  # (replaced by one that prints first)
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        code = f"print('hi'); import runpy; runpy.run_module({module!r}, run_name='__main__')"
        return subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=readers.IMPORTED_FROM,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    monkeypatch.setattr(readers, "start_worker", chatty)
    assert built(sweep, tmp_path / "shared", 1) == alone


def test_a_worker_stuck_printing_is_stopped_before_its_job(
    sweep: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start-up that prints more than a pipe holds blocks the worker before it reads its
    job; a job bigger than a pipe blocks the build writing it. The worker's first words are
    read before its job is sent, so it is stopped at once: the build does not wait for the
    pool's end (JOIN_SECONDS, made an hour here) and makes the batches itself."""
    import subprocess
    import threading

    from reporter.site import workers
    from reporter.view import readers

    alone = built(sweep, tmp_path / "alone", 0)
    start = readers.start_worker
    monkeypatch.setattr(workers, "JOIN_SECONDS", 3600.0)
    started: list[subprocess.Popen[bytes]] = []

    def flooding(module: str) -> subprocess.Popen[bytes]:
        proc = start(module)
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        code = (
            "import sys; sys.stdout.write('x' * 300_000); sys.stdout.flush(); "
            f"import runpy; runpy.run_module({module!r}, run_name='__main__')"
        )
        flood = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=readers.IMPORTED_FROM,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        started.append(flood)
        return flood

    real_start, real_job = workers.PagePool.start, readers.ReadPool.job

    def big_page_job(pool: Any, job: Any, count: int) -> None:  # bigger than a pipe holds
        job.__dict__["padding"] = bytes(300_000)
        real_start(pool, job, count)

    def big_read_job(pool: Any) -> Any:
        job = real_job(pool)
        job.__dict__["padding"] = bytes(300_000)
        return job

    monkeypatch.setattr(workers.PagePool, "start", big_page_job)
    monkeypatch.setattr(readers.ReadPool, "job", big_read_job)
    monkeypatch.setattr(readers, "start_worker", flooding)
    result: list[dict[str, bytes]] = []
    thread = threading.Thread(target=lambda: result.append(built(sweep, tmp_path / "s", 1)))
    thread.start()
    thread.join(timeout=600)  # (an hour if the worker were waited for)
    assert not thread.is_alive() and result == [alone]
    assert started and all(p.poll() is not None for p in started)


def test_a_message_that_is_not_ours_is_refused() -> None:
    import io

    from reporter.view import readers

    good = io.BytesIO()
    readers.send(good, ("next", None, None))
    assert readers.recv(io.BytesIO(good.getvalue())) == ("next", None, None)
    with pytest.raises(readers.ProtocolError):
        readers.recv(io.BytesIO(b"hi\n" + good.getvalue()))
    huge = readers.MAGIC + (readers.MAX_MESSAGE + 1).to_bytes(8, "little") + bytes(4)
    with pytest.raises(readers.ProtocolError):
        readers.recv(io.BytesIO(huge))
    many = readers.MAGIC + bytes(8) + (readers.MAX_BUFFERS + 1).to_bytes(4, "little")
    with pytest.raises(readers.ProtocolError):
        readers.recv(io.BytesIO(many))


def test_arrays_cross_the_pipe_out_of_band_whole() -> None:
    """Arrays (contiguous or not, of every dtype a batch holds) come out equal, after the
    pickle that refers to them; a message cut anywhere reads as a closed pipe."""
    import io

    import numpy as np

    from reporter.view import readers

    message: tuple[str, int, dict[str, Any]] = (
        "read",
        3,
        {
            "value": np.array([0.5, np.nan, -np.inf, 1e300]),
            "step": np.arange(10, dtype=np.int64)[::3],  # not contiguous: pickled in-band
            "run": np.arange(5, dtype=np.int32),
            "empty": np.zeros(0),
            "names": ["a", "é"],
        },
    )
    sent = io.BytesIO()
    readers.send(sent, message)
    got = readers.recv(io.BytesIO(sent.getvalue()))
    assert got[:2] == ("read", 3) and got[2]["names"] == ["a", "é"]
    for name in ("value", "step", "run", "empty"):
        a, b = message[2][name], got[2][name]
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name
    whole = sent.getvalue()
    for cut in range(0, len(whole), max(1, len(whole) // 40)):
        with pytest.raises(EOFError):
            readers.recv(io.BytesIO(whole[:cut]))


def test_changing_page_workers_rewrites_nothing(sweep: str, tmp_path: Path) -> None:
    """The site does not depend on the workers, so neither does the build's fingerprint."""
    out = tmp_path / "site"
    first = build(config_of(sweep, out, 0))
    second = build(config_of(sweep, out, 1))
    assert first.stats.written > 0
    assert second.stats.written == 0 and second.stats.unchanged == first.stats.written


def test_build_flags_set_workers_and_batches(sweep: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reporter.commands.main import cli

    out = tmp_path / "site"
    args = ["build", "--store", sweep, "--out", str(out), "--artifacts", "copy"]
    ok = CliRunner().invoke(cli, [*args, "--page-workers", "0", "--batch-points", "1000"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, [*args, "--page-workers", "65"])
    assert bad.exit_code == 2 and "--page-workers" in bad.output
    bad = CliRunner().invoke(cli, [*args, "--batch-points", "10"])
    assert bad.exit_code == 2 and "--batch-points" in bad.output
