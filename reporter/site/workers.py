"""Run pages made on every core: page workers beside the build's own process.

An experiment too big for one batch of points has its run pages made a batch at a time. With
page workers (`page_workers`, one by default on a machine of two cores or more), each batch is
claimed by one process, the build's or a worker's, which reads that batch's points, makes,
renders and writes its run pages and files:

    build process                                 page worker
    -------------                                 -----------------------------------------
    PagePool: starts `python -m reporter.site.pageworker`, sends the job (pickled) on its stdin
    reads every batch in order for the grouped   opens the store, theme and writer itself
    lines; claims and makes batches no worker    loop: "next" (+ what its last batch wrote)
    took; answers each worker's "next" with      <- the lowest batch no one claimed, or None
    the lowest unclaimed batch (a thread each)   reads it, makes and writes its pages

What each batch wrote (pages, paths, digests, sizes, counts) goes to the build's writer in the
batches' order, so a site is the same byte for byte whichever process made which batch, and
whatever the number of workers. A worker that fails or dies leaves the batch it held to the
build, which makes it itself (raising, if the batch is at fault, the error a build of one
process raises). The workers get the build's environment (an object store's endpoint and
credentials), no stdin/stdout/stderr of the user's, and are killed if the build stops.
A worker needs a second interpreter: if none can start, the build makes every batch itself.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from reporter.site.contract import Crumb, Made, SiteInfo
from reporter.site.paths import run_path
from reporter.site.series import index_metrics
from reporter.site.theme import Theme
from reporter.view.points import read_ahead
from reporter.view.readers import (
    folder_identity,
    process_settings,
    recv,
    send,
    send_bytes,
    start_workers,
    stop_workers,
)

if TYPE_CHECKING:
    import subprocess

    from reporter.site.contract import MetricIndex
    from reporter.site.series import GroupGatherer
    from reporter.view.config import BuildConfig
    from reporter.view.fetch import ArtifactBytes, ArtifactKey, FetchStats
    from reporter.view.loader import Archived, ExperimentData, PointsReader, StoreSnapshot
    from reporter.view.points import KeyFacts

log = logging.getLogger(__name__)
MODULE = "reporter.site.pageworker"  # the worker's entry point


@dataclass
class RunPages:
    """What an experiment's run pages need besides their points: the same in a page worker."""

    data: ExperimentData
    crumb: Crumb  # the experiment's
    records: list[dict[str, Any]]  # its runs, in the frame's order
    by_id: dict[str, dict[str, Any]]
    kids: dict[str, list[Crumb]]  # run id -> its child runs


def run_pages_of(data: ExperimentData, crumb: Crumb) -> RunPages:
    """Return what the run pages of an experiment need (its runs as records, their kids)."""
    records: list[dict[str, Any]] = (
        [{str(k): v for k, v in r.items()} for r in data.runs.to_dict("records")]
        if len(data.runs)
        else []
    )
    by_id = {r["run_id"]: r for r in records}
    kids: dict[str, list[Crumb]] = {}
    for rec in records:
        parent = rec.get("parent_run_id")
        if isinstance(parent, str) and parent in by_id:
            kids.setdefault(parent, []).append(Crumb(str(rec["run_name"]), run_path(rec["run_id"])))
    return RunPages(data, crumb, records, by_id, kids)


class PageMaker(Protocol):
    """What a pool needs of the site stream (reporter.site.model.PageMaker)."""

    snapshot: StoreSnapshot
    config: BuildConfig
    info: SiteInfo

    def batch_pages(self, runs: RunPages, batch: list[str], metrics: MetricIndex) -> Made:
        """Make the run pages of a batch of runs from their points (indexed)."""
        ...


