"""MLflow's `mlflow.models` names: `ModelSignature`, `infer_signature`, `Model`, `ModelInfo`."""

from reporter.integrations.models.model import Model, ModelInfo
from reporter.integrations.models.pyfunc import get_model_info
from reporter.integrations.models.signature import ModelSignature, infer_signature

__all__ = ["Model", "ModelInfo", "ModelSignature", "get_model_info", "infer_signature"]
