"""LightGBM: `autolog` (MLflow's `mlflow.lightgbm.autolog`) and models as logged models.

`lightgbm` itself is imported only when a model is saved, loaded or autologged."""

from reporter.integrations.lightgbm.autologging import autolog, is_enabled
from reporter.integrations.lightgbm.model import load_model, log_model, save_model
from reporter.integrations.patching import AutologgingWarning

__all__ = ["AutologgingWarning", "autolog", "is_enabled", "load_model", "log_model", "save_model"]
