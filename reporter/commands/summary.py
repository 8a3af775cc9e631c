"""`tracker-report summary`: a Markdown or JSON summary of a store, and a regression gate.

Made for CI: `tracker-report summary >> "$GITHUB_STEP_SUMMARY"` or a pull-request comment.
Per experiment it shows the best run by the primary metric, the newest runs with their key
metrics and, given a baseline (`--baseline RUN_ID` or `--baseline-tag branch=main`), each value's
difference to the baseline, direction-aware. The gates (`--fail-if FILTER`,
`--fail-if-worse-than-baseline METRIC[:TOLERANCE]`) check the candidate runs (`--run`, else
the newest run of each experiment that is not its baseline) and exit 1 when one fails; the
summary is printed either way and the failures go to stderr.

The store is read as the site build reads it (reporter.view.loader.load): deleted runs left
out, the profile's selection applied, secrets masked. Run names, params, tags and metric keys
are untrusted: they are escaped in the Markdown. pandas and reporter.site.* are imported inside
the functions so that `tracker-report --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from reporter.commands.options import config_option, experiments_option, settings, store_option
from reporter.core.errors import InvalidArgumentError, InvalidFilterError, NotFoundError
from reporter.summary.gates import fail_if_checks, worse_checks
from reporter.summary.model import Check, WorseGate, metric_key, parse_worse_gate, summarize
from reporter.summary.render import markdown, to_json

if TYPE_CHECKING:
    pass


FORMATS = ("markdown", "json")


def _check_fail_if(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """Parse each --fail-if filter now: a bad one is a usage error with the parser's message."""
    from reporter.query import filter as run_filter

    for text in value:
        try:
            node = run_filter.parse_filter(text)
        except InvalidFilterError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        if node is None:
            raise click.BadParameter("the filter is empty", ctx=ctx, param=param)
    return value


