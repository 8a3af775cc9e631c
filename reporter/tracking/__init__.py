"""MLflow's `mlflow.tracking` names: `MlflowClient` is `reporter.Client`."""

from reporter.tracking.client import Client as MlflowClient
from reporter.tracking.uri import get_tracking_uri, set_tracking_uri

__all__ = ["MlflowClient", "get_tracking_uri", "set_tracking_uri"]
