"""`tracker-report build`: gather (store -> snapshot -> site model), then write (render).

    build(config)
      store    = open_store(uri)            read-only: the build never writes to the store
      snapshot = load(store, selection)     runs frames, facts of metric points, artifact listings
      storage  = load_storage(store, ...)   what the published experiments hold (storage page)
      site     = SiteStream(snapshot, ...)  pages with typed contexts, a part at a time
      PartWriter(out).part(...)             the only writer: atomic, skips unchanged files

Memory holds one batch of runs' points and pages at a time (`batch_points`): the loader reads
each experiment in batches, and the pages of a batch of runs are written before the next batch
is read.

An artifact's bytes are fetched once per build (fetch.ArtifactBytes): the secret scan, its
preview and its copy share them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reporter.core.errors import NotFoundError
from reporter.core.version import __version__
from reporter.site import contract, model, render, theme
from reporter.site.workers import PageWorkers, default_workers
from reporter.store.protocol import AbstractStore
from reporter.view import fetch, loader, text
from reporter.view.config import BuildConfig
from reporter.view.storage import StorageData, load_storage

Progress = Callable[[str, int, int], None]


@dataclass
class BuildResult:
    """What a build did."""

    experiments: int
    runs: int
    pages: int
    seconds: float
    out: Path
    stats: render.WriteStats
    warnings: list[str] = field(default_factory=list)
    artifact_reads: fetch.FetchStats = field(default_factory=fetch.FetchStats)

    def summary(self) -> str:
        """Return the closing line, e.g. 'Built 3 experiments, 42 runs, 128 pages in 1.8 s'."""
        return (
            f"Built {text.counted(self.experiments, 'experiment')}, "
            f"{text.counted(self.runs, 'run')}, {text.counted(self.pages, 'page')} in "
            f"{self.seconds:.1f} s -> {self.out / 'index.html'}"
        )


def build_time() -> str:
    """Return the build time to print: $SOURCE_DATE_EPOCH if set (reproducible), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = (
        dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
        if epoch and epoch.isdigit()
        else dt.datetime.now(tz=dt.timezone.utc)
    )
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


PACKAGE = Path(__file__).resolve().parents[1]  # reporter/: the code that makes the pages


def fingerprint(
    config: BuildConfig, chosen: theme.Theme, store: AbstractStore, code: Path = PACKAGE
) -> str:
    """Return a digest of everything a build depends on: version, settings, theme, store, and
    the code itself (an editable install or a checkout changes it without a new version)."""
    digest = hashlib.sha256()
    settings = {
        k: v
        for k, v in dataclasses.asdict(config).items()
        if k not in ("clean", "strict", "out", "config_file", "page_workers")  # (same site)
    }
    digest.update(
        json.dumps(
            [__version__, settings, os.environ.get("SOURCE_DATE_EPOCH")],
            sort_keys=True,
            default=str,
        ).encode()
    )
    for folder in (*chosen.template_dirs, *chosen.static_dirs, config.reports_folder(), code):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    digest.update(store.content_digest().encode())
    return digest.hexdigest()


