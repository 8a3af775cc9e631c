"""`tracker-report import mlflow SOURCE`: the click command over the importer."""

from __future__ import annotations

import sys
import warnings

import click

from reporter.commands.options import config_option, experiments_option, store_option, store_uri
from reporter.importers.mlflow.importer import (
    ImportSummary,
    MlflowImportWarning,
    SourceChoiceError,
    import_mlflow,
)


@click.group("import")
def import_group() -> None:
    """Import runs from another tracker into the store."""


@import_group.command("mlflow")
@click.argument("source")
@store_option
@config_option
@experiments_option("Only this experiment of the source")
@click.option("--no-artifacts", is_flag=True, help="Import runs but not their artifact files.")
@click.option(
    "--artifacts-root",
    "artifact_roots",
    multiple=True,
    help="Also read artifacts recorded under this folder (a local source reads only inside its "
    "own folder otherwise); repeatable. Example: --artifacts-root /data/mlartifacts",
)
def mlflow_command(
    source: str,
    store_flag: str | None,
    config_file: str | None,
    experiments: tuple[str, ...],
    no_artifacts: bool,
    artifact_roots: tuple[str, ...],
) -> None:
    """Import experiments, runs, metric histories, artifacts and the model registry from MLflow.

    SOURCE is an MLflow file store folder, an MLflow SQLite database or the URL of a
    tracking server; MLflow itself is not needed. Running it again imports only what is new or
    changed, so it is safe to interrupt and re-run. Examples:

    \b
        tracker-report import mlflow ./mlruns
        tracker-report import mlflow sqlite:///mlflow.db --experiment churn
        tracker-report import mlflow http://127.0.0.1:5000 --store s3://team/tracker
    """
    from reporter.commands.output import progress_reporter

    summary: ImportSummary | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MlflowImportWarning)
        try:
            summary = import_mlflow(
                source,
                store_uri(store_flag, config_file),
                experiments,
                artifacts=not no_artifacts,
                artifact_roots=artifact_roots,
                progress=progress_reporter(),
            )
        except SourceChoiceError as exc:
            raise click.UsageError(str(exc)) from None
        finally:  # what was skipped before an error or Ctrl-C is still worth saying
            for item in caught:
                if summary is None or not issubclass(item.category, MlflowImportWarning):
                    click.echo(f"warning: {item.message}", err=True)
    for line in summary.lines():
        click.echo(line)
    if summary.skipped:
        click.echo(f"{len(summary.skipped)} items were skipped (listed above).", err=True)
    sys.stdout.flush()
