"""The storage page: what the published experiments hold, how the store grew, the largest runs,
and what archiving by the [retention] policy, `gc` and `compact` would free.

Made from `reporter.view.storage.StorageData` (measured at build time, for the published
experiments only; see that module) and the snapshot's published names, never the store's: a
masked experiment name stays masked here too.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from reporter.core.durations import DAY_MS, format_duration
from reporter.core.sizes import format_size
from reporter.site.contract import (
    Crumb,
    GrowthView,
    Made,
    Page,
    PageInfo,
    PolicyView,
    StoragePageContext,
    StorageRow,
    StorageRun,
    json_block,
)
from reporter.site.paths import run_path
from reporter.store.usage import DEFAULT_GC_AGE_MS, KINDS, ExperimentUsage, Size, total
from reporter.view import publish
from reporter.view.storage import StorageData
from reporter.view.usage_log import USAGE_EXPERIMENT

if TYPE_CHECKING:
    from reporter.view.config import BuildConfig
    from reporter.view.loader import StoreSnapshot

STORAGE_PATH = "storage/index.html"
LARGEST_RUNS = 20  # lines of the largest runs table
CHART_EXPERIMENTS = 15  # bars of the usage chart: the largest, then the rest as one
GROWTH_EXPERIMENTS = 8  # a restricted build draws each experiment's line up to this many
UNITS = (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3), ("B", 1))


def size_unit(largest: float) -> tuple[str, int]:
    """Return the unit a chart of sizes up to `largest` bytes is drawn in, and its bytes."""
    for unit, factor in UNITS:
        if largest >= factor:
            return unit, factor
    return "B", 1


def day_text(day: int) -> str:
    """Return a day number (days since 1970-01-01) as its date, 2026-12-01."""
    return dt.datetime.fromtimestamp(day * DAY_MS / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d")


def _row(exp: ExperimentUsage, name: str, path: str | None, note: str = "") -> StorageRow:
    return StorageRow(
        name=name,
        path=path,
        runs=exp.runs,
        deleted_runs=exp.deleted_runs,
        archived_runs=exp.archived_runs,
        events=exp.events.bytes,
        artifacts=exp.artifacts.bytes,
        models=exp.models.bytes,
        other=exp.other.bytes,
        total=exp.total.bytes,
        files=exp.total.files,
        note=note,
    )


def rest_of_store(data: StorageData, shown: set[str]) -> StorageRow | None:
    """Return the line of what a whole-store build does not list: deleted experiments, files
    of no experiment record, the store's own files (None when there is nothing, or when the
    build publishes only some experiments: the rest is then not said)."""
    usage = data.usage
    if usage is None or not data.whole_store:
        return None
    others = [e for e in usage.experiments if e.experiment_id not in shown]
    if not others and not usage.other.files:
        return None
    events = total([e.events for e in others])
    artifacts = total([e.artifacts for e in others])
    models = total([e.models for e in others])
    other = total([e.other for e in others]) + usage.other
    every = events + artifacts + models + other
    deleted = [e.deleted_runs for e in others]
    parts = []
    if others:
        parts.append(f"{len(others):,} deleted or unrecorded experiment" + "s" * (len(others) > 1))
    if usage.other.files:
        parts.append("the store's own files")
    return StorageRow(
        name="Not in this site",
        path=None,
        runs=sum(e.runs for e in others),
        deleted_runs=None if any(d is None for d in deleted) else sum(d or 0 for d in deleted),
        archived_runs=sum(e.archived_runs for e in others),
        events=events.bytes,
        artifacts=artifacts.bytes,
        models=models.bytes,
        other=other.bytes,
        total=every.bytes,
        files=every.files,
        note=", ".join(parts),
    )


def rest_files(data: StorageData) -> Size:
    """Return the store's own files (store.json, access records, the audit trail)."""
    return data.usage.other if data.usage is not None else Size()


