"""Benchmark `tracker-report import mlflow` from an MLflow SQLite database.

    .venv/bin/python benchmarks/bench_import.py                  # 300 runs, 3 repeats
    .venv/bin/python benchmarks/bench_import.py --runs 100 --repeat 2

MLflow (in its own venv, .bench/mlflow-venv: `make mlflow`) writes a database of --runs runs
(20 params, 5 tags, 3 metrics x 100 steps each, one log_batch per run). Then, in fresh
processes, medians of --repeat: the first import into an empty store, a re-import (nothing
new), and as the reference MLflow itself reading every run and metric history back through
`MlflowClient` from the same database (the least any importer that goes through MLflow does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MLFLOW_PYTHON = REPO / ".bench" / "mlflow-venv" / "bin" / "python"

WRITE = """
import sys
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
client = MlflowClient(sys.argv[1])
exp = client.create_experiment("bench")
for r in range(int(sys.argv[2])):
    run = client.create_run(exp, run_name=f"run-{r}", start_time=1_700_000_000_000 + r)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"p{i}", str(i * r)) for i in range(20)],
                     tags=[RunTag(f"t{i}", "x") for i in range(5)],
                     metrics=[Metric(k, s / (r + 1), 1_700_000_000_000 + s, s)
                              for k in ("loss", "rmse", "mae") for s in range(100)])
    client.set_terminated(rid, end_time=1_700_000_100_000 + r)
"""

READ_MLFLOW = """
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import ViewType
start = time.perf_counter()
client = MlflowClient(sys.argv[1])
points = 0
for exp in client.search_experiments(view_type=ViewType.ALL):
    for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL,
                                  max_results=50000):
        for key in run.data.metrics:
            points += len(client.get_metric_history(run.info.run_id, key))
print(json.dumps({"seconds": time.perf_counter() - start, "points": points}))
"""

IMPORT = """
import json, sys, time
from reporter.importers.mlflow.importer import import_mlflow
start = time.perf_counter()
summary = import_mlflow(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start, "points": summary.points}))
"""


def child(python: str, code: str, *args: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO), MLFLOW_TRACKING_URI="")
    out = subprocess.run(
        [python, "-c", textwrap.dedent(code), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1])) if out.stdout.strip() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not MLFLOW_PYTHON.exists():
        raise SystemExit(f"no MLflow venv at {MLFLOW_PYTHON}; run `make mlflow` first")
    times: dict[str, list[float]] = {"first import": [], "re-import": [], "mlflow read": []}
    with tempfile.TemporaryDirectory() as scratch:
        db = f"sqlite:///{scratch}/mlflow.db"
        print(f"MLflow writes {args.runs} runs ...", flush=True)
        child(str(MLFLOW_PYTHON), WRITE, db, str(args.runs))
        for i in range(args.repeat):
            store = f"{scratch}/store-{i}"
            first = child(sys.executable, IMPORT, db, store)
            times["first import"].append(first["seconds"])
            times["re-import"].append(child(sys.executable, IMPORT, db, store)["seconds"])
            times["mlflow read"].append(child(str(MLFLOW_PYTHON), READ_MLFLOW, db)["seconds"])
            print(f"  round {i + 1}/{args.repeat}: {first['points']:,.0f} points", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\n{args.runs:,} runs (20 params, 5 tags, 3 metrics x 100 steps); medians of {args.repeat}"
    )
    for name, value in med.items():
        print(
            f"{name:<16}{value:>8.2f} s{value / med['mlflow read']:>8.2f}x MLflow's read"
            f"{args.runs / value:>10.0f} runs/s"
        )


if __name__ == "__main__":
    main()
