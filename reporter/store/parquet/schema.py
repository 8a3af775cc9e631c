"""The store's on-disk format: folder names, the Parquet event schema, its version.

Documented for users in docs/store-format.md; change both together and bump FORMAT_VERSION.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from reporter.core.validation import RUN_ID_MAX as RUN_ID_MAX
from reporter.core.validation import check_run_id as check_run_id
from reporter.store.records import KIND_ATTR as KIND_ATTR
from reporter.store.records import KIND_INPUT as KIND_INPUT
from reporter.store.records import KIND_METRIC as KIND_METRIC
from reporter.store.records import KIND_OUTPUT as KIND_OUTPUT
from reporter.store.records import KIND_PARAM as KIND_PARAM
from reporter.store.records import KIND_TAG as KIND_TAG
from reporter.store.records import KINDS as KINDS

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT_NAME = "tracker-report-store"
FORMAT_VERSION = 1
STORE_FILE = "store.json"
EXPERIMENTS_FOLDER = "experiments"
RUNS_FOLDER = "runs"
PARTS_FOLDER = "_parts"
COMPACTED_FOLDER = "_compacted"
# who compacts an experiment in the background (autocompact): state of one store, never copied
COMPACT_LEASE_FILE = "compacting.json"
ARTIFACTS_FOLDER = "artifacts"
RUN_MARKER_FILE = "run.json"
HEARTBEAT_FILE = "heartbeat"
# experiments/<experiment_id>/<time_ns>-<unique>.edit: one JSON edit event of an experiment
EDIT_SUFFIX = ".edit"
EXPERIMENT_EDIT_FIELDS = ("name", "description", "lifecycle_stage", "last_update_time")
# models/<experiment_id>/_records/<model_id>.json, models/<experiment_id>/_edits/<model_id>/*.edit,
# models/<experiment_id>/<model_id>/artifacts/...: logged models (reporter/store/parquet/models.py)
MODELS_FOLDER = "models"
RECORDS_FOLDER = "_records"
EDITS_FOLDER = "_edits"
ACCESS_FOLDER = "access"  # the tracking server's users and grants (change records)
PARTS_METADATA_KEY = b"tracker.parts"
# runs/<experiment_id>/_archived/*.parquet: summaries of archived runs (reporter/store/parquet/
# archive.py); their footer maps each summary part id to the run, where it went, and the part
# ids it replaces
ARCHIVED_FOLDER = "_archived"
ARCHIVED_METADATA_KEY = b"tracker.archived"
VERSION_METADATA_KEY = b"tracker.format_version"

ATTRIBUTES = (
    "run_name",
    "status",
    "start_time",
    "end_time",
    "user_id",
    "lifecycle_stage",
    "parent_run_id",
)

# an attribute event: who keeps a RUNNING run's status. Absent: its writing process, which
# heart-beats (the run reads KILLED when that stops). "client": a client of a tracking server,
# as in MLflow (RUNNING until the client ends it).
LIVENESS_ATTR = "liveness"
LIVENESS_CLIENT = "client"

COLUMNS = ("run_id", "kind", "key", "value", "text", "step", "timestamp", "part")


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