def build(
    config: BuildConfig,
    progress: Progress | None = None,
    notice: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build the site described by config (nothing to do when no input changed). Warnings
    known before anything is written (the site will be over its host's limit) go to `notice`
    at once, and with the others into the result."""
    started = time.perf_counter()
    chosen_theme = theme.resolve_theme(config.theme)
    out = Path(config.out)
    render.check_out_folder(out)
    store = loader.open_store(config.store)
    stamp = fingerprint(config, chosen_theme, store)
    previous, files = render.previous_build(out)
    if previous == stamp and all((out / f).is_file() for f in files):
        summary = json.loads((out / render.MARKER).read_text(encoding="utf-8")).get("summary", {})
        stats = render.WriteStats(unchanged=len(files))
        if config.clean:
            writer = render.SiteWriter(out)
            writer.seen = set(files)
            writer.clean()
            stats.removed = writer.stats.removed
        return BuildResult(
            int(summary.get("experiments", 0)),
            int(summary.get("runs", 0)),
            int(summary.get("pages", 0)),
            time.perf_counter() - started,
            out,
            stats,
            [str(w) for w in summary.get("warnings", [])],
        )
    if progress:
        progress("reading store", 0, 1)
    artifact_bytes = fetch.ArtifactBytes(store)  # each artifact fetched once: scan, preview, copy
    count = default_workers() if config.page_workers is None else config.page_workers
    snapshot = loader.load(store, config, artifact_bytes, read_workers=count)

    # each run's experiment as read (a run whose run.json is damaged is still where it is)
    experiment_of = {
        run_id: data.experiment.experiment_id
        for data in snapshot.experiments
        for run_id in (data.runs["run_id"] if len(data.runs) else ())
    }

    def read_preview(run_id: str, path: str) -> bytes | None:
        try:
            return artifact_bytes.read(run_id, path, experiment_of.get(run_id))
        except NotFoundError:
            return None

    def store_url(run_id: str, path: str) -> str:
        return store.artifact_link(run_id, path, experiment_of.get(run_id))

    storage: Callable[[], StorageData] | None = None
    if config.storage_page:  # what the published experiments hold: one listing of the store,
        # measured once, when the stream first needs it (beside page workers, if any)

        @functools.cache
        def storage() -> StorageData:
            if progress:
                progress("measuring", 0, 1)
            return load_storage(store, config, snapshot)

    config, early = plan_size(snapshot, config)
    for message in early:
        if notice:
            notice(message)
    info = contract.SiteInfo(config.title, __version__, build_time(), config.base_url)

    def copy(run_id: str, path: str) -> bytes:
        return artifact_bytes.read(run_id, path, experiment_of.get(run_id))

    def stream(measure_only: bool = False) -> model.SiteStream:
        workers = PageWorkers(
            count,
            loader.worker_uri(store, config.store),
            chosen_theme,
            out,
            measure_only,
            artifact_bytes,
        )
        return model.SiteStream(snapshot, config, info, read_preview, store_url, storage, workers)

    expected = sum(len(d.runs) + 2 for d in snapshot.experiments) + 2
    if config.max_site_mb is not None:  # measured first, a part at a time: nothing written
        measuring = stream(measure_only=True)
        sizer = render.PartWriter(measuring.info, chosen_theme, out, copy, measure_only=True)
        for part in measuring.parts():
            sizer.part(part)
        sizer.finish()
        render.check_size(sizer.sizes, config.max_site_mb)
    site = stream()
    output = render.PartWriter(site.info, chosen_theme, out, copy, progress, False, expected)
    warned: list[str] = list(early)
    for part in site.parts():
        warned += part.warnings
        output.part(part)
    stats = output.finish(
        config.clean,
        stamp,
        {
            "experiments": site.experiments,
            "runs": site.runs,
            "pages": len(output.pages) + 1,
            "warnings": warned,
        },
    )
    artifact_bytes.clear()
    return BuildResult(
        site.experiments,
        site.runs,
        len(output.pages) + 1,  # and the 404 page
        time.perf_counter() - started,
        out,
        stats,
        warned,
        artifact_bytes.stats,
    )


def plan_size(snapshot: loader.StoreSnapshot, config: BuildConfig) -> tuple[BuildConfig, list[str]]:
    """Decide, from an estimate, whether full-series downloads fit (`full_series = "auto"`:
    left out when they would take the site over `site_limit_mb`); return the settings to
    build with ("always" or "never") and what to warn about before writing."""
    from reporter.core.sizes import format_size
    from reporter.site.estimate import estimate_site

    limit = int(config.site_limit_mb * 1024 * 1024)
    guess = estimate_site(snapshot, config)
    notes = []
    mode = config.full_series
    if mode == "auto":
        mode = "always" if guess.total <= limit else "never"
        if mode == "never" and guess.downloads:
            notes.append(
                f"Full-resolution series downloads were left out: with them the site would be "
                f"about {format_size(guess.total)}, over site_limit_mb = "
                f"{config.site_limit_mb:g} (GitHub Pages' limit is 1 GB). The charts show "
                f'{config.max_points:,} points a series; full_series = "always" (or '
                "--full-series always) includes the CSVs anyway."
            )
    size = guess.total - (guess.downloads if mode == "never" else 0)
    if size > limit:
        notes.append(
            f"The site will be about {format_size(size)}, over site_limit_mb = "
            f"{config.site_limit_mb:g} (a static host such as GitHub Pages refuses sites over "
            f"1 GB): {format_size(guess.pages)} of pages and scripts, "
            f"{format_size(guess.series)} of chart series, "
            f"{format_size(guess.artifacts)} of artifacts"
            + (f", {format_size(guess.downloads)} of series downloads" if mode == "always" else "")
            + ". Lower --max-points, use --artifacts link or skip, or publish fewer runs "
            "(a --profile)."
        )
    return dataclasses.replace(config, full_series=mode), notes
