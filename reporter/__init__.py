"""tracker-report's tracking library: MLflow's fluent API over a Parquet store.

    import reporter as mlflow
    mlflow.set_experiment("energy_forecasting")
    with mlflow.start_run(run_name="baseline-rf"):
        mlflow.log_params({"n_estimators": 200})
        mlflow.log_metric("rmse", 3.2)

Public API re-exports only; pandas, pyarrow and friends are imported when first needed.
"""

from __future__ import annotations

import importlib
from typing import Any

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
    ViewType,
)
from reporter.core.errors import (
    InvalidArgumentError,
    InvalidFilterError,
    NotFoundError,
    ParamConflictError,
    ReporterError,
    RunStateError,
    StoreFormatError,
    StoreWriteError,
    UnsupportedURIError,
)
from reporter.core.version import __version__
from reporter.integrations.autologging import autolog
from reporter.tracking.client import Client
from reporter.tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
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

MlflowClient = Client
MlflowException = ReporterError

# public submodule names (MLflow's where it has them) -> the module, imported on first use
_LAZY_SUBMODULES = {
    "sklearn": "reporter.sklearn",
    "entities": "reporter.entities",
    "tracking": "reporter.tracking",
    "search": "reporter.query.search",
    "artifacts": "reporter.tracking.artifacts",
    "context": "reporter.tracking.context",
}


def __getattr__(name: str) -> Any:
    """Import `reporter.sklearn` and friends on first use, as `mlflow.sklearn` works."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(_LAZY_SUBMODULES[name])
    raise AttributeError(f"module 'reporter' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "Client",
    "Experiment",
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
    "StoreFormatError",
    "StoreWriteError",
    "UnsupportedURIError",
    "ViewType",
    "__version__",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_description",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
