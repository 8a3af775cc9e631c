"""`tracker-report du`: what a store holds, where, and what compaction or gc would free.

It measures from one listing of the store and the footers of its shared event files (see
reporter/store/parquet/usage.py); deleted runs and what gc would free come from the runs'
attribute events, which `--quick` skips. Sizes are decimal (1 GB = 10^9 bytes), as
`metrics.total_gb` is. `--log` records the figures as metrics of one run in a store-usage
experiment, a point a day, so usage is charted and gated like any other metric.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from reporter.commands.options import config_option, experiments_option, store_option, store_uri
from reporter.core.durations import DAY_MS, format_duration, parse_duration
from reporter.core.errors import InvalidArgumentError
from reporter.core.sizes import format_size, parse_size
from reporter.store.usage import KINDS, ExperimentUsage, RunUsage, StoreUsage
from reporter.view.storage import (
    TAG_USAGE,
    TAG_USAGE_VALUE,
    TOTAL_KEY,
    USAGE_EXPERIMENT,
    usage_metric_key,
)

if TYPE_CHECKING:
    from reporter.tracking.client import Client

BY = ("experiment", "run", "kind")
FORMATS = ("table", "json", "csv")
TAG_USAGE_STORE = "reporter.usage.store"  # the store a usage series measured (its URI)
RAW_PARTS_NOTE = 1000  # above this many raw part files, say what the lifecycle read cost


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return parse_duration(value)
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc)) from None


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else parse_size(value)
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc)) from None


# tables --------------------------------------------------------------------------------------
def render_table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Return aligned columns: the first `left` ones left-aligned, the others right-aligned."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        out = [
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def plural(count: int, word: str) -> str:
    """Return "1 run", "2 runs"."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _experiment_rows(usage: StoreUsage) -> list[list[str]]:
    exps = sorted(usage.experiments, key=lambda e: -e.total.bytes)
    rows = [
        [
            e.name if e.name is not None else "(no record)",
            e.experiment_id,
            e.lifecycle_stage or "-",
            _count(e.runs),
            _count(e.deleted_runs),
            _count(e.archived_runs),
            format_size(e.events.bytes),
            format_size(e.artifacts.bytes),
            format_size(e.models.bytes),
            format_size(e.other.bytes),
            format_size(e.total.bytes),
            _count(e.total.files),
        ]
        for e in exps
    ]
    if usage.other.files:
        size = format_size(usage.other.bytes)
        rows.append(
            ["(store files)", "", "", "", "", "", "", "", "", size, size, _count(usage.other.files)]
        )
    return rows


EXPERIMENT_HEADERS = [
    "experiment", "id", "stage", "runs", "deleted", "archived",
    "events", "artifacts", "models", "other", "total", "files",
]  # fmt: skip
RUN_HEADERS = ["run", "experiment", "stage", "events", "artifacts", "models", "other", "total"]


def _run_rows(usage: StoreUsage, runs: list[RunUsage]) -> list[list[str]]:
    names = {e.experiment_id: e.name or e.experiment_id for e in usage.experiments}
    return [
        [
            r.run_id,
            names.get(r.experiment_id, r.experiment_id),
            (r.lifecycle_stage or "-") + (" archived" if r.archived else ""),
            format_size(r.events_bytes),
            format_size(r.artifacts.bytes),
            format_size(r.models.bytes),
            format_size(r.other.bytes),
            format_size(r.total_bytes),
        ]
        for r in runs
    ]


def _largest(usage: StoreUsage, top: int) -> list[RunUsage]:
    return sorted(usage.runs, key=lambda r: (-r.total_bytes, r.run_id))[:top]


