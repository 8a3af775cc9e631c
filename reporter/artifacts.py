"""MLflow's `mlflow.artifacts`: read artifacts back by URI (runs:/<run_id>/<path>, local paths,
file:// URIs, a run's artifact URI in a store)."""

from reporter.tracking.artifact_reads import (
    download_artifacts,
    list_artifacts,
    load_dict,
    load_image,
    load_text,
)
from reporter.tracking.client import FileInfo

__all__ = [
    "FileInfo",
    "download_artifacts",
    "list_artifacts",
    "load_dict",
    "load_image",
    "load_text",
]
