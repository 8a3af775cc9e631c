"""MLflow's `mlflow.pyfunc` names: `load_model(uri).predict(data)`."""

from reporter.integrations.models.pyfunc import PyFuncModel, get_model_info, load_model

__all__ = ["PyFuncModel", "get_model_info", "load_model"]
