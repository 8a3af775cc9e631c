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

import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from reporter.commands.options import config_option, experiments_option, settings, store_option
from reporter.core.errors import InvalidArgumentError, InvalidFilterError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from reporter.query.filter import Node
    from reporter.view.config import BuildConfig
    from reporter.view.loader import ExperimentData

FORMATS = ("markdown", "json")
OTHER_METRICS = 4  # shown besides the primary metric when --metrics is not given
_TOLERANCE = re.compile(r"^\s*(?P<number>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<pct>%?)\s*$")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|#~!])")


# parsed options ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerance:
    """How much worse than the baseline a metric may be: absolute, or relative (percent)."""

    amount: float
    relative: bool
    text: str

    def allowed(self, baseline: float) -> float:
        """Return the largest allowed worsening for a baseline value."""
        return self.amount / 100 * abs(baseline) if self.relative else self.amount


@dataclass(frozen=True)
class WorseGate:
    """`--fail-if-worse-than-baseline METRIC[:TOLERANCE]`."""

    metric: str
    tolerance: Tolerance
    text: str


def parse_tolerance(text: str) -> Tolerance:
    """Parse `0.01` (absolute) or `2%` (relative to the baseline's value)."""
    match = _TOLERANCE.match(text)
    if not match:
        raise InvalidArgumentError(
            f"tolerance {text!r} is not valid; give a number like 0.01 (absolute) or a "
            "percentage like 2% (relative to the baseline's value)"
        )
    return Tolerance(float(match["number"]), bool(match["pct"]), text.strip())


def parse_worse_gate(text: str) -> WorseGate:
    """Parse `rmse`, `rmse:0.01` or `rmse:2%` (the tolerance follows the last colon)."""
    metric, colon, tolerance = text.rpartition(":")
    if not colon:
        metric, tolerance = text, "0"
    metric = _metric_key(metric)
    if not metric:
        raise InvalidArgumentError(f"{text!r} names no metric; example: rmse:2%")
    return WorseGate(metric, parse_tolerance(tolerance), text)


def _metric_key(text: str) -> str:
    """Return a metric key given as `rmse`, `metrics.rmse` or `metric.rmse`."""
    text = text.strip()
    for prefix in ("metrics.", "metric."):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


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
        key = _metric_key(item)
        if key and key not in keys:
            keys.append(key)
    if not keys:
        raise click.BadParameter(
            "no metric given; example: --metrics rmse,mae", ctx=ctx, param=param
        )
    return keys


# the summary model -------------------------------------------------------------------------
@dataclass
class RunInfo:
    """What the summary shows of a run."""

    run_id: str
    name: str
    status: str
    start_time: float | None
    end_time: float | None
    metrics: dict[str, float]
    record: dict[str, Any]  # the run's row of the runs frame

    def label(self) -> str:
        """Return `'name' (id)` for messages."""
        return f"{self.name!r} ({self.run_id})"

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_name": self.name,
            "status": self.status,
            "start_time": _int_or_none(self.start_time),
            "end_time": _int_or_none(self.end_time),
            "metrics": {k: _json_number(v) for k, v in sorted(self.metrics.items())},
        }


@dataclass
class Difference:
    """A run's value of a metric against the baseline's."""

    metric: str
    value: float | None
    baseline: float | None
    lower_is_better: bool

    @property
    def delta(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        if not (math.isfinite(self.value) and math.isfinite(self.baseline)):
            return None
        return self.value - self.baseline

    @property
    def relative(self) -> float | None:
        delta = self.delta
        if delta is None or self.baseline in (None, 0):
            return None
        return delta / abs(self.baseline or 1.0)

    @property
    def verdict(self) -> str | None:
        """Return better, worse or same; None when either value is missing or not finite."""
        delta = self.delta
        if delta is None:
            return None
        if delta == 0:
            return "same"
        return "better" if (delta < 0) == self.lower_is_better else "worse"

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _json_number(self.value),
            "baseline": _json_number(self.baseline),
            "difference": _json_number(self.delta),
            "relative": _json_number(self.relative),
            "verdict": self.verdict,
        }


