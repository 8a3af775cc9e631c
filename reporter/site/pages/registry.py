"""The Models page (every registered model: its aliases, its newest versions with the run
behind each and that run's metrics) and a page per registered model comparing all its
versions' metrics, so "why is version 7 the champion" is answered by the page.

Made from `reporter.view.registry` (what the build may publish), never from the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

from reporter.site.contract import (
    AliasLine,
    Crumb,
    Made,
    MetricCell,
    ModelsPageContext,
    Page,
    PageInfo,
    RegisteredModelLine,
    RegisteredModelPageContext,
    VersionChart,
    VersionRow,
    json_block,
)
from reporter.site.paths import run_path
from reporter.view import numbers, text
from reporter.view.ranking import primary_metric

if TYPE_CHECKING:
    from reporter.view.config import BuildConfig
    from reporter.view.loader import StoreSnapshot
    from reporter.view.registry import RegisteredView, VersionView

MODELS_PATH = "models/index.html"
MODELS_PAGE_VERSIONS = 5  # versions a model shows on the Models page (all on its own page)
MODELS_PAGE_METRICS = 3  # metric columns there
CHARTS = 6  # metrics charted on a model's page


def model_paths(names: list[str]) -> dict[str, str]:
    """Map registered model names to their pages (a slug, and a digest of the name when two
    slugs meet or the name has nothing a slug keeps)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(names):
        slug = text.slugify(name, "model")
        if slug in used or slug == "model" or slug == "index":
            slug = f"{slug}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
        used.add(slug)
        out[name] = f"models/{slug}.html"
    return out


def _columns(
    model: RegisteredView, primaries: dict[str, str | None], config: BuildConfig
) -> list[tuple[str, bool]]:
    """Return the metric columns of a model's versions: the primary metric of their runs'
    experiments first (as their pages rank runs), then the others by name; with whether lower
    is better."""
    seen: set[str] = set()
    primary: list[str] = []
    for version in model.versions:
        if version.run is None:
            continue
        seen.update(version.run.metrics)
        chosen = primaries.get(version.run.experiment_id)
        if chosen and chosen in version.run.metrics and chosen not in primary:
            primary.append(chosen)
    ordered = primary + sorted(seen - set(primary), key=str.lower)
    return [(m, config.lower_is_better(m)) for m in ordered]


def _best(model: RegisteredView, metric: str, lower: bool) -> float | None:
    values = [v.run.metrics[metric] for v in model.versions if v.run and metric in v.run.metrics]
    if not values:
        return None
    return min(values) if lower else max(values)


def _row(
    version: VersionView, columns: list[tuple[str, bool]], best: dict[str, float | None]
) -> VersionRow:
    run = version.run
    cells = []
    for metric, _ in columns:
        value = run.metrics.get(metric) if run is not None else None
        cells.append(
            MetricCell(
                numbers.human(value) if value is not None else "",
                value,
                value is not None and value == best[metric],
            )
        )
    return VersionRow(
        version=version.version,
        anchor=f"v{version.version}",
        aliases=version.aliases,
        stage=version.stage,
        status=version.status,
        created=text.fmt_time(version.created),
        description=text.markdown(version.description, demote=3),
        tags=version.tags,
        user=version.user,
        run_label=(run.name or run.run_id) if run is not None else None,
        run_path=run_path(run.run_id) if run is not None else None,
        run_note="" if run is not None else ("not in this site" if version.has_run else "no run"),
        metrics=cells,
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _verdict(model: RegisteredView, version: int, columns: list[tuple[str, bool]]) -> str:
    """Say how an aliased version scores on the first metric against the other versions."""
    if not columns:
        return ""
    metric, lower = columns[0]
    scored = sorted(
        ((v.run.metrics[metric], v.version) for v in model.versions
         if v.run is not None and metric in v.run.metrics),
        key=lambda pair: (pair[0] if lower else -pair[0], -pair[1]),
    )  # fmt: skip
    mine = [value for value, number in scored if number == version]
    if not mine:
        return f"no {metric} to compare"
    rank = 1 + sum(1 for value, _ in scored if (value < mine[0] if lower else value > mine[0]))
    others = text.counted(len(scored), "version") + f" with {metric}"
    if rank == 1:
        return f"{metric} {numbers.human(mine[0])}: the best of {others}"
    best_value, best_version = scored[0]
    return (
        f"{metric} {numbers.human(mine[0])}: {_ordinal(rank)} of {others} (best "
        f"{numbers.human(best_value)}, version {best_version})"
    )


def _aliases(model: RegisteredView, columns: list[tuple[str, bool]]) -> list[AliasLine]:
    return [
        AliasLine(alias, version, f"v{version}", _verdict(model, version, columns))
        for alias, version in sorted(model.aliases.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _chart(model: RegisteredView, metric: str, lower: bool) -> VersionChart:
    rows = []
    for version in sorted(model.versions, key=lambda v: v.version):
        if version.run is None or metric not in version.run.metrics:
            continue
        value = version.run.metrics[metric]
        alias = ", ".join(version.aliases)
        tip = f"v{version.version}{f' ({alias})' if alias else ''}: {metric} {numbers.human(value)}"
        rows.append({"version": version.version, "value": value, "alias": alias, "tip": tip})
    return VersionChart(metric, lower, json_block(rows))


def registry_pages(snapshot: StoreSnapshot, config: BuildConfig) -> Made:
    """Return the Models page and a page per registered model (nothing without models)."""
    made = Made()
    if not snapshot.registry:
        return made
    primaries = {
        d.experiment.experiment_id: primary_metric(d, config) for d in snapshot.experiments
    }
    paths = model_paths([m.name for m in snapshot.registry])
    lines = []
    models_crumb = Crumb("Models", MODELS_PATH)
    for model in snapshot.registry:
        columns = _columns(model, primaries, config)
        best = {metric: _best(model, metric, lower) for metric, lower in columns}
        rows = [_row(v, columns, best) for v in model.versions]
        aliases = _aliases(model, columns)
        description = text.markdown(model.description, demote=1)  # under the page's h1
        shown = columns[:MODELS_PAGE_METRICS]
        lines.append(
            RegisteredModelLine(
                name=model.name,
                path=paths[model.name],
                description=text.markdown(model.description, demote=2),  # under a card's h2
                tags=model.tags,
                aliases=aliases,
                versions=len(model.versions),
                updated=text.fmt_time(model.updated),
                metrics=[m for m, _ in shown],
                # the model page's rows, with the first metrics only (shown is a prefix)
                rows=[
                    dataclasses.replace(row, metrics=row.metrics[: len(shown)])
                    for row in rows[:MODELS_PAGE_VERSIONS]
                ],
                more=max(0, len(model.versions) - MODELS_PAGE_VERSIONS),
            )
        )
        made.pages.append(
            Page(
                "registered_model.html",
                PageInfo(
                    paths[model.name],
                    model.name,
                    [Crumb("Experiments", "index.html"), models_crumb, Crumb(model.name, None)],
                    "registered-model",
                ),
                RegisteredModelPageContext(
                    name=model.name,
                    description=description,
                    tags=model.tags,
                    created=text.fmt_time(model.created),
                    updated=text.fmt_time(model.updated),
                    aliases=aliases,
                    metrics=columns,
                    versions=rows,
                    charts=[_chart(model, m, lower) for m, lower in columns[:CHARTS]],
                ),
            )
        )
    made.pages.append(
        Page(
            "models.html",
            PageInfo(
                MODELS_PATH,
                "Models",
                [Crumb("Experiments", "index.html"), Crumb("Models", None)],
                "models",
            ),
            ModelsPageContext(lines),
        )
    )
    return made
