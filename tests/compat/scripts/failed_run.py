"""Failed runs: an exception inside `with start_run()` ends the run FAILED."""

import mlflow

mlflow.set_experiment("failures")

try:
    with mlflow.start_run(run_name="crashes"):
        mlflow.log_param("data", "broken.csv")
        mlflow.log_metric("rows_read", 12)
        raise ValueError("column 'load' is missing")
except ValueError:
    pass

assert mlflow.active_run() is None
assert mlflow.last_active_run().info.status == "FAILED"

with mlflow.start_run(run_name="outer"):
    try:
        with mlflow.start_run(run_name="inner-fails", nested=True):
            raise RuntimeError("out of memory")
    except RuntimeError:
        mlflow.set_tag("recovered", "yes")

with mlflow.start_run(run_name="stopped"):
    mlflow.log_metric("epoch", 3)
    mlflow.end_run(status="KILLED")

with mlflow.start_run(run_name="fine"):
    mlflow.log_metric("epoch", 10)

SEARCHES: list[tuple[str, str, list[str]]] = [
    ("failures", "attributes.status = 'FAILED'", []),
    ("failures", "attributes.status != 'FINISHED'", []),
]
