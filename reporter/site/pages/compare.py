"""Comparison pages: runs chosen by the config, side by side."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from reporter.site.contract import (
    ComparePageContext,
    Crumb,
    Made,
    MetricIndex,
    OutFile,
    Page,
    PageInfo,
)
from reporter.site.series import int_or_none
from reporter.view import text
from reporter.view.config import BuildConfig, Comparison
from reporter.view.loader import ExperimentData, StoreSnapshot


def curated_runs(
    spec: Comparison, data: ExperimentData, records: list[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """Return the run ids a curated comparison selects in an experiment, in its order, and
    what it warns about (names that select no run)."""
    from reporter.query import search

    warnings: list[str] = []
    if spec.runs:
        by_key: dict[str, list[str]] = {}
        for rec in records:  # a name may be shared: it selects every run that has it
            by_key.setdefault(str(rec["run_name"]), []).append(rec["run_id"])
            by_key.setdefault(rec["run_id"], []).append(rec["run_id"])
        chosen: list[str] = []
        for key in spec.runs:
            chosen += [r for r in by_key.get(key, []) if r not in chosen]
        missing = [key for key in spec.runs if key not in by_key]
        if missing and (chosen or spec.experiment == data.experiment.name):
            warnings.append(
                f"Comparison {spec.name!r}: no run named (or with id) "
                f"{', '.join(map(repr, missing))} in experiment "
                f"{data.experiment.name!r}"
            )
        return chosen, warnings
    if data.runs.empty:
        return [], warnings
    frame = search.search_frame(
        data.runs, spec.filter, list(spec.order_by) or None, max_results=spec.limit
    )
    return list(frame["run_id"]), warnings


def _linker(
    artifact_url: Callable[[str, str], str | None], config: BuildConfig
) -> Callable[[str, str, int], str | None]:
    """Return where the compare page links an artifact (None for a copy over the limit)."""
    limit = config.max_artifact_mb * 1024 * 1024

    def link(run_id: str, path: str, size: int) -> str | None:
        url = artifact_url(run_id, path)
        return None if url and config.artifacts == "copy" and size > limit else url

    return link


def run_series(
    rec: dict[str, Any],
    metrics: MetricIndex,
    snapshot: StoreSnapshot,
    artifact_url: Callable[[str, str], str | None],
    config: BuildConfig,
) -> OutFile:
    """Return a run's series.js (what the compare pages overlay): its metrics, downsampled,
    and its artifacts. An archived run's holds no series: its one point per metric is no
    history to overlay (runs.js marks it, with its latest values)."""
    from reporter.site import compare

    link = _linker(artifact_url, config)
    run_id = rec["run_id"]
    run_keys = metrics.keys_of(run_id) if run_id not in snapshot.archived else []
    listing = [
        (p, size, link(run_id, p, size)) for p, size in sorted(snapshot.artifacts.get(run_id, []))
    ]
    data = compare.series_js(
        run_id,
        str(rec["run_name"] or run_id),
        int_or_none(rec["start_time"]),
        run_keys,
        metrics,
        listing,
        config.max_points,
    )
    return OutFile(f"runs/{run_id}/series.js", data)


def compare_pages(
    data: ExperimentData,
    slug: str,
    records: list[dict[str, Any]],
    snapshot: StoreSnapshot,
    artifact_url: Callable[[str, str], str | None],
    config: BuildConfig,
) -> tuple[Made, list[Crumb]]:
    """Make an experiment's compare page, its curated comparison pages and runs.js; return
    them and the links to the curated comparisons (for the experiment page). Each run's
    series.js is made with its run page (`run_series`)."""
    from reporter.site import compare

    made = Made()
    link = _linker(artifact_url, config)

    images: dict[str, list[tuple[str, str]]] = {}
    for rec in records:
        run_id = rec["run_id"]
        for path, size in snapshot.artifacts.get(run_id, []):
            url = link(run_id, path, size) if compare.is_image(path) else None
            if url and "://" not in url:
                images.setdefault(run_id, []).append((path, url))
    keys = data.series.keys
    base = f"experiments/{slug}"
    made.files.append(
        OutFile(
            f"{base}/runs.js",
            compare.runs_js(
                data.experiment.name,
                records,
                keys,
                images,
                config.lower_is_better,
                data.datasets,
                archived=set(snapshot.archived),
            ),
        )
    )
    context = ComparePageContext(
        data.experiment.name, f"{base}/index.html", f"{base}/runs.js", "../.."
    )
    info = PageInfo(
        f"{base}/compare.html",
        f"Compare runs · {data.experiment.name}",
        [
            Crumb("Experiments", "index.html"),
            Crumb(data.experiment.name, f"{base}/index.html"),
            Crumb("Compare", None),
        ],
        "compare",
    )
    made.pages.append(Page("compare.html", info, context))
    links = []
    used: set[str] = set()
    for spec in config.compare:
        if spec.experiment not in (None, data.experiment.name):
            continue
        chosen, warnings = curated_runs(spec, data, records)
        made.warnings += warnings
        if not chosen:
            if spec.experiment is not None:
                made.warnings.append(
                    f"Comparison {spec.name!r} selects no run in experiment "
                    f"{data.experiment.name!r}"
                )
            continue
        slug_ = text.slugify(spec.name, "comparison")
        if slug_ in used:  # "Best runs" and "best-runs": both keep a stable permalink
            slug_ += "-" + hashlib.sha1(spec.name.encode()).hexdigest()[:6]
        used.add(slug_)
        path = f"{base}/compare/{slug_}.html"
        curated = ComparePageContext(
            data.experiment.name,
            f"{base}/index.html",
            f"{base}/runs.js",
            "../../..",
            title=spec.name,
            description=text.markdown(spec.description, demote=1),
            fixed_runs=chosen,
        )
        crumbs = [
            Crumb("Experiments", "index.html"),
            Crumb(data.experiment.name, f"{base}/index.html"),
            Crumb(spec.name, None),
        ]
        made.pages.append(
            Page("compare.html", PageInfo(path, spec.name, crumbs, "compare"), curated)
        )
        links.append(Crumb(spec.name, path))
    return made, links
