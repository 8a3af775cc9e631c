"""PyTorch: `autolog` (MLflow's `mlflow.pytorch.autolog`, for PyTorch Lightning), models and
state dicts as logged models and artifacts, and a Lightning logger (`MLFlowLogger`).

`torch` and `lightning` are imported only when used."""

from typing import Any

from reporter.integrations.patching import AutologgingWarning
from reporter.integrations.pytorch.autologging import autolog, is_enabled
from reporter.integrations.pytorch.model import (
    load_model,
    load_state_dict,
    log_model,
    log_state_dict,
    save_model,
    save_state_dict,
)

__all__ = [
    "AutologgingWarning",
    "MLFlowLogger",
    "autolog",
    "is_enabled",
    "load_model",
    "load_state_dict",
    "log_model",
    "log_state_dict",
    "save_model",
    "save_state_dict",
]


def __getattr__(name: str) -> Any:
    """`MLFlowLogger` is a Lightning class: made (and Lightning imported) on first use."""
    if name == "MLFlowLogger":
        from reporter.integrations.pytorch.logger import logger_class

        return logger_class()
    raise AttributeError(f"module 'reporter.pytorch' has no attribute {name!r}")