def _check_worse(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> list[WorseGate]:
    try:
        return [parse_worse_gate(text) for text in value]
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _aliased_runs(store: Any, text: str) -> dict[str, str]:
    """The runs behind the versions an alias names: `champion` (every registered model with
    that alias) or `churn@champion`; NotFoundError naming what exists when none does."""
    from reporter.core.model_registry import check_alias

    model, _, alias = text.rpartition("@")
    check_alias(alias)
    registry = store.model_registry()
    found: dict[str, str] = {}
    for registered in registry.list_models():
        if model and registered.name != model:
            continue
        number = registered.aliases.get(alias)
        if number is None:
            continue
        version = registry.get_version(registered.name, number)
        if version.run_id:
            found[version.run_id] = f"{registered.name}@{alias} (version {number})"
    if not found:
        owner = f"registered model {model!r} has no" if model else "no registered model has a"
        raise NotFoundError(
            f"--baseline-alias {text}: {owner} version aliased {alias!r} made by a run; set "
            "one with MlflowClient().set_registered_model_alias(name, alias, version)"
        )
    return found


def _check_baseline_tag(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, str] | None:
    if value is None:
        return None
    key, equals, tag_value = value.partition("=")
    if not equals or not key.strip():
        raise click.BadParameter(
            f"{value!r} is not KEY=VALUE; example: --baseline-tag branch=main",
            ctx=ctx,
            param=param,
        )
    return key.strip(), tag_value


def _check_metrics(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    if value is None:
        return []
    keys: list[str] = []
    for item in value.split(","):
        key = metric_key(item)
        if key and key not in keys:
            keys.append(key)
    if not keys:
        raise click.BadParameter(
            "no metric given; example: --metrics rmse,mae", ctx=ctx, param=param
        )
    return keys


# the command --------------------------------------------------------------------------------
@click.command("summary")
@store_option
@config_option
@experiments_option("Only this experiment [default: every active experiment]")
@click.option(
    "--baseline",
    "baseline_id",
    metavar="RUN_ID",
    help="Compare with this run (in its experiment). Example: --baseline 3f2a...",
)
@click.option(
    "--baseline-tag",
    callback=_check_baseline_tag,
    metavar="KEY=VALUE",
    help="Compare with the newest run carrying this tag, per experiment. "
    "Example: --baseline-tag branch=main",
)
@click.option(
    "--baseline-alias",
    "baseline_alias",
    metavar="[MODEL@]ALIAS",
    help="Compare with the run behind a registered model's aliased version, per experiment: "
    "ALIAS (every registered model with it) or MODEL@ALIAS. Example: --baseline-alias champion",
)
@click.option(
    "--run",
    "run_ids",
    multiple=True,
    metavar="RUN_ID",
    help="A candidate run to report and gate; repeatable [default: the newest run of each "
    "experiment that is not its baseline].",
)
@click.option(
    "--newest",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How many of the newest runs to list per experiment.",
)
@click.option(
    "--metrics",
    "metric_keys",
    callback=_check_metrics,
    metavar="KEY,...",
    help="Metrics to show [default: the primary metric, then up to 4 others A-Z]. "
    "Example: --metrics rmse,mae",
)
@click.option(
    "--fail-if",
    "fail_if",
    multiple=True,
    callback=_check_fail_if,
    metavar="FILTER",
    help="Exit 1 if a candidate run matches this search_runs filter; repeatable. "
    'Example: --fail-if "metrics.rmse > 0.5"',
)
@click.option(
    "--fail-if-worse-than-baseline",
    "worse_gates",
    multiple=True,
    callback=_check_worse,
    metavar="METRIC[:TOLERANCE]",
    help="Exit 1 if a candidate's METRIC is worse than the baseline's by more than TOLERANCE "
    "(absolute like 0.01, or relative like 2%; default 0); repeatable. Example: rmse:2%",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="markdown",
    show_default=True,
    help="Markdown (for $GITHUB_STEP_SUMMARY or a PR comment) or JSON.",
)
def summary_command(
    store_flag: str | None,
    config_file: str | None,
    experiments: tuple[str, ...],
    baseline_id: str | None,
    baseline_tag: tuple[str, str] | None,
    baseline_alias: str | None,
    run_ids: tuple[str, ...],
    newest: int,
    metric_keys: list[str],
    fail_if: tuple[str, ...],
    worse_gates: list[WorseGate],
    output_format: str,
) -> None:
    """Summarise runs as Markdown or JSON, and gate CI on regressions.

    Prints per experiment the best run by the primary metric and the newest runs, with each
    value's difference to a baseline when one is given. Exits 1 if a gate fails (the summary
    is printed anyway; the failures go to stderr). Example:

        tracker-report summary --baseline-tag branch=main
            --fail-if-worse-than-baseline rmse:2% >> "$GITHUB_STEP_SUMMARY"
    """
    import dataclasses

    from reporter.view.loader import load, open_store

    given = [b for b in (baseline_id, baseline_tag, baseline_alias) if b is not None]
    if len(given) > 1:
        raise click.UsageError("Give one of --baseline, --baseline-tag and --baseline-alias.")
    if worse_gates and not given:
        raise click.UsageError(
            "--fail-if-worse-than-baseline needs a baseline: add --baseline RUN_ID, "
            "--baseline-tag KEY=VALUE (e.g. --baseline-tag branch=main) or --baseline-alias "
            "champion"
        )
    config = settings({"store": store_flag, "experiments": experiments}, config_file)
    store = open_store(config.store)
    # the summary needs no artifact: skip scanning their contents for secrets
    snapshot = load(store, dataclasses.replace(config, artifacts="skip"))
    for note in snapshot.warnings:
        click.echo(f"note: {note}", err=True)

    every_run = {str(r) for data in snapshot.experiments for r in data.runs.get("run_id", [])}
    for run_id in ([baseline_id] if baseline_id else []) + list(run_ids):
        if run_id not in every_run:
            raise NotFoundError(
                f"No run {run_id!r} in the selected experiments of {config.store} (deleted "
                "runs and runs the settings leave out are not summarised)"
            )
    if metric_keys and every_run:
        logged = {
            str(c)[8:]
            for data in snapshot.experiments
            for c in data.runs.columns
            if str(c).startswith("metrics.")
        }
        unknown = [k for k in metric_keys if k not in logged]
        if unknown:
            raise InvalidArgumentError(
                f"No metric {', '.join(map(repr, unknown))} in the selected experiments; "
                f"logged: {', '.join(sorted(logged)) or 'none'}"
            )

    baseline_text = None
    by_alias: dict[str, str] = {}  # run id -> "model@alias (version n)"
    if baseline_id is not None:
        baseline_text = f"run {baseline_id}"
    elif baseline_tag is not None:
        baseline_text = f"the newest run with tag {baseline_tag[0]}={baseline_tag[1]}"
    elif baseline_alias is not None:
        by_alias = _aliased_runs(store, baseline_alias)
        baseline_text = f"the run behind {baseline_alias}"
    exps = []
    for data in snapshot.experiments:
        runs_here = {str(r) for r in data.runs.get("run_id", [])}
        exp_baseline = baseline_id or next((r for r in by_alias if r in runs_here), None)
        exps.append(
            summarize(data, config, metric_keys, newest, exp_baseline, baseline_tag, run_ids)
        )
    if (baseline_id is not None or by_alias) and not run_ids:
        for exp in exps:  # a baseline run is compared with the newest run of its experiment
            if exp.baseline is None:
                exp.candidates = []

    gated = bool(fail_if or worse_gates)
    checks: list[Check] = []
    for exp, data in zip(exps, snapshot.experiments):
        for text in fail_if:
            checks += fail_if_checks(text, exp, data.runs)
        for gate in worse_gates:
            checks += worse_checks(gate, exp, baseline_text or "")
    if gated and not any(exp.candidates for exp in exps):
        checks.append(
            Check(
                "no-candidate",
                "",
                "",
                None,
                False,
                "no candidate run to check (give --run RUN_ID, or log a run besides the baseline)",
            )
        )

    extra = [g.metric for g in worse_gates]
    if output_format == "json":
        click.echo(to_json(exps, baseline_text, baseline_id, baseline_tag, checks, gated, extra))
    else:
        click.echo(markdown(exps, baseline_text, checks, gated), nl=False)
    failed = [c for c in checks if not c.passed]
    if failed:
        click.echo(f"Error: {len(failed)} of {len(checks)} checks failed:", err=True)
        for check in failed:
            click.echo(f"  {check.message}", err=True)
        sys.exit(1)  # click.exceptions.Exit would be returned, not raised, by cli.main()
