"""A summary as Markdown (escaped: every name and value is untrusted) or JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from reporter.summary.model import Check, Difference, ExperimentSummary, RunInfo

_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|#~!])")


def change_text(diff: Difference) -> str:
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
    change = change_text(exp.differences(run)[key])
    return f"{shown} ({change})" if change else shown


def markdown(
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


def to_json(
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
