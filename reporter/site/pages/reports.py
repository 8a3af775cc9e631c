"""Narrative report pages: markdown files of the repository with live blocks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from reporter.site.contract import Crumb, MetricIndex, OutFile, Page, PageInfo
from reporter.site.pages import report_blocks as reports
from reporter.site.series import index_metrics
from reporter.view import text
from reporter.view.config import BuildConfig
from reporter.view.loader import StoreSnapshot


def add_reports(
    snapshot: StoreSnapshot,
    config: BuildConfig,
    slugs: dict[str, str],
    metric_indexes: dict[str, MetricIndex],
    artifact_url: Callable[[str, str], str | None],
    pages: list[Page],
    files: list[OutFile],
) -> list[Any]:
    """Add a page per Markdown report of the reports folder; return their index entries."""
    folder = config.reports_folder()
    ctx = reports.Context(
        snapshot.experiments,
        config,
        lambda d: metric_indexes.get(d.experiment.experiment_id) or index_metrics(d),
        artifact_url,
        snapshot.artifacts,
        files,
        lambda d: f"experiments/{slugs[d.experiment.experiment_id]}/compare.html",
    )
    listed = []
    used: set[str] = set()
    for source in reports.find_reports(folder):
        rel = source.relative_to(folder).as_posix()
        slug = text.slugify(rel[:-3].replace("/", "-"), "report")
        if slug in used:
            slug += "-" + hashlib.sha1(rel.encode()).hexdigest()[:6]
        used.add(slug)
        path = f"reports/{slug}.html"
        context = reports.build_report(source, f"{folder.as_posix()}/{rel}", ctx)
        crumbs = [Crumb("Experiments", "index.html"), Crumb(context.title, None)]
        pages.append(Page("report.html", PageInfo(path, context.title, crumbs, "report"), context))
        listed.append(reports.summary(context, path))
    by_title = sorted(listed, key=lambda r: r.title.lower())
    return sorted(by_title, key=lambda r: r.date, reverse=True)  # newest first, undated last
