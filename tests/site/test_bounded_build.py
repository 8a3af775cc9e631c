"""A build holds one batch of runs' points at a time, and makes the same site however the
store is cut into batches; the site's size is estimated before writing and full-series
downloads are left out when they would take it over its host's limit (issue 20)."""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

import reporter as mlflow
from reporter.entities import Metric, Param
from reporter.site import contract, model, render, theme
from reporter.site.build import build, build_time, plan_size
from reporter.site.estimate import estimate_site
from reporter.store.protocol import AbstractStore
from reporter.store.records import MetricPoints, RunBatch
from reporter.view import loader
from reporter.view.config import BuildConfig

STEPS = 300


@pytest.fixture
def sweep_store(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """24 runs of 3 metrics x STEPS steps (one logged once), params to group by, a parent
    with children, and two experiments. No compaction runs in the background while a test
    reads it (the files it reads stay put, so reads are counted the same every time)."""
    monkeypatch.setenv("TRACKER_AUTO_COMPACT", "0")
    client = mlflow.Client(store_uri)
    rng = random.Random(7)
    for name, runs in (("sweep", 20), ("other", 4)):
        exp = client.create_experiment(name)
        parent = None
        for r in range(runs):
            run = client.create_run(
                exp,
                run_name=f"{name}-{r:02d}",
                start_time=1_700_000_000_000 + r * 1000,
                parent_run_id=parent if parent and r % 3 else None,
            )
            rid = run.info.run_id
            parent = parent or rid
            base = 1_700_000_000_000 + r * 1000
            points = [
                Metric(key, rng.random() / (s + 1), base + s * 10, s)
                for key in ("loss", "acc")
                for s in range(STEPS + r)
            ]
            points.append(Metric("rmse", rng.random(), base + 5, 0))
            client.log_batch(
                rid,
                metrics=points,
                params=[Param("opt", rng.choice(["adam", "sgd"])), Param("lr", str(r % 4))],
            )
            client.set_terminated(rid, end_time=base + 10 * STEPS)
    return store_uri


class CountingStore:
    """A store whose metric point reads are recorded (points per read)."""

    def __init__(self, store: AbstractStore) -> None:
        self.store = store
        self.reads: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def read_experiment_batches(self, exp_id: str, max_points: int) -> Iterator[RunBatch]:
        for batch in self.store.read_experiment_batches(exp_id, max_points):
            self.reads.append(len(batch.points))
            yield batch

    def read_metric_points(self, exp_id: str, run_ids: Collection[str]) -> MetricPoints:
        points = self.store.read_metric_points(exp_id, run_ids)
        self.reads.append(len(points))
        return points


def rendered(store: Any, config: BuildConfig) -> dict[str, bytes]:
    """Return every page (rendered) and file of the site model, by path."""
    snapshot = loader.load(store, config)
    info = contract.SiteInfo("T", "0", build_time(), None)
    site = model.make_site(snapshot, config, info, lambda r, p: None, lambda r, p: p)
    env = render.make_environment(theme.resolve_theme("default"))
    out = {p.info.path: render.render_page(env, p, site.info) for p in site.pages}
    for f in site.files:
        assert f.path not in out
        out[f.path] = f.data if f.data is not None else (f.make() if f.make else b"")
    return out


def test_a_site_made_a_few_runs_at_a_time_equals_one_made_at_once(sweep_store: str) -> None:
    """Every page and file (charts, group scripts, series, tables, downloads) is the same
    whether the experiment is read as one batch or in batches of a run or two."""
    whole = rendered(loader.open_store(sweep_store), BuildConfig(store=sweep_store, max_points=100))
    counting = CountingStore(loader.open_store(sweep_store))
    small = BuildConfig(store=sweep_store, batch_points=1000, max_points=100)
    batched = rendered(counting, small)
    assert sorted(batched) == sorted(whole)
    differ = [path for path in whole if whole[path] != batched[path]]
    assert differ == []
    assert any(path.endswith("/groups/0.js") for path in whole)  # grouping was made
    assert any(path.endswith(".csv") for path in whole)  # and full-series downloads
    # many reads, each within the budget (plus the run that crosses it), or the top runs the
    # experiment page charts together
    largest_run = 2 * (STEPS + 19) + 1
    bound = max(small.batch_points + largest_run, small.top_runs * largest_run)
    assert len(counting.reads) > 20
    assert max(counting.reads) <= bound


def test_batches_of_the_store_hold_every_run_once(sweep_store: str) -> None:
    store = loader.open_store(sweep_store)
    (exp,) = [e for e in store.list_experiments() if e.name == "sweep"]
    whole, points = store.read_experiment(exp.experiment_id)
    seen: list[str] = []
    total = 0
    for batch in store.read_experiment_batches(exp.experiment_id, 700):
        seen += list(batch.frame["run_id"])
        total += len(batch.points)
        assert {r for r, _ in batch.points.slices()} <= set(batch.frame["run_id"])
    assert sorted(seen) == sorted(whole["run_id"]) and len(seen) == len(set(seen))
    assert total == len(points)
    some = sorted(whole["run_id"])[3:6]
    picked = store.read_metric_points(exp.experiment_id, some)
    assert {r for r, _ in picked.slices()} == set(some)
    assert len(picked) == sum(b - a for (r, _), (a, b) in points.slices().items() if r in some)


def test_full_series_downloads_follow_the_site_limit(sweep_store: str, tmp_path: Path) -> None:
    """auto: the CSVs are in while the site fits site_limit_mb and out (with a warning said
    before writing) once they would not; always and never do what they say."""
    said: list[str] = []

    def csvs(out: Path) -> list[Path]:
        return sorted(out.rglob("*.csv"))

    roomy = build(BuildConfig(store=sweep_store, out=str(tmp_path / "a"), max_points=100))
    assert csvs(tmp_path / "a") and not roomy.warnings
    tight = BuildConfig(
        store=sweep_store, out=str(tmp_path / "b"), max_points=100, site_limit_mb=0.5
    )
    result = build(tight, notice=said.append)
    assert not csvs(tmp_path / "b")
    assert said and "left out" in said[0] and "full_series" in said[0]
    assert said[0] in result.warnings
    forced = BuildConfig(
        store=sweep_store,
        out=str(tmp_path / "c"),
        max_points=100,
        site_limit_mb=0.5,
        full_series="always",
    )
    over = build(forced)
    assert csvs(tmp_path / "c") and any("over site_limit_mb" in w for w in over.warnings)
    never = BuildConfig(store=sweep_store, out=str(tmp_path / "d"), full_series="never")
    build(never)
    assert not csvs(tmp_path / "d")
    run_page = next((tmp_path / "d" / "runs").glob("*/index.html")).read_text()
    assert "full series (CSV)" not in run_page


def test_the_estimate_is_near_the_site_written(sweep_store: str, tmp_path: Path) -> None:
    config = BuildConfig(store=sweep_store, out=str(tmp_path / "s"), max_points=100)
    snapshot = loader.load(loader.open_store(sweep_store), config)
    guess = estimate_site(snapshot, config)
    planned, notes = plan_size(snapshot, config)
    assert planned.full_series == "always" and notes == []
    result = build(config)
    written = sum(p.stat().st_size for p in (tmp_path / "s").rglob("*") if p.is_file())
    assert result.stats.bytes <= written + 1
    assert 0.5 * written <= guess.total <= 2 * written


def test_full_series_csv_reads_back_every_point_exactly(store_uri: str, tmp_path: Path) -> None:
    """The download of a thinned series holds every point as logged: values that need all 17
    digits, tiny and huge ones, NaN and infinities."""
    import csv
    import math

    client = mlflow.Client(store_uri)
    run_id = client.create_run(client.create_experiment("exact")).info.run_id
    odd = [0.1 + 0.2, 1e-300, 5e-324, 1e300, -0.0, math.nan, math.inf, -math.inf, 1 / 3]
    values = [odd[s % len(odd)] if s % 7 == 0 else s / 7 for s in range(120)]
    client.log_batch(
        run_id, metrics=[Metric("m", v, 1_700_000_000_000 + s, s) for s, v in enumerate(values)]
    )
    client.set_terminated(run_id)
    build(BuildConfig(store=store_uri, out=str(tmp_path / "s"), max_points=20))
    (path,) = (tmp_path / "s" / "runs" / run_id / "metrics").glob("*.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(120))
    assert [int(r["timestamp"]) for r in rows] == [1_700_000_000_000 + s for s in range(120)]
    for row, logged in zip(rows, values, strict=True):
        got = float(row["value"])
        assert (math.isnan(got) and math.isnan(logged)) or got == logged
        assert math.copysign(1, got) == math.copysign(1, logged) or math.isnan(got)
