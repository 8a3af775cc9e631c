"""MLflow's `mlflow.models.signature` names."""

from reporter.integrations.models.signature import (
    ColSpec,
    ModelSignature,
    Schema,
    TensorSpec,
    infer_signature,
)

__all__ = ["ColSpec", "ModelSignature", "Schema", "TensorSpec", "infer_signature"]
