"""Benchmark autologging of XGBoost, LightGBM and PyTorch Lightning: the overhead per boosting
round / epoch of reporter's autologging against training without it and against MLflow's.

    .bench/frameworks-venv/bin/python benchmarks/bench_autolog_frameworks.py
    .bench/frameworks-venv/bin/python benchmarks/bench_autolog_frameworks.py --repeat 5

Each figure is a fresh process that trains one model (after a warm-up training that imports
everything and makes the experiment): XGBoost and LightGBM 200 rounds on the diabetes data
with an evaluation set, Lightning 20 epochs of a linear model on 2,000 rows. Without
autologging (the floor), with `reporter.<framework>.autolog()` into a local store (in the
frameworks' venv, `make frameworks`), and with MLflow's autolog into a SQLite store (MLflow 3's
default, in MLflow's venv, `make mlflow`); models are logged in both. Prints the median
milliseconds per round / epoch and each autologging's overhead over the floor.
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

TRAIN = """
import json, logging, sys, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
framework, kind, uri = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "reporter":
    import reporter as mlflow
elif kind == "mlflow":
    import mlflow
from sklearn.datasets import load_diabetes
X, y = load_diabetes(return_X_y=True)

if framework == "xgboost":
    import xgboost as xgb
    train, valid = xgb.DMatrix(X[:300], label=y[:300]), xgb.DMatrix(X[300:], label=y[300:])
    ROUNDS = 200
    def fit(rounds):
        xgb.train({"max_depth": 3}, train, rounds, evals=[(valid, "valid")], verbose_eval=False)
elif framework == "lightgbm":
    import lightgbm as lgb
    train = lgb.Dataset(X[:300], label=y[:300])
    valid = lgb.Dataset(X[300:], label=y[300:], reference=train)
    ROUNDS = 200
    def fit(rounds):
        lgb.train({"num_leaves": 7, "verbose": -1}, train, rounds, valid_sets=[valid])
else:
    import torch
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset
    torch.manual_seed(0)
    Xt = torch.randn(2000, 4)
    yt = (Xt @ torch.tensor([1.0, -2.0, 0.5, 3.0])).unsqueeze(1)
    class Net(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
        def forward(self, x):
            return self.layer(x)
        def training_step(self, batch, i):
            x, t = batch
            loss = torch.nn.functional.mse_loss(self(x), t)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss
        def validation_step(self, batch, i):
            x, t = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self(x), t))
        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.05)
    loaders = (DataLoader(TensorDataset(Xt[:1600], yt[:1600]), batch_size=200),
               DataLoader(TensorDataset(Xt[1600:], yt[1600:]), batch_size=200))
    ROUNDS = 20
    def fit(rounds):
        pl.Trainer(max_epochs=rounds, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False).fit(Net(), *loaders)

if kind != "none":
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    getattr(mlflow, "pytorch" if framework == "lightning" else framework).autolog(silent=True)
fit(2)  # warm-up: imports, the experiment
start = time.perf_counter()
fit(ROUNDS)
print(json.dumps({"ms": (time.perf_counter() - start) * 1000 / ROUNDS, "rounds": ROUNDS}))
"""


def child(python: Path | str, framework: str, kind: str, folder: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKER_"))}
    env.update(TRACKER_LOG_ENVIRONMENT="0", MLFLOW_DISABLE_TELEMETRY="true")
    env.pop("PYTHONPATH", None)
    uri = "sqlite:///mlflow.db" if kind == "mlflow" else "store"
    out = subprocess.run(
        [str(python), "-c", textwrap.dedent(TRAIN), framework, kind, uri],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{framework}/{kind} failed:\n{out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frameworks", default="xgboost,lightgbm,lightning")
    args = parser.parse_args()
    if not MLFLOW_PYTHON.exists():
        raise SystemExit(f"no MLflow venv at {MLFLOW_PYTHON.parent.parent} (make mlflow)")
    print(f"{os.cpu_count()} cores; median ms per round / epoch of {args.repeat} fresh processes")
    print(
        f"{'framework':<10} {'none':>9} {'reporter':>9} {'mlflow':>9}  overhead: reporter, mlflow"
    )
    for framework in args.frameworks.split(","):
        times: dict[str, list[float]] = {"none": [], "reporter": [], "mlflow": []}
        for _ in range(args.repeat):
            for kind in times:
                python = MLFLOW_PYTHON if kind == "mlflow" else sys.executable
                with tempfile.TemporaryDirectory(prefix="bench-autolog-") as folder:
                    times[kind].append(child(python, framework, kind, folder))
        none, ours, theirs = (statistics.median(times[k]) for k in ("none", "reporter", "mlflow"))
        extra = f"+{ours - none:.2f} ms ({ours / none:.2f}x), "
        extra += f"+{theirs - none:.2f} ms ({theirs / none:.2f}x)"
        print(f"{framework:<10} {none:9.2f} {ours:9.2f} {theirs:9.2f}  {extra}")


if __name__ == "__main__":
    main()
