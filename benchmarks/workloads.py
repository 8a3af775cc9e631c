"""One benchmark workload in this process; prints one JSON line of results.

The same code runs against reporter and MLflow (the API is the same), each in its own virtual
environment:

    python benchmarks/workloads.py --impl reporter --workload log_metric --dir /tmp/x --n 200000
    .bench/mlflow-venv/bin/python benchmarks/workloads.py --impl mlflow-sqlite --workload runs300
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

IMPLS = ("reporter", "mlflow-sqlite", "mlflow-file")


def load(impl: str, folder: Path) -> Any:
    """Import the tracking module for an implementation and point it at a store in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    if impl == "reporter":
        import reporter as mlflow

        mlflow.set_tracking_uri(str(folder / "store"))
        return mlflow
    if impl == "mlflow-file":
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    import mlflow

    if impl == "mlflow-sqlite":
        mlflow.set_tracking_uri("sqlite:///" + str(folder / "mlflow.db"))
    else:
        mlflow.set_tracking_uri("file:" + str(folder / "mlruns"))
    return mlflow


def client_of(impl: str, mlflow: Any) -> Any:
    """Return the explicit client (MlflowClient / reporter.Client)."""
    if impl == "reporter":
        return mlflow.Client()
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def log_metric(mlflow: Any, n: int) -> dict[str, Any]:
    """N single log_metric calls in one run, until end_run has made them durable."""
    mlflow.set_experiment("bench-log-metric")
    mlflow.start_run()
    start = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", float(i), step=i)
    mlflow.end_run()
    seconds = time.perf_counter() - start
    return {"calls": n, "seconds": seconds, "per_second": n / seconds}


def runs300(mlflow: Any, runs: int) -> dict[str, Any]:
    """Runs of 20 params, 5 tags and 5 metrics x 50 steps, each logged call by call."""
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
    return {"runs": runs, "seconds": seconds}


SEARCH_FILTER = "metrics.rmse < 0.5 and params.max_depth = '8'"


def search_build(impl: str, mlflow: Any, runs: int, compact: bool = True) -> dict[str, Any]:
    """Build (untimed) an experiment of `runs` runs with 5 params, 3 metrics, 2 tags each."""
    client = client_of(impl, mlflow)
    exp_id = client.create_experiment("bench-search")
    rng = random.Random(42)
    if impl == "reporter":
        from reporter.entities import Metric, Param, RunTag
    else:
        from mlflow.entities import Metric, Param, RunTag
    start = time.perf_counter()
    for r in range(runs):
        run = client.create_run(exp_id, run_name=f"run-{r}")
        rid = run.info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            rid,
            metrics=[Metric(k, rng.random(), now, 0) for k in ("rmse", "mae", "r2")],
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
    build = time.perf_counter() - start
    if impl == "reporter" and compact:
        client.compact()
    return {"runs": runs, "build_seconds": build}


def search_time(impl: str, mlflow: Any, repeat: int) -> dict[str, Any]:
    """Time search_runs with a filter: first call in the process, warm calls, and (reporter)
    calls with its in-process cache cleared, i.e. reading and reducing every file again."""

    def once() -> tuple[float, int]:
        start = time.perf_counter()
        frame = mlflow.search_runs(experiment_names=["bench-search"], filter_string=SEARCH_FILTER)
        return time.perf_counter() - start, len(frame)

    first, rows = once()
    warm = statistics.median(once()[0] for _ in range(repeat))
    uncached = warm
    if impl == "reporter":
        store = mlflow.Client().store
        times = []
        for _ in range(repeat):
            store.clear_cache()
            times.append(once()[0])
        uncached = statistics.median(times)
    return {"first_seconds": first, "warm_seconds": warm, "seconds": uncached, "rows": rows}


def store_bytes(impl: str, folder: Path) -> int:
    """Bytes of the store's metric-bearing files (no artifacts, no environment file)."""
    if impl == "mlflow-sqlite":
        return sum(p.stat().st_size for p in folder.glob("mlflow.db*"))
    root = folder / ("store" if impl == "reporter" else "mlruns")
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and "artifacts" not in path.parts:
            total += path.stat().st_size
    return total


def bytes_per_point(impl: str, mlflow: Any, folder: Path, keys: int, steps: int) -> dict[str, Any]:
    """Bytes on disk per metric point for one run of keys x steps random values."""
    rng = random.Random(7)
    mlflow.set_experiment("bench-bytes")
    client = client_of(impl, mlflow)
    with mlflow.start_run() as run:
        rid = run.info.run_id
        if impl == "reporter":
            for step in range(steps):
                for k in range(keys):
                    mlflow.log_metric(f"metric_{k}", rng.random(), step=step)
        else:  # MLflow call by call takes far too long; its batches store the same rows
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            batch = []
            for step in range(steps):
                for k in range(keys):
                    batch.append(Metric(f"metric_{k}", rng.random(), now + step, step))
                if len(batch) >= 1000:
                    client.log_batch(rid, metrics=batch)
                    batch = []
            if batch:
                client.log_batch(rid, metrics=batch)
    before = store_bytes(impl, folder)
    after = before
    if impl == "reporter":
        client.compact()
        after = store_bytes(impl, folder)
    points = keys * steps
    return {
        "points": points,
        "bytes_before": before,
        "bytes": after,
        "bytes_per_point": after / points,
        "bytes_per_point_uncompacted": before / points,
    }


def pyarrow_limit(rows: int) -> dict[str, Any]:
    """Write a metric-shaped Arrow table with pyarrow alone: the floor for this work."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "key": pa.array(["loss"] * rows),
            "value": pa.array([float(i) for i in range(rows)], pa.float64()),
            "step": pa.array(range(rows), pa.int64()),
            "timestamp": pa.array([1_700_000_000_000 + i // 100 for i in range(rows)], pa.int64()),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        pq.write_table(table, os.path.join(tmp, "x.parquet"))
        seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "per_second": rows / seconds}


def main(argv: list[str]) -> None:
    """Parse arguments, run one workload, print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=[*IMPLS, "pyarrow"], required=True)
    parser.add_argument(
        "--workload",
        required=True,
        choices=[
            "log_metric",
            "runs300",
            "search_build",
            "search_time",
            "bytes_per_point",
            "pyarrow",
        ],
    )
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--no-compact", action="store_true", help="search_build: leave parts")
    args = parser.parse_args(argv)
    if args.workload == "pyarrow":
        result = pyarrow_limit(args.n)
    else:
        mlflow = load(args.impl, args.dir)
        if args.workload == "log_metric":
            result = log_metric(mlflow, args.n)
        elif args.workload == "runs300":
            result = runs300(mlflow, args.n)
        elif args.workload == "search_build":
            result = search_build(args.impl, mlflow, args.n, not args.no_compact)
        elif args.workload == "search_time":
            result = search_time(args.impl, mlflow, args.repeat)
        else:
            result = bytes_per_point(args.impl, mlflow, args.dir, args.keys, args.steps)
    print(json.dumps({"impl": args.impl, "workload": args.workload, **result}))


if __name__ == "__main__":
    main(sys.argv[1:])