def usage_rows(rows: list[StorageRow], rest: StorageRow | None) -> tuple[list[dict[str, Any]], str]:
    """Return the usage chart's rows (a bar per experiment, largest first, stacked by kind;
    past CHART_EXPERIMENTS the smaller ones as one bar) and the unit it is drawn in."""
    ordered = sorted(rows, key=lambda r: (-r.total, r.name))
    bars = [(r.name, {k: getattr(r, k) for k in KINDS}) for r in ordered[:CHART_EXPERIMENTS]]
    smaller = ordered[CHART_EXPERIMENTS:]
    if smaller:
        sums = {k: sum(getattr(r, k) for r in smaller) for k in KINDS}
        bars.append((f"{len(smaller):,} smaller experiments", sums))
    if rest is not None:
        bars.append((rest.name, {k: getattr(rest, k) for k in KINDS}))
    largest = max((sum(sizes.values()) for _, sizes in bars), default=0)
    unit, factor = size_unit(largest)
    out = []
    for rank, (name, sizes) in enumerate(bars):
        whole = format_size(sum(sizes.values()))
        for order, kind in enumerate(KINDS):
            out.append(
                {
                    "name": name,
                    "rank": rank,
                    "kind": kind,
                    "order": order,
                    "bytes": sizes[kind],
                    "value": sizes[kind] / factor,
                    "tip": f"{name}: {kind} {format_size(sizes[kind])} of {whole}",
                }
            )
    return out, unit


def growth_rows(
    data: StorageData, names: dict[str, str]
) -> tuple[list[dict[str, Any]], str, GrowthView | None]:
    """Return the growth chart's rows (a point per series and day), its unit and what it says
    in words. A whole-store build draws the store's total and each kind; a restricted one each
    published experiment (up to GROWTH_EXPERIMENTS) and their sum by day."""
    series = [(s, names.get(s.name, s.name)) for s in data.growth if s.days]
    if not data.whole_store:
        series = [(s, label) for s, label in series if s.name in names]
    if not series:
        return [], "B", None
    if data.whole_store:
        main = next((s for s, _ in series if s.name == "total"), None)
        label = "the store"
        totals = dict(zip(main.days, main.values)) if main else {}
    else:
        totals = {}
        for s, _ in series:
            for day, value in zip(s.days, s.values):
                totals[day] = totals.get(day, 0.0) + value
        label = f"these {len(series):,} experiments" if len(series) > 1 else series[0][1]
        if len(series) > 1:
            series = sorted(series, key=lambda sl: -sl[0].values[-1])[:GROWTH_EXPERIMENTS]
    lines: list[tuple[str, list[int], list[float]]] = []
    if not data.whole_store and len(series) > 1:
        days = sorted(totals)
        lines.append((f"total of {label}", days, [totals[d] for d in days]))
    lines += [(lbl, list(s.days), list(s.values)) for s, lbl in series]
    largest = max((v for _, _, values in lines for v in values), default=0.0)
    unit, factor = size_unit(largest)
    out = []
    for rank, (name, days, values) in enumerate(lines):
        for day, value in zip(days, values):
            out.append(
                {
                    "series": name,
                    "rank": rank,
                    "day": day * DAY_MS,
                    "bytes": value,
                    "value": value / factor,
                    "tip": f"{day_text(day)} · {name}: {format_size(value)}",
                }
            )
    view = None
    if totals:
        days = sorted(totals)
        first, last = totals[days[0]], totals[days[-1]]
        change = f"{(last - first) / first:+.0%}" if first > 0 else ""
        view = GrowthView(
            day_text(days[0]), day_text(days[-1]), len(days), int(first), int(last), change, label
        )
    return out, unit, view


def policy_view(data: StorageData, config: BuildConfig) -> PolicyView | None:
    """Return the policy's figure as the page says it (None when no policy is configured)."""
    figure = data.policy
    if figure is None:
        return None
    policy = figure.policy
    where = policy.archive_to or ""
    hidden = bool(where) and config.hide_paths and "://" not in where
    if hidden:
        where = publish.shown_path(where)
    after = config.retention.get("archive_after", "")
    return PolicyView(
        archive_after=after,
        keep=policy.keep or "",
        archive_to=where,
        archive_hidden=hidden,
        runs=len(figure.run_ids),
        bytes=figure.bytes,
        kept=figure.kept,
        running=figure.running,
        problem=figure.problem,
        command="tracker-report archive --policy --dry-run"
        if policy.archive_to
        else "tracker-report archive --policy --to ARCHIVE --dry-run",
    )


