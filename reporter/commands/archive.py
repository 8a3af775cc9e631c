"""`tracker-report archive` and `restore`: move finished runs to an archive store and back."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from reporter.commands.options import config_option, experiments_option, settings, store_option

FORMATS = click.Choice(["table", "json"])


def _report_lines(report: Any, verb: str, would: str) -> list[str]:
    """Return the human summary of an ArchiveReport."""
    from reporter.view.text import counted, fmt_size

    lines = []
    for move in report.moved:
        lines.append(
            f"  {move.run_id}  {counted(move.event_rows, 'event')}, "
            f"{counted(move.artifact_files, 'artifact')} ({fmt_size(move.artifact_bytes)})"
        )
    moved = sum(m.event_bytes + m.artifact_bytes for m in report.moved)
    head = would if report.dry_run else verb
    lines.append(
        f"{head} {counted(len(report.moved), 'run')} ({fmt_size(moved)}) "
        f"{'to' if verb == 'Archived' else 'from'} {report.location}"
    )
    if report.finished:
        state = "would be finished" if report.dry_run else "finished"
        lines.append(
            f"{counted(len(report.finished), 'run')} left half-archived by an interrupted pass "
            f"{state}"
        )
    if verb == "Archived" and not report.dry_run:
        lines.append(f"Freed {fmt_size(report.freed_bytes)} in the store")
    return lines


def _skipped(report: Any) -> None:
    """Print why runs were left as they were (already-archived runs as one count)."""
    already = [r for r, why in report.skipped if why.startswith("already archived")]
    for run_id, why in report.skipped:
        if not why.startswith("already archived"):
            click.echo(f"skipped {run_id}: {why}", err=True)
    if already:
        click.echo(f"{len(already):,} selected runs were archived already", err=True)


def _as_json(report: Any) -> str:
    import dataclasses

    return json.dumps(dataclasses.asdict(report), indent=2)


@click.command("archive")
@store_option
@config_option
@click.option(
    "--to",
    "to_uri",
    help="Archive store: a folder or URL (s3://bucket/archive) "
    "[default: archive_to of [retention] with --policy].",
)
@click.option("--older-than", help="Runs that ended at least this long ago: 180d, 12w, 36h.")
@click.option(
    "--filter",
    "filter_string",
    help="A search_runs filter: only the runs it selects. "
    "Example: --filter \"tags.stage = 'scratch'\"",
)
@experiments_option("Archive only runs of this experiment")
@click.option(
    "--policy",
    is_flag=True,
    help="Apply the [retention] table of the settings "
    "(archive_after, keep, archive_to); flags given override it.",
)
@click.option("--dry-run", is_flag=True, help="Print what would move; change nothing.")
@click.option("--format", "output_format", type=FORMATS, default="table", show_default=True)
def archive_command(
    store_flag: str | None,
    config_file: str | None,
    to_uri: str | None,
    older_than: str | None,
    filter_string: str | None,
    experiments: tuple[str, ...],
    policy: bool,
    dry_run: bool,
    output_format: str,
) -> None:
    """Move finished runs (events and artifacts) to an archive store.

    Every byte is read back from the archive and checked (sizes and SHA-256) before anything
    is removed here; each archived run stays listed, in the site and in search_runs, with its
    params, tags and latest metrics, and the tag reporter.archive.location says where it went.
    Running runs, and runs the [retention] keep rule selects, are never archived. Safe to
    interrupt: run it again to finish. Example:

        tracker-report archive --to s3://ml-archive/team --older-than 180d --dry-run
    """
    from reporter.core.durations import parse_duration
    from reporter.core.errors import InvalidArgumentError
    from reporter.tracking.client import Client
    from reporter.view.retention import select_runs

    config = settings({"store": store_flag}, config_file)
    rules = config.retention_policy() if (policy or config.retention) else None
    if policy and (rules is None or not config.retention):
        raise InvalidArgumentError(
            "--policy needs a [retention] table in the settings file (tracker-report.toml), "
            'e.g. archive_after = "180d", keep = "tags.keep = \'true\'", archive_to = "s3://..."'
        )
    target = to_uri or (rules.archive_to if policy and rules else None)
    if not target:
        raise click.UsageError(
            "Say where to: --to URI (or archive_to in [retention] with --policy)"
        )
    age = parse_duration(older_than) if older_than else None
    if age is None and policy and rules:
        age = rules.archive_after_ms
    if age is None and not filter_string:
        raise click.UsageError('Choose which runs: --older-than 180d, --filter "...", or --policy')
    client = Client(str(config.store))
    client.store.require_existing()
    chosen = select_runs(
        client.store,
        experiments=experiments,
        filter_string=filter_string,
        older_than_ms=age,
        keep=rules.keep if rules else None,
    )
    ids = [*chosen.run_ids, *chosen.archived]
    report = client.store.archive_runs(ids, target, dry_run=dry_run)
    if output_format == "json":
        click.echo(_as_json(report))
    else:
        for line in _report_lines(report, "Archived", "Would archive"):
            click.echo(line)
    if chosen.kept:
        click.echo(f"{chosen.kept:,} matching runs kept by the keep rule", err=True)
    if chosen.running:
        click.echo(f"{chosen.running:,} matching runs still running: never archived", err=True)
    _skipped(report)


@click.command("restore")
@click.argument("run_ids", nargs=-1)
@store_option
@config_option
@click.option("--from", "from_uri", required=True, help="The archive store the runs went to.")
@click.option(
    "--filter",
    "filter_string",
    help="A search_runs filter over the archive's runs "
    "instead of run ids. Example: --filter \"params.model = 'xgb'\"",
)
@experiments_option("Restore only runs of this experiment (with --filter)")
@click.option("--format", "output_format", type=FORMATS, default="table", show_default=True)
def restore_command(
    run_ids: tuple[str, ...],
    store_flag: str | None,
    config_file: str | None,
    from_uri: str,
    filter_string: str | None,
    experiments: tuple[str, ...],
    output_format: str,
) -> None:
    """Bring archived runs back exactly as they were (the same events, byte-identical
    artifacts, each checked against the archive's SHA-256). The archive keeps its copy.
    Safe to interrupt: run it again to finish. Example:

        tracker-report restore 1c6fdfe6853640d096983263fcbfa4fb --from s3://ml-archive/team
    """
    from reporter.tracking.client import Client
    from reporter.view.retention import select_runs

    if bool(run_ids) == bool(filter_string):
        raise click.UsageError("Give run ids or --filter (one of the two)")
    config = settings({"store": store_flag}, config_file)
    client = Client(str(config.store))
    client.store.require_existing()
    ids = list(run_ids)
    if filter_string:
        archived = Client(from_uri)
        archived.store.require_existing()
        ids = select_runs(
            archived.store, experiments=experiments, filter_string=filter_string
        ).run_ids
    report = client.store.restore_runs(ids, from_uri)
    if output_format == "json":
        click.echo(_as_json(report))
    else:
        for line in _report_lines(report, "Restored", "Would restore"):
            click.echo(line)
    _skipped(report)
    if any(not why.startswith("it is not archived") for _, why in report.skipped):
        sys.exit(1)  # a run the archive does not hold (click's Exit would be returned, not raised)
