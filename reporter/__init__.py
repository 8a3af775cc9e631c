"""tracker-report's tracking library: MLflow's fluent API over a Parquet store.

    import reporter as mlflow
    mlflow.set_experiment("energy_forecasting")
    with mlflow.start_run(run_name="baseline-rf"):
        mlflow.log_params({"n_estimators": 200})
        mlflow.log_metric("rmse", 3.2)

Public API re-exports only; pandas, pyarrow and friends are imported when first needed.
MLflow names of features tracker-report leaves out (tracing, the model registry, ...) raise
`UnsupportedFeatureError`, which names the feature (`reporter.core.unsupported`).
"""

from __future__ import annotations

import importlib
from typing import Any

from reporter.core import unsupported as _unsupported
from reporter.core.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    SourceType,
    ViewType,
)
from reporter.core.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    InvalidFilterError,
    NotFoundError,
    ParamConflictError,
    ReporterError,
    RunStateError,
    StoreFormatError,
    StoreWriteError,
    UnsupportedFeatureError,
    UnsupportedURIError,
)
from reporter.core.version import __version__
from reporter.integrations.autologging import autolog
from reporter.tracking.artifacts import Image
from reporter.tracking.client import Client
from reporter.tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_experiment_tag,
    delete_run,
    delete_tag,
    end_run,
    flush_artifact_async_logging,
    flush_async_logging,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_parent_run,
    get_run,
    get_tracking_uri,
    is_tracking_uri_set,
    last_active_run,
    list_artifacts,
    load_table,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_stream,
    log_table,
    log_text,
    restore_experiment,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_description,
    set_experiment_tag,
    set_experiment_tags,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from reporter.tracking.inputs import log_input, log_inputs
from reporter.tracking.model_fluent import (
    ActiveModel,
    clear_active_model,
    create_external_model,
    delete_logged_model_tag,
    finalize_logged_model,
    get_active_model_id,
    get_logged_model,
    initialize_logged_model,
    last_logged_model,
    log_model_params,
    log_outputs,
    search_logged_models,
    set_active_model,
    set_logged_model_tags,
)
from reporter.tracking.registry_fluent import (
    get_registry_uri,
    register_model,
    search_model_versions,
    search_registered_models,
    set_model_version_tag,
    set_registry_uri,
)

MlflowClient = Client
MlflowException = ReporterError

# public submodule names (MLflow's where it has them) -> the module, imported on first use
_LAZY_SUBMODULES = {
    "sklearn": "reporter.sklearn",
    "xgboost": "reporter.xgboost",
    "lightgbm": "reporter.lightgbm",
    "pytorch": "reporter.pytorch",
    "entities": "reporter.entities",
    "tracking": "reporter.tracking",
    "search": "reporter.query.search",
    "artifacts": "reporter.artifacts",
    "client": "reporter.client",
    "exceptions": "reporter.exceptions",
    "protos": "reporter.protos",
    "utils": "reporter.utils",
    "models": "reporter.models",
    "pyfunc": "reporter.pyfunc",
    "data": "reporter.data",
}


def __getattr__(name: str) -> Any:
    """Import `reporter.sklearn` and friends on first use, as `mlflow.sklearn` works; a name
    of an MLflow feature left out raises UnsupportedFeatureError (an AttributeError)."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(_LAZY_SUBMODULES[name])
    if name in _unsupported.LEFT_OUT:
        raise _unsupported.left_out_error(name)
    raise AttributeError(f"module 'reporter' has no attribute {name!r}")


__all__ = [
    "ActiveModel",
    "ActiveRun",
    "AlreadyExistsError",
    "Client",
    "Experiment",
    "Image",
    "InvalidArgumentError",
    "InvalidFilterError",
    "LifecycleStage",
    "Metric",
    "MlflowClient",
    "MlflowException",
    "NotFoundError",
    "Param",
    "ParamConflictError",
    "ReporterError",
    "Run",
    "RunData",
    "RunInfo",
    "RunStateError",
    "RunStatus",
    "RunTag",
    "SourceType",
    "StoreFormatError",
    "StoreWriteError",
    "UnsupportedFeatureError",
    "UnsupportedURIError",
    "ViewType",
    "__version__",
    "active_run",
    "autolog",
    "clear_active_model",
    "create_experiment",
    "create_external_model",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_logged_model_tag",
    "delete_run",
    "delete_tag",
    "end_run",
    "finalize_logged_model",
    "flush_artifact_async_logging",
    "flush_async_logging",
    "get_active_model_id",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_logged_model",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_tracking_uri",
    "initialize_logged_model",
    "is_tracking_uri_set",
    "last_active_run",
    "last_logged_model",
    "list_artifacts",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_model_params",
    "log_outputs",
    "log_param",
    "log_params",
    "log_stream",
    "log_table",
    "log_text",
    "register_model",
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "search_logged_models",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_active_model",
    "set_experiment",
    "set_experiment_description",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_logged_model_tags",
    "set_model_version_tag",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
