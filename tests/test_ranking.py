"""Which run is best: a configuration (a top-level run), never one of its seed replicates; a
parent that logged no value of the metric is ranked by its children's mean."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd
import pytest

import reporter
from reporter.entities import Metric
from reporter.view import loader
from reporter.view.config import BuildConfig
from reporter.view.ranking import Value, best_run, ranked_configs, ranked_runs, run_values

T0 = 1_700_000_000_000


def frame(*runs: tuple[str, str | None, float | None]) -> pd.DataFrame:
    """A runs frame in search_runs' shape: (run id, parent id, f1); later runs are newer."""
    return pd.DataFrame(
        {
            "run_id": [r for r, _, _ in runs],
            "run_name": [f"name-{r}" for r, _, _ in runs],
            "parent_run_id": [p for _, p, _ in runs],
            "start_time": [T0 + i for i in range(len(runs))],
            "metrics.f1": [float("nan") if v is None else v for _, _, v in runs],
        }
    )


SWEEP = frame(
    ("flat-1", None, 0.90),
    ("flat-2", None, 0.93),
    ("config-a", None, None),  # no value: its seeds' mean, 0.96
    ("a0", "config-a", 0.95),
    ("a1", "config-a", 0.96),
    ("a2", "config-a", 0.97),
    ("config-b", None, 0.905),  # its own value counts, not its seeds' 0.99
    ("b0", "config-b", 0.99),
    ("b1", "config-b", 0.98),
    ("nothing", None, None),
)


def test_the_best_run_is_a_configuration_not_a_seed_replicate():
    best = best_run(SWEEP, "f1", BuildConfig())
    assert best is not None
    assert (best.run_id, best.name) == ("config-a", "name-config-a")
    assert best.value == Value(
        statistics.fmean([0.95, 0.96, 0.97]), 3, statistics.stdev([0.95, 0.96, 0.97]), True
    )
    assert best.value.text() == "0.96 ± 0.01 (mean of 3 runs)"
    assert Value(0.905).text() == "0.905"
    # every run ranked by its own value (what the charts draw): a seed comes first
    assert ranked_runs(SWEEP, "f1", BuildConfig())[0] == "b0"


def test_configurations_rank_by_their_own_value_else_their_childrens_mean():
    ranked = ranked_configs(SWEEP, "f1", BuildConfig())
    assert [r.run_id for r in ranked] == ["config-a", "flat-2", "config-b", "flat-1"]
    assert ranked[2].value == Value(0.905)  # own value: one run, no spread
    # with every top-level run: the ones without a value last, newest first
    assert ranked_runs(SWEEP, "f1", BuildConfig(), top_level_only=True) == [
        "config-a",
        "flat-2",
        "config-b",
        "flat-1",
        "nothing",
    ]


def test_the_direction_comes_from_the_config_or_the_name():
    lower = BuildConfig(metric_direction={"f1": "min"})
    assert [r.run_id for r in ranked_configs(SWEEP, "f1", lower)] == [
        "flat-1",
        "config-b",
        "flat-2",
        "config-a",
    ]
    errors = SWEEP.rename(columns={"metrics.f1": "metrics.error"})
    best = best_run(errors, "error", BuildConfig())  # an error: lower is better
    assert best is not None and best.run_id == "flat-1"


def test_no_value_anywhere_means_no_best_run():
    assert best_run(SWEEP, "auc", BuildConfig()) is None
    assert best_run(SWEEP, None, BuildConfig()) is None
    assert best_run(frame(("a", None, None)), "f1", BuildConfig()) is None


def test_values_aggregate_over_grandchildren_and_survive_a_parent_cycle():
    own: dict[str, Any] = {"top": None, "mid": None, "g1": 1.0, "g2": 3.0, "solo": None, "s1": 2.0}
    children = {"top": ["mid"], "mid": ["g1", "g2"], "solo": ["s1"]}
    values = run_values(own, children)
    assert values["mid"] == Value(2.0, 2, statistics.stdev([1.0, 3.0]), True)
    assert values["top"] == Value(2.0, 1, None, True)  # one child (mid): no spread
    assert values["solo"] == Value(2.0, 1, None, True)
    assert run_values({"x": None, "y": None}, {"x": ["y"], "y": ["x"]}) == {}


def test_ranking_reads_a_real_store(tmp_path):
    """The frame the loader reads from a store holds what the ranking needs."""
    store = str(tmp_path / "store")
    client = reporter.Client(store)
    exp = client.create_experiment("e")
    parent = client.create_run(exp, start_time=T0, run_name="config").info.run_id
    for s, f1 in enumerate((0.8, 0.9)):
        child = client.create_run(
            exp, start_time=T0 + 1 + s, run_name=f"seed-{s}", parent_run_id=parent
        ).info.run_id
        client.log_batch(child, metrics=[Metric("f1", f1, T0, 0)])
        client.set_terminated(child)
    flat = client.create_run(exp, start_time=T0 + 9, run_name="flat").info.run_id
    client.log_batch(flat, metrics=[Metric("f1", 0.84, T0, 0)])
    client.set_terminated(flat)
    client.set_terminated(parent)
    data = loader.load(loader.open_store(store), BuildConfig(store=store)).experiments[0]
    best = best_run(data.runs, "f1", BuildConfig())
    assert best is not None and best.run_id == parent
    assert best.value.value == pytest.approx(0.85) and best.value.runs == 2
