"""Narrative report pages: markdown files of the repository with live blocks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from reporter.site.contract import Crumb, Made, Page, PageInfo
from reporter.site.pages import report_blocks as reports
from reporter.site.series import index_metrics
from reporter.view import text
from reporter.view.config import BuildConfig
from reporter.view.loader import StoreSnapshot


def report_pages(
    snapshot: StoreSnapshot,
    config: BuildConfig,
    slugs: dict[str, str],
    artifact_url: Callable[[str, str], str | None],
) -> tuple[Made, list[Any]]:
    """Make a page per Markdown report of the reports folder (and the files its charts
    offer); return them and the reports' index entries, newest first."""
    folder = config.reports_folder()
    ctx = reports.Context(
        snapshot.experiments,
        config,
        lambda d, runs: index_metrics(d.series.read(runs)),
        artifact_url,
        snapshot.artifacts,
        lambda d: f"experiments/{slugs[d.experiment.experiment_id]}/compare.html",
        snapshot.archived.keys(),
    )
    made = Made()
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
        made.pages.append(
            Page("report.html", PageInfo(path, context.title, crumbs, "report"), context)
        )
        listed.append(reports.summary(context, path))
    made.files += ctx.files
    by_title = sorted(listed, key=lambda r: r.title.lower())
    return made, sorted(by_title, key=lambda r: r.date, reverse=True)  # newest, undated last
