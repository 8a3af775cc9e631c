"""A page worker: `python -m reporter.site.pageworker`, started by a build's PagePool
(reporter.site.workers), which sends it a PagesJob and then, one at a time, the batches of runs
it is to make the run pages of (see reporter.site.workers for the protocol)."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from reporter.site.contract import Written
from reporter.site.model import SiteStream
from reporter.site.pages.experiment import charted_runs, group_choices
from reporter.site.series import GroupGatherer, index_metrics
from reporter.site.workers import PagesJob, RunPages
from reporter.view.readers import apply_settings, open_for_worker, recv, send, worker_main

if TYPE_CHECKING:
    from reporter.view.fetch import ArtifactBytes


# --- the worker --------------------------------------------------------------------------------
@dataclass
class _Worker:
    job: PagesJob
    stream: SiteStream
    runs: RunPages
    writer: Any  # render.PartWriter
    bytes_: ArtifactBytes
    gatherer: GroupGatherer | None


def _open(job: PagesJob) -> _Worker:
    """Open what making the job's pages needs: the store, the points, the stream, a writer."""
    import dataclasses
    import functools

    from reporter.core.errors import NotFoundError
    from reporter.site import render
    from reporter.site.workers import run_pages_of
    from reporter.view import loader
    from reporter.view.fetch import ArtifactBytes
    from reporter.view.points import SeriesSource

    config = job.config
    store = open_for_worker(job.store_uri, job.identity)
    rules = config.secret_rules()
    series = SeriesSource(
        functools.partial(job.points.read, store, config, rules),
        job.rows,
        config.batch_points,
        facts=job.facts,
    )
    data = dataclasses.replace(job.data, series=series)
    snapshot = loader.StoreSnapshot(
        job.store_uri, [data], job.artifacts, [], job.withheld, job.archived
    )
    exp_id = data.experiment.experiment_id
    fetched = ArtifactBytes(store)
    fetched.keep(job.kept)

    def read_preview(run_id: str, path: str) -> bytes | None:
        try:
            return fetched.read(run_id, path, exp_id)
        except NotFoundError:
            return None

    def store_url(run_id: str, path: str) -> str:
        return store.artifact_link(run_id, path, exp_id)

    def copy(run_id: str, path: str) -> bytes:
        return fetched.read(run_id, path, exp_id)

    stream = SiteStream(snapshot, config, job.info, read_preview, store_url)
    writer = render.PartWriter(
        job.info, job.theme, Path(job.out), copy, measure_only=job.measure_only, claim=False
    )
    gatherer = None
    if job.gather:  # the same gatherer as the build's: each batch's share is measured here
        gatherer = GroupGatherer(
            charted_runs(data.runs, job.archived.keys()),
            group_choices(data.runs),
            series,
            sorted(series.facts),
        )
    return _Worker(job, stream, run_pages_of(data, job.crumb), writer, fetched, gatherer)


def _check_points(points: Any, group: list[str], rows: dict[str, int]) -> None:
    """Raise unless these points are as many a run as the build's first pass counted: else
    this worker read another store than the build's (the build makes the batch itself)."""
    import numpy as np

    counts = np.bincount(points.run, minlength=len(points.runs)) if len(points) else ()
    got = {run_id: int(n) for run_id, n in zip(points.runs, counts, strict=False) if n}
    wanted = {run_id: rows[run_id] for run_id in group if rows.get(run_id)}
    if got != wanted:
        raise RuntimeError("the points read are not the ones the build counted in its first pass")


def serve(inp: IO[bytes], out: IO[bytes]) -> int:
    """A page worker's loop: the job, then batches until the build has none left."""
    import warnings

    warnings.simplefilter("ignore")  # the build said what its reads say; no one to show them
    job: PagesJob = recv(inp)
    apply_settings(job.settings)
    worker = _open(job)
    message: tuple[str, int | None, Any] = ("next", None, None)
    while True:
        send(out, message)
        batch: int | None = recv(inp)
        if batch is None:
            break
        try:
            group = job.groups[batch]
            points = worker.runs.data.series.read(group)
            _check_points(points, group, job.rows)
            metrics = index_metrics(points)
            share = worker.gatherer.measure(metrics, group) if worker.gatherer else None
            made = worker.stream.batch_pages(worker.runs, group, metrics)
            del points, metrics
            done: Written = worker.writer.write_apart(made)
            message = ("wrote", batch, (done, made.warnings, share))
        except Exception:
            send(out, ("failed", batch, traceback.format_exc()))
            return 1
    send(out, ("stats", None, worker.bytes_.stats))
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(serve))
