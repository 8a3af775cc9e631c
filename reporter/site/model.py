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
from collections.abc import Callable
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
from reporter.site.pages.compare import compare_pages
from reporter.site.pages.experiment import experiment_page
from reporter.site.pages.index import summarize
from reporter.site.pages.reports import report_pages
from reporter.site.pages.run import PreviewReader, artifact_copies, artifact_tree, run_page
from reporter.site.pages.storage import STORAGE_PATH, storage_page
from reporter.site.paths import experiment_slugs, run_path, site_artifact_path
from reporter.site.series import index_metrics
from reporter.view.config import BuildConfig
from reporter.view.loader import StoreSnapshot
from reporter.view.storage import StorageData


# --- the whole site ------------------------------------------------------------------------
def make_site(
    snapshot: StoreSnapshot,
    config: BuildConfig,
    site: SiteInfo,
    read: PreviewReader,
    store_url: Callable[[str, str], str],
    storage: StorageData | None = None,
) -> Site:
    """Build every page and file of the site from a snapshot (no I/O), and the storage page
    from what was measured, when given."""
    slugs = experiment_slugs(
        {d.experiment.experiment_id: d.experiment.name for d in snapshot.experiments}
    )
    made = Made(warnings=list(snapshot.warnings))

    def artifact_url(run_id: str, path: str) -> str | None:
        if path in snapshot.withheld.get(run_id, {}):
            return None
        if config.artifacts == "copy":  # a URL: 'a#1.png' must not end at the '#'
            return f"runs/{run_id}/artifacts/{urllib.parse.quote(site_artifact_path(path))}"
        if config.artifacts == "link":
            return store_url(run_id, path)
        return None

    summaries = []
    total_runs = 0
    metric_indexes: dict[str, MetricIndex] = {}
    names = sorted(d.experiment.name for d in snapshot.experiments)
    for spec in config.compare:  # a comparison of nothing is a mistake worth saying
        if spec.experiment is not None and spec.experiment not in names:
            made.warnings.append(
                f"Comparison {spec.name!r} names experiment {spec.experiment!r}, which is not in "
                f"the site; experiments: {', '.join(map(repr, names)) or 'none'}"
            )
    for data in snapshot.experiments:
        slug = slugs[data.experiment.experiment_id]
        summaries.append(summarize(data, slug, config))
        exp_made = experiment_page(data, slug, config, snapshot.archived.keys())
        made.gather(exp_made)
        exp_crumb = Crumb(data.experiment.name, f"experiments/{slug}/index.html")
        metrics = metric_indexes[data.experiment.experiment_id] = index_metrics(data)
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
                kids.setdefault(parent, []).append(
                    Crumb(str(rec["run_name"]), run_path(rec["run_id"]))
                )
        for rec in records:
            run_id = rec["run_id"]
            parent_id = rec.get("parent_run_id")
            parent = (
                Crumb(str(by_id[parent_id]["run_name"]), run_path(parent_id))
                if isinstance(parent_id, str) and parent_id in by_id
                else None
            )
            listing = snapshot.artifacts.get(run_id, [])
            hold = snapshot.withheld.get(run_id, {})
            tree, tree_warnings = artifact_tree(run_id, listing, config, read, artifact_url, hold)
            made.warnings += tree_warnings
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
        total_runs += len(records)
        compared, links = compare_pages(
            data, slug, records, metrics, snapshot, artifact_url, config
        )
        made.gather(compared)
        (exp_page,) = (p for p in exp_made.pages if p.template == "experiment.html")
        exp_page.context.comparisons = links
    reported, report_list = report_pages(snapshot, config, slugs, metric_indexes, artifact_url)
    made.gather(reported)
    if storage is not None:
        made.gather(storage_page(storage, snapshot, slugs, config))
        site = dataclasses.replace(site, storage_path=STORAGE_PATH)
    index = Page(
        "index.html",
        PageInfo("index.html", site.title, [Crumb("Experiments", None)], "index"),
        IndexPageContext(summaries, total_runs, report_list),
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
    pages = [index, *made.pages, not_found]
    return Site(
        site, pages, made.unique_files(), made.warnings, len(snapshot.experiments), total_runs
    )
