"""MLflow's `mlflow.models.model` names."""

from reporter.integrations.models.model import Model, ModelInfo

__all__ = ["Model", "ModelInfo"]
