"""`reporter.pytorch.log_model` / `save_model` / `load_model` and the state-dict functions:
PyTorch models as logged models, in MLflow's layout.

A model folder holds `data/model.pth` (the whole module, `torch.save` with the standard
`pickle` module; a TorchScript module with `torch.jit.save`) and `data/pickle_module_info.txt`
(the pickle module's name, as MLflow writes it), `MLmodel` with MLflow's keys (the `pytorch`
flavor: `model_data`, `pytorch_version`, `code`; `python_function` with
`pickle_module_name`) and `requirements.txt`. `log_state_dict` / `load_state_dict` keep just a
state dict (`state_dict.pth`) as run artifacts. `torch` is imported only when used.
"""

from __future__ import annotations

import importlib
import os
import platform
from typing import Any

from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.integrations.models import logging as model_logging
from reporter.integrations.models.model import Model, ModelInfo
from reporter.integrations.models.signature import ModelSignature
from reporter.integrations.models.uris import download_model

FLAVOR = "pytorch"
META_FILE = "MLmodel"
DATA = "data"
MODEL_FILE = "model.pth"
PICKLE_INFO = "pickle_module_info.txt"
STATE_DICT_FILE = "state_dict.pth"
# pickle modules a model folder may name: a loader never imports anything else it names
PICKLE_MODULES = ("pickle", "cloudpickle", "mlflow.pytorch.pickle_module")


DEPENDENCIES = ("torch", "lightning", "numpy")


def _requirements() -> list[str]:
    return model_logging.pinned(DEPENDENCIES)


def _check(pytorch_model: Any) -> None:
    import torch

    if not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidArgumentError(
            f"reporter.pytorch expects a torch.nn.Module, got {type(pytorch_model).__name__}"
        )


def _save_files(pytorch_model: Any, path: str, **torch_kwargs: Any) -> dict[str, Any]:
    """Save a module into a folder; return its flavors (MLflow's keys)."""
    import pickle

    import torch

    _check(pytorch_model)
    data = os.path.join(path, DATA)
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, PICKLE_INFO), "w", encoding="utf-8") as handle:
        handle.write(pickle.__name__)
    target = os.path.join(data, MODEL_FILE)
    if isinstance(pytorch_model, torch.jit.ScriptModule):
        torch.jit.save(pytorch_model, target)
    else:
        torch.save(pytorch_model, target, pickle_module=pickle, **torch_kwargs)
    return {
        "python_function": {
            "loader_module": "reporter.pytorch",
            "data": DATA,
            "pickle_module_name": pickle.__name__,
            "python_version": platform.python_version(),
            "config": {"device": None},  # MLflow's model_config key
        },
        FLAVOR: {"model_data": DATA, "pytorch_version": str(torch.__version__), "code": None},
    }


def save_model(
    pytorch_model: Any,
    path: str,
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    metadata: dict[str, Any] | None = None,
    conda_env: Any = None,
    code_paths: Any = None,
    pickle_module: Any = None,
    extra_files: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    export_model: Any = None,
    serialization_format: str | None = None,
    **kwargs: Any,
) -> None:
    """Save a module into a new local model folder (MLflow's `pytorch.save_model`)."""
    _check_format(serialization_format)
    flavor = model_logging.FlavorSave(
        FLAVOR,
        save=lambda folder: _save_files(pytorch_model, folder, **kwargs),
        requirements=_requirements(),
    )
    ignored = {
        "conda_env": conda_env,
        "code_paths": code_paths,
        "pickle_module": pickle_module,
        "extra_files": extra_files,
        "pip_requirements": pip_requirements,
        "extra_pip_requirements": extra_pip_requirements,
        "export_model": export_model,
    }
    _check(pytorch_model)
    model_logging.save_model(
        flavor,
        path,
        signature=signature,
        input_example=input_example,
        metadata=metadata,
        ignored=ignored,
    )


def _check_format(serialization_format: str | None) -> None:
    if serialization_format not in (None, "pickle"):
        raise InvalidArgumentError(
            f"serialization_format={serialization_format!r}: tracker-report saves PyTorch "
            "models with pickle ('pickle'); 'pt2' (torch.export) is not supported"
        )


