"""MLflow's `mlflow.client`: `MlflowClient` is `reporter.Client`."""

from reporter.tracking.client import Client as MlflowClient

__all__ = ["MlflowClient"]
