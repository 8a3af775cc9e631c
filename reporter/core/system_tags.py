"""System tags: what the tracking layer records about a run's context, under one prefix.

The store's own layout (folders, event schema) is `reporter.store.parquet.schema`.
"""

from __future__ import annotations

# System tags, set at run start, all under one prefix.
SYSTEM_TAG_PREFIX = "reporter."
TAG_USER = "reporter.user"
TAG_HOST = "reporter.host"
TAG_SOURCE_NAME = "reporter.source.name"
TAG_SOURCE_TYPE = "reporter.source.type"
TAG_GIT_COMMIT = "reporter.source.git.commit"
TAG_GIT_BRANCH = "reporter.source.git.branch"
TAG_GIT_DIRTY = "reporter.source.git.dirty"
TAG_GIT_REMOTE = "reporter.source.git.repoURL"
TAG_PYTHON = "reporter.python.version"
TAG_RUN_NAME = "reporter.runName"
TAG_PARENT_RUN_ID = "reporter.parentRunId"
TAG_NOTE = "reporter.note.content"
MLFLOW_NOTE = "mlflow.note.content"
TAG_IMPORT_SOURCE = "reporter.import.source"  # where an imported run came from
TAG_IMPORT_DIGEST = "reporter.import.digest"  # what it was, to re-import only changes
ENVIRONMENT_ARTIFACT = "environment/requirements.txt"
