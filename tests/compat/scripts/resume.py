"""Run resumption: log into a finished run again with start_run(run_id=...)."""

import mlflow

mlflow.set_experiment("resume")

with mlflow.start_run(run_name="long-training") as run:
    mlflow.log_param("epochs_planned", 6)
    for epoch in range(3):
        mlflow.log_metric("loss", 1.0 - epoch * 0.2, step=epoch)
run_id = run.info.run_id
assert mlflow.get_run(run_id).info.status == "FINISHED"

with mlflow.start_run(run_id=run_id) as resumed:
    assert resumed.info.run_name == "long-training", resumed.info.run_name
    assert mlflow.get_run(run_id).info.status == "RUNNING"
    for epoch in range(3, 6):
        mlflow.log_metric("loss", 1.0 - epoch * 0.2, step=epoch)
    mlflow.set_tag("resumed", "true")

with mlflow.start_run(run_name="resumed-then-failed") as other:
    mlflow.log_metric("loss", 0.9)
try:
    with mlflow.start_run(run_id=other.info.run_id):
        raise KeyError("checkpoint")
except KeyError:
    pass

SEARCHES: list[tuple[str, str, list[str]]] = [
    ("resume", "tags.resumed = 'true'", []),
    ("resume", "metrics.loss < 0.1", []),
]
