"""MLflow's `pyfunc.load_model(uri).predict(data)` for the flavors tracker-report logs.

`load_model` reads the model folder's `MLmodel`, finds its `python_function` flavor and loads
the model with that flavor's loader (scikit-learn, whether tracker-report or MLflow saved it with
joblib or pickle; XGBoost; LightGBM); `predict` calls the method the flavor names (`predict` by
default), or the flavor's own pyfunc wrapper where it has one (`_load_pyfunc`, MLflow's name:
an XGBoost Booster predicts on a DMatrix made from the data).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from reporter.core.errors import InvalidArgumentError
from reporter.integrations.models.model import Model
from reporter.integrations.models.uris import download_model

# loader_module in MLmodel -> the module whose load_model reads a local model folder
FLAVOR_LOADERS = {
    "reporter.sklearn": "reporter.integrations.sklearn.model",
    "mlflow.sklearn": "reporter.integrations.sklearn.model",
    "reporter.xgboost": "reporter.integrations.xgboost.model",
    "mlflow.xgboost": "reporter.integrations.xgboost.model",
    "reporter.lightgbm": "reporter.integrations.lightgbm.model",
    "mlflow.lightgbm": "reporter.integrations.lightgbm.model",
    "reporter.pytorch": "reporter.integrations.pytorch.model",
    "mlflow.pytorch": "reporter.integrations.pytorch.model",
}


class PyFuncModel:
    """A loaded model with MLflow's generic `predict` interface."""

    def __init__(self, model: Any, metadata: Model, predict_fn: str = "predict") -> None:
        self._model = model
        self.metadata = metadata
        self._predict_fn = predict_fn

    @property
    def model_id(self) -> str | None:
        """The logged model's id, if it was logged."""
        return self.metadata.model_id

    @property
    def loader_module(self) -> str:
        """The module whose loader read the model."""
        return str(self.metadata.flavors["python_function"]["loader_module"])

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Return the model's predictions for `data`."""
        if hasattr(self._model, "get_raw_model"):  # a flavor's own pyfunc wrapper
            return self._model.predict(data, params)
        if params:
            raise InvalidArgumentError("predict: params are not supported for scikit-learn models")
        return getattr(self._model, self._predict_fn)(data)

    def get_raw_model(self) -> Any:
        """Return the underlying model object (the estimator, the Booster)."""
        if hasattr(self._model, "get_raw_model"):
            return self._model.get_raw_model()
        return self._model

    def __repr__(self) -> str:
        return (
            f"mlflow.pyfunc.loaded_model:\n  model_id: {self.model_id}\n"
            f"  flavor: {self.loader_module}\n"
        )


def load_model(
    model_uri: str,
    suppress_warnings: bool = False,
    dst_path: str | None = None,
    model_config: dict[str, Any] | None = None,
) -> PyFuncModel:
    """Load a model as a `PyFuncModel` from `models:/`, `runs:/` or a local folder."""
    local = download_model(model_uri, dst_path)
    meta = Model.load(local)
    conf = meta.flavors.get("python_function")
    if not conf:
        raise InvalidArgumentError(
            f"{model_uri}: the model has no python_function flavor; flavors: "
            f"{', '.join(meta.flavors) or 'none'}"
        )
    loader = str(conf.get("loader_module"))
    if loader not in FLAVOR_LOADERS:
        raise InvalidArgumentError(
            f"{model_uri}: models of loader {loader!r} cannot be loaded by tracker-report; "
            f"it loads {', '.join(FLAVOR_LOADERS)} models"
        )
    # flavors are found by module name, as MLflow's loader_module works (no static import)
    flavor = importlib.import_module(FLAVOR_LOADERS[loader])
    loads = getattr(flavor, "_load_pyfunc", None) or flavor.load_model
    model = loads(local)
    return PyFuncModel(model, meta, str(conf.get("predict_fn") or "predict"))


def get_model_info(model_uri: str) -> Model:
    """Return the `MLmodel` of a model URI."""
    return Model.load(os.path.join(download_model(model_uri), ""))
