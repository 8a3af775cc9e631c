"""Datasets: a pandas frame logged as a run input, then runs found by their dataset."""

import mlflow
import pandas as pd

mlflow.set_experiment("datasets")

frame = pd.DataFrame(
    {"temp": [20.5, 21.0, 19.5, 18.0], "hour": [0, 1, 2, 3], "load": [1.5, 1.25, 1.0, 1.75]}
)
train = mlflow.data.from_pandas(frame.iloc[:3], name="load-train", targets="load")
test = mlflow.data.from_pandas(frame.iloc[3:], name="load-test", targets="load")
assert train.name == "load-train" and len(train.digest) == 8, train.digest

with mlflow.start_run(run_name="trained"):
    mlflow.log_input(train, context="training")
    mlflow.log_input(test, context="testing", tags={"split": "holdout"})
    mlflow.log_metric("rmse", 0.25)

with mlflow.start_run(run_name="no-data"):
    mlflow.log_metric("rmse", 0.5)

SEARCHES: list[tuple[str, str, list[str]]] = [
    ("datasets", "datasets.name = 'load-train'", []),
    ("datasets", "datasets.context = 'testing'", []),
    ("datasets", f"datasets.digest = '{train.digest}'", []),
]
