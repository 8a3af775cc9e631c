"""Benchmark scikit-learn autologging: reporter.autolog() against mlflow.autolog().

    .venv/bin/python benchmarks/bench_autolog.py               # 100 fits, 3 repeats
    .venv/bin/python benchmarks/bench_autolog.py --fits 50 --repeat 5

Each fresh process fits a small LogisticRegression (iris) --fits times: without autologging
(the floor), with reporter's autolog into a local store, and with MLflow's autolog into a
SQLite store (MLflow 3's default), in MLflow's own venv (.bench/mlflow-venv: `make mlflow`).
Models are logged in all runs. Prints the median milliseconds per fit and the ratios.
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

FITS = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
kind, uri, fits = sys.argv[1], sys.argv[2], int(sys.argv[3])
X, y = load_iris(return_X_y=True)
if kind == "reporter":
    import reporter as mlflow
elif kind == "mlflow":
    import mlflow
if kind != "none":
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    mlflow.autolog(silent=True)
LogisticRegression(max_iter=300).fit(X, y)  # warm-up: imports, the experiment
start = time.perf_counter()
for i in range(fits):
    LogisticRegression(C=1.0 + i, max_iter=300).fit(X, y)
print(json.dumps({"ms": (time.perf_counter() - start) * 1000 / fits}))
"""


def child(python: str, *args: str) -> float:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        TRACKER_LOG_ENVIRONMENT="0",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    out = subprocess.run(
        [python, "-c", textwrap.dedent(FITS), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return float(json.loads(out.stdout.strip().splitlines()[-1])["ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fits", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not MLFLOW_PYTHON.exists():
        raise SystemExit(f"no MLflow venv at {MLFLOW_PYTHON}; run `make mlflow` first")
    times: dict[str, list[float]] = {"no autolog": [], "reporter": [], "mlflow (sqlite)": []}
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeat):
            n = str(args.fits)
            times["no autolog"].append(child(sys.executable, "none", "", n))
            times["reporter"].append(child(sys.executable, "reporter", f"{scratch}/s{i}", n))
            times["mlflow (sqlite)"].append(
                child(str(MLFLOW_PYTHON), "mlflow", f"sqlite:///{scratch}/m{i}.db", n)
            )
            print(f"  round {i + 1}/{args.repeat} done", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{args.fits} LogisticRegression fits on iris per process; medians of {args.repeat}")
    for name, value in med.items():
        print(f"{name:<18}{value:>9.1f} ms/fit{value / med['reporter']:>8.2f}x reporter")


if __name__ == "__main__":
    main()
