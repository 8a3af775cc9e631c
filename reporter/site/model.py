"""The site model: pure functions from a store snapshot to pages, with typed contexts.

Nothing here reads the store or writes a file: `make_site` takes what the loader read and
returns every page (template + context) and every extra file (data, copies) to write. Each
page kind is a module of `reporter.site.pages`; `reporter.site.contract` holds the dataclasses
that are the contract with the templates (tests render each template with each context under
StrictUndefined).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from reporter.site.contract import (
    Crumb,
    IndexPageContext,
    Made,
    MetricIndex,
    Page,
    PageInfo,
    Site,
    SiteInfo,
)
from reporter.site.pages.compare import compare_pages, run_series
from reporter.site.pages.experiment import charted_runs, experiment_page, group_choices
from reporter.site.pages.index import summarize
from reporter.site.pages.registry import MODELS_PATH, registry_pages
from reporter.site.pages.reports import report_pages
from reporter.site.pages.run import PreviewReader, artifact_copies, artifact_tree, run_page
from reporter.site.pages.storage import STORAGE_PATH, storage_page
from reporter.site.paths import experiment_slugs, run_path, site_artifact_path
from reporter.site.series import GATHER_BYTES, MAX_GROUPS, GroupGatherer, index_metrics
from reporter.site.workers import PageWorkers, RunPages, run_pages_of
from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData, StoreSnapshot
from reporter.view.points import read_ahead
from reporter.view.storage import StorageData


# --- the whole site ------------------------------------------------------------------------
class SiteStream:
    """The site's pages and files, made a part at a time (`parts`): an experiment's run pages
    a batch of runs at a time, then the experiment's own pages, the reports, and last the
    index. A build writes each part before the next is made, so memory holds one batch of
    runs' points and pages, whatever the size of the store. No I/O but the store reads of the
    points (through each experiment's `series`)."""

    def __init__(
        self,
        snapshot: StoreSnapshot,
        config: BuildConfig,
        site: SiteInfo,
        read: PreviewReader,
        store_url: Callable[[str, str], str],
        storage: StorageData | Callable[[], StorageData] | None = None,
        workers: PageWorkers | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.config = config
        self.storage = storage  # (measured when first needed, when given as a function)
        self.workers = workers
        self.info = dataclasses.replace(
            site,
            storage_path=STORAGE_PATH if storage else None,
            models_path=MODELS_PATH if snapshot.registry else None,
        )
        self.read = read
        self.store_url = store_url
        self.experiments = len(snapshot.experiments)
        self.runs = 0
        self.slugs = experiment_slugs(
            {d.experiment.experiment_id: d.experiment.name for d in snapshot.experiments}
        )

    def artifact_url(self, run_id: str, path: str) -> str | None:
        """Where the site links an artifact: its copy, the store, or nowhere (withheld)."""
        if path in self.snapshot.withheld.get(run_id, {}):
            return None
        if self.config.artifacts == "copy":  # a URL: 'a#1.png' must not end at the '#'
            return f"runs/{run_id}/artifacts/{urllib.parse.quote(site_artifact_path(path))}"
        if self.config.artifacts == "link":
            return self.store_url(run_id, path)
        return None

    def storage_data(self) -> StorageData | None:
        """Return what the storage page shows (measured now if not yet), None without one."""
        if callable(self.storage):
            self.storage = self.storage()
        return self.storage

    def parts(self) -> Iterator[Made]:
        """Yield the site a part at a time (warnings of the snapshot with the first)."""
        snapshot, config = self.snapshot, self.config
        yield Made(warnings=list(snapshot.warnings))
        summaries = []
        names = sorted(d.experiment.name for d in snapshot.experiments)
        notes = Made()
        for spec in config.compare:  # a comparison of nothing is a mistake worth saying
            if spec.experiment is not None and spec.experiment not in names:
                notes.warnings.append(
                    f"Comparison {spec.name!r} names experiment {spec.experiment!r}, which is "
                    f"not in the site; experiments: {', '.join(map(repr, names)) or 'none'}"
                )
        yield notes
        for data in snapshot.experiments:
            summaries.append(summarize(data, self.slugs[data.experiment.experiment_id], config))
            yield from self._experiment(data)
        reported, report_list = report_pages(snapshot, config, self.slugs, self.artifact_url)
        yield reported
        last = registry_pages(snapshot, config)
        storage = self.storage_data()
        if storage is not None:
            last.gather(storage_page(storage, snapshot, self.slugs, config))
        index = Page(
            "index.html",
            PageInfo("index.html", self.info.title, [Crumb("Experiments", None)], "index"),
            IndexPageContext(
                summaries,
                self.runs,
                report_list,
                selected=bool(config.experiments or config.exclude_experiments),
            ),
        )
        not_found = Page(
            "404.html",
            PageInfo(
                "404.html",
                "Page not found",
                [Crumb("Experiments", "index.html"), Crumb("Not found", None)],
                "404",
            ),
            None,
        )
        last.pages += [index, not_found]
        yield last

    def _experiment(self, data: ExperimentData) -> Iterator[Made]:
        """Yield an experiment's run pages a batch of runs at a time, then its own pages."""
        snapshot, config = self.snapshot, self.config
        slug = self.slugs[data.experiment.experiment_id]
        runs = run_pages_of(data, Crumb(data.experiment.name, f"experiments/{slug}/index.html"))
        gatherer = None  # the grouped lines, gathered in this pass when their sums fit
        choices = group_choices(data.runs)
        keys = sorted(data.series.facts)
        if (
            choices
            and keys
            and GroupGatherer.cost(choices, MAX_GROUPS + 2, len(keys)) <= (GATHER_BYTES)
        ):
            charted = charted_runs(data.runs, snapshot.archived.keys())
            gatherer = GroupGatherer(charted, choices, data.series, keys)
        groups = data.series.groups([r["run_id"] for r in runs.records])
        pool = (
            self.workers.start(self, data, runs, groups, gatherer is not None)
            if self.workers
            else None
        )
        if pool is None:
            for batch, points in read_ahead((g, data.series.read(g)) for g in groups):
                metrics = index_metrics(points)
                if gatherer is not None:
                    gatherer.add(metrics, batch)
                yield self.batch_pages(runs, batch, metrics)
        else:
            with pool:
                self.storage_data()  # measured while the workers start and make pages
                yield from pool.parts(self, runs, gatherer)
        self.runs += len(runs.records)
        exp_made = experiment_page(data, slug, config, snapshot.archived.keys(), gatherer)
        compared, links = compare_pages(
            data, slug, runs.records, snapshot, self.artifact_url, config
        )
        (exp_page,) = (p for p in exp_made.pages if p.template == "experiment.html")
        exp_page.context.comparisons = links
        yield exp_made.gather(compared)

    def batch_pages(self, runs: RunPages, batch: list[str], metrics: MetricIndex) -> Made:
        """Make the run pages of a batch of runs from their points (indexed)."""
        metrics.keep_all(batch, self.config.max_points)
        made = Made()
        for run_id in batch:
            made.gather(
                self._run(runs.by_id[run_id], runs.data, runs.crumb, metrics, runs.kids, runs.by_id)
            )
        return made

    def _run(
        self,
        rec: dict[str, Any],
        data: ExperimentData,
        exp_crumb: Crumb,
        metrics: MetricIndex,
        kids: dict[str, list[Crumb]],
        by_id: dict[str, dict[str, Any]],
    ) -> Made:
        """Make a run's page, its series.js and its artifact copies."""
        snapshot, config = self.snapshot, self.config
        run_id = rec["run_id"]
        parent_id = rec.get("parent_run_id")
        parent = (
            Crumb(str(by_id[parent_id]["run_name"]), run_path(parent_id))
            if isinstance(parent_id, str) and parent_id in by_id
            else None
        )
        listing = snapshot.artifacts.get(run_id, [])
        hold = snapshot.withheld.get(run_id, {})
        tree, tree_warnings = artifact_tree(
            run_id, listing, config, self.read, self.artifact_url, hold
        )
        made = Made(warnings=tree_warnings)
        made.gather(
            run_page(
                rec,
                data,
                exp_crumb,
                metrics,
                kids.get(run_id, []),
                parent,
                tree,
                config,
                snapshot.archived.get(run_id),
            )
        )
        made.files += artifact_copies(run_id, listing, hold, config)
        made.files.append(run_series(rec, metrics, snapshot, self.artifact_url, config))
        return made


def make_site(
    snapshot: StoreSnapshot,
    config: BuildConfig,
    site: SiteInfo,
    read: PreviewReader,
    store_url: Callable[[str, str], str],
    storage: StorageData | None = None,
) -> Site:
    """Build every page and file of the site from a snapshot, all in memory (the index page
    first): for tests and tools; a build writes `SiteStream.parts` as they come."""
    stream = SiteStream(snapshot, config, site, read, store_url, storage)
    made = Made()
    for part in stream.parts():
        made.gather(part)
    index = [p for p in made.pages if p.info.path == "index.html"]
    rest = [p for p in made.pages if p.info.path != "index.html"]
    return Site(
        stream.info,
        index + rest,
        made.unique_files(),
        made.warnings,
        stream.experiments,
        stream.runs,
    )