def _summary_lines(usage: StoreUsage, older_than: str) -> list[str]:
    """Return the lines about deleted and archived runs, gc, compaction and estimates."""
    lines = []
    deleted_exps = [e for e in usage.experiments if e.lifecycle_stage == "deleted"]
    if usage.lifecycle_read:
        deleted = [r for r in usage.runs if r.lifecycle_stage == "deleted"]
        lines.append(
            f"Deleted: {plural(len(deleted), 'run')} "
            f"({format_size(sum(r.total_bytes for r in deleted))}), "
            f"{plural(len(deleted_exps), 'experiment')} "
            f"({format_size(sum(e.total.bytes for e in deleted_exps))})"
        )
    else:
        lines.append(
            f"Deleted: {plural(len(deleted_exps), 'experiment')}; deleted runs not read (--quick)"
        )
    archived = sum(e.archived.bytes for e in usage.experiments)
    lines.append(
        f"Archived: {plural(usage.archived_runs, 'run')} (their summaries here: "
        f"{format_size(archived)})"
    )
    gc = usage.gc
    if gc is not None:
        what = (
            f"{plural(len(gc.runs), 'run')} and {plural(len(gc.experiments), 'experiment')} "
            f"deleted {older_than}"
        )
        later = f"; {gc.too_recent} deleted more recently" if gc.too_recent else ""
        skipped = f"; {len(gc.skipped)} still logging" if gc.skipped else ""
        lines.append(
            f"gc would free {format_size(gc.freed.bytes)} ({what} or more ago{later}{skipped}): "
            f"tracker-report gc --older-than {older_than}"
        )
    raw = sum(e.raw_parts.files for e in usage.experiments)
    raw_bytes = sum(e.raw_parts.bytes for e in usage.experiments)
    lines.append(
        f"compaction would free about {format_size(usage.compaction_frees)} "
        f"({raw:,} raw part files, {format_size(raw_bytes)}): tracker-report compact"
    )
    lines.append(
        "Per-run event bytes include a share of shared (compacted) files, apportioned by rows"
        + (
            f" (by part count for {usage.shares_by_parts} older files)"
            if usage.shares_by_parts
            else ""
        )
        + "; the compaction figure is an estimate."
    )
    if usage.lifecycle_read and raw > RAW_PARTS_NOTE:
        lines.append(
            f"Note: the deleted-run and gc figures read the {raw:,} raw part files (as a "
            "search does); after `tracker-report compact` they read a few files, and --quick "
            "skips them."
        )
    lines += [f"Note: {n}" for n in usage.notes]
    return lines


def print_table(usage: StoreUsage, by: str, top: int, older_than: str) -> None:
    """Print the usage as aligned text."""
    size = usage.total
    click.echo(
        f"Store {usage.uri}: {format_size(size.bytes)} in {plural(size.files, 'file')}, "
        f"{plural(len(usage.runs), 'run')} ({_when(usage.measured_at)})\n"
    )
    if by == "kind":
        kinds = usage.kinds()
        rows = [
            [k, format_size(kinds[k].bytes), _count(kinds[k].bytes), _count(kinds[k].files)]
            for k in KINDS
        ]
        click.echo(render_table(["kind", "size", "bytes", "files"], rows))
    elif by == "run":
        runs = sorted(usage.runs, key=lambda r: (-r.total_bytes, r.run_id))
        click.echo(render_table(RUN_HEADERS, _run_rows(usage, runs), left=3))
    else:
        click.echo(render_table(EXPERIMENT_HEADERS, _experiment_rows(usage), left=3))
    if by != "run" and top and usage.runs:
        click.echo(f"\nLargest runs ({min(top, len(usage.runs))} of {len(usage.runs):,}):")
        click.echo(render_table(RUN_HEADERS, _run_rows(usage, _largest(usage, top)), left=3))
    click.echo("")
    for line in _summary_lines(usage, older_than):
        click.echo(line)


def csv_rows(usage: StoreUsage, by: str) -> list[dict[str, Any]]:
    """Return one CSV row per experiment, run or kind, every figure in bytes and files."""
    if by == "kind":
        return [{"kind": k, "bytes": s.bytes, "files": s.files} for k, s in usage.kinds().items()]
    if by == "run":
        return [
            {
                "run_id": r.run_id,
                "experiment_id": r.experiment_id,
                "lifecycle_stage": r.lifecycle_stage or "",
                "deleted_time": "" if r.deleted_time is None else r.deleted_time,
                "archived": r.archived,
                "events_bytes": r.events_bytes,
                "event_files": r.event_files,
                "raw_part_files": r.raw_part_files,
                "artifacts_bytes": r.artifacts.bytes,
                "artifacts_files": r.artifacts.files,
                "models_bytes": r.models.bytes,
                "models_files": r.models.files,
                "other_bytes": r.other.bytes,
                "other_files": r.other.files,
                "total_bytes": r.total_bytes,
            }
            for r in usage.runs
        ]
    return [_experiment_csv(e) for e in usage.experiments]


