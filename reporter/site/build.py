"""`tracker-report build`: gather (store -> snapshot -> site model), then write (render).

    build(config)
      store    = open_store(uri)            read-only: the build never writes to the store
      snapshot = load(store, selection)     runs frames, metric points, artifact listings
      site     = make_site(snapshot, ...)   pages with typed contexts and chart data
      render(site, theme, out)              the only writer: atomic, skips unchanged files
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reporter import __version__
from reporter.errors import NotFoundError
from reporter.site import loader, model, render, theme
from reporter.site.config import BuildConfig
from reporter.store import schema

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

    def summary(self) -> str:
        """Return the closing line, e.g. 'Built 3 experiments, 42 runs, 128 pages in 1.8 s'."""
        return (f"Built {self.experiments} experiments, {self.runs} runs, {self.pages} pages in "
                f"{self.seconds:.1f} s -> {self.out / 'index.html'}")


def build_time() -> str:
    """Return the build time to print: $SOURCE_DATE_EPOCH if set (reproducible), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc) if epoch and epoch.isdigit() \
        else dt.datetime.now(tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def build(config: BuildConfig, progress: Progress | None = None) -> BuildResult:
    """Build the site described by config."""
    started = time.perf_counter()
    chosen_theme = theme.resolve_theme(config.theme)
    out = Path(config.out)
    render.check_out_folder(out)
    store = loader.open_store(config.store)
    if progress:
        progress("reading store", 0, 1)
    snapshot = loader.load(store, config.experiments)
    fs = store.fs

    def artifact_rel(run_id: str, path: str) -> str:
        exp_id = store.experiment_of(run_id)
        return fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.ARTIFACTS_FOLDER, path)

    def read_preview(run_id: str, path: str) -> bytes | None:
        try:
            return fs.read_bytes(artifact_rel(run_id, path))
        except NotFoundError:
            return None

    def store_url(run_id: str, path: str) -> str:
        url = fs.url(artifact_rel(run_id, path))
        return Path(url).as_uri() if fs.local else url

    info = model.SiteInfo(config.title, __version__, build_time(), config.base_url)
    site = model.make_site(snapshot, config, info, read_preview, store_url)
    stats = render.render(
        site, chosen_theme, out, lambda r, p: fs.read_bytes(artifact_rel(r, p)),
        clean=config.clean, progress=progress,
    )
    return BuildResult(site.experiments, site.runs, len(site.pages),
                       time.perf_counter() - started, out, stats, site.warnings)
