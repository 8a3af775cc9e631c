"""MLflow's `mlflow.tracking` names: `MlflowClient` is `reporter.Client`."""

from reporter.tracking.client import Client as MlflowClient
from reporter.tracking.uri import get_tracking_uri, is_tracking_uri_set, set_tracking_uri

__all__ = ["MlflowClient", "get_tracking_uri", "is_tracking_uri_set", "set_tracking_uri"]
