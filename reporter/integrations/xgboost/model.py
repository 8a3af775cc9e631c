"""`reporter.xgboost.log_model` / `save_model` / `load_model`: XGBoost models as logged models.

A model folder holds the model in XGBoost's own format (`model.ubj` by default, MLflow 3's
`model_format`; `json` and the legacy `xgb` too), `MLmodel` with MLflow's keys (the `xgboost`
flavor: `data`, `model_class`, `model_format`, `xgb_version`; `python_function`) and
`requirements.txt`. A `Booster` loads back as a `Booster`; a scikit-learn wrapper
(`XGBClassifier`, `XGBRegressor`, ...) as its own class. `xgboost` is imported only when a
model is saved or loaded.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.integrations.models import logging as model_logging
from reporter.integrations.models.model import Model, ModelInfo
from reporter.integrations.models.signature import ModelSignature
from reporter.integrations.models.uris import download_model

FLAVOR = "xgboost"
META_FILE = "MLmodel"
MODEL_FORMATS = ("ubj", "json", "xgb")


DEPENDENCIES = ("xgboost", "xgboost-cpu", "numpy", "scipy", "scikit-learn")


def _requirements() -> list[str]:
    return model_logging.pinned(DEPENDENCIES)


def _check(xgb_model: Any, model_format: str) -> None:
    import xgboost

    if not isinstance(xgb_model, (xgboost.Booster, xgboost.XGBModel)):
        raise InvalidArgumentError(
            "reporter.xgboost expects an xgboost.Booster or a scikit-learn wrapper "
            f"(XGBClassifier, XGBRegressor, ...), got {type(xgb_model).__name__}"
        )
    if model_format not in MODEL_FORMATS:
        raise InvalidArgumentError(
            f"model_format={model_format!r}: valid formats are {', '.join(MODEL_FORMATS)}"
        )


def _save_files(xgb_model: Any, path: str, model_format: str) -> dict[str, Any]:
    """Save a model in XGBoost's format into a folder; return its flavors (MLflow's keys)."""
    import xgboost

    _check(xgb_model, model_format)
    os.makedirs(path, exist_ok=True)
    data = f"model.{model_format}"
    xgb_model.save_model(os.path.join(path, data))
    cls = type(xgb_model)
    return {
        "python_function": {
            "loader_module": "reporter.xgboost",
            "data": data,
            "python_version": platform.python_version(),
        },
        FLAVOR: {
            "data": data,
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "model_format": model_format,
            "xgb_version": xgboost.__version__,
            "code": None,
        },
    }


def save_model(
    xgb_model: Any,
    path: str,
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    model_format: str = "ubj",
    metadata: dict[str, Any] | None = None,
    **ignored: Any,
) -> None:
    """Save a model into a new local model folder (MLflow's `xgboost.save_model`)."""
    _check(xgb_model, model_format)
    flavor = model_logging.FlavorSave(
        FLAVOR,
        save=lambda folder: _save_files(xgb_model, folder, model_format),
        requirements=_requirements(),
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
    xgb_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Any = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    await_registration_for: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_format: str = "ubj",
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Log an XGBoost model as a logged model of the active run; return its `ModelInfo`
    (MLflow 3's `mlflow.xgboost.log_model` arguments)."""
    _check(xgb_model, model_format)
    flavor = model_logging.FlavorSave(
        FLAVOR,
        save=lambda folder: _save_files(xgb_model, folder, model_format),
        predict=_Predictor(xgb_model).predict,
        requirements=_requirements(),
    )
    ignored = {
        "conda_env": conda_env,
        "code_paths": code_paths,
        "registered_model_name": registered_model_name,
        "await_registration_for": await_registration_for,
        **kwargs,
    }
    return model_logging.log_model(
        flavor,
        function="reporter.xgboost.log_model",
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


def _model_class(name: str) -> type:
    """Return an XGBoost model class named in MLmodel (only xgboost's own classes)."""
    import xgboost
    import xgboost.sklearn

    module, _, attr = name.rpartition(".")
    # only xgboost's own modules are looked in (none is imported for a name)
    known = {"xgboost": xgboost, "xgboost.core": xgboost.core, "xgboost.sklearn": xgboost.sklearn}
    if module not in known:
        raise InvalidArgumentError(
            f"model_class {name!r} is not an XGBoost class; tracker-report loads xgboost's "
            "Booster and its scikit-learn wrappers"
        )
    cls = getattr(known[module], attr, None)
    if not isinstance(cls, type) or not issubclass(cls, (xgboost.Booster, xgboost.XGBModel)):
        raise InvalidArgumentError(f"model_class {name!r} is not an XGBoost model class")
    return cls


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load a Booster or a scikit-learn wrapper from `models:/`, `runs:/` or a folder."""
    local = download_model(model_uri, dst_path)
    meta = Model.load(local) if os.path.isfile(os.path.join(local, META_FILE)) else None
    flavor = (meta.flavors.get(FLAVOR) if meta else None) or {}
    data = model_logging.inside(local, str(flavor.get("data") or "model.xgb"))
    if not os.path.isfile(data):
        raise NotFoundError(f"No XGBoost model at {model_uri!r} (missing {os.path.basename(data)})")
    cls = _model_class(str(flavor.get("model_class") or "xgboost.core.Booster"))
    model = cls()
    model.load_model(data)
    return model


class _Predictor:
    """MLflow's pyfunc predictions of an XGBoost model: a Booster predicts on a DMatrix made
    from the data; a scikit-learn wrapper predicts on the data itself."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import xgboost

        if isinstance(self.model, xgboost.Booster):
            return self.model.predict(xgboost.DMatrix(data), **(params or {}))
        return self.model.predict(data, **(params or {}))

    def get_raw_model(self) -> Any:
        return self.model


def _load_pyfunc(path: str) -> _Predictor:
    """The pyfunc loader (MLflow's name): the model of a local folder, predicting as pyfunc."""
    return _Predictor(load_model(path))
