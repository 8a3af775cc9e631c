"""One benchmark workload in this process; prints one JSON line of results on stdout.

The same code runs against reporter and MLflow (the API is the same), each from its own
virtual environment; `bench_tracking.py` runs it in fresh processes and takes medians:

    .venv/bin/python benchmarks/workloads.py --impl reporter --workload log_metric \\
        --dir .bench/scratch/x --n 200000
    .bench/mlflow-venv/bin/python benchmarks/workloads.py --impl mlflow-sqlite \\
        --workload runs300 --dir .bench/scratch/y --runs 300

Implementations: `reporter` (store in DIR/store), `mlflow-sqlite` (DIR/mlflow.db) and
`mlflow-file` (DIR/mlruns, MLflow's file store). Every setting is the library's default.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

IMPLS = ("reporter", "mlflow-sqlite", "mlflow-file")
WORKLOADS = (
    "log_metric",
    "runs300",
    "search_build",
    "compact",
    "search_time",
    "bytes_per_point",
    "pyarrow",
)
SEARCH_EXPERIMENT = "bench-search"
SEARCH_FILTER = "metrics.rmse < 0.5 and params.max_depth = '8'"
BASE_MS = 1_700_000_000_000  # fixed timestamps where the workload chooses them


def load(impl: str, folder: Path) -> Any:
    """Import the tracking module of an implementation and point it at a store in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    if impl == "reporter":
        import reporter as mlflow

        mlflow.set_tracking_uri(str(folder / "store"))
        return mlflow
    if impl == "mlflow-file":
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 refuses the file store else
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    mlflow = importlib.import_module("mlflow")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if impl == "mlflow-sqlite":
        mlflow.set_tracking_uri("sqlite:///" + str(folder / "mlflow.db"))
    else:
        mlflow.set_tracking_uri("file:" + str(folder / "mlruns"))
    return mlflow


def client_of(impl: str, mlflow: Any) -> Any:
    """Return the explicit client: reporter.Client or MlflowClient."""
    if impl == "reporter":
        return mlflow.Client()
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def entities(impl: str) -> tuple[Any, Any, Any]:
    """Return the (Metric, Param, RunTag) entity classes of an implementation."""
    module = importlib.import_module(
        "reporter.entities" if impl == "reporter" else "mlflow.entities"
    )
    return module.Metric, module.Param, module.RunTag


# workloads -------------------------------------------------------------------------------------
def log_metric(mlflow: Any, n: int) -> dict[str, Any]:
    """N single log_metric calls in one run, timed until end_run has made them durable."""
    mlflow.set_experiment("bench-log-metric")
    mlflow.start_run()
    start = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", float(i), step=i)
    mlflow.end_run()
    seconds = time.perf_counter() - start
    return {"calls": n, "seconds": seconds, "per_second": n / seconds}


def runs300(mlflow: Any, runs: int) -> dict[str, Any]:
    """Runs of 20 params, 5 tags and 5 metrics x 50 steps, each metric point its own call."""
    mlflow.set_experiment("bench-runs")
    params = {f"param_{i}": i * 3 for i in range(20)}
    tags = {f"tag_{i}": f"value-{i}" for i in range(5)}
    start = time.perf_counter()
    for r in range(runs):
        mlflow.start_run(run_name=f"run-{r}")
        mlflow.log_params(params)
        mlflow.set_tags(tags)
        for key in ("loss", "acc", "rmse", "mae", "lr"):
            for step in range(50):
                mlflow.log_metric(key, step * 0.1 + r, step=step)
        mlflow.end_run()
    seconds = time.perf_counter() - start
    return {"runs": runs, "seconds": seconds, "seconds_per_run": seconds / runs}


