"""Benchmark `tracker-report import mlflow` from an MLflow SQLite database.

    .venv/bin/python benchmarks/bench_import.py                  # 300 runs, 3 repeats
    .venv/bin/python benchmarks/bench_import.py --runs 100 --repeat 2
    .venv/bin/python benchmarks/bench_import.py --runs 100 --models 20 --versions 5

MLflow (in its own venv, .bench/mlflow-venv: `make mlflow`) writes a database of --runs runs
(20 params, 5 tags, 3 metrics x 100 steps each, one log_batch per run). Then, in fresh
processes, medians of --repeat: the first import into an empty store, a re-import (nothing
new), and as the reference MLflow itself reading every run and metric history back through
`MlflowClient` from the same database (the least any importer that goes through MLflow does).

With --models M, MLflow also registers M models of --versions versions each (from the runs,
with a tag and an alias): the same figures from that database, MLflow's read including the
registry's searches, and the registry's share (the first import minus the runs-only one).
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
runs = [r.info.run_id for r in client.search_runs([exp], max_results=50000)]
for m in range(int(sys.argv[3])):
    name = f"model-{m}"
    client.create_registered_model(name, tags={"team": "bench"}, description="bench")
    for v in range(int(sys.argv[4])):
        rid = runs[(m * int(sys.argv[4]) + v) % len(runs)]
        client.create_model_version(name, f"runs:/{rid}/model", run_id=rid, tags={"v": str(v)})
    client.set_registered_model_alias(name, "champion", 1)
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
models = client.search_registered_models(max_results=1000)
while models.token:
    models = client.search_registered_models(max_results=1000, page_token=models.token)
versions = client.search_model_versions(max_results=10000)
while versions.token:
    versions = client.search_model_versions(max_results=10000, page_token=versions.token)
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
    parser.add_argument("--models", type=int, default=0, help="registered models (0: none)")
    parser.add_argument("--versions", type=int, default=5, help="versions of each model")
    args = parser.parse_args()
    if not MLFLOW_PYTHON.exists():
        raise SystemExit(f"no MLflow venv at {MLFLOW_PYTHON}; run `make mlflow` first")
    sources = [("", 0)] + ([(" + registry", args.models)] if args.models else [])
    with tempfile.TemporaryDirectory() as scratch:
        results = {}
        for label, models in sources:
            db = f"sqlite:///{scratch}/mlflow{models}.db"
            print(f"MLflow writes {args.runs} runs, {models} registered models ...", flush=True)
            child(str(MLFLOW_PYTHON), WRITE, db, str(args.runs), str(models), str(args.versions))
            times: dict[str, list[float]] = {"first import": [], "re-import": [], "mlflow read": []}
            for i in range(args.repeat):
                store = f"{scratch}/store-{models}-{i}"
                first = child(sys.executable, IMPORT, db, store)
                times["first import"].append(first["seconds"])
                times["re-import"].append(child(sys.executable, IMPORT, db, store)["seconds"])
                times["mlflow read"].append(child(str(MLFLOW_PYTHON), READ_MLFLOW, db)["seconds"])
                print(f"  round {i + 1}/{args.repeat}: {first['points']:,.0f} points", flush=True)
            results[label] = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\n{args.runs:,} runs (20 params, 5 tags, 3 metrics x 100 steps); medians of {args.repeat}"
    )
    for label, med in results.items():
        for name, value in med.items():
            print(
                f"{name + label:<28}{value:>8.2f} s{value / med['mlflow read']:>8.2f}x MLflow's "
                f"read{args.runs / value:>10.0f} runs/s"
            )
    if args.models:
        share = results[" + registry"]["first import"] - results[""]["first import"]
        count = args.models * args.versions
        print(
            f"registry's share of the first import: {share:.2f} s for {args.models} models, "
            f"{count} versions ({1000 * share / count:.1f} ms a version)"
        )


if __name__ == "__main__":
    main()