@dataclass
class Check:
    """The result of one gate on one candidate run."""

    kind: str  # fail-if, worse-than-baseline
    condition: str
    experiment: str
    run: RunInfo | None
    passed: bool
    message: str
    values: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.kind,
            "condition": self.condition,
            "experiment": self.experiment,
            "run_id": self.run.run_id if self.run else None,
            "run_name": self.run.name if self.run else None,
            "passed": self.passed,
            "message": self.message,
            "values": {
                k: _json_number(v) if isinstance(v, float) else v for k, v in self.values.items()
            },
        }


@dataclass
class ExperimentSummary:
    """One experiment's part of the summary."""

    name: str
    experiment_id: str
    runs: list[RunInfo]  # newest first
    primary_metric: str | None
    metrics: list[str]  # shown, primary first
    directions: dict[str, bool]  # metric -> lower is better
    best: RunInfo | None
    baseline: RunInfo | None
    candidates: list[RunInfo]
    newest: list[RunInfo]

    def differences(self, run: RunInfo, extra: list[str] | None = None) -> dict[str, Difference]:
        """Return a run's differences to the baseline for the shown metrics (and extra)."""
        if self.baseline is None:
            return {}
        keys = self.metrics + [k for k in extra or [] if k not in self.metrics]
        return {
            k: Difference(
                k, run.metrics.get(k), self.baseline.metrics.get(k), self.directions.get(k, False)
            )
            for k in keys
        }


# reading ------------------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    """Return a float, or None for a missing value (NaN in a float64 column is missing)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _int_or_none(value: float | None) -> int | None:
    return None if value is None or not math.isfinite(value) else int(value)


def _json_number(value: Any) -> Any:
    """Return a JSON value: NaN as None, infinities as "inf" / "-inf" (JSON has neither)."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def _runs(frame: pd.DataFrame) -> list[RunInfo]:
    """Return the runs of a frame, newest (by start time) first."""
    if frame.empty:
        return []
    runs = []
    for raw in frame.to_dict("records"):
        record = {str(k): v for k, v in raw.items()}
        metrics = {
            key[8:]: float(value)
            for key, value in record.items()
            if key.startswith("metrics.") and _number(value) is not None
        }
        name = record.get("run_name")
        runs.append(
            RunInfo(
                run_id=str(record["run_id"]),
                name=str(name) if isinstance(name, str) and name else str(record["run_id"]),
                status=str(record.get("status") or ""),
                start_time=_number(record.get("start_time")),
                end_time=_number(record.get("end_time")),
                metrics=metrics,
                record=record,
            )
        )
    runs.sort(key=lambda r: r.run_id)
    runs.sort(key=lambda r: -math.inf if r.start_time is None else r.start_time, reverse=True)
    return runs


def _find_baseline(
    runs: list[RunInfo], baseline_id: str | None, baseline_tag: tuple[str, str] | None
) -> RunInfo | None:
    """Return the experiment's baseline run: the given id, or the newest run with the tag."""
    if baseline_id is not None:
        return next((r for r in runs if r.run_id == baseline_id), None)
    if baseline_tag is not None:
        key, value = baseline_tag
        return next((r for r in runs if r.record.get(f"tags.{key}") == value), None)
    return None


def _summarize(
    data: ExperimentData,
    config: BuildConfig,
    metrics: list[str],
    newest: int,
    baseline_id: str | None,
    baseline_tag: tuple[str, str] | None,
    run_ids: tuple[str, ...],
) -> ExperimentSummary:
    from reporter.view import ranking

    runs = _runs(data.runs)
    primary = ranking.primary_metric(data, config) if runs else None
    logged = sorted({k for r in runs for k in r.metrics})
    if metrics:
        shown = list(metrics)
    else:
        others = [k for k in logged if k != primary][:OTHER_METRICS]
        shown = ([primary] if primary else []) + others
    best = None
    if primary and any(primary in r.metrics for r in runs):
        best_id = ranking.ranked_runs(data.runs, primary, config)[0]
        best = next(r for r in runs if r.run_id == best_id)
    baseline = _find_baseline(runs, baseline_id, baseline_tag)
    if run_ids:
        candidates = [r for r in runs if r.run_id in run_ids]
    else:
        candidates = [r for r in runs if r is not baseline][:1]
    return ExperimentSummary(
        name=data.experiment.name,
        experiment_id=data.experiment.experiment_id,
        runs=runs,
        primary_metric=primary,
        metrics=shown,
        directions={k: config.lower_is_better(k) for k in {*shown, *logged}},
        best=best,
        baseline=baseline,
        candidates=candidates,
        newest=runs[:newest],
    )