def search_build(impl: str, mlflow: Any, folder: Path, runs: int) -> dict[str, Any]:
    """Build (untimed by the driver) `runs` finished runs of 5 params, 3 metrics and 2 tags.

    The data come from a seeded generator, so every implementation holds the same runs and a
    search must return the same number of rows from each.
    """
    Metric, Param, RunTag = entities(impl)
    client = client_of(impl, mlflow)
    exp_id = client.create_experiment(SEARCH_EXPERIMENT)
    rng = random.Random(42)
    start = time.perf_counter()
    for r in range(runs):
        run = client.create_run(exp_id, run_name=f"run-{r}")
        rid = run.info.run_id
        ts = BASE_MS + r
        client.log_batch(
            rid,
            metrics=[Metric(k, rng.random(), ts, 0) for k in ("rmse", "mae", "r2")],
            params=[
                Param("max_depth", str(rng.choice([2, 4, 8, 16]))),
                Param("n_estimators", str(rng.choice([50, 100, 200]))),
                Param("lr", str(rng.choice([0.1, 0.01]))),
                Param("seed", str(r)),
                Param("model", rng.choice(["rf", "gbm"])),
            ],
            tags=[RunTag("team", rng.choice(["a", "b"])), RunTag("batch", str(r // 100))],
        )
        client.set_terminated(rid)
    seconds = time.perf_counter() - start
    return {"runs": runs, "build_seconds": seconds, **event_files(impl, folder)}


def event_files(impl: str, folder: Path) -> dict[str, int]:
    """Count reporter's event files (part files and compacted files); {} for MLflow."""
    if impl != "reporter":
        return {}
    root = folder / "store"
    return {
        "part_files": sum(1 for _ in root.glob("runs/*/_parts/*.parquet")),
        "compacted_files": sum(1 for _ in root.glob("runs/*/_compacted/*.parquet")),
    }


def compact(impl: str, mlflow: Any, folder: Path) -> dict[str, Any]:
    """reporter only: merge every finished run's part files once (Client().compact())."""
    if impl != "reporter":
        raise SystemExit("compact is a reporter workload")
    if not hasattr(mlflow.Client(), "compact"):
        return {"compact_seconds": 0.0, "note": "reporter.Client has no compact()"}
    before = event_files(impl, folder)
    start = time.perf_counter()
    mlflow.Client().compact()
    seconds = time.perf_counter() - start
    after = event_files(impl, folder)
    return {"compact_seconds": seconds, "before": before, **after}


def search_time(impl: str, mlflow: Any, calls: int, cold_calls: int) -> dict[str, Any]:
    """Time search_runs with a filter: the first call in the process (a warm-up), then the
    median of `calls` more; for reporter also the median of `cold_calls` with its in-process
    cache of the experiment's runs cleared before each, i.e. reading every file again."""

    def once() -> tuple[float, int]:
        start = time.perf_counter()
        frame = mlflow.search_runs(
            experiment_names=[SEARCH_EXPERIMENT], filter_string=SEARCH_FILTER
        )
        return time.perf_counter() - start, len(frame)

    first, rows = once()
    warm = []
    for _ in range(calls):
        seconds, n = once()
        warm.append(seconds)
        if n != rows:
            raise SystemExit(f"search returned {n} rows, then {rows}")
    result = {"first_seconds": first, "seconds": statistics.median(warm), "rows": rows}
    store = getattr(mlflow.Client(), "store", None) if impl == "reporter" else None
    if store is not None and hasattr(store, "clear_cache"):
        cold = []
        for _ in range(cold_calls):
            store.clear_cache()
            cold.append(once()[0])
        result["uncached_seconds"] = statistics.median(cold)
    return result


def store_bytes(impl: str, folder: Path) -> dict[str, int]:
    """Bytes of a store: its data files (Parquet, SQLite), and every file but artifacts.

    MLflow's file store has no data files of that kind: both figures count its metric, param,
    tag and meta.yaml files.
    """
    if impl == "mlflow-sqlite":
        size = sum(p.stat().st_size for p in folder.glob("mlflow.db*"))
        return {"data": size, "all": size}
    root = folder / ("store" if impl == "reporter" else "mlruns")
    files = [p for p in root.rglob("*") if p.is_file() and "artifacts" not in p.parts]
    every = sum(p.stat().st_size for p in files)
    if impl == "reporter":
        parquet = sum(p.stat().st_size for p in files if p.suffix == ".parquet")
        return {"data": parquet, "all": every}
    return {"data": every, "all": every}


def bytes_per_point(impl: str, mlflow: Any, folder: Path, keys: int, steps: int) -> dict[str, Any]:
    """Bytes on disk per metric point: one run of keys x steps seeded random values.

    Written with log_batch in batches of 1,000 points (MLflow's limit per call), identically
    for every implementation: MLflow's SQLite store takes minutes for 100,000 single calls.
    Timestamps are fixed (50 ms per step) so the bytes do not depend on the machine's speed.
    """
    Metric, _, _ = entities(impl)
    rng = random.Random(7)
    mlflow.set_experiment("bench-bytes")
    client = client_of(impl, mlflow)
    with mlflow.start_run() as run:
        rid = run.info.run_id
        batch = []
        for step in range(steps):
            ts = BASE_MS + 50 * step
            for k in range(keys):
                batch.append(Metric(f"metric_{k}", rng.random(), ts, step))
            if len(batch) >= 1000:
                client.log_batch(rid, metrics=batch)
                batch = []
        if batch:
            client.log_batch(rid, metrics=batch)
    points = keys * steps
    before = store_bytes(impl, folder)
    after = before
    note = ""
    if impl == "reporter":
        if hasattr(client, "compact"):
            client.compact()
            after = store_bytes(impl, folder)
        else:
            note = "reporter.Client has no compact(): figure is before compaction"
    return {
        "note": note,
        "points": points,
        "bytes": after["data"],
        "bytes_all_files": after["all"],
        "bytes_per_point": after["data"] / points,
        "bytes_per_point_uncompacted": before["data"] / points,
    }


def pyarrow_limit(rows: int, folder: Path) -> dict[str, Any]:
    """Write a metric-batch-shaped Arrow table with pyarrow alone: the floor for this work."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    steps = np.arange(rows, dtype=np.int64)
    table = pa.table(
        {
            "key": pa.array(["loss"] * rows, pa.string()),
            "value": pa.array(steps.astype(np.float64)),
            "step": pa.array(steps),
            "timestamp": pa.array(BASE_MS + steps // 100),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "limit.parquet"
    start = time.perf_counter()
    pq.write_table(table, path)
    seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "per_second": rows / seconds}


def main(argv: list[str]) -> None:
    """Parse arguments, run one workload, print its JSON result."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--impl", choices=[*IMPLS, "pyarrow"], required=True)
    parser.add_argument("--workload", choices=WORKLOADS, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="folder for the store")
    parser.add_argument("--n", type=int, default=10_000, help="log_metric calls")
    parser.add_argument("--runs", type=int, default=300, help="runs (runs300, search_build)")
    parser.add_argument("--calls", type=int, default=5, help="timed search calls")
    parser.add_argument("--cold-calls", type=int, help="reporter: calls, cache cleared")
    parser.add_argument("--keys", type=int, default=10, help="metric keys (bytes_per_point)")
    parser.add_argument("--steps", type=int, default=10_000, help="steps (bytes_per_point)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (pyarrow)")
    args = parser.parse_args(argv)
    result: dict[str, Any]
    if args.workload == "pyarrow":
        result = pyarrow_limit(args.rows, args.dir)
    else:
        mlflow = load(args.impl, args.dir)
        if args.workload == "log_metric":
            result = log_metric(mlflow, args.n)
        elif args.workload == "runs300":
            result = runs300(mlflow, args.runs)
        elif args.workload == "search_build":
            result = search_build(args.impl, mlflow, args.dir, args.runs)
        elif args.workload == "compact":
            result = compact(args.impl, mlflow, args.dir)
        elif args.workload == "search_time":
            result = search_time(args.impl, mlflow, args.calls, args.cold_calls or args.calls)
        else:
            result = bytes_per_point(args.impl, mlflow, args.dir, args.keys, args.steps)
    print(json.dumps({"impl": args.impl, "workload": args.workload, **result}))


if __name__ == "__main__":
    main(sys.argv[1:])
