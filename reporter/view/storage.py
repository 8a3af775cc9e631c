"""What the site's storage page shows, read from the store: the build's only other read.

Everything here covers the experiments the build publishes and nothing else:

* the usage (`store.usage`, with lifecycles: deleted runs and what `gc` would free) of the
  whole store when the build publishes every experiment (no `experiments` or
  `exclude_experiments` setting), else of the published experiments only, so a restricted
  build (a team's profile, a reader's view on the tracking server) holds no name, id or size
  of another experiment, not even inside a total;
* the growth series `tracker-report du --log` recorded: the store-wide totals in a
  whole-store build, else each published experiment's own `exp.<name>.bytes` series;
* what archiving by the `[retention]` policy would free: `retention.select_runs`, the rule
  `tracker-report archive --policy` applies, over the published runs, sized by their usage.

The usage log's names (experiment, tag, metric keys) are in `reporter.view.usage_log`.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reporter.core.entities import LifecycleStage
from reporter.core.errors import ReporterError
from reporter.store.protocol import AbstractStore
from reporter.store.usage import KINDS, ExperimentUsage, RunUsage, StoreUsage
from reporter.view.usage_log import KIND_KEYS as KIND_KEYS
from reporter.view.usage_log import TAG_USAGE as TAG_USAGE
from reporter.view.usage_log import TAG_USAGE_VALUE as TAG_USAGE_VALUE
from reporter.view.usage_log import TOTAL_KEY as TOTAL_KEY
from reporter.view.usage_log import USAGE_EXPERIMENT as USAGE_EXPERIMENT
from reporter.view.usage_log import usage_metric_key as usage_metric_key  # re-exported: du
from reporter.view.usage_log import whole_store as whole_store

if TYPE_CHECKING:
    from reporter.view.config import BuildConfig, RetentionPolicy
    from reporter.view.loader import StoreSnapshot


@dataclass(frozen=True)
class GrowthSeries:
    """One line of the growth chart: bytes by day (days since 1970-01-01, UTC)."""

    name: str  # "total", a kind ("events", ...), or a published experiment's id
    days: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class PolicyFigure:
    """What archiving by the [retention] policy would move out of the store now."""

    policy: RetentionPolicy
    run_ids: tuple[str, ...] = ()  # published runs the policy selects
    bytes: int = 0  # their events and artifacts: what leaves the store (a summary stays)
    kept: int = 0  # runs the keep rule spares
    running: int = 0  # runs not finished (never archived)
    problem: str = ""  # why no figure (no archive_after in the policy)


@dataclass
class StorageData:
    """What the storage page is made from: usage of the published experiments (and of the
    rest of the store in a whole-store build), growth, the policy's figure."""

    whole_store: bool
    usage: StoreUsage | None  # None: the store cannot measure itself (see `problem`)
    experiments: list[ExperimentUsage] = field(default_factory=list)  # published, by id order
    runs: dict[str, RunUsage] = field(default_factory=dict)  # published runs only
    growth: list[GrowthSeries] = field(default_factory=list)
    growth_experiment: str | None = None  # id of the experiment holding the usage log
    policy: PolicyFigure | None = None
    problem: str = ""
    seconds: float = 0.0  # what measuring cost
    warnings: list[str] = field(default_factory=list)  # what measuring warned about, newly


def published_runs(snapshot: StoreSnapshot) -> set[str]:
    """Return the ids of every run the snapshot publishes."""
    out: set[str] = set()
    for data in snapshot.experiments:
        if len(data.runs):
            out.update(data.runs["run_id"])
    return out


def load_storage(store: AbstractStore, config: BuildConfig, snapshot: StoreSnapshot) -> StorageData:
    """Measure what the storage page shows, for the experiments and runs `snapshot` publishes."""
    started = time.perf_counter()
    ids = [d.experiment.experiment_id for d in snapshot.experiments]
    everything = whole_store(config)
    with warnings.catch_warnings(record=True) as caught:  # the loader said them already
        warnings.simplefilter("always")
        try:
            usage = store.usage(
                None if everything else ids, lifecycles=True, known=snapshot.lifecycles
            )
        except ReporterError as exc:  # a tracking server's store: measured where it lives
            return StorageData(everything, None, problem=str(exc))
        by_id = {e.experiment_id: e for e in usage.experiments}
        runs = published_runs(snapshot)
        data = StorageData(
            whole_store=everything,
            usage=usage,
            experiments=[by_id[i] for i in ids if i in by_id],
            runs={r.run_id: r for r in usage.runs if r.run_id in runs},
        )
        names = {e.experiment_id: e.name for e in data.experiments if e.name is not None}
        data.growth_experiment, data.growth = growth_series(store, snapshot, names, everything)
        if config.retention:
            data.policy = policy_figure(store, config.retention_policy(), ids, runs, data.runs)
            if config.runs:  # counts over runs the profile leaves out: not said
                data.policy = dataclasses.replace(data.policy, kept=0, running=0)
    said = set(snapshot.warnings)
    data.warnings = list(
        dict.fromkeys(str(w.message) for w in caught if str(w.message) not in said)
    )
    data.seconds = time.perf_counter() - started
    return data


