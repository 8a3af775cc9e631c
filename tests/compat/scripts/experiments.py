"""Experiments: create with tags, tag later, search by name and tag, delete and restore."""

import mlflow
from mlflow import MlflowClient

client = MlflowClient()

vision = mlflow.create_experiment("exp-vision", tags={"team": "vision", "priority": "high"})
mlflow.create_experiment("exp-text", tags={"team": "nlp"})
mlflow.create_experiment("scratch")

mlflow.set_experiment("exp-text")
mlflow.set_experiment_tag("dataset", "reviews-v2")
mlflow.set_experiment_tags({"priority": "low", "owner": "ana"})
with mlflow.start_run(run_name="text-run"):
    mlflow.log_metric("f1", 0.81)

client.set_experiment_tag(vision, "mlflow.note.content", "Image models for the **shop**.")
client.set_experiment_tag(vision, "stale", "yes")
client.delete_experiment_tag(vision, "stale")

old = mlflow.create_experiment("old-baselines")
mlflow.delete_experiment(old)
gone = mlflow.get_experiment(old)
assert gone.lifecycle_stage == "deleted", gone.lifecycle_stage
assert mlflow.get_experiment_by_name("old-baselines").lifecycle_stage == "deleted"

doomed = mlflow.create_experiment("to-restore")
client.delete_experiment(doomed)
client.restore_experiment(doomed)
again = mlflow.create_experiment("restored-fluently")
mlflow.delete_experiment(again)
mlflow.restore_experiment(again)

renamed = mlflow.create_experiment("draft-name")
client.rename_experiment(renamed, "final-name")

EXPERIMENT_SEARCHES = [
    ("", ["name ASC"], "ACTIVE_ONLY"),
    ("", ["name ASC"], "DELETED_ONLY"),
    ("", ["name DESC"], "ALL"),
    ("name LIKE 'exp-%'", ["name ASC"], "ACTIVE_ONLY"),
    ("name = 'scratch'", [], "ACTIVE_ONLY"),
    ("tags.team = 'vision'", [], "ACTIVE_ONLY"),
    ("tags.priority != 'high'", ["name ASC"], "ACTIVE_ONLY"),
    ("tags.team LIKE '%l%'", ["name ASC"], "ACTIVE_ONLY"),
    ("name ILIKE '%NAME%'", [], "ALL"),
    ("tags.owner = 'ana' AND name != 'scratch'", [], "ACTIVE_ONLY"),
]
