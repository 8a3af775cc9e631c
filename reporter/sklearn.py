"""MLflow's `mlflow.sklearn`: `reporter.sklearn` is `reporter.integrations.sklearn` itself.

One module object under both names, so patching `reporter.sklearn.log_model` (as tests of
MLflow code do) patches what autologging calls. The names are imported for type checkers.
"""

import sys

from reporter.integrations import sklearn as _flavor
from reporter.integrations.sklearn import autolog, load_model, log_model, save_model

__all__ = ["autolog", "load_model", "log_model", "save_model"]

sys.modules[__name__] = _flavor
