"""The `tracker-report` command: option parsing and error -> exit code mapping only."""

from __future__ import annotations

import logging
import sys

import click

from reporter import __version__
from reporter.errors import ReporterError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracker-report")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
def cli(verbose: bool) -> None:
    """Track ML experiments into a Parquet store and publish them as a static site."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@click.option(
    "--store",
    "store_uri",
    envvar="TRACKER_TRACKING_URI",
    default="./tracker-store",
    show_default=True,
    help="Store folder or URL, e.g. ./tracker-store or s3://b/p.",
)
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    help="Compact only this experiment (name or id); repeatable.",
)
def compact(store_uri: str, experiments: tuple[str, ...]) -> None:
    """Merge finished runs' part files into one file per experiment.

    Safe while other processes log to the same store. Example:

        tracker-report compact --store ./tracker-store
    """
    from reporter.client import Client

    client = Client(store_uri)
    client.store.require_existing()
    ids = []
    for name in experiments:
        exp = client.get_experiment_by_name(name)
        ids.append(exp.experiment_id if exp else client.get_experiment(name).experiment_id)
    results = client.compact(ids or None)
    merged = sum(r.parts_merged for r in results)
    click.echo(f"Compacted {merged} part files in {len(results)} experiments of {store_uri}")


def main() -> None:
    """Run the CLI: exit 1 with a message for our errors, 2 for usage errors."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReporterError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)