def default_workers() -> int:
    """Workers beside the build when the setting is left out: one on a machine of two cores
    or more (the build's own process is the other), none on one core."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


@dataclass
class PagesJob:
    """Everything a page worker needs to make an experiment's run pages (it pickles)."""

    store_uri: str
    config: BuildConfig
    info: SiteInfo
    theme: Theme
    out: str
    measure_only: bool
    data: ExperimentData  # its `series` left out: the worker reads points with `points`
    points: PointsReader
    rows: dict[str, int]  # published run id -> its points
    facts: dict[str, KeyFacts]  # what the grouped lines are drawn on
    gather: bool  # measure each batch's share of the grouped lines
    groups: list[list[str]]  # the batches of runs, in order
    crumb: Crumb
    artifacts: dict[str, list[tuple[str, int]]]
    withheld: dict[str, dict[str, str]]
    archived: dict[str, Archived]
    kept: dict[ArtifactKey, bytes]  # artifact bytes the build fetched already (its scan)
    settings: dict[str, Any]  # readers.process_settings() of the build
    identity: tuple[int, int] | None  # readers.folder_identity() of the store in the build


@dataclass
class PageWorkers:
    """How a build starts page workers: how many, and what their writers need."""

    count: int
    store_uri: str | None  # what workers open to read the build's store (None: no workers)
    theme: Theme
    out: Path
    measure_only: bool
    artifact_bytes: ArtifactBytes

    def start(
        self,
        stream: PageMaker,
        data: ExperimentData,
        runs: RunPages,
        groups: list[list[str]],
        gather: bool,
    ) -> PagePool | None:
        """Start workers for an experiment's batches; None when the build makes them alone
        (one batch, no worker wanted, a store no other process can open, points read once
        for the whole experiment, or no reader to hand over)."""
        if (
            self.count < 1
            or len(groups) < 2
            or self.store_uri is None
            or data.points is None
            or data.series.cached is not None
        ):
            return None
        import dataclasses

        from reporter.view.points import SeriesSource

        ids = {r for g in groups for r in g}
        job = PagesJob(
            store_uri=self.store_uri,
            config=stream.config,
            info=stream.info,
            theme=Theme(
                self.theme.name,
                tuple(p.resolve() for p in self.theme.template_dirs),
                tuple(p.resolve() for p in self.theme.static_dirs),
                self.theme.default_dir.resolve(),
            ),
            out=str(self.out.resolve()),
            measure_only=self.measure_only,
            data=dataclasses.replace(data, series=SeriesSource(_no_reader, {}, 1)),
            points=data.points,
            rows=dict(data.series.rows),
            facts=data.series.facts,
            gather=gather,
            groups=groups,
            crumb=runs.crumb,
            artifacts={r: v for r, v in stream.snapshot.artifacts.items() if r in ids},
            withheld={r: v for r, v in stream.snapshot.withheld.items() if r in ids},
            archived={r: v for r, v in stream.snapshot.archived.items() if r in ids},
            kept=self.artifact_bytes.kept_of(ids),
            settings=process_settings(),
            identity=folder_identity(self.store_uri),
        )
        pool = PagePool(groups, self.artifact_bytes.stats, self.out)
        try:
            pool.start(job, min(self.count, len(groups) - 1))
        except BaseException:  # (interrupted while starting: none left running)
            pool.close()
            raise
        return pool


def _no_reader(ids: list[str]) -> Any:
    raise RuntimeError("a page job's points are read with its PointsReader")


BUILD = -1  # who claimed a batch: the build's own process (workers: 0, 1, ...)
WAIT: Literal["wait"] = "wait"  # the build may not claim more until a batch is written
WINDOW = 2  # batches claimed beyond the next one to write, besides one a worker holds
JOIN_SECONDS = 30.0  # how long a finished pool waits for a worker's last message


