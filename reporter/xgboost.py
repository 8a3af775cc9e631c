"""MLflow's `mlflow.xgboost`: `reporter.xgboost` is `reporter.integrations.xgboost` itself.

One module object under both names, so patching `reporter.xgboost.log_model` patches what
autologging calls. The names are imported for type checkers.
"""

import sys

from reporter.integrations import xgboost as _flavor
from reporter.integrations.xgboost import autolog, load_model, log_model, save_model

__all__ = ["autolog", "load_model", "log_model", "save_model"]

sys.modules[__name__] = _flavor
