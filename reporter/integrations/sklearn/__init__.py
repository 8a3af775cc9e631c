"""scikit-learn: `autolog` (MLflow's `mlflow.sklearn.autolog`) and models as run artifacts."""

from reporter.integrations.sklearn.autologging import AutologgingWarning, autolog, is_enabled
from reporter.integrations.sklearn.model import load_model, log_model, save_model

__all__ = ["AutologgingWarning", "autolog", "is_enabled", "load_model", "log_model", "save_model"]
