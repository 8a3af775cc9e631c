"""MLflow's `mlflow.lightgbm`: `reporter.lightgbm` is `reporter.integrations.lightgbm` itself.

One module object under both names, so patching `reporter.lightgbm.log_model` patches what
autologging calls. The names are imported for type checkers.
"""

import sys

from reporter.integrations import lightgbm as _flavor
from reporter.integrations.lightgbm import autolog, load_model, log_model, save_model

__all__ = ["autolog", "load_model", "log_model", "save_model"]

sys.modules[__name__] = _flavor
