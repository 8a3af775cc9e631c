"""`tracker-report compact`: merge finished runs' part files."""

from __future__ import annotations

import click

from reporter.commands.options import config_option, experiments_option, store_option, store_uri


@click.command("compact")
@store_option
@config_option
@experiments_option("Compact only this experiment")
def compact_command(
    store_flag: str | None, config_file: str | None, experiments: tuple[str, ...]
) -> None:
    """Merge finished runs' part files into one file per experiment.

    Safe while other processes log to the same store. Example:

        tracker-report compact --store ./tracker-store
    """
    from reporter.tracking.client import Client
    from reporter.view.loader import select_experiments

    uri = store_uri(store_flag, config_file)
    client = Client(uri)
    client.store.require_existing()
    chosen = select_experiments(client.store, experiments) if experiments else []
    results = client.compact([e.experiment_id for e in chosen] or None)
    merged = sum(r.parts_merged for r in results)
    click.echo(f"Compacted {merged} part files in {len(results)} experiments of {uri}")
