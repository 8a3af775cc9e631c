"""The `tracker-report` command: option parsing and error -> exit code mapping only."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from reporter.core.errors import ReporterError
from reporter.core.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracker-report")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
def cli(verbose: bool) -> None:
    """Track ML experiments into a Parquet store and publish them as a static site."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    """Add the commands that live in their own modules."""
    from reporter.commands.access import audit_command, grants_group, users_group
    from reporter.commands.archive import archive_command, restore_command
    from reporter.commands.build import build_command
    from reporter.commands.compact import compact_command
    from reporter.commands.du import du_command
    from reporter.commands.gc import gc_command
    from reporter.commands.import_mlflow import import_group
    from reporter.commands.listing import experiments_command, runs_command
    from reporter.commands.serve import serve_command
    from reporter.commands.server import server_command
    from reporter.commands.summary import summary_command
    from reporter.commands.sync import sync_command

    for command in (
        build_command,
        compact_command,
        du_command,
        gc_command,
        sync_command,
        experiments_command,
        runs_command,
        summary_command,
        serve_command,
        server_command,
        import_group,
        users_group,
        grants_group,
        audit_command,
        archive_command,
        restore_command,
    ):
        cli.add_command(command)


_register()


def run(args: Sequence[str] | None = None) -> int:
    """Run the CLI on args (default: the command line); return the exit code: 1 with a message
    for our errors, 2 for usage errors. The only place errors become exit codes."""
    try:
        cli.main(args=None if args is None else list(args), standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ReporterError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except OSError as exc:  # a path that cannot be made or written, a full disk, ...
        click.echo(f"Error: {exc}", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


def main() -> None:
    """The `tracker-report` entry point."""
    sys.exit(run())