def _experiment_csv(e: ExperimentUsage) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name or "",
        "lifecycle_stage": e.lifecycle_stage or "",
        "runs": e.runs,
        "deleted_runs": "" if e.deleted_runs is None else e.deleted_runs,
        "archived_runs": e.archived_runs,
        "events_bytes": e.events.bytes,
        "events_files": e.events.files,
        "raw_part_bytes": e.raw_parts.bytes,
        "raw_part_files": e.raw_parts.files,
        "artifacts_bytes": e.artifacts.bytes,
        "artifacts_files": e.artifacts.files,
        "models_bytes": e.models.bytes,
        "models_files": e.models.files,
        "other_bytes": e.other.bytes,
        "other_files": e.other.files,
        "total_bytes": e.total.bytes,
        "total_files": e.total.files,
        "compaction_frees_bytes": e.compaction_frees,
    }


CSV_FIELDS = {
    "kind": ["kind", "bytes", "files"],
    "run": list(csv_rows(StoreUsage("", 0, runs=(RunUsage("", ""),)), "run")[0]),
    "experiment": list(_experiment_csv(ExperimentUsage("", None, None))),
}


def print_csv(usage: StoreUsage, by: str) -> None:
    """Print one CSV row per unit of `by`, with a header line."""
    rows = csv_rows(usage, by)
    sink = io.StringIO()
    writer = csv.DictWriter(sink, fieldnames=CSV_FIELDS[by], lineterminator="\n")
    writer.writeheader()  # also when there is no row
    writer.writerows(rows)
    click.echo(sink.getvalue(), nl=False)


# --log ---------------------------------------------------------------------------------------
def usage_metrics(usage: StoreUsage) -> dict[str, float]:
    """Return the metrics `--log` records: totals, kinds, counts, and each experiment's bytes
    as `exp.<name>.bytes` (the names the site's storage page reads: reporter.view.storage)."""
    size = usage.total
    out: dict[str, float] = {
        TOTAL_KEY: size.bytes,
        "total_gb": size.bytes / 1e9,
        "total_files": size.files,
        "experiments": len(usage.experiments),
        "runs": len(usage.runs),
        "archived_runs": usage.archived_runs,
        "raw_part_files": sum(e.raw_parts.files for e in usage.experiments),
        "compaction_frees_bytes": usage.compaction_frees,
    }
    out.update({f"{kind}_bytes": s.bytes for kind, s in usage.kinds().items()})
    if usage.deleted_runs is not None:
        out["deleted_runs"] = usage.deleted_runs
    if usage.gc is not None:
        out["gc_frees_bytes"] = usage.gc.freed.bytes
    for exp in usage.experiments:
        key = usage_metric_key(exp.name or exp.experiment_id)
        out[key] = out.get(key, 0) + exp.total.bytes
    return out


def log_usage(client: Client, usage: StoreUsage, experiment: str) -> tuple[str, int]:
    """Record the usage as metrics at step = days since 1970 of the one run of `experiment`
    tagged reporter.usage = du (made on first use); return the run id and the step."""
    from reporter.core.entities import LifecycleStage, Metric, RunTag

    found = client.get_experiment_by_name(experiment)
    if found is not None and found.lifecycle_stage == LifecycleStage.DELETED:
        raise InvalidArgumentError(
            f"The experiment {experiment!r} that --log writes to is deleted; restore it or give "
            "another --log-experiment"
        )
    exp_id = found.experiment_id if found else client.create_experiment(experiment)
    frame = client.search_runs_frame(
        [exp_id],
        f"tags.{TAG_USAGE} = '{TAG_USAGE_VALUE}'",
        order_by=["start_time DESC"],
        max_results=1,
    )
    day = usage.measured_at // DAY_MS
    metrics = [Metric(k, float(v), usage.measured_at, day) for k, v in usage_metrics(usage).items()]
    tags = [RunTag(TAG_USAGE_STORE, usage.uri)]
    if len(frame):
        run_id = str(frame["run_id"].iloc[0])
        client.log_batch(run_id, metrics=metrics, tags=tags)
        client.flush()
    else:
        tag = {TAG_USAGE: TAG_USAGE_VALUE}
        run_id = client.create_run(exp_id, run_name=experiment, tags=tag).info.run_id
        client.log_batch(run_id, metrics=metrics, tags=tags)
        client.set_terminated(run_id)
    return run_id, day


