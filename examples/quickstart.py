"""Quickstart: ordinary MLflow tracking code, run by tracker-report.

    python examples/quickstart.py            # logs into ./tracker-store (or $TRACKER_TRACKING_URI)

Trains a few random forests on scikit-learn's bundled diabetes data set and logs params, a metric
per tree count (as steps), the final scores and the model, registers each model as a version of
`diabetes-forest` and points the `champion` alias at the best one.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

import reporter as mlflow


def main() -> None:
    """Log three runs of an `energy_forecasting`-style regression experiment."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

    mlflow.set_experiment("diabetes_forest")
    mlflow.set_experiment_description(
        "Random forests on scikit-learn's **diabetes** data set: how depth and size trade off."
    )
    for n_estimators, max_depth in [(50, 4), (100, 8), (200, None)]:
        with mlflow.start_run(run_name=f"rf-{n_estimators}-{max_depth}-{{date}}"):
            mlflow.log_params({"n_estimators": n_estimators, "max_depth": max_depth})
            mlflow.set_tag("model_family", "random_forest")
            model = RandomForestRegressor(
                n_estimators=n_estimators, max_depth=max_depth, random_state=0, n_jobs=1
            )
            model.fit(X_train, y_train)
            # the test error as trees are added: one step per 10 trees
            per_tree = np.array([tree.predict(X_test) for tree in model.estimators_])
            for step, count in enumerate(range(10, n_estimators + 1, 10)):
                partial = per_tree[:count].mean(axis=0)
                mlflow.log_metric("rmse", mean_squared_error(y_test, partial) ** 0.5, step=step)
            pred = model.predict(X_test)
            mlflow.log_metrics(
                {"mae": mean_absolute_error(y_test, pred), "r2": r2_score(y_test, pred)}
            )
            mlflow.sklearn.log_model(model, "model", registered_model_name="diabetes-forest")
            mlflow.log_dict({"features": list(load_diabetes().feature_names)}, "features.json")

    runs = mlflow.search_runs(order_by=["metrics.rmse ASC"])
    best = runs.iloc[0]
    print(f"Logged {len(runs)} runs into {mlflow.get_tracking_uri()}")
    print(f"Best run: {best['run_name']} rmse={best['metrics.rmse']:.2f}")
    client = mlflow.MlflowClient()
    (version,) = client.search_model_versions(f"run_id = '{best['run_id']}'")
    client.set_registered_model_alias("diabetes-forest", "champion", version.version)
    print(f"models:/diabetes-forest@champion is version {version.version}")


if __name__ == "__main__":
    main()
