"""Nested runs: a parent with three children, found again through the parent link."""

import mlflow

mlflow.set_experiment("nested")

with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_param("folds", 3)
    scores = []
    for fold in range(3):
        with mlflow.start_run(run_name=f"fold-{fold}", nested=True) as child:
            score = 0.7 + 0.05 * fold
            mlflow.log_param("fold", fold)
            mlflow.log_metric("score", score)
            scores.append(score)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    mlflow.log_metric("mean_score", sum(scores) / len(scores))

with mlflow.start_run(run_name="unrelated"):
    mlflow.log_metric("score", 0.1)

parent_id = parent.info.run_id
children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
assert sorted(children["tags.mlflow.runName"]) == ["fold-0", "fold-1", "fold-2"], children
assert mlflow.last_active_run().info.run_name == "unrelated"

SEARCHES = [
    ("nested", f"tags.mlflow.parentRunId = '{parent_id}'", ["metrics.score DESC"]),
    ("nested", f"tags.mlflow.parentRunId = '{parent_id}' AND metrics.score > 0.72", []),
    ("nested", "tags.mlflow.parentRunId IS NULL", []),
]