def largest_runs(
    data: StorageData, snapshot: StoreSnapshot, slugs: dict[str, str]
) -> list[StorageRun]:
    """Return the largest published runs, largest first, each linked to its page."""
    info: dict[str, tuple[str, str, str]] = {}  # run id -> (name, experiment id, status)
    for exp in snapshot.experiments:
        frame = exp.runs
        if len(frame):
            for run_id, name, status in zip(frame["run_id"], frame["run_name"], frame["status"]):
                info[run_id] = (str(name or run_id), exp.experiment.experiment_id, status)
    names = {e.experiment.experiment_id: e.experiment.name for e in snapshot.experiments}
    ordered = sorted(data.runs.values(), key=lambda r: (-r.total_bytes, r.run_id))
    out = []
    for run in ordered[:LARGEST_RUNS]:
        name, exp_id, status = info[run.run_id]
        out.append(
            StorageRun(
                run=Crumb(name, run_path(run.run_id)),
                experiment=Crumb(names[exp_id], f"experiments/{slugs[exp_id]}/index.html"),
                status=status,
                archived=run.run_id in snapshot.archived or run.archived,
                events=run.events_bytes,
                artifacts=run.artifacts.bytes,
                models=run.models.bytes,
                total=run.total_bytes,
            )
        )
    return out


def storage_page(
    data: StorageData, snapshot: StoreSnapshot, slugs: dict[str, str], config: BuildConfig
) -> Made:
    """Make the storage page."""
    made = Made(warnings=list(data.warnings))
    names = {e.experiment.experiment_id: e.experiment.name for e in snapshot.experiments}
    usage = data.usage
    rows = [
        _row(
            e,
            names[e.experiment_id],
            f"experiments/{slugs[e.experiment_id]}/index.html",
            "usage log" if e.experiment_id == data.growth_experiment else "",
        )
        for e in data.experiments
    ]
    rest = rest_of_store(data, set(names))
    every = rows + ([rest] if rest else [])
    chart, unit = usage_rows(rows, rest)
    growth, growth_unit, growth_view = growth_rows(data, names)
    # the totals count what the rows show: the published experiments, and the rest of the
    # store in a whole-store build
    counted = list(usage.experiments if data.whole_store else data.experiments) if usage else []
    ids = {e.experiment_id for e in counted}
    kinds = {
        "events": total([e.events for e in counted]),
        "artifacts": total([e.artifacts for e in counted]),
        "models": total([e.models for e in counted]),
        "other": total([e.other for e in counted]) + (rest_files(data) if rest else Size()),
    }
    gc = usage.gc if usage is not None else None
    freed = [i for i in gc.items if i.experiment_id in ids] if gc is not None else []
    deleted = [
        r
        for r in (usage.runs if usage else ())
        if r.lifecycle_stage == "deleted" and r.experiment_id in ids
    ]
    lifecycles = usage is not None and usage.lifecycle_read
    log = data.growth_experiment
    context = StoragePageContext(
        measured=usage is not None,
        problem=data.problem,
        whole_store=data.whole_store,
        total=sum(r.total for r in every),
        files=sum(r.files for r in every),
        runs=sum(r.runs for r in every),
        kinds=[(k, kinds[k].bytes, kinds[k].files) for k in KINDS],
        experiments=sorted(rows, key=lambda r: (-r.total, r.name)),
        rest=rest,
        largest=largest_runs(data, snapshot, slugs),
        published_runs=len(data.runs),
        deleted_runs=len(deleted) if lifecycles else None,
        deleted_bytes=sum(r.total_bytes for r in deleted) if lifecycles else None,
        archived_runs=sum(e.archived_runs for e in counted),
        archived_bytes=sum(e.archived.bytes for e in counted),
        gc_bytes=sum(i.size.bytes for i in freed) if gc is not None else None,
        gc_runs=sum(1 for i in freed if i.kind == "run"),
        gc_experiments=sum(1 for i in freed if i.kind == "experiment"),
        gc_age=format_duration(gc.older_than_ms if gc is not None else DEFAULT_GC_AGE_MS),
        compaction_bytes=sum(e.compaction_frees for e in counted),
        policy=policy_view(data, config),
        growth=growth_view,
        usage_chart=json_block(chart),
        growth_chart=json_block(growth or None),
        unit=(unit, growth_unit),
        log_experiment=(
            Crumb(names[log], f"experiments/{slugs[log]}/index.html")
            if log is not None and log in names
            else None
        ),
        runs_filtered=bool(config.runs),
        usage_log_experiment=USAGE_EXPERIMENT,
        shown_experiments=min(len(rows), CHART_EXPERIMENTS),
    )
    info = PageInfo(
        STORAGE_PATH,
        "Storage",
        [Crumb("Experiments", "index.html"), Crumb("Storage", None)],
        "storage",
    )
    made.pages.append(Page("storage.html", info, context))
    return made
