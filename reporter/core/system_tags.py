"""System tags: what the tracking layer records about a run's context, under MLflow's names.

MLflow code reads and filters these (`tags.mlflow.parentRunId = '...'`), so a run records
them exactly as MLflow does. Facts MLflow has no name for (the host, the Python version, where
an imported run came from) are ours, under `reporter.`. Stores written before MLflow's names
were used hold `reporter.user`, `reporter.runName` and so on; the store reads each of those as
its MLflow name (`LEGACY_NAMES`), so old and new runs answer the same filters.

The store's own layout (folders, event schema) is `reporter.store.parquet.schema`.
"""

from __future__ import annotations

MLFLOW_PREFIX = "mlflow."  # MLflow's system tags
REPORTER_PREFIX = "reporter."  # ours, for facts MLflow has no tag for
SYSTEM_TAG_PREFIXES = (MLFLOW_PREFIX, REPORTER_PREFIX)

# MLflow's names (mlflow.utils.mlflow_tags), set at run start.
TAG_USER = "mlflow.user"
TAG_SOURCE_NAME = "mlflow.source.name"  # sys.argv[0] as given, "<console>" without one
TAG_SOURCE_TYPE = "mlflow.source.type"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_GIT_BRANCH = "mlflow.source.git.branch"
TAG_GIT_DIRTY = "mlflow.source.git.dirty"  # MLflow names it; its own runs do not set it
TAG_GIT_REMOTE = "mlflow.source.git.repoURL"
TAG_RUN_NAME = "mlflow.runName"
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_NOTE = "mlflow.note.content"  # a run's or an experiment's description
TAG_LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"  # the tables a run logged (log_table)
TAG_AUTOLOGGING = "mlflow.autologging"  # on runs autologging creates: the flavor

# Ours: facts MLflow records nowhere.
TAG_HOST = "reporter.host"
TAG_PYTHON = "reporter.python.version"
TAG_IMPORT_SOURCE = "reporter.import.source"  # where an imported run came from
TAG_IMPORT_DIGEST = "reporter.import.digest"  # what it was, to re-import only changes
ENVIRONMENT_ARTIFACT = "environment/requirements.txt"

# Names older stores used for MLflow's tags, read as MLflow's (docs/store-format.md).
LEGACY_NAMES = {
    "reporter.user": TAG_USER,
    "reporter.source.name": TAG_SOURCE_NAME,
    "reporter.source.type": TAG_SOURCE_TYPE,
    "reporter.source.git.commit": TAG_GIT_COMMIT,
    "reporter.source.git.branch": TAG_GIT_BRANCH,
    "reporter.source.git.dirty": TAG_GIT_DIRTY,
    "reporter.source.git.repoURL": TAG_GIT_REMOTE,
    "reporter.runName": TAG_RUN_NAME,
    "reporter.parentRunId": TAG_PARENT_RUN_ID,
    "reporter.note.content": TAG_NOTE,
    "reporter.autologging": TAG_AUTOLOGGING,
}


def is_system_tag(key: str) -> bool:
    """True for MLflow's system tags and ours (the site lists them apart from user tags)."""
    return key.startswith(SYSTEM_TAG_PREFIXES)
