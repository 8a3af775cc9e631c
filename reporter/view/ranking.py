"""Which metric leads an experiment and which runs are best: one rule for site and summary.

A configuration is a top-level run: a run whose parent is not among the experiment's runs.
Its value of a metric is its own, or, when it logged none, the mean of its child runs' values
(seed replicates, folds), with their spread. "Best" means the best configuration, never a
single replicate: `best_run` and `ranked_configs` rank top-level runs only.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reporter.view import numbers
from reporter.view.config import BuildConfig
from reporter.view.loader import ExperimentData

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Value:
    """A run's value of a metric: its own (runs == 1, spread None), or the mean of its
    children's values with their standard deviation (None for a single child)."""

    value: float
    runs: int = 1
    spread: float | None = None
    aggregated: bool = False

    def text(self) -> str:
        """Return the value as pages show it: `0.96 ± 0.01 (mean of 3 runs)`, or `0.905`."""
        shown = numbers.human(self.value)
        if self.spread is not None:
            shown += f" ± {numbers.human(self.spread)}"
        if self.aggregated:
            shown += f" (mean of {self.runs} run{'s' if self.runs != 1 else ''})"
        return shown


@dataclass(frozen=True)
class Ranked:
    """A top-level run and its value of the ranking metric."""

    run_id: str
    name: str
    value: Value


def primary_metric(data: ExperimentData, config: BuildConfig) -> str | None:
    """Return the experiment's primary metric: configured, else the first one logged."""
    configured = config.primary_metric.get(data.experiment.name)
    if configured:
        return configured
    first = data.series.first_time  # each key's earliest point (ties: by name)
    return min(first, key=lambda key: (first[key], key)) if first else None


def children_of(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Return the child run ids of every parent that is among the frame's runs."""
    if frame.empty or "parent_run_id" not in frame.columns:
        return {}
    ids = set(frame["run_id"])
    out: dict[str, list[str]] = {}
    for run_id, parent in zip(frame["run_id"], frame["parent_run_id"], strict=True):
        if isinstance(parent, str) and parent in ids and parent != run_id:
            out.setdefault(parent, []).append(run_id)
    return out


def top_level(frame: pd.DataFrame) -> list[str]:
    """Return the ids of the runs whose parent is not among the frame's runs."""
    if frame.empty:
        return []
    ids = set(frame["run_id"])
    parents = frame["parent_run_id"] if "parent_run_id" in frame.columns else [None] * len(frame)
    return [
        r
        for r, p in zip(frame["run_id"], parents, strict=True)
        if not (isinstance(p, str) and p in ids and p != r)
    ]


def _number(value: Any) -> float | None:
    """Return a finite-or-infinite float, or None for a missing or NaN value."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def run_values(
    own: dict[str, Any], children: dict[str, list[str]], ids: list[str] | None = None
) -> dict[str, Value]:
    """Return each run's value of one metric (`own`: run id -> logged value): its own, else
    the mean of its children's values (their own or, in turn, their children's)."""
    out: dict[str, Value] = {}

    def value_of(run_id: str, depth: int) -> Value | None:
        if run_id in out:
            return out[run_id]
        number = _number(own.get(run_id))
        found: Value | None = None
        if number is not None:
            found = Value(number)
        elif depth < 32:  # a parent link cycle cannot recurse for ever
            kids = [value_of(c, depth + 1) for c in children.get(run_id, [])]
            values = [v.value for v in kids if v is not None]
            finite = [v for v in values if math.isfinite(v)]
            if finite:
                spread = statistics.stdev(finite) if len(finite) > 1 else None
                found = Value(statistics.fmean(finite), len(finite), spread, aggregated=True)
        if found is not None:
            out[run_id] = found
        return found

    for run_id in ids if ids is not None else list(own) + list(children):
        value_of(run_id, 0)
    return out


def ranked_configs(frame: pd.DataFrame, metric: str | None, config: BuildConfig) -> list[Ranked]:
    """Return the top-level runs with a value of the metric, best first (then newest)."""
    col = f"metrics.{metric}"
    if frame.empty or not metric or col not in frame.columns:
        return []
    tops = top_level(frame)
    values = run_values(
        dict(zip(frame["run_id"], frame[col], strict=True)), children_of(frame), tops
    )
    starts = dict(zip(frame["run_id"], frame["start_time"], strict=True))
    names = dict(zip(frame["run_id"], frame["run_name"], strict=True))
    lower = config.lower_is_better(metric)

    def key(run_id: str) -> tuple[float, float]:
        value = values[run_id].value
        start = _number(starts.get(run_id))
        return (value if lower else -value, -(start if start is not None else -math.inf))

    chosen = sorted((r for r in tops if r in values), key=key)
    return [Ranked(r, str(names[r] or r), values[r]) for r in chosen]


def best_run(frame: pd.DataFrame, metric: str | None, config: BuildConfig) -> Ranked | None:
    """Return the best configuration (a top-level run) by the metric, or None."""
    ranked = ranked_configs(frame, metric, config)
    return ranked[0] if ranked else None


def ranked_runs(
    frame: pd.DataFrame, metric: str | None, config: BuildConfig, *, top_level_only: bool = False
) -> list[str]:
    """Return run ids, best first by the metric's logged values (then newest): every run
    (the runs whose series charts draw), or with top_level_only the configurations, ranked
    by their own or their children's mean value, then the ones without a value, newest first."""
    if frame.empty:
        return []
    if top_level_only:
        ranked = [r.run_id for r in ranked_configs(frame, metric, config)]
        seen = set(ranked)
        newest = frame.sort_values("start_time", ascending=False, kind="stable")["run_id"]
        tops = set(top_level(frame))
        return ranked + [r for r in newest if r in tops and r not in seen]
    col = f"metrics.{metric}" if metric else None
    if col and col in frame.columns:
        ordered = frame.sort_values(
            [col, "start_time"],
            ascending=[config.lower_is_better(metric or ""), False],
            na_position="last",
            kind="stable",
        )
    else:
        ordered = frame.sort_values("start_time", ascending=False, kind="stable")
    return list(ordered["run_id"])
