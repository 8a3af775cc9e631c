"""Tags given to start_run, one of them not text (MLflow's own REST client cannot send it:
tests/test_compat_server.py's CLIENT_CANNOT)."""

import mlflow

mlflow.set_experiment("start-tags")

with mlflow.start_run(run_name="tagged-at-start", tags={"owner": "ana", "attempt": 2}):
    pass

SEARCHES: list[tuple[str, str, list[str]]] = [
    ("start-tags", "tags.owner = 'ana'", []),
    ("start-tags", "tags.attempt = '2'", []),
]
