"""What a summary says: each experiment's best and newest runs, differences to a baseline."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reporter.core.errors import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

    from reporter.view.config import BuildConfig
    from reporter.view.loader import ExperimentData


OTHER_METRICS = 4  # shown besides the primary metric when --metrics is not given


_TOLERANCE = re.compile(r"^\s*(?P<number>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<pct>%?)\s*$")


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
    metric = metric_key(metric)
    if not metric:
        raise InvalidArgumentError(f"{text!r} names no metric; example: rmse:2%")
    return WorseGate(metric, parse_tolerance(tolerance), text)


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
            "metrics": {k: json_number(v) for k, v in sorted(self.metrics.items())},
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
            "value": json_number(self.value),
            "baseline": json_number(self.baseline),
            "difference": json_number(self.delta),
            "relative": json_number(self.relative),
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
                k: json_number(v) if isinstance(v, float) else v for k, v in self.values.items()
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
def as_number(value: Any) -> float | None:
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


def json_number(value: Any) -> Any:
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
            if key.startswith("metrics.") and as_number(value) is not None
        }
        name = record.get("run_name")
        runs.append(
            RunInfo(
                run_id=str(record["run_id"]),
                name=str(name) if isinstance(name, str) and name else str(record["run_id"]),
                status=str(record.get("status") or ""),
                start_time=as_number(record.get("start_time")),
                end_time=as_number(record.get("end_time")),
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


def summarize(
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


def metric_key(text: str) -> str:
    """Return a metric key given as `rmse`, `metrics.rmse` or `metric.rmse`."""
    text = text.strip()
    for prefix in ("metrics.", "metric."):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text
