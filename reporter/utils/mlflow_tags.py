"""MLflow's `mlflow.utils.mlflow_tags`: the names of the system tags runs record."""

from reporter.core import system_tags

MLFLOW_USER = system_tags.TAG_USER
MLFLOW_SOURCE_NAME = system_tags.TAG_SOURCE_NAME
MLFLOW_SOURCE_TYPE = system_tags.TAG_SOURCE_TYPE
MLFLOW_GIT_COMMIT = system_tags.TAG_GIT_COMMIT
MLFLOW_GIT_BRANCH = system_tags.TAG_GIT_BRANCH
MLFLOW_GIT_DIRTY = system_tags.TAG_GIT_DIRTY
MLFLOW_GIT_REPO_URL = system_tags.TAG_GIT_REMOTE
MLFLOW_RUN_NAME = system_tags.TAG_RUN_NAME
MLFLOW_PARENT_RUN_ID = system_tags.TAG_PARENT_RUN_ID
MLFLOW_RUN_NOTE = system_tags.TAG_NOTE
MLFLOW_AUTOLOGGING = system_tags.TAG_AUTOLOGGING

__all__ = [
    "MLFLOW_AUTOLOGGING",
    "MLFLOW_GIT_BRANCH",
    "MLFLOW_GIT_COMMIT",
    "MLFLOW_GIT_DIRTY",
    "MLFLOW_GIT_REPO_URL",
    "MLFLOW_PARENT_RUN_ID",
    "MLFLOW_RUN_NAME",
    "MLFLOW_RUN_NOTE",
    "MLFLOW_SOURCE_NAME",
    "MLFLOW_SOURCE_TYPE",
    "MLFLOW_USER",
]
