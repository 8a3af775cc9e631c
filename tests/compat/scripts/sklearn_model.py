"""Log a scikit-learn model, load it back by its model URI and by run, compare predictions."""

import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

mlflow.set_experiment("models")

rng = np.random.default_rng(7)
X = rng.normal(size=(40, 3))
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
model = LogisticRegression().fit(X, y)

with mlflow.start_run(run_name="train") as run:
    # pip_requirements spares MLflow inferring them (seconds); reporter ignores it
    model_info = mlflow.sklearn.log_model(
        model,
        name="classifier",
        pip_requirements=["scikit-learn"],
        params={"C": 1.0},
        tags={"stage": "candidate"},
    )
assert model_info.run_id == run.info.run_id
assert model_info.model_uri == f"models:/{model_info.model_id}"

loaded = mlflow.sklearn.load_model(model_info.model_uri)
by_run = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/classifier")
with mlflow.start_run(run_name="predict"):
    predictions = loaded.predict(X[:10]).tolist()
    probabilities = loaded.predict_proba(X[:3]).round(6).tolist()
    assert predictions == model.predict(X[:10]).tolist()
    assert by_run.predict(X[:10]).tolist() == predictions
    mlflow.log_dict(
        {"predictions": predictions, "probabilities": probabilities}, "predictions.json"
    )