# --- growth: the series `du --log` recorded -----------------------------------------------------
def usage_log_experiments(store: AbstractStore, snapshot: StoreSnapshot) -> list[str]:
    """Return the ids of experiments that may hold a usage log: `store-usage`, and any
    published experiment with a run tagged reporter.usage = du (`du --log-experiment`)."""
    out = [
        e.experiment_id
        for e in store.list_experiments()
        if e.name == USAGE_EXPERIMENT and e.lifecycle_stage == LifecycleStage.ACTIVE
    ]
    column = f"tags.{TAG_USAGE}"
    for data in snapshot.experiments:
        frame = data.runs
        if column in frame.columns and (frame[column] == TAG_USAGE_VALUE).any():
            out.append(data.experiment.experiment_id)
    return list(dict.fromkeys(out))


def growth_series(
    store: AbstractStore,
    snapshot: StoreSnapshot,
    names: dict[str, str],
    everything: bool,
) -> tuple[str | None, list[GrowthSeries]]:
    """Return the experiment holding the newest usage log and its series: the store's total
    and each kind in a whole-store build, else each published experiment's own bytes (by id,
    from `names`: experiment id -> its name in the store)."""
    newest: tuple[float, str, str] | None = None  # (start time, experiment id, run id)
    for exp_id in usage_log_experiments(store, snapshot):
        frame = store.runs_frame([exp_id])
        column = f"tags.{TAG_USAGE}"
        if not len(frame) or column not in frame.columns:
            continue
        frame = frame[
            (frame[column] == TAG_USAGE_VALUE)
            & (frame["lifecycle_stage"] != LifecycleStage.DELETED)
        ]
        for run_id, start in zip(frame["run_id"], frame["start_time"].fillna(0)):
            if newest is None or (float(start), run_id) > (newest[0], newest[2]):
                newest = (float(start), exp_id, str(run_id))
    if newest is None:
        return None, []
    _, exp_id, run_id = newest
    _, points = store.read_experiment(exp_id)
    slices = points.slices()
    wanted: list[tuple[str, str]] = (
        [("total", TOTAL_KEY), *zip(KINDS, KIND_KEYS)]
        if everything
        else [(i, usage_metric_key(name)) for i, name in names.items()]
    )
    out = []
    for label, key in wanted:
        span = slices.get((run_id, key))
        if span is None:
            continue
        a, b = span
        days = [int(s) for s in points.step[a:b]]
        values = [float(v) for v in points.value[a:b]]
        out.append(GrowthSeries(label, *_one_per_day(days, values)))
    return exp_id, out


def _one_per_day(
    days: Iterable[int], values: Iterable[float]
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Return one value per day (the last logged that day, points come sorted by step and
    time), finite values only."""
    by_day: dict[int, float] = {}
    for day, value in zip(days, values):
        if value == value and abs(value) != float("inf"):
            by_day[day] = value
    ordered = sorted(by_day)
    return tuple(ordered), tuple(by_day[d] for d in ordered)


# --- the retention policy -----------------------------------------------------------------------
def policy_figure(
    store: AbstractStore,
    policy: RetentionPolicy,
    experiment_ids: list[str],
    published: set[str],
    runs: dict[str, RunUsage],
) -> PolicyFigure:
    """Return what `tracker-report archive --policy` would move now, of the published runs."""
    from reporter.view.retention import select_runs

    if policy.archive_after_ms is None:
        return PolicyFigure(
            policy,
            problem="the [retention] table has no archive_after, so `archive --policy` "
            "needs --older-than or --filter to choose runs",
        )
    if not experiment_ids:
        return PolicyFigure(policy)
    chosen = select_runs(
        store,
        experiments=[f"id:{i}" for i in experiment_ids],
        older_than_ms=policy.archive_after_ms,
        keep=policy.keep,
    )
    ids = tuple(r for r in chosen.run_ids if r in published)
    moved = sum(runs[r].events_bytes + runs[r].artifacts.bytes for r in ids if r in runs)
    return PolicyFigure(policy, ids, moved, chosen.kept, chosen.running)
