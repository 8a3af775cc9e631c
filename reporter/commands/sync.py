"""`tracker-report sync`: copy one store into another."""

from __future__ import annotations

import click

from reporter.commands.options import experiments_option


@click.command("sync")
@click.argument("source")
@click.argument("destination")
@experiments_option("Only this experiment")
def sync_command(source: str, destination: str, experiments: tuple[str, ...]) -> None:
    """Copy runs from one store into another, skipping what is already there.

    Safe to interrupt and run again; safe while others log to either store. Examples:

        tracker-report sync ./tracker-store s3://team-bucket/store

        tracker-report sync s3://team-bucket/store ./cache --experiment churn
    """
    from reporter.commands.output import progress_reporter
    from reporter.store.sync import sync as run_sync
    from reporter.view.loader import open_store, select_experiments

    ids: set[str] | None = None
    if experiments:
        ids = {e.experiment_id for e in select_experiments(open_store(source), experiments)}
    report = progress_reporter()
    result = run_sync(source, destination, ids, lambda done, total: report("files", done, total))
    for path in result.refused:
        click.echo(f"warning: not copied: {path!r} would leave {destination}", err=True)
    for path in result.conflicts:
        click.echo(
            f"warning: not copied: {path!r}: {destination} holds another registered model (or "
            "version) under that name and number; the destination's is kept",
            err=True,
        )
    click.echo(
        f"Copied {result.copied} files ({result.bytes / 1e6:.1f} MB), skipped "
        f"{result.skipped} already there, {len(result.experiments)} experiments: "
        f"{source} -> {destination}"
    )
