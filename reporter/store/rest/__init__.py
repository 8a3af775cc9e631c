"""The REST store: runs logged to an MLflow tracking server (`http://`, `https://`).

`store.RestStore` speaks MLflow's REST API (`/api/2.0/mlflow/...`) and its proxied artifact API
(`/api/2.0/mlflow-artifacts/artifacts/...`), so it works with `mlflow server` and with
tracker-report's own server. `http` sends requests (retries, credentials, error mapping),
`sender` buffers logged values and sends them in the background, `artifacts` resolves where a
run's files live. httpx is imported when a store is opened, never by `import reporter`.
"""
