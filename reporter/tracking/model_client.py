"""MLflow 3's logged-model methods of `MlflowClient`, mixed into `reporter.Client`.

A logged model is created PENDING (`create_logged_model`), gets its files
(`log_model_artifacts`), and is finalized READY or FAILED (`finalize_logged_model`); tags,
params and metrics can be added at any time. Everything is an append-only record in the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reporter.core import validation
from reporter.core.entities import Metric
from reporter.core.errors import InvalidArgumentError, NotFoundError
from reporter.core.logged_models import (
    LoggedModel,
    LoggedModelOutput,
    LoggedModelStatus,
    new_model_id,
)
from reporter.tracking.file_info import FileInfo, children
from reporter.tracking.names import generate_run_name

if TYPE_CHECKING:
    from reporter.store.protocol import AbstractStore

# the run tags a model logged in a run inherits, as MLflow 3 copies them
INHERITED_TAGS = ("mlflow.user", "mlflow.source.name", "mlflow.source.type")
INHERITED_PREFIXES = ("mlflow.source.git.",)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _texts(kind: str, values: Mapping[str, Any] | None) -> dict[str, str]:
    """Return a tags or params mapping with checked keys and string values."""
    return {validation.key_name(kind, k): str(v) for k, v in (values or {}).items()}


class LoggedModelsMixin:
    """Logged models through the store seam (`Client` provides `store`)."""

    @property
    def store(self) -> AbstractStore:  # provided by Client
        raise NotImplementedError

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """Create a PENDING logged model in an experiment and return it."""
        if source_run_id is not None:
            self.store.get_run(source_run_id)  # a clear NotFoundError for an unknown run
        now = _now_ms()
        model = LoggedModel(
            experiment_id=str(experiment_id),
            model_id=new_model_id(),
            name=validation.key_name("Model name", name) if name else generate_run_name(),
            artifact_location="",
            creation_timestamp=now,
            last_updated_timestamp=now,
            model_type=model_type,
            source_run_id=source_run_id,
            status=LoggedModelStatus.PENDING,
            tags=_texts("Tag", tags),
            params=_texts("Param", params),
        )
        return self.store.create_logged_model(model)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Return a logged model by id."""
        return self.store.get_logged_model(model_id)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> list[LoggedModel]:
        """Return the logged models of these experiments matching a filter, ordered."""
        if page_token:
            raise InvalidArgumentError(
                "page_token is not supported: search_logged_models returns every match"
            )
        from reporter.query.models import search_models  # the filter grammar: on first search

        models = self.store.list_logged_models([str(i) for i in experiment_ids])
        found = search_models(models, filter_string, order_by, datasets)
        return found[:max_results] if max_results is not None else found

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
        """Mark a logged model READY or FAILED and return it."""
        final = LoggedModelStatus.parse(status)
        if final not in (LoggedModelStatus.READY, LoggedModelStatus.FAILED):
            raise InvalidArgumentError(
                f"finalize_logged_model: status must be READY or FAILED, got {final.value}"
            )
        self.store.edit_logged_model(model_id, set_fields={"status": final.value})
        return self.store.get_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        """Set tags of a logged model."""
        self.store.edit_logged_model(model_id, set_tags=_texts("Tag", tags))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove a tag from a logged model (an error if it has no such tag, as MLflow)."""
        if key not in self.store.get_logged_model(model_id).tags:
            raise NotFoundError(f"Logged model {model_id} has no tag {key!r}")
        self.store.edit_logged_model(model_id, delete_tags=[key])

    def log_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Record params of a logged model (a param keeps its first value)."""
        self.store.edit_logged_model(model_id, params=_texts("Param", params))

    def delete_logged_model(self, model_id: str) -> None:
        """Delete a logged model: hidden from searches; its record and files stay."""
        self.store.edit_logged_model(model_id, set_fields={"deleted": True})

    def log_model_metrics(self, model_id: str, metrics: Sequence[Metric]) -> None:
        """Record metric points of a logged model (one edit for the batch)."""
        linked = [
            m if m.model_id == model_id else Metric(**{**m.to_dict(), "model_id": model_id})
            for m in metrics
        ]
        self.store.edit_logged_model(model_id, metrics=linked)

    def log_outputs(self, run_id: str, models: Sequence[LoggedModelOutput]) -> None:
        """Record logged models as outputs of a run (`run.outputs.model_outputs`)."""
        for item in models:
            if not isinstance(item, LoggedModelOutput):
                raise InvalidArgumentError(
                    f"log_outputs takes LoggedModelOutput(model_id, step) values, got {item!r}"
                )
            self.store.get_logged_model(item.model_id)  # a clear error for an unknown model
        self.store.log_outputs(run_id, list(models))
        self.store.flush()

    # files -----------------------------------------------------------------------------------
    def log_model_artifact(self, model_id: str, local_path: str) -> None:
        """Copy one local file into a logged model's files."""
        local = os.fspath(local_path)
        if not os.path.isfile(local):
            raise NotFoundError(f"log_model_artifact: no such file {local!r}")
        self.store.log_model_artifact_file(model_id, local, os.path.basename(local))

    def log_model_artifacts(self, model_id: str, local_dir: str) -> None:
        """Copy every file below a local folder into a logged model's files."""
        local = os.fspath(local_dir)
        if not os.path.isdir(local):
            raise NotFoundError(f"log_model_artifacts: no such folder {local!r}")
        for root, _dirs, files in os.walk(local):
            for name in sorted(files):
                full = os.path.join(root, name)
                if os.path.islink(full):
                    raise InvalidArgumentError(
                        f"log_model_artifacts: {full!r} is a symlink; a model folder holds files"
                    )
                rel = os.path.relpath(full, local).replace(os.sep, "/")
                self.store.log_model_artifact_file(
                    model_id, full, validation.artifact_path(rel, "artifact_path")
                )

    def list_logged_model_artifacts(self, model_id: str, path: str | None = None) -> list[FileInfo]:
        """Return the files and folders directly under a folder of a logged model's files."""
        return children(self.store.list_model_artifacts(model_id), path)

    def download_logged_model_artifacts(
        self, model_id: str, path: str = "", dst_path: str | None = None
    ) -> str:
        """Copy a logged model's files (or a file or folder of them) to a local folder."""
        import tempfile  # with shutil, random, bz2...: only where files are downloaded

        rel = validation.artifact_path(path)
        dst = dst_path or tempfile.mkdtemp(prefix="reporter-model-")
        files = [
            p
            for p, _ in self.store.list_model_artifacts(model_id)
            if not rel or p == rel or p.startswith(rel + "/")
        ]
        if not files:
            raise NotFoundError(f"Logged model {model_id} has no file at {path!r}")
        for p in files:
            self.store.download_model_artifact_file(model_id, p, os.path.join(dst, *p.split("/")))
        return os.path.join(dst, *rel.split("/")) if rel else dst

    def inherited_model_tags(self, run_id: str) -> dict[str, str]:
        """Return the run tags a model logged in that run carries (user, source, git)."""
        tags = self.store.get_run(run_id).data.tags
        return {
            k: v for k, v in tags.items() if k in INHERITED_TAGS or k.startswith(INHERITED_PREFIXES)
        }
