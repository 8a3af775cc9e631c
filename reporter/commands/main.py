"""The `tracker-report` command: option parsing and error -> exit code mapping only."""

from __future__ import annotations

import logging
import sys

import click

from reporter.commands.output import progress_reporter
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
    from reporter.tracking.client import Client

    client = Client(store_uri)
    client.store.require_existing()
    ids = []
    for name in experiments:
        exp = client.get_experiment_by_name(name)
        ids.append(exp.experiment_id if exp else client.get_experiment(name).experiment_id)
    results = client.compact(ids or None)
    merged = sum(r.parts_merged for r in results)
    click.echo(f"Compacted {merged} part files in {len(results)} experiments of {store_uri}")


@cli.command()
@click.option(
    "--store",
    "store_uri",
    help="Store folder or URL [default: $TRACKER_TRACKING_URI "
    "or ./tracker-store]. Example: --store ./tracker-store",
)
@click.option("--out", help="Output folder [default: ./site]. Example: --out public")
@click.option("--title", help="Site title shown on every page. Example: --title 'Forecasting'")
@click.option(
    "--base-url",
    help="Public URL of the site; adds canonical links and sitemap.xml. "
    "Example: --base-url https://org.github.io/project/",
)
@click.option(
    "--theme",
    help="Built-in theme name or a theme folder [default: default]. Example: --theme ./my-theme",
)
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    help="Only this experiment (name or id); repeatable. Example: --experiment churn",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Settings file [default: tracker-report.toml, else [tool.tracker-report] in "
    "pyproject.toml]. Example: --config ci/report.toml",
)
@click.option(
    "--max-points",
    type=click.IntRange(min=10),
    help="Points per chart series before downsampling [default: 1000].",
)
@click.option(
    "--artifacts",
    type=click.Choice(["copy", "link", "skip"]),
    help="Copy artifacts into the site, link to the store, or leave them out [default: copy].",
)
@click.option(
    "--profile",
    help="Publication profile: what to leave out of the site [built in: public, internal; more "
    "as [profile.NAME] in the config]. Example: --profile public",
)
@click.option(
    "--max-site-mb",
    type=click.FloatRange(min=0, min_open=True),
    help="Fail (exit 1, nothing written) if the site would be larger, listing the largest "
    "files. Example: --max-site-mb 500",
)
@click.option("--strict", is_flag=True, default=None, help="Fail (exit 1) if there are warnings.")
@click.option(
    "--clean",
    is_flag=True,
    default=None,
    help="Delete files of earlier builds that this build no longer makes.",
)
def build(
    store_uri: str | None,
    out: str | None,
    title: str | None,
    base_url: str | None,
    theme: str | None,
    experiments: tuple[str, ...],
    config_file: str | None,
    max_points: int | None,
    artifacts: str | None,
    profile: str | None,
    max_site_mb: float | None,
    strict: bool | None,
    clean: bool | None,
) -> None:
    """Build the static HTML report site from a store.

    Example: tracker-report build --store ./tracker-store --out site --title "Our models"
    """
    from reporter.site.build import build as run_build
    from reporter.view.config import load_config

    flags = {
        "store": store_uri,
        "out": out,
        "title": title,
        "base_url": base_url,
        "theme": theme,
        "experiments": experiments,
        "max_points": max_points,
        "artifacts": artifacts,
        "profile": profile,
        "max_site_mb": max_site_mb,
        "strict": strict,
        "clean": clean,
    }
    config = load_config(flags, config_file)
    result = run_build(config, progress=progress_reporter())
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(result.summary())
    if result.warnings and config.strict:
        click.echo(f"Error: {len(result.warnings)} warnings and --strict is set", err=True)
        sys.exit(1)


@cli.command()
@click.argument("source")
@click.argument("destination")
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    help="Only this experiment (name or id); repeatable. Example: --experiment churn",
)
def sync(source: str, destination: str, experiments: tuple[str, ...]) -> None:
    """Copy runs from one store into another, skipping what is already there.

    Safe to interrupt and run again; safe while others log to either store. Examples:

        tracker-report sync ./tracker-store s3://team-bucket/store

        tracker-report sync s3://team-bucket/store ./cache --experiment churn
    """
    from reporter.store.registry import open_store
    from reporter.store.sync import sync as run_sync

    ids: set[str] | None = None
    if experiments:
        store = open_store(source)
        store.require_existing()
        every = store.list_experiments()
        ids = set()
        for item in experiments:
            match = [e.experiment_id for e in every if item in (e.name, e.experiment_id)]
            if not match:
                names = ", ".join(sorted(repr(e.name) for e in every)) or "none"
                raise click.BadParameter(
                    f"no experiment {item!r} in {source}; experiments: {names}",
                    param_hint="--experiment",
                )
            ids.update(match)
    report = progress_reporter()
    result = run_sync(source, destination, ids, lambda done, total: report("files", done, total))
    for path in result.refused:
        click.echo(f"warning: not copied: {path!r} would leave {destination}", err=True)
    click.echo(
        f"Copied {result.copied} files ({result.bytes / 1e6:.1f} MB), skipped "
        f"{result.skipped} already there, {len(result.experiments)} experiments: "
        f"{source} -> {destination}"
    )


def _register() -> None:
    """Add the commands that live in their own modules."""
    from reporter.commands.import_mlflow import import_group
    from reporter.commands.listing import experiments_command, runs_command
    from reporter.commands.serve import serve_command
    from reporter.commands.summary import summary_command

    for command in (
        experiments_command,
        runs_command,
        summary_command,
        serve_command,
        import_group,
    ):
        cli.add_command(command)


_register()


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
    except OSError as exc:  # a path that cannot be made or written, a full disk, ...
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)