class PagePool:
    """An experiment's batches shared between the build and its page workers (`parts`).

    Memory is bounded: no process claims a batch more than `window` batches beyond the next
    one to be written (a slow worker holding a batch holds back the others' claims, not
    their memory). An error is raised where a build of one process raises it: at its batch,
    once every batch before it was written."""

    def __init__(self, groups: list[list[str]], stats: FetchStats, out: Path) -> None:
        self.groups = groups
        self.batches = len(groups)
        self.stats = stats  # the build's artifact reads, which the workers' are added to
        self.out = out
        self.lock = threading.Condition()
        self.next = 0  # the lowest batch no process claimed
        self.end = self.batches  # batches from here on are not claimed (one failed before)
        self.emitted = 0  # batches the build wrote (or counted in)
        self.window = WINDOW
        self.stopped = False
        self.owner: dict[int, int] = {}  # batch -> the worker that claimed it (BUILD: here)
        self.done: dict[int, tuple[Made, Any]] = {}  # batch -> what a worker wrote, its share
        self.lost: set[int] = set()  # claimed by a worker that failed: the build makes them
        self.held: dict[int, int | None] = {}  # worker -> the batch it holds
        self.reads: list[FetchStats] = []  # each worker's artifact reads, as it finished
        self.finished = 0  # workers that said their last (none killed while writing)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.threads: list[threading.Thread] = []

    # -- claims ---------------------------------------------------------------------------
    def claim(self, by: int = BUILD) -> int | Literal["wait"] | None:
        """Claim the lowest unclaimed batch for worker `by` (BUILD: this process); None when
        none is left. Beyond the window a worker waits; the build gets WAIT (it writes the
        batches, so it must not wait for itself)."""
        with self.lock:
            while True:
                while self.next < self.end and self.next in self.owner:
                    self.next += 1
                if self.stopped or self.next >= self.end:
                    return None
                if self.next <= self.emitted + self.window:
                    self.owner[self.next] = by
                    return self.next
                if by == BUILD:
                    return WAIT
                self.lock.wait()

    # -- workers --------------------------------------------------------------------------
    def start(self, job: PagesJob, count: int) -> None:
        """Start `count` workers (those that cannot start leave their share to the build)."""

        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self.window = WINDOW + count
        start_workers(
            MODULE,
            count,
            lambda n, proc: self._serve(n, proc, payload),
            "reporter-page-worker",
            self.procs,
            self.threads,
        )

    def _serve(self, n: int, proc: subprocess.Popen[bytes], payload: bytes) -> None:
        """Talk to one worker: send the job, then answer each "next" with a claim."""
        assert proc.stdin is not None and proc.stdout is not None
        self.held[n] = None
        try:
            send_bytes(proc.stdin, payload)
            while True:
                kind, batch, body = recv(proc.stdout)
                with self.lock:
                    if kind == "wrote":
                        self.done[batch] = (Made(warnings=body[1], written=[body[0]]), body[2])
                    elif kind == "failed":
                        log.debug("page worker %d failed on batch %s:\n%s", n, batch, body)
                        return  # (its batch is lost: made by the build)
                    self.held[n] = None
                    self.lock.notify_all()
                nxt = self.claim(n)
                assert nxt != WAIT
                self.held[n] = nxt
                send(proc.stdin, nxt)
                if nxt is None:
                    break
            kind, _, body = recv(proc.stdout)  # its reads of artifacts
            if kind == "stats":
                with self.lock:
                    self.reads.append(body)
                    self.finished += 1
        except Exception as exc:
            log.debug("page worker %d stopped: %s", n, exc)
        finally:
            with self.lock:
                held = self.held.get(n)
                if held is not None and held not in self.done:
                    self.lost.add(held)
                self.held[n] = None
                self.lock.notify_all()

    def _outcome(self, batch: int, wait: bool) -> tuple[Made, Any] | Literal[False] | None:
        """What a worker made of a batch it claimed: its part, False if lost (made here),
        None if not yet (or the build claimed it and has yet to make it)."""
        with self.lock:
            while True:
                if batch in self.done:
                    return self.done.pop(batch)
                if self.owner.get(batch, BUILD) == BUILD:
                    return None
                if batch in self.lost or not any(t.is_alive() for t in self.threads):
                    self.owner[batch] = BUILD  # the build makes it now
                    return False
                if not wait:
                    return None
                self.lock.wait(timeout=1.0)

    # -- the build's side -----------------------------------------------------------------
    def parts(
        self, stream: PageMaker, runs: RunPages, gatherer: GroupGatherer | None
    ) -> Iterator[Made]:
        """Yield the run pages of every batch, in order: made here (a Made to render) or by a
        worker (a Made of what it wrote), this process taking the lowest unclaimed batch as
        workers do. Each batch's share of the grouped lines is measured where it was read
        and added here in the batches' order (the same sums as one process makes)."""
        data, groups = runs.data, self.groups
        mine: dict[int, tuple[Made, Any] | Exception] = {}  # made (or failed) here

        def make(k: int, points: Any) -> tuple[Made, Any]:
            metrics = index_metrics(points)
            share = gatherer.measure(metrics, groups[k]) if gatherer is not None else None
            return stream.batch_pages(runs, groups[k], metrics), share

        def fail(k: int, exc: Exception) -> None:  # raised when batch k's turn comes
            mine[k] = exc
            with self.lock:
                self.end = min(self.end, k)  # no one claims a batch after it
                self.lock.notify_all()

        def ready(wait: bool, most: int | None = None) -> Iterator[Made]:
            while self.emitted < self.batches and most != 0:
                k = self.emitted
                if k in mine:
                    got = mine.pop(k)
                    if isinstance(got, Exception):
                        raise got
                    made, share = got
                else:
                    outcome = self._outcome(k, wait)
                    if outcome is None:
                        if wait:  # claimed here and not made: cannot be (see below)
                            raise RuntimeError(f"batch {k} was never made")
                        return
                    if outcome is False:  # its worker failed: made here
                        made, share = make(k, data.series.read(groups[k]))
                    else:
                        made, share = outcome
                if gatherer is not None and share is not None:
                    gatherer.take(share)
                with self.lock:
                    self.emitted = k + 1
                    self.lock.notify_all()
                most = None if most is None else most - 1
                yield made

        def reads() -> Iterator[tuple[int | Literal["wait"], Any]]:
            while (k := self.claim()) is not None:
                if k == WAIT:  # the batch to write next is a worker's: written first
                    with self.lock:
                        seen = self.emitted
                    yield k, seen
                    with self.lock:
                        while not self.stopped and self.emitted == seen:
                            self.lock.wait()
                    continue
                try:
                    points = data.series.read(groups[k])
                except Exception as exc:
                    yield k, exc
                    return
                yield k, points

        ahead = read_ahead(reads())
        try:
            for k, points in ahead:
                if k == WAIT:  # (unless written since: the reader claims again)
                    if self.emitted == points:
                        yield from ready(wait=True, most=1)
                    continue
                if isinstance(points, Exception):
                    fail(k, points)
                else:
                    try:
                        mine[k] = make(k, points)
                    except Exception as exc:
                        fail(k, exc)
                del points
                yield from ready(wait=False)
            yield from ready(wait=True)
            for thread in self.threads:  # each worker's last message: its artifact reads
                thread.join(timeout=JOIN_SECONDS)
        finally:
            with self.lock:
                self.stopped = True
                self.lock.notify_all()
            ahead.close()

    def __enter__(self) -> PagePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers and wait for them (those still running are killed: once the pool
        is complete, none is), count in their artifact reads, and sweep the temporary files a
        worker killed while writing left."""
        from reporter.site.render import sweep_temporary

        with self.lock:
            self.stopped = True
            self.lock.notify_all()
        stop_workers(self.procs, self.threads)
        for reads in self.reads:
            self.stats.fetches += reads.fetches
            self.stats.hits += reads.hits
            self.stats.uncached += reads.uncached
            self.stats.fetched.update(reads.fetched)
        self.reads.clear()
        if self.finished < len(self.procs):  # (an exit status can say 0 for a killed worker:
            sweep_temporary(self.out)  # SIGCHLD ignored by the host)
