"""MLflow's `mlflow.pytorch`: `reporter.pytorch` is `reporter.integrations.pytorch` itself.

One module object under both names, so patching `reporter.pytorch.log_model` patches what
autologging calls. The names are imported for type checkers.
"""

import sys

from reporter.integrations import pytorch as _flavor
from reporter.integrations.pytorch import (
    autolog,
    load_model,
    load_state_dict,
    log_model,
    log_state_dict,
    save_model,
    save_state_dict,
)

__all__ = [
    "autolog",
    "load_model",
    "load_state_dict",
    "log_model",
    "log_state_dict",
    "save_model",
    "save_state_dict",
]

sys.modules[__name__] = _flavor
