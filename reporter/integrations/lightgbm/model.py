"""`reporter.lightgbm.log_model` / `save_model` / `load_model`: LightGBM models as logged models.

A `Booster` is saved in LightGBM's text format (`model.lgb`); a scikit-learn wrapper
(`LGBMClassifier`, `LGBMRegressor`, `LGBMRanker`) is pickled (`model.pkl`), as MLflow saves
them. `MLmodel` has MLflow's keys (the `lightgbm` flavor: `data`, `model_class`,
`lgb_version`, `serialization_format`; `python_function`). MLflow's own folders load too
(pickle and cloudpickle; skops files are refused with a message). `lightgbm` is imported only
when a model is saved or loaded.
"""

from __future__ import annotations

import os
import pickle
import platform
from typing import Any

from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.integrations.models import logging as model_logging
from reporter.integrations.models.model import Model, ModelInfo
from reporter.integrations.models.signature import ModelSignature
from reporter.integrations.models.uris import download_model

FLAVOR = "lightgbm"
META_FILE = "MLmodel"
BOOSTER_FILE = "model.lgb"
PICKLE_FILE = "model.pkl"


DEPENDENCIES = ("lightgbm", "numpy", "scipy", "scikit-learn")


def _requirements() -> list[str]:
    return model_logging.pinned(DEPENDENCIES)


def _check(lgb_model: Any) -> None:
    import lightgbm

    if not isinstance(lgb_model, (lightgbm.Booster, lightgbm.LGBMModel)):
        raise InvalidArgumentError(
            "reporter.lightgbm expects a lightgbm.Booster or a scikit-learn wrapper "
            f"(LGBMClassifier, LGBMRegressor, ...), got {type(lgb_model).__name__}"
        )


def _save_files(lgb_model: Any, path: str) -> dict[str, Any]:
    """Save a model into a folder; return its flavors (MLflow's keys)."""
    import lightgbm

    _check(lgb_model)
    os.makedirs(path, exist_ok=True)
    booster = isinstance(lgb_model, lightgbm.Booster)
    data = BOOSTER_FILE if booster else PICKLE_FILE
    if booster:
        lgb_model.save_model(os.path.join(path, data))
    else:
        with open(os.path.join(path, data), "wb") as handle:
            pickle.dump(lgb_model, handle, protocol=pickle.DEFAULT_PROTOCOL)
    cls = type(lgb_model)
    return {
        "python_function": {
            "loader_module": "reporter.lightgbm",
            "data": data,
            "python_version": platform.python_version(),
        },
        FLAVOR: {
            "lgb_version": lightgbm.__version__,
            "data": data,
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "code": None,
            "serialization_format": None if booster else "pickle",
            "skops_trusted_types": None,
        },
    }


def save_model(
    lgb_model: Any,
    path: str,
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    metadata: dict[str, Any] | None = None,
    **ignored: Any,
) -> None:
    """Save a model into a new local model folder (MLflow's `lightgbm.save_model`)."""
    _check(lgb_model)
    flavor = model_logging.FlavorSave(
        FLAVOR, save=lambda folder: _save_files(lgb_model, folder), requirements=_requirements()
    )
    model_logging.save_model(
        flavor,
        path,
        signature=signature,
        input_example=input_example,
        metadata=metadata,
        ignored=ignored,
    )


def log_model(
    lgb_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Any = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    await_registration_for: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    extra_files: Any = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    serialization_format: Any = None,
    skops_trusted_types: Any = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log a LightGBM model as a logged model of the active run; return its `ModelInfo`
    (MLflow 3's `mlflow.lightgbm.log_model` arguments)."""
    _check(lgb_model)
    flavor = model_logging.FlavorSave(
        FLAVOR,
        save=lambda folder: _save_files(lgb_model, folder),
        predict=_Predictor(lgb_model).predict,
        requirements=_requirements(),
    )
    ignored = {
        "conda_env": conda_env,
        "code_paths": code_paths,
        "registered_model_name": registered_model_name,
        "await_registration_for": await_registration_for,
        "extra_files": extra_files,
        "serialization_format": serialization_format,
        "skops_trusted_types": skops_trusted_types,
        **kwargs,
    }
    return model_logging.log_model(
        flavor,
        function="reporter.lightgbm.log_model",
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


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load a Booster or a scikit-learn wrapper from `models:/`, `runs:/` or a folder."""
    import lightgbm

    local = download_model(model_uri, dst_path)
    meta = Model.load(local) if os.path.isfile(os.path.join(local, META_FILE)) else None
    flavor = (meta.flavors.get(FLAVOR) if meta else None) or {}
    data = model_logging.inside(local, str(flavor.get("data") or BOOSTER_FILE))
    if not os.path.isfile(data):
        raise NotFoundError(
            f"No LightGBM model at {model_uri!r} (missing {os.path.basename(data)})"
        )
    model_class = str(flavor.get("model_class") or "lightgbm.basic.Booster")
    if model_class == "lightgbm.basic.Booster":
        return lightgbm.Booster(model_file=data)
    if model_class not in _WRAPPERS:
        raise InvalidArgumentError(
            f"{model_uri}: model_class {model_class!r} is not a LightGBM model class; "
            f"tracker-report loads lightgbm.basic.Booster and {', '.join(sorted(_WRAPPERS))}"
        )
    kind = flavor.get("serialization_format")
    if kind not in (None, "pickle", "cloudpickle"):
        raise InvalidArgumentError(
            f"{model_uri}: a {kind} model; tracker-report loads LightGBM boosters and pickled "
            "scikit-learn wrappers"
        )
    with open(data, "rb") as handle:
        return pickle.load(handle)


_WRAPPERS = frozenset(
    f"lightgbm.sklearn.{name}"
    for name in ("LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")
)


class _Predictor:
    """MLflow's pyfunc predictions of a LightGBM model: `predict` on the data itself."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(data, **(params or {}))

    def get_raw_model(self) -> Any:
        return self.model


def _load_pyfunc(path: str) -> _Predictor:
    """The pyfunc loader (MLflow's name): the model of a local folder, predicting as pyfunc."""
    return _Predictor(load_model(path))
