"""The model registry: registering versions and resolving them, against MLflow's default store.

One fresh process per library and repeat registers `--models` models with `--versions`
versions each (`create_registered_model`, `create_model_version` of a plain source), then
resolves every model's `@champion` alias and searches every model's versions. reporter writes
to a store folder, MLflow (its venv, `make mlflow`) to SQLite; the raw limit is the same
number of small JSON files written and listed back with plain Python. Prints medians of
`--repeat`, per call, and the ratios.

    python benchmarks/bench_registry.py --models 20 --versions 10 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLFLOW_PYTHON = REPO / ".bench" / "mlflow-venv" / "bin" / "python"

WORKLOAD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
lib, uri, models, versions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if lib == "mlflow":
    import logging, mlflow
    logging.disable(logging.WARNING)
else:
    import reporter as mlflow
client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
t0 = time.perf_counter()
for m in range(models):
    client.create_registered_model(f"model-{m}")
    for v in range(versions):
        client.create_model_version(f"model-{m}", f"s3://bucket/m{m}/v{v}", run_id=None)
    client.set_registered_model_alias(f"model-{m}", "champion", str(versions))
t1 = time.perf_counter()
for m in range(models):
    assert int(client.get_model_version_by_alias(f"model-{m}", "champion").version) == versions
t2 = time.perf_counter()
for m in range(models):
    assert len(client.search_model_versions(f"name = 'model-{m}'")) == versions
t3 = time.perf_counter()
print(json.dumps({"register": t1 - t0, "alias": t2 - t1, "search": t3 - t2}))
"""

RAW = """
import json, os, sys, time
root, models, versions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
for m in range(models):
    folder = os.path.join(root, f"model-{m}")
    os.makedirs(folder)
    for v in range(versions + 2):  # the versions, the model's record and the alias
        with open(os.path.join(folder, f"{v}.json"), "x") as out:
            json.dump({"version": v, "source": f"s3://bucket/m{m}/v{v}"}, out)
t1 = time.perf_counter()
for m in range(models):
    with open(os.path.join(root, f"model-{m}", f"{versions}.json")) as f:
        json.load(f)
t2 = time.perf_counter()
for m in range(models):
    folder = os.path.join(root, f"model-{m}")
    [json.load(open(os.path.join(folder, n))) for n in os.listdir(folder)]
t3 = time.perf_counter()
print(json.dumps({"register": t1 - t0, "alias": t2 - t1, "search": t3 - t2}))
"""


def run(python: str, code: str, args: list[str], cwd: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [python, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    out: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    counts = [str(args.models), str(args.versions)]
    results: dict[str, list[dict[str, float]]] = {"raw": [], "reporter": [], "mlflow": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            results["raw"].append(run(sys.executable, RAW, [f"{folder}/raw", *counts], folder))
            store = f"{folder}/store"
            results["reporter"].append(
                run(sys.executable, WORKLOAD, ["reporter", store, *counts], folder)
            )
            if MLFLOW_PYTHON.exists():
                uri = f"sqlite:///{folder}/mlflow.db"
                results["mlflow"].append(
                    run(str(MLFLOW_PYTHON), WORKLOAD, ["mlflow", uri, *counts], folder)
                )
    calls = {
        "register": args.models * (args.versions + 2),
        "alias": args.models,
        "search": args.models,
    }
    print(f"{args.models} models x {args.versions} versions, medians of {args.repeat}, ms a call")
    for step, n in calls.items():
        row = {
            lib: statistics.median(r[step] for r in runs) / n * 1000
            for lib, runs in results.items()
            if runs
        }
        shown = "  ".join(f"{lib} {ms:8.3f}" for lib, ms in row.items())
        ratio = ""
        if "mlflow" in row:
            ratio = f"  reporter/mlflow {row['reporter'] / row['mlflow']:.3f}"
        print(f"{step:9s} {shown}{ratio}  reporter/raw {row['reporter'] / row['raw']:.1f}")


if __name__ == "__main__":
    main()
