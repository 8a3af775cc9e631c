"""The store's on-disk format: folder names, the Parquet event schema, its version.

Documented for users in docs/store-format.md; change both together and bump FORMAT_VERSION.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT_NAME = "tracker-report-store"
FORMAT_VERSION = 1
STORE_FILE = "store.json"
EXPERIMENTS_FOLDER = "experiments"
RUNS_FOLDER = "runs"
PARTS_FOLDER = "_parts"
COMPACTED_FOLDER = "_compacted"
ARTIFACTS_FOLDER = "artifacts"
RUN_MARKER_FILE = "run.json"
HEARTBEAT_FILE = "heartbeat"
# experiments/<experiment_id>/<time_ns>-<unique>.edit: one JSON edit event of an experiment
EDIT_SUFFIX = ".edit"
EXPERIMENT_EDIT_FIELDS = ("name", "description", "lifecycle_stage", "last_update_time")
PARTS_METADATA_KEY = b"tracker.parts"
VERSION_METADATA_KEY = b"tracker.format_version"

# Event kinds: one row of the event log each.
KIND_METRIC = "metric"  # key, value, step, timestamp
KIND_PARAM = "param"  # key, text (first value wins)
KIND_TAG = "tag"  # key, text (last event wins; a null text deletes the tag)
KIND_ATTR = "attr"  # key in ATTRIBUTES, text (last event wins)
KINDS = (KIND_METRIC, KIND_PARAM, KIND_TAG, KIND_ATTR)

ATTRIBUTES = (
    "run_name",
    "status",
    "start_time",
    "end_time",
    "user_id",
    "lifecycle_stage",
    "parent_run_id",
)

# The attribute columns of a search_runs frame, in order (metrics.*, params.*, tags.* follow).
RUN_COLUMNS = (
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
    "user_id",
    "lifecycle_stage",
    "parent_run_id",
)

COLUMNS = ("run_id", "kind", "key", "value", "text", "step", "timestamp", "part")

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
RUN_ID_MAX = 64
ENVIRONMENT_ARTIFACT = "environment/requirements.txt"


def check_run_id(run_id: str) -> None:
    """Raise InvalidArgumentError unless a run id can name files: ASCII letters, digits, '_'."""
    from reporter.errors import InvalidArgumentError

    if (
        not isinstance(run_id, str)
        or not 0 < len(run_id) <= RUN_ID_MAX
        or not run_id.isascii()
        or not run_id.replace("_", "").isalnum()
    ):
        raise InvalidArgumentError(
            f"Run id {run_id!r} cannot be stored: use 1 to {RUN_ID_MAX} ASCII letters, "
            "digits and '_'"
        )


def part_file_name(run_id: str, name: str) -> str:
    """Return the file name of a raw part: `<run_id>-<name>.parquet` (run ids have no '-')."""
    return f"{run_id}-{name}.parquet"


def part_id_of_file(file_name: str) -> str | None:
    """Return the part id (`<run_id>/<name>`) of a raw part file name, or None."""
    if not file_name.endswith(".parquet") or "-" not in file_name:
        return None
    run_id, _, name = file_name[: -len(".parquet")].partition("-")
    return f"{run_id}/{name}" if run_id and name else None


@functools.lru_cache(maxsize=1)
def event_schema() -> pa.Schema:
    """Return the Arrow schema of an event part file (format version 1)."""
    import pyarrow as pa

    text = pa.dictionary(pa.int32(), pa.string())
    return pa.schema(
        [
            pa.field("run_id", text, nullable=False),
            pa.field("kind", text, nullable=False),
            pa.field("key", text, nullable=False),
            pa.field("value", pa.float64()),
            pa.field("text", pa.string()),
            pa.field("step", pa.int64(), nullable=False),
            pa.field("timestamp", pa.int64(), nullable=False),
            pa.field("part", text, nullable=False),
        ]
    )