# the command ---------------------------------------------------------------------------------
@click.command("du")
@store_option
@config_option
@experiments_option("Measure only this experiment")
@click.option("--by", type=click.Choice(BY), default="experiment", show_default=True,
              help="Rows of the table and of CSV: one per experiment, run, or kind of file "
              "(events, artifacts, models, other). JSON holds every figure.")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table",
              show_default=True, help="Aligned text, JSON (every figure), or CSV.")  # fmt: skip
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Largest runs listed under the table.")  # fmt: skip
@click.option("--older-than", "older_than", default="30d", show_default=True,
              callback=_duration, help="Deletion age of the 'gc would free' figure, as for "
              "`tracker-report gc`: 30d, 12h, 2w, 0.")  # fmt: skip
@click.option("--quick", is_flag=True,
              help="Listing and footers only: skip reading the runs' lifecycle events (no "
              "deleted-run, gc or per-run model figures).")  # fmt: skip
@click.option("--log", "log", is_flag=True,
              help="Also record the figures as metrics (step = days since 1970-01-01, UTC) of "
              "one run in the --log-experiment, reused every day.")  # fmt: skip
@click.option("--log-experiment", default=USAGE_EXPERIMENT, show_default=True,
              help="Experiment that --log writes to (made when missing).")  # fmt: skip
@click.option("--fail-if-over", "fail_if_over", metavar="SIZE", callback=_size,
              help="Exit 1 if the measured total exceeds SIZE (after printing and logging). "
              "Example: --fail-if-over 50GB (or 1.5GiB, 500MB).")  # fmt: skip
def du_command(
    store_flag: str | None,
    config_file: str | None,
    experiments: tuple[str, ...],
    by: str,
    output_format: str,
    top: int,
    older_than: int,
    quick: bool,
    log: bool,
    log_experiment: str,
    fail_if_over: int | None,
) -> None:
    """Show what the store holds: bytes and files per experiment, run and kind.

    Also the largest runs, what is deleted or archived, and what `gc` and `compact` would
    free. It costs a listing of the store plus, unless --quick, a read of the runs'
    attribute events. Example:

        tracker-report du --store ./tracker-store --log --fail-if-over 50GB
    """
    from reporter.tracking.client import Client
    from reporter.view.loader import select_experiments

    if log and (experiments or quick):
        raise click.UsageError(
            "--log records the whole store's figures every day: leave out "
            + ("--experiment" if experiments else "--quick")
        )
    uri = store_uri(store_flag, config_file)
    client = Client(uri)
    client.store.require_existing()
    chosen = select_experiments(client.store, experiments) if experiments else None
    ids = None if chosen is None else [e.experiment_id for e in chosen]
    usage = client.store.usage(ids, older_than_ms=older_than, lifecycles=not quick)
    if output_format == "json":
        click.echo(json.dumps(usage.to_dict(), indent=2, ensure_ascii=False))
    elif output_format == "csv":
        print_csv(usage, by)
    else:
        print_table(usage, by, top, format_duration(older_than))
    if log:
        run_id, day = log_usage(client, usage, log_experiment)
        click.echo(f"Logged to run {run_id} of {log_experiment!r}, step {day}", err=True)
    if fail_if_over is not None and usage.total.bytes > fail_if_over:
        held = f"{format_size(usage.total.bytes)} ({usage.total.bytes:,} bytes)"
        limit = format_size(fail_if_over)
        click.echo(
            f"Error: {usage.uri} holds {held}, over the limit {limit} (--fail-if-over)", err=True
        )
        sys.exit(1)  # click.exceptions.Exit would be returned, not raised, by cli.main()
