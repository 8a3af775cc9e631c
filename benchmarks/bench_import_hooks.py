"""What `mlflow.autolog()`'s post-import hooks cost every later import.

After `reporter.autolog()` a finder sits on `sys.meta_path` until the frameworks it waits for
are imported, so every import in between asks it first. This times importing pandas and
scipy.stats (about 1,100 modules, none of them a framework) in a fresh process, after
`reporter.autolog()` against the same import without it (the raw limit), and likewise for
MLflow's `mlflow.autolog()` in its venv (`make mlflow`); medians of `--repeat` processes each.

    python benchmarks/bench_import_hooks.py --repeat 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLFLOW_PYTHON = REPO / ".bench" / "mlflow-venv" / "bin" / "python"
TIMED = "t = time.perf_counter(); import pandas, scipy.stats; print(time.perf_counter() - t)"
# each library against its own raw limit, in its own venv (`import mlflow` imports pandas
# itself, so only its two cases compare with each other)
CASES = {
    "reporter, no autologging": (sys.executable, f"import time, reporter\n{TIMED}"),
    "reporter.autolog()": (sys.executable, f"import time, reporter\nreporter.autolog()\n{TIMED}"),
    "mlflow, no autologging": (str(MLFLOW_PYTHON), f"import time, mlflow\n{TIMED}"),
    "mlflow.autolog()": (str(MLFLOW_PYTHON), f"import time, mlflow\nmlflow.autolog()\n{TIMED}"),
}


def timed(python: str, code: str, folder: str) -> float:
    env = {**os.environ, "TRACKER_TRACKING_URI": os.path.join(folder, "store")}
    env["MLFLOW_TRACKING_URI"] = "sqlite:///" + os.path.join(folder, "mlflow.db")
    done = subprocess.run(
        [python, "-c", code], cwd=folder, env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    medians: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, (python, code) in CASES.items():
            if not Path(python).exists():
                print(f"{label}: skipped ({python} missing; make mlflow)")
                continue
            runs = [timed(python, code, folder) for _ in range(args.repeat)]
            medians[label] = statistics.median(runs)
    for label, value in medians.items():
        base = medians[label.split(",")[0].split(".")[0] + ", no autologging"]
        print(f"{label:26s} {value * 1000:8.1f} ms   {value / base:5.3f}x its raw limit")


if __name__ == "__main__":
    main()
