"""A hyperparameter sweep, then the best trials found with search_runs filters and order_by."""

import mlflow

mlflow.set_experiment("sweep")

with mlflow.start_run(run_name="baseline"):
    mlflow.log_param("alpha", "none")
    mlflow.log_metric("rmse", 2.5)

trial = 0
trial_ids = []
for alpha in (0.01, 0.1, 1.0):
    for depth in (2, 4):
        with mlflow.start_run(run_name=f"trial-{trial}") as run:
            trial_ids.append(run.info.run_id)
            mlflow.log_params({"alpha": alpha, "depth": depth})
            rmse = round(0.4 + alpha * 0.8 + 0.1 / depth + trial * 0.001, 6)
            for step in range(3):
                mlflow.log_metric("rmse", rmse + (2 - step) * 0.1, step=step)
            mlflow.log_metric("r2", 1 - rmse / 3)
            mlflow.set_tag("depth_class", "shallow" if depth == 2 else "deep")
        trial += 1

# a trial that crashed before reporting a metric
mlflow.start_run(run_name="trial-crashed")
mlflow.log_params({"alpha": 10.0, "depth": 8})
mlflow.end_run(status="FAILED")

best = mlflow.search_runs(
    filter_string="metrics.rmse < 1 and attributes.status = 'FINISHED'",
    order_by=["metrics.rmse ASC"],
    max_results=2,
)
print(best[["tags.mlflow.runName", "metrics.rmse", "params.alpha"]])

SEARCHES = [
    ("sweep", "metrics.rmse < 1", ["metrics.rmse DESC"]),
    ("sweep", "params.alpha = '0.1'", ["metrics.rmse ASC"]),
    ("sweep", "attributes.status = 'FINISHED'", ["metrics.rmse DESC"]),
    ("sweep", "attributes.status = 'FAILED'", []),
    ("sweep", "tags.mlflow.runName LIKE 'trial-%'", ["params.alpha DESC", "metrics.r2 ASC"]),
    ("sweep", "tags.depth_class = 'deep' AND metrics.r2 >= 0.7", ["metrics.r2 DESC"]),
    ("sweep", "params.depth != '2'", ["attributes.run_name ASC"]),
    ("sweep", f"attributes.run_id IN ('{trial_ids[1]}', '{trial_ids[4]}')", ["metrics.rmse ASC"]),
    ("sweep", "metrics.rmse < 'low'", []),  # not a number: both refuse it
    ("sweep", "tags.mlflow.runName ILIKE 'TRIAL-_'", ["metrics.rmse ASC"]),
    ("sweep", "", ["metrics.rmse ASC"]),
]
