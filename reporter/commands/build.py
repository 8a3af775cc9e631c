"""`tracker-report build`: the static report site."""

from __future__ import annotations

import sys

import click

from reporter.commands.options import (
    config_option,
    experiments_option,
    profile_option,
    settings,
    store_option,
)


@click.command("build")
@store_option
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
@experiments_option("Only this experiment")
@config_option
@click.option(
    "--max-points",
    type=click.IntRange(min=10),
    help="Points per chart series before downsampling [default: 500].",
)
@click.option(
    "--artifacts",
    type=click.Choice(["copy", "link", "skip"]),
    help="Copy artifacts into the site, link to the store, or leave them out [default: copy].",
)
@profile_option
@click.option(
    "--max-site-mb",
    type=click.FloatRange(min=0, min_open=True),
    help="Fail (exit 1, nothing written) if the site would be larger, listing the largest "
    "files. Example: --max-site-mb 500",
)
@click.option(
    "--full-series",
    type=click.Choice(["auto", "always", "never"]),
    help="Full-resolution CSV downloads of series the charts thin: auto leaves them out when "
    "they would take the site over site_limit_mb (1,000 MB, GitHub Pages' limit) "
    "[default: auto].",
)
@click.option(
    "--batch-points",
    type=click.IntRange(min=1000),
    help="Metric points read at once: the build's memory follows it [default: 1,000,000].",
)
@click.option(
    "--page-workers",
    type=click.IntRange(0, 64),
    help="Worker processes beside the build for experiments of more than a batch; 0: the "
    "build alone [default: 1 on two cores or more].",
)
@click.option("--strict", is_flag=True, default=None, help="Fail (exit 1) if there are warnings.")
@click.option(
    "--clean",
    is_flag=True,
    default=None,
    help="Delete files of earlier builds that this build no longer makes.",
)
def build_command(
    store_flag: str | None,
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
    full_series: str | None,
    batch_points: int | None,
    page_workers: int | None,
    strict: bool | None,
    clean: bool | None,
) -> None:
    """Build the static HTML report site from a store.

    Example: tracker-report build --store ./tracker-store --out site --title "Our models"
    """
    from reporter.commands.output import progress_reporter
    from reporter.site.build import build as run_build

    flags = {
        "store": store_flag,
        "out": out,
        "title": title,
        "base_url": base_url,
        "theme": theme,
        "experiments": experiments,
        "max_points": max_points,
        "artifacts": artifacts,
        "profile": profile,
        "max_site_mb": max_site_mb,
        "full_series": full_series,
        "batch_points": batch_points,
        "page_workers": page_workers,
        "strict": strict,
        "clean": clean,
    }
    config = settings(flags, config_file)
    said: list[str] = []  # warnings shown before the site was written

    def notice(message: str) -> None:
        said.append(message)
        click.echo(f"warning: {message}", err=True)

    result = run_build(config, progress=progress_reporter(), notice=notice)
    for warning in result.warnings:
        if warning not in said:
            click.echo(f"warning: {warning}", err=True)
    click.echo(result.summary())
    if result.warnings and config.strict:
        click.echo(f"Error: {len(result.warnings)} warnings and --strict is set", err=True)
        sys.exit(1)
