"""MLflow's `mlflow.protos`: only `databricks_pb2`'s error codes, which MLflow code compares
`MlflowException.error_code` with."""