# gates --------------------------------------------------------------------------------------
def _columns(node: Node) -> list[str]:
    """Return the frame columns a filter reads, in the order they appear."""
    from reporter.query import filter as run_filter

    if isinstance(node, run_filter.Comparison):
        return [node.column]
    out: list[str] = []
    for child in node.children:
        out += [c for c in _columns(child) if c not in out]
    return out


def _shown_value(column: str, value: Any) -> str:
    from reporter.view.text import fmt_number

    if column.startswith("metrics.") or column in ("start_time", "end_time"):
        number = _number(value)
        return "missing" if number is None else fmt_number(number)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return repr(str(value))


def _fail_if_checks(text: str, exp: ExperimentSummary, frame: pd.DataFrame) -> list[Check]:
    from reporter.query import filter as run_filter

    node = run_filter.parse_filter(text)
    if node is None or not exp.candidates:
        return []
    mask = run_filter.evaluate(node, frame)
    hits = {str(r) for r in frame.loc[mask, "run_id"]}
    checks = []
    for run in exp.candidates:
        columns = _columns(node)
        values = {c: _plain(run.record.get(c)) for c in columns}
        shown = ", ".join(f"{c} = {_shown_value(c, run.record.get(c))}" for c in columns)
        matched = run.run_id in hits
        verb = "matches" if matched else "does not match"
        message = f"run {run.label()} in experiment {exp.name!r} {verb} --fail-if {text!r}: {shown}"
        checks.append(Check("fail-if", text, exp.name, run, not matched, message, values))
    return checks


