"""MLflow's `mlflow.data.dataset_source`: the base class of dataset sources."""

from reporter.data.sources import DatasetSource

__all__ = ["DatasetSource"]
