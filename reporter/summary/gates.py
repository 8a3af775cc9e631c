"""The regression gates: `--fail-if FILTER` and `--fail-if-worse-than-baseline METRIC[:TOL]`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from reporter.summary.model import (
    Check,
    Difference,
    ExperimentSummary,
    WorseGate,
    as_number,
    json_number,
)
from reporter.summary.render import change_text

if TYPE_CHECKING:
    import pandas as pd

    from reporter.query.filter import Node


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
        shown = as_number(value)
        return "missing" if shown is None else fmt_number(shown)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return repr(str(value))


def fail_if_checks(text: str, exp: ExperimentSummary, frame: pd.DataFrame) -> list[Check]:
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
        return json_number(value)
    if isinstance(value, (bool, int, str)):
        return value
    return str(value)


def worse_checks(gate: WorseGate, exp: ExperimentSummary, baseline_text: str) -> list[Check]:
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
        change = change_text(diff)
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
