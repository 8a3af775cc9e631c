"""`tracker-report gc`: remove for good the runs and experiments deleted long enough ago.

MLflow's `mlflow gc`, with its option names where they apply (`--older-than`, `--run-ids`,
`--experiment-ids`, `--backend-store-uri` as another name of `--store`), and two differences
that make it harder to lose data by accident: `--older-than` defaults to 30d when no ids are
named (MLflow's default removes every deleted run at once), and naming ids restricts gc to
them (MLflow also removes every other deleted run or experiment then). The ordering that makes
a kill -9 safe at any moment is in reporter/store/parquet/gc.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from reporter.commands.du import plural
from reporter.commands.options import config_option, store_option, store_uri
from reporter.core.durations import format_duration, parse_duration
from reporter.core.errors import InvalidArgumentError
from reporter.core.sizes import format_size
from reporter.store.usage import DEFAULT_GC_AGE_MS, GcItem, GcReport


def _ids(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """Split MLflow's comma-separated id lists."""
    if value is None:
        return None
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        raise click.BadParameter("give one or more ids separated by commas, e.g. 'a1b2,c3d4'")
    return ids


def _when(ms: int | None) -> str:
    if ms is None:
        return "at an unknown time"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _item_line(item: GcItem, verb: str) -> str:
    size = f"{format_size(item.size.bytes)} in {item.size.files:,} files"
    if item.kind == "experiment":
        name = repr(item.name) if item.name is not None else "(left by an interrupted gc)"
        return (
            f"{verb} experiment {name} ({item.id}), deleted {_when(item.deleted_time)}, "
            f"with {plural(item.runs, 'run')}: {size}"
        )
    name = f"{item.name!r} " if item.name else ""
    return (
        f"{verb} run {name}({item.id}, experiment {item.experiment_id}), deleted "
        f"{_when(item.deleted_time)}: {size}"
    )


def print_report(report: GcReport) -> None:
    """Print each run and experiment removed (or that would be), what was left, a total."""
    verb = "Would remove" if report.dry_run else "Removed"
    for item in (*report.experiments, *report.runs):
        click.echo(_item_line(item, verb))
    for item_id, why in report.skipped:
        click.echo(f"Skipped {item_id}: {why}")
    age = format_duration(report.older_than_ms)
    later = (
        f"; {report.too_recent} deleted less than {age} ago left for later"
        if report.too_recent
        else ""
    )
    if not report.items:
        young = f"; {plural(report.too_recent, 'deletion')} younger than {age} left for later"
        click.echo(
            f"Nothing to remove in {report.uri}: nothing was deleted {age} or more ago"
            + (young if report.too_recent else "")
        )
        return
    freed = report.freed
    click.echo(
        f"Total: {'would free' if report.dry_run else 'freed'} {format_size(freed.bytes)} "
        f"({freed.bytes:,} bytes) in {plural(freed.files, 'file')}: "
        f"{plural(len(report.runs), 'run')}, {plural(len(report.experiments), 'experiment')}, "
        f"from {report.uri}{later}"
    )


@click.command("gc")
@store_option
@click.option("--backend-store-uri", "backend_store_uri", metavar="URI",
              help="MLflow's name of --store.")  # fmt: skip
@config_option
@click.option("--older-than", "older_than", metavar="DURATION",
              help="Remove what was deleted at least this long ago: 30d, 12h, 90m, 45s, 2w, "
              "1d12h, or 0 [default: 30d; 0 when --run-ids or --experiment-ids name what to "
              "remove].")  # fmt: skip
@click.option("--experiment-ids", "experiment_ids", metavar="ID,...", callback=_ids,
              help="Remove only these deleted experiments (comma-separated ids), with every "
              "run and model they hold.")  # fmt: skip
@click.option("--run-ids", "run_ids", metavar="ID,...", callback=_ids,
              help="Remove only these deleted runs (comma-separated ids).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds to let compactions already under way finish, before removing "
              "runs' events (longer for stores whose compactions take longer).")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(("table", "json")),
              default="table", show_default=True, help="Lines of text, or JSON.")  # fmt: skip
def gc_command(
    store_flag: str | None,
    backend_store_uri: str | None,
    config_file: str | None,
    older_than: str | None,
    experiment_ids: list[str] | None,
    run_ids: list[str] | None,
    dry_run: bool,
    wait_s: float,
    output_format: str,
) -> None:
    """Remove for good the runs and experiments deleted at least --older-than ago.

    With their artifacts, logged models, records and edits; nothing else. A run is deleted
    by `delete_run` (its lifecycle stage), an experiment by `delete_experiment`. Safe while
    others log to the store; a killed gc leaves every run readable and a rerun finishes it.
    Examples:

        tracker-report gc --dry-run

        tracker-report gc --older-than 7d --store s3://bucket/team-store
    """
    from reporter.tracking.client import Client

    if store_flag and backend_store_uri and store_flag != backend_store_uri:
        raise click.UsageError("Give --store or --backend-store-uri (its MLflow name), not both.")
    named = experiment_ids is not None or run_ids is not None
    try:
        if older_than is not None:
            age = parse_duration(older_than)
        else:
            age = 0 if named else DEFAULT_GC_AGE_MS
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint="'--older-than'") from None
    uri = store_uri(store_flag or backend_store_uri, config_file)
    client = Client(uri)
    client.store.require_existing()
    report = client.store.collect_garbage(
        age, dry_run=dry_run, experiment_ids=experiment_ids, run_ids=run_ids, wait_s=wait_s
    )
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_report(report)
