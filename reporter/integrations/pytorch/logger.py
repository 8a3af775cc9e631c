"""`reporter.pytorch.MLFlowLogger`: a Lightning logger (`Trainer(logger=...)`) writing to a
tracker-report store, with the arguments and behaviour of Lightning's own `MLFlowLogger` (which
needs the `mlflow` package): one run per logger in experiment `experiment_name`, hyperparameters
as params (nested dicts flattened with `/`, values cut at 250 characters), metrics with an
optional `prefix` (joined by `-`), the run ended FINISHED or FAILED with the training, and with
`log_model` the checkpoints as artifacts (`True`: at the end; `"all"`: as they are saved).

The class is made on first use (`reporter.pytorch.MLFlowLogger`), importing Lightning then.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_PARAM_VALUE = 250  # Lightning's MLFlowLogger cuts longer values (MLflow's old limit)
INVALID_KEY = re.compile(r"[^a-zA-Z0-9_/. -]+")  # what Lightning's MLFlowLogger removes
STATUSES = {"success": "FINISHED", "finished": "FINISHED", "failed": "FAILED"}


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


@functools.cache
def logger_class() -> type:
    """Make the logger class (a `lightning.pytorch.loggers.Logger`)."""
    from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
    from lightning.pytorch.utilities.rank_zero import rank_zero_only, rank_zero_warn

    class MLFlowLogger(Logger):  # type: ignore[misc]
        """Lightning's `MLFlowLogger`, logging into a tracker-report store."""

        LOGGER_JOIN_CHAR = "-"

        def __init__(
            self,
            experiment_name: str = "lightning_logs",
            run_name: str | None = None,
            tracking_uri: str | None = os.getenv("MLFLOW_TRACKING_URI"),
            tags: dict[str, Any] | None = None,
            save_dir: str | None = "./mlruns",
            log_model: bool | str = False,
            prefix: str = "",
            artifact_location: str | None = None,
            run_id: str | None = None,
            synchronous: bool | None = None,
        ) -> None:
            super().__init__()
            if log_model not in (True, False, "all"):
                from reporter.core.errors import InvalidArgumentError

                raise InvalidArgumentError(
                    f"log_model must be True, False or 'all', got {log_model!r}"
                )
            self._experiment_name = experiment_name
            self._run_name = run_name
            self._tracking_uri = tracking_uri
            self._tags = dict(tags or {})
            self._save_dir = save_dir
            self._log_model = log_model
            self._prefix = prefix
            self._artifact_location = artifact_location
            self._run_id = run_id
            self._experiment_id: str | None = None
            self._client: Any = None
            self._logged: dict[str, float] = {}  # checkpoint path -> its time when logged
            self._checkpoint_callback: Any = None

        @property
        @rank_zero_experiment  # type: ignore[untyped-decorator]
        def experiment(self) -> Any:
            """The tracker-report client this logger writes with (MLflow's MlflowClient)."""
            if self._client is not None:
                return self._client
            from reporter.tracking.client import Client

            client = Client(self._tracking_uri) if self._tracking_uri else Client()
            if self._run_id is not None:
                self._experiment_id = client.get_run(self._run_id).info.experiment_id
            else:
                found = client.get_experiment_by_name(self._experiment_name)
                self._experiment_id = (
                    found.experiment_id
                    if found is not None
                    else client.create_experiment(
                        self._experiment_name, artifact_location=self._artifact_location
                    )
                )
                from reporter.tracking import context

                tags = {**context.system_tags(), **self._tags}  # mlflow.user, source, ...
                run = client.create_run(self._experiment_id, tags=tags, run_name=self._run_name)
                self._run_id = run.info.run_id
            self._client = client
            return client

        @property
        def run_id(self) -> str | None:
            _ = self.experiment
            return self._run_id

        @property
        def experiment_id(self) -> str | None:
            _ = self.experiment
            return self._experiment_id

        @property
        def name(self) -> str | None:
            return self.experiment_id

        @property
        def version(self) -> str | None:
            return self.run_id

        @property
        def save_dir(self) -> str | None:
            uri = self._tracking_uri or ""
            if uri.startswith("file:"):
                return uri[len("file:") :]
            return self._save_dir if not uri else (uri if "://" not in uri else None)

        @rank_zero_only  # type: ignore[untyped-decorator]
        def log_hyperparams(self, params: Any) -> None:
            from reporter.core.entities import Param

            if not isinstance(params, Mapping):
                params = vars(params)
            flat = _flatten(params)
            items = [Param(k, str(v)[:MAX_PARAM_VALUE]) for k, v in flat.items()]
            self.experiment.log_batch(self.run_id, params=items)

        @rank_zero_only  # type: ignore[untyped-decorator]
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            from reporter.core.entities import Metric

            now = int(time.time() * 1000)
            items = []
            for key, value in metrics.items():
                if isinstance(value, str):
                    rank_zero_warn(f"Discarding metric with string value {key}={value}.")
                    continue
                name = f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key
                clean = INVALID_KEY.sub("", name)
                if clean != name:
                    rank_zero_warn(
                        f"The metric name {name!r} holds characters MLflow refuses; logged as "
                        f"{clean!r}.",
                        category=RuntimeWarning,
                    )
                items.append(Metric(clean, float(value), now, int(step or 0)))
            self.experiment.log_batch(self.run_id, metrics=items)

        @rank_zero_only  # type: ignore[untyped-decorator]
        def finalize(self, status: str = "success") -> None:
            if self._client is None:
                return
            if self._checkpoint_callback is not None and self._log_model:
                self._log_checkpoints(self._checkpoint_callback)
            run = self._client.get_run(self._run_id)
            if run.info.status == "RUNNING":
                self._client.set_terminated(self._run_id, STATUSES.get(status, "FINISHED"))

        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            if self._log_model == "all" or (
                self._log_model is True and checkpoint_callback.save_top_k == -1
            ):
                self._log_checkpoints(checkpoint_callback)
            elif self._log_model is True:
                self._checkpoint_callback = checkpoint_callback

        def _log_checkpoints(self, checkpoint_callback: Any) -> None:
            """Each checkpoint not logged yet, under its file's stem, with `metadata.yaml`
            and `aliases.txt` (as Lightning's MLFlowLogger lays them out)."""
            import yaml
            from lightning.pytorch.loggers.utilities import _scan_checkpoints

            for moment, path, score, _ in _scan_checkpoints(checkpoint_callback, self._logged):
                metadata = {
                    "score": score.item() if hasattr(score, "item") else score,
                    "original_filename": Path(path).name,
                    "Checkpoint": {
                        k: getattr(checkpoint_callback, k, None)
                        for k in ("monitor", "mode", "save_last", "save_top_k")
                    },
                }
                best = path == checkpoint_callback.best_model_path
                aliases = ["latest", "best"] if best else ["latest"]
                folder = Path(path).stem
                self.experiment.log_artifact(self.run_id, path, folder)
                with tempfile.TemporaryDirectory(prefix="reporter-ckpt-") as tmp:
                    with open(os.path.join(tmp, "metadata.yaml"), "w", encoding="utf-8") as out:
                        yaml.dump(metadata, out, default_flow_style=False)
                    with open(os.path.join(tmp, "aliases.txt"), "w", encoding="utf-8") as out:
                        out.write(str(aliases))
                    self.experiment.log_artifacts(self.run_id, tmp, folder)
                self._logged[path] = moment

    MLFlowLogger.__module__ = "reporter.pytorch"
    return MLFlowLogger
