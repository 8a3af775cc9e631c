"""Logged models: log two, attach metrics to them, find them with search_logged_models."""

import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

mlflow.set_experiment("logged-models")

rng = np.random.default_rng(3)
X = rng.normal(size=(30, 2))
y = (X[:, 0] > 0).astype(int)

for name, c in (("strong", 10.0), ("weak", 0.01)):
    with mlflow.start_run(run_name=f"fit-{name}"):
        model = LogisticRegression(C=c).fit(X, y)
        info = mlflow.sklearn.log_model(
            model, name=name, pip_requirements=["scikit-learn"], params={"C": c}
        )
        mlflow.log_metric("accuracy", float(model.score(X, y)), model_id=info.model_id)

found = mlflow.get_logged_model(info.model_id)
assert found.name == "weak" and found.params == {"C": "0.01"}, found
assert mlflow.last_logged_model().model_id == info.model_id

MODEL_SEARCHES = [
    ("logged-models", "", [{"field_name": "name", "ascending": True}]),
    ("logged-models", "metrics.accuracy > 0.8", []),
    ("logged-models", "params.C = '10.0'", []),
    ("logged-models", "", [{"field_name": "metrics.accuracy", "ascending": False}]),
]
