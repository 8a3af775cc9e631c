"""Quickstart: params, metrics over steps, tags, and text, dict and file artifacts."""

import os
import tempfile

import mlflow

mlflow.set_experiment("quickstart")

with mlflow.start_run(run_name="first-run") as run:
    mlflow.log_param("learning_rate", 0.01)
    mlflow.log_params({"epochs": 5, "optimizer": "adam", "layers": [64, 32]})
    for epoch in range(5):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
        mlflow.log_metrics(
            {"accuracy": 0.5 + epoch * 0.1, "val_loss": 1.5 - epoch * 0.25}, step=epoch
        )
    mlflow.log_metric("final_score", 0.875)
    mlflow.set_tag("team", "forecasting")
    mlflow.set_tags({"stage": "dev", "priority": 2})
    mlflow.log_text("The model converged after 5 epochs.\n", "notes/summary.txt")
    mlflow.log_dict({"target": "load", "features": ["temp", "hour"], "window": 24}, "config.json")
    mlflow.log_dict({"seed": 42, "split": {"train": 0.8, "test": 0.2}}, "config/split.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "predictions.csv")
        with open(path, "w") as handle:
            handle.write("hour,load\n0,1.5\n1,1.25\n")
        mlflow.log_artifact(path)
        mlflow.log_artifact(path, artifact_path="outputs")
        os.makedirs(os.path.join(tmp, "report", "plots"))
        with open(os.path.join(tmp, "report", "index.md"), "w") as handle:
            handle.write("# Report\n")
        with open(os.path.join(tmp, "report", "plots", "loss.csv"), "w") as handle:
            handle.write("epoch,loss\n0,1.0\n")
        mlflow.log_artifacts(os.path.join(tmp, "report"), artifact_path="report")

with mlflow.start_run(run_name="second-run"):
    mlflow.log_param("learning_rate", 0.1)
    # the same step twice: the later timestamp is the run's latest value
    mlflow.log_metric("loss", 0.5, timestamp=1_700_000_000_000)
    mlflow.log_metric("loss", 0.25, timestamp=1_700_000_001_000)

SEARCHES = [
    ("quickstart", "params.learning_rate = '0.01'", []),
    ("quickstart", "metrics.loss < 0.3", []),
    ("quickstart", "", ["params.learning_rate DESC"]),
]