def log_model(
    pytorch_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Any = None,
    pickle_module: Any = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    await_registration_for: Any = None,
    extra_files: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    export_model: Any = None,
    serialization_format: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log a module as a logged model of the active run; return its `ModelInfo` (MLflow 3's
    `mlflow.pytorch.log_model` arguments; `kwargs` go to `torch.save`)."""
    _check(pytorch_model)
    _check_format(serialization_format)
    flavor = model_logging.FlavorSave(
        FLAVOR,
        save=lambda folder: _save_files(pytorch_model, folder, **kwargs),
        predict=_Predictor(pytorch_model).predict,
        requirements=_requirements(),
    )
    ignored = {
        "conda_env": conda_env,
        "code_paths": code_paths,
        "pickle_module": pickle_module,
        "registered_model_name": registered_model_name,
        "await_registration_for": await_registration_for,
        "extra_files": extra_files,
        "export_model": export_model,
    }
    return model_logging.log_model(
        flavor,
        function="reporter.pytorch.log_model",
        name=name,
        artifact_path=artifact_path,
        signature=signature,
        input_example=input_example,
        metadata=metadata,
        params=params,
        tags=tags,
        model_type=model_type,
        step=step,
        model_id=model_id,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        ignored=ignored,
    )


def _pickle_module(data: str) -> Any:
    """The pickle module a folder names (only the known ones), the standard one without."""
    info = os.path.join(data, PICKLE_INFO)
    name = "pickle"
    if os.path.isfile(info):
        with open(info, encoding="utf-8") as handle:
            name = handle.read().strip() or "pickle"
    if name not in PICKLE_MODULES:
        raise InvalidArgumentError(
            f"the model names pickle module {name!r}; tracker-report loads models saved with "
            f"{', '.join(PICKLE_MODULES)}"
        )
    # cloudpickle (and MLflow's module, cloudpickle under its own name) writes what the
    # standard module reads; torch.load needs a module with an Unpickler
    return importlib.import_module("pickle")


def load_model(model_uri: str, dst_path: str | None = None, **kwargs: Any) -> Any:
    """Load a module from `models:/`, `runs:/` or a folder (MLflow's or reporter's);
    `kwargs` go to `torch.load` (`map_location=`, ...)."""
    import torch

    local = download_model(model_uri, dst_path)
    meta = Model.load(local) if os.path.isfile(os.path.join(local, META_FILE)) else None
    flavor = (meta.flavors.get(FLAVOR) if meta else None) or {}
    data = model_logging.inside(local, str(flavor.get("model_data") or DATA))
    target = os.path.join(data, MODEL_FILE)
    if not os.path.isfile(target):
        raise NotFoundError(f"No PyTorch model at {model_uri!r} (missing {DATA}/{MODEL_FILE})")
    kwargs.setdefault("pickle_module", _pickle_module(data))
    kwargs.setdefault("weights_only", False)  # a whole module, as MLflow saves it
    return torch.load(target, **kwargs)


def save_state_dict(state_dict: Any, path: str, **kwargs: Any) -> None:
    """Save a state dict into a folder as `state_dict.pth` (MLflow's `save_state_dict`)."""
    import torch

    if not isinstance(state_dict, dict):
        raise InvalidArgumentError(
            f"save_state_dict expects a dict (model.state_dict()), got {type(state_dict).__name__}"
        )
    os.makedirs(path, exist_ok=True)
    torch.save(state_dict, os.path.join(path, STATE_DICT_FILE), **kwargs)


def log_state_dict(state_dict: Any, artifact_path: str, **kwargs: Any) -> None:
    """Log a state dict as the active run's artifacts under `artifact_path`."""
    import tempfile

    from reporter.tracking import fluent

    with tempfile.TemporaryDirectory(prefix="reporter-state-") as tmp:
        save_state_dict(state_dict, tmp, **kwargs)
        fluent.log_artifacts(tmp, artifact_path)


def load_state_dict(state_dict_uri: str, **kwargs: Any) -> Any:
    """Load a state dict from `runs:/<run_id>/<artifact_path>` or a folder (a tensor dict:
    loaded with `weights_only=True` unless told otherwise)."""
    import torch

    local = download_model(state_dict_uri)
    target = os.path.join(local, STATE_DICT_FILE)
    if not os.path.isfile(target):
        raise NotFoundError(f"No state dict at {state_dict_uri!r} (missing {STATE_DICT_FILE})")
    kwargs.setdefault("weights_only", True)
    return torch.load(target, **kwargs)


class _Predictor:
    """MLflow's pyfunc predictions of a module: the data as a float32 tensor through the
    module without gradients; numpy out (a DataFrame for a DataFrame in)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import torch

        frame = None
        if hasattr(data, "to_numpy") and hasattr(data, "columns"):  # a pandas DataFrame
            frame, data = data, data.to_numpy(dtype=np.float32)
        tensor = data if isinstance(data, torch.Tensor) else torch.from_numpy(np.asarray(data))
        training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model(tensor)
        finally:
            self.model.train(training)  # the caller's module, as it was
        values = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out
        if frame is not None:
            import pandas as pd

            return pd.DataFrame(values, index=frame.index)
        return values

    def get_raw_model(self) -> Any:
        return self.model


def _load_pyfunc(path: str) -> _Predictor:
    """The pyfunc loader (MLflow's name): the module of a local folder, predicting as pyfunc."""
    return _Predictor(load_model(path))
