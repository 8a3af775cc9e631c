"""sklearn autologging: a LogisticRegression and a LinearRegression, logged by fit()."""

import mlflow
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

mlflow.set_experiment("autolog")
mlflow.sklearn.autolog(log_models=False)

X, y = load_iris(return_X_y=True)
with mlflow.start_run(run_name="logistic"):
    LogisticRegression(max_iter=200, C=0.5).fit(X, y)

X, y = load_diabetes(return_X_y=True)
with mlflow.start_run(run_name="linear"):
    LinearRegression().fit(X[:200], y[:200])

mlflow.sklearn.autolog(disable=True)