def _plain(value: Any) -> Any:
    """Return a JSON-ready scalar of a frame cell."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _worse_checks(gate: WorseGate, exp: ExperimentSummary, baseline_text: str) -> list[Check]:
    from reporter.view.text import fmt_number

    checks = []
    key = gate.metric
    for run in exp.candidates:
        base = exp.baseline
        where = f"run {run.label()} in experiment {exp.name!r}"
        values: dict[str, Any] = {"metric": key, "value": run.metrics.get(key)}
        if base is None:
            checks.append(
                Check(
                    "worse-than-baseline",
                    gate.text,
                    exp.name,
                    run,
                    False,
                    f"{where}: no baseline run to compare {key!r} with ({baseline_text})",
                    values,
                )
            )
            continue
        values["baseline_run_id"] = base.run_id
        values["baseline"] = base.metrics.get(key)
        value, reference = run.metrics.get(key), base.metrics.get(key)
        problem = None
        if value is None:
            problem = f"{where} has no metric {key!r}"
        elif reference is None:
            problem = f"{where}: the baseline {base.label()} has no metric {key!r}"
        elif not (math.isfinite(value) and math.isfinite(reference)):
            problem = (
                f"{where}: {key} = {fmt_number(value)}, baseline {base.label()} = "
                f"{fmt_number(reference)}; a value that is not finite cannot be compared"
            )
        if problem or value is None or reference is None:
            checks.append(
                Check("worse-than-baseline", gate.text, exp.name, run, False, problem or "", values)
            )
            continue
        lower = exp.directions.get(key)
        if lower is None:
            from reporter.view.text import lower_is_better

            lower = lower_is_better(key)
        worse_by = (value - reference) if lower else (reference - value)
        allowed = gate.tolerance.allowed(reference)
        failed = worse_by > allowed and not math.isclose(
            worse_by, allowed, rel_tol=1e-9, abs_tol=1e-12
        )
        diff = Difference(key, value, reference, lower)
        change = _change_text(diff)
        direction = "lower" if lower else "higher"
        message = (
            f"{where}: {key} = {fmt_number(value)} vs {fmt_number(reference)} of the "
            f"baseline {base.label()} ({change}; {direction} is better); "
        )
        if failed:
            message += f"worse by more than the tolerance {gate.tolerance.text}"
        else:
            message += f"within the tolerance {gate.tolerance.text}"
        values["tolerance"] = gate.tolerance.text
        checks.append(
            Check("worse-than-baseline", gate.text, exp.name, run, not failed, message, values)
        )
    return checks


def _change_text(diff: Difference) -> str:
    """Return `▼ -0.03, -6.7% better`, `▲ +0.05, worse` (baseline 0) or `= same`."""
    from reporter.view.text import fmt_number

    delta, verdict = diff.delta, diff.verdict
    if delta is None or verdict is None:
        return ""
    if verdict == "same":
        return "= same"
    arrow = "▲" if delta > 0 else "▼"
    sign = "+" if delta > 0 else ""
    relative = diff.relative
    pct = f", {relative * 100:+.1f}%" if relative is not None else ","
    return f"{arrow} {sign}{fmt_number(delta)}{pct} {verdict}"


# markdown -----------------------------------------------------------------------------------
def md(value: Any) -> str:
    """Escape untrusted text for Markdown (inline and table cells): one line, no HTML, no
    emphasis, links, code, headings or table pipes; bidi controls spelled out."""
    from reporter.view.text import show_controls

    text = str(show_controls(str(value)))
    text = re.sub(r"\r\n|[\r\n\t\u2028\u2029]", " ", text)
    text = _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def _run_ref(run: RunInfo) -> str:
    return f"**{md(run.name)}** (`{run.run_id}`)"


def _cell(run: RunInfo, exp: ExperimentSummary, key: str) -> str:
    from reporter.view.text import fmt_number

    value = run.metrics.get(key)
    if value is None:
        return "-"
    shown = fmt_number(value)
    if exp.baseline is None or run is exp.baseline:
        return shown
    change = _change_text(exp.differences(run)[key])
    return f"{shown} ({change})" if change else shown


def _markdown(
    exps: list[ExperimentSummary], baseline_text: str | None, checks: list[Check], gated: bool
) -> str:
    from reporter.view.text import fmt_number, fmt_time

    lines = ["## Experiment summary", ""]
    if baseline_text:
        lines += [f"Differences are to the baseline: {md(baseline_text)}.", ""]
    if not exps:
        lines += ["No active experiments in the store.", ""]
    for exp in exps:
        count = len(exp.runs)
        lines += [f"### {md(exp.name)} ({count} run{'' if count == 1 else 's'})", ""]
        if not exp.runs:
            lines += ["No runs.", ""]
            continue
        facts = []
        if exp.primary_metric:
            lower = exp.directions.get(exp.primary_metric, False)
            facts.append(
                f"- Primary metric: {md(exp.primary_metric)} "
                f"({'lower' if lower else 'higher'} is better)"
            )
        if exp.best and exp.primary_metric:
            value = fmt_number(exp.best.metrics[exp.primary_metric])
            facts.append(
                f"- Best run: {_run_ref(exp.best)} with {md(exp.primary_metric)} = {value}"
            )
        if baseline_text:
            facts.append(
                f"- Baseline: {_run_ref(exp.baseline)}"
                if exp.baseline
                else "- Baseline: none in this experiment"
            )
        if exp.candidates:
            facts.append("- Candidate: " + ", ".join(_run_ref(r) for r in exp.candidates))
        lines += [*facts, ""]
        shown = list(exp.newest)
        for extra in [*exp.candidates, *([exp.baseline] if exp.baseline else [])]:
            if extra not in shown:
                shown.append(extra)
        shown.sort(key=exp.runs.index)
        if not shown:
            continue
        head = ["Run", "Status", "Started (UTC)", *(md(k) for k in exp.metrics)]
        align = ["---", "---", "---", *("---:" for _ in exp.metrics)]
        lines += ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
        for run in shown:
            role = (
                "baseline" if run is exp.baseline else "candidate" if run in exp.candidates else ""
            )
            name = f"{md(run.name)} `{run.run_id[:8]}`" + (f" _({role})_" if role else "")
            cells = [
                name,
                md(run.status),
                fmt_time(run.start_time)[:16] or "-",
                *(_cell(run, exp, k) for k in exp.metrics),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if len(exp.runs) > len(shown):
            lines += ["", f"{len(shown)} of {count} runs shown (newest first)."]
        lines.append("")
    if gated:
        failed = [c for c in checks if not c.passed]
        lines += [f"### Checks: {'failed' if failed else 'passed'}", ""]
        lines += [f"- {'❌' if not c.passed else '✅'} {md(c.message)}" for c in checks]
        lines.append("")
    return "\n".join(lines)


def _json(
    exps: list[ExperimentSummary],
    baseline_text: str | None,
    baseline_id: str | None,
    baseline_tag: tuple[str, str] | None,
    checks: list[Check],
    gated: bool,
    extra_metrics: list[str],
) -> str:
    def record(exp: ExperimentSummary, run: RunInfo) -> dict[str, Any]:
        out = run.to_json()
        diffs = exp.differences(run, extra_metrics) if run is not exp.baseline else {}
        out["differences"] = {k: d.to_json() for k, d in diffs.items()} if diffs else None
        return out

    baseline = None
    if baseline_text:
        tag = None if baseline_tag is None else {"key": baseline_tag[0], "value": baseline_tag[1]}
        baseline = {"run_id": baseline_id, "tag": tag, "description": baseline_text}
    gate = None
    if gated:
        gate = {"passed": all(c.passed for c in checks), "checks": [c.to_json() for c in checks]}
    document = {
        "baseline": baseline,
        "experiments": [
            {
                "name": exp.name,
                "experiment_id": exp.experiment_id,
                "runs": len(exp.runs),
                "primary_metric": exp.primary_metric,
                "metrics": [
                    {"key": k, "lower_is_better": exp.directions.get(k, False)} for k in exp.metrics
                ],
                "best_run": record(exp, exp.best) if exp.best else None,
                "baseline": exp.baseline.to_json() if exp.baseline else None,
                "candidates": [record(exp, r) for r in exp.candidates],
                "newest_runs": [record(exp, r) for r in exp.newest],
            }
            for exp in exps
        ],
        "gate": gate,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)


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

    if baseline_id is not None and baseline_tag is not None:
        raise click.UsageError("Give --baseline or --baseline-tag, not both.")
    if worse_gates and baseline_id is None and baseline_tag is None:
        raise click.UsageError(
            "--fail-if-worse-than-baseline needs a baseline: add --baseline RUN_ID or "
            "--baseline-tag KEY=VALUE (e.g. --baseline-tag branch=main)"
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
    if baseline_id is not None:
        baseline_text = f"run {baseline_id}"
    elif baseline_tag is not None:
        baseline_text = f"the newest run with tag {baseline_tag[0]}={baseline_tag[1]}"
    exps = [
        _summarize(data, config, metric_keys, newest, baseline_id, baseline_tag, run_ids)
        for data in snapshot.experiments
    ]
    if baseline_id is not None and not run_ids:
        for exp in exps:  # a baseline run is compared with the newest run of its experiment
            if exp.baseline is None:
                exp.candidates = []

    gated = bool(fail_if or worse_gates)
    checks: list[Check] = []
    for exp, data in zip(exps, snapshot.experiments):
        for text in fail_if:
            checks += _fail_if_checks(text, exp, data.runs)
        for gate in worse_gates:
            checks += _worse_checks(gate, exp, baseline_text or "")
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
        click.echo(_json(exps, baseline_text, baseline_id, baseline_tag, checks, gated, extra))
    else:
        click.echo(_markdown(exps, baseline_text, checks, gated), nl=False)
    failed = [c for c in checks if not c.passed]
    if failed:
        click.echo(f"Error: {len(failed)} of {len(checks)} checks failed:", err=True)
        for check in failed:
            click.echo(f"  {check.message}", err=True)
        sys.exit(1)  # click.exceptions.Exit would be returned, not raised, by cli.main()
