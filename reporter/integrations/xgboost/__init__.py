"""XGBoost: `autolog` (MLflow's `mlflow.xgboost.autolog`) and models as logged models.

`xgboost` itself is imported only when a model is saved, loaded or autologged."""

from reporter.integrations.patching import AutologgingWarning
from reporter.integrations.xgboost.autologging import autolog, is_enabled
from reporter.integrations.xgboost.model import load_model, log_model, save_model

__all__ = ["AutologgingWarning", "autolog", "is_enabled", "load_model", "log_model", "save_model"]
