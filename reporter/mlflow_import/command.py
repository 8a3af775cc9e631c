"""`tracker-report import mlflow SOURCE`: the click command over the importer."""

from __future__ import annotations

import sys
import warnings

import click

from reporter.mlflow_import.importer import MlflowImportWarning, SourceChoiceError, import_mlflow


@click.group("import")
def import_group() -> None:
    """Import runs from another tracker into the store."""


@import_group.command("mlflow")
@click.argument("source")
@click.option(
    "--store",
    "store_uri",
    envvar="TRACKER_TRACKING_URI",
    default="./tracker-store",
    show_default=True,
    help="Store folder or URL to import into, e.g. ./tracker-store or s3://b/p.",
)
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    help="Only this experiment (name or id); repeatable. Example: --experiment churn",
)
@click.option("--no-artifacts", is_flag=True, help="Import runs but not their artifact files.")
def mlflow_command(
    source: str, store_uri: str, experiments: tuple[str, ...], no_artifacts: bool
) -> None:
    """Import experiments, runs, metric histories and artifacts from MLflow.

    SOURCE is an MLflow file store folder, an MLflow SQLite database or the URL of a
    tracking server; MLflow itself is not needed. Running it again imports only what is new or
    changed, so it is safe to interrupt and re-run. Examples:

        tracker-report import mlflow ./mlruns

        tracker-report import mlflow sqlite:///mlflow.db --experiment churn

        tracker-report import mlflow http://127.0.0.1:5000 --store s3://team/tracker
    """
    from reporter.cli import _progress

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MlflowImportWarning)
        try:
            summary = import_mlflow(
                source, store_uri, experiments, artifacts=not no_artifacts, progress=_progress()
            )
        except SourceChoiceError as exc:
            raise click.UsageError(str(exc)) from None
    for item in caught:
        if not issubclass(item.category, MlflowImportWarning):
            click.echo(f"warning: {item.message}", err=True)
    for line in summary.lines():
        click.echo(line)
    if summary.skipped:
        click.echo(f"{len(summary.skipped)} items were skipped (listed above).", err=True)
    sys.stdout.flush()
