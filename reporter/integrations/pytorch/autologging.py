"""`reporter.pytorch.autolog()`: MLflow's PyTorch Lightning autologging, on the shared
mechanism.

Enabling it patches `Trainer.fit` of Lightning (`lightning.pytorch`, and the standalone
`pytorch_lightning` where installed). A top-level `fit` records, into the active run or a run
of its own (see `reporter.integrations.patching`), what MLflow records:

* params: `epochs` (the trainer's `max_epochs`), `optimizer_name` and the first optimizer's
  hyperparameters (its `defaults`: `lr`, `betas`, `weight_decay`, ...); `batch_size` when
  training has one DataLoader saying it (MLflow does not log it); with an `EarlyStopping`
  callback its `monitor`, `mode`, `patience`, `min_delta`, `stopped_epoch`;
* the tag `Mode` (`training`; `testing` after `Trainer.test`);
* metrics: every value of `trainer.callback_metrics` at the end of each training epoch (every
  `log_every_n_epoch`-th), step = the epoch; with `log_every_n_step`, metrics logged on steps
  at every n-th global step instead (those are then left out of the epoch values); sanity
  checking logs nothing; after early stopping `stopped_epoch`, `restored_epoch`,
  `best_score` and `wait_count`;
* `model_summary.txt` (Lightning's `ModelSummary`, every layer);
* the trained module as the model named `model` (`log_models`), and, with `checkpoint=True`,
  checkpoints as artifacts under `checkpoints/` (the best one so far by
  `checkpoint_monitor`, or every epoch with `checkpoint_save_best_only=False`), the tag
  `mlflow.latest_checkpoint_artifact` naming the latest.

`lightning` is imported only when autologging is enabled.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reporter.core.errors import InvalidArgumentError
from reporter.integrations import patching
from reporter.integrations.patching import Options

FLAVOR_NAME = "pytorch"
LIGHTNING_MODULES = ("lightning.pytorch", "pytorch_lightning")
EARLY_STOP_PARAMS = ("monitor", "mode", "patience", "min_delta", "stopped_epoch")
CHECKPOINT_DIR = "checkpoints"
LATEST_CHECKPOINT_TAG = "mlflow.latest_checkpoint_artifact"
INTEGRATION = patching.Integration(FLAVOR_NAME)


@dataclass(frozen=True)
class _Config(Options):
    log_every_n_epoch: int = 1
    log_every_n_step: int | None = None
    checkpoint: bool = True
    checkpoint_monitor: str = "val_loss"
    checkpoint_mode: str = "min"
    checkpoint_save_best_only: bool = True
    checkpoint_save_weights_only: bool = False
    checkpoint_save_freq: str | int = "epoch"


def autolog(
    log_every_n_epoch: int = 1,
    log_every_n_step: int | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
    checkpoint: bool = True,
    checkpoint_monitor: str = "val_loss",
    checkpoint_mode: str = "min",
    checkpoint_save_best_only: bool = True,
    checkpoint_save_weights_only: bool = False,
    checkpoint_save_freq: str | int = "epoch",
) -> None:
    """Enable (or with disable=True undo) autologging of PyTorch Lightning training.

    `mlflow.pytorch.autolog`'s signature. Datasets, signatures and model registration are
    not recorded, and plain PyTorch loops (TensorBoard's `SummaryWriter`) are not patched;
    log those with `reporter.log_metric`.
    """
    for name, value in (
        ("log_every_n_epoch", log_every_n_epoch),
        ("log_every_n_step", log_every_n_step),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")
    if checkpoint_mode not in ("min", "max"):
        raise InvalidArgumentError(
            f"checkpoint_mode must be 'min' or 'max', got {checkpoint_mode!r}"
        )
    config = _Config(
        log_models=bool(log_models),
        exclusive=bool(exclusive),
        silent=bool(silent),
        extra_tags=patching.extra_tags_of(extra_tags),
        log_every_n_epoch=log_every_n_epoch,
        log_every_n_step=log_every_n_step,
        checkpoint=bool(checkpoint),
        checkpoint_monitor=checkpoint_monitor,
        checkpoint_mode=checkpoint_mode,
        checkpoint_save_best_only=bool(checkpoint_save_best_only),
        checkpoint_save_weights_only=bool(checkpoint_save_weights_only),
        checkpoint_save_freq=checkpoint_save_freq,
    )
    INTEGRATION.configure(None if disable else config, _patch_all)


def is_enabled() -> bool:
    """Return True while PyTorch Lightning autologging is on."""
    return INTEGRATION.enabled


def lightning_modules() -> list[Any]:
    """The Lightning packages installed here (imported: enabling autologging imports them)."""
    import importlib
    import importlib.util

    found = []
    for name in LIGHTNING_MODULES:
        try:
            if importlib.util.find_spec(name.split(".")[0]) is None:
                continue
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


def imported_lightning_modules() -> list[Any]:
    """The Lightning packages this process has imported (importing nothing)."""
    return [sys.modules[name] for name in LIGHTNING_MODULES if name in sys.modules]


class _Only(threading.local):
    modules: list[Any] | None = None  # autolog_imported: patch these packages only


_only = _Only()


def autolog_imported(package: str, **kwargs: Any) -> None:
    """`autolog(**kwargs)` for `mlflow.autolog()`'s post-import hook of a Lightning package
    (`lightning` or `pytorch_lightning`): patches that package only, imported now, and imports
    no other (another thread may be importing it: its own hook patches it)."""
    import importlib

    module = importlib.import_module(f"{package}.pytorch" if package == "lightning" else package)
    _only.modules = [module]
    try:
        autolog(**kwargs)
    finally:
        _only.modules = None
    INTEGRATION.add(lambda: _plan([module]))  # on already: add this package's trainer


def _patch_all() -> None:
    modules = _only.modules if _only.modules is not None else lightning_modules()
    if not modules:
        raise InvalidArgumentError(
            "reporter.pytorch.autolog() autologs PyTorch Lightning, which is not installed "
            "(pip install lightning)"
        )
    INTEGRATION.replace_all(_plan(modules))


def _plan(modules: list[Any]) -> list[tuple[Any, str, object]]:
    """Patch `Trainer.fit` of each Lightning package not patched yet."""
    folders = {
        os.path.dirname(sys.modules[m.__name__.split(".")[0]].__file__ or "") + os.sep
        for m in modules
    }
    INTEGRATION.framework_folders = tuple(sorted({*INTEGRATION.framework_folders, *folders}))
    plan: list[tuple[Any, str, object]] = []
    for module in modules:
        fit = patching.static_lookup(module.Trainer, "fit")
        if callable(fit) and not INTEGRATION.patched(fit):
            plan.append((module.Trainer, "fit", INTEGRATION.top_level(fit, _logged_fit)))
    return plan


def batch_size(trainer: Any) -> int | None:
    """The training DataLoader's batch size (its own, or its batch sampler's), when training
    has one DataLoader (given alone or as the only one in a list, dict or CombinedLoader) that
    says; None otherwise (several loaders, an iterable dataset's own batching, anything that
    cannot be read)."""
    try:
        loaders = _loaders(getattr(trainer, "train_dataloader", None))
        if len(loaders) != 1:
            return None
        (loader,) = loaders
        size = getattr(loader, "batch_size", None)
        if size is None:
            size = getattr(getattr(loader, "batch_sampler", None), "batch_size", None)
    except Exception:  # a loader's own property failing: no batch size, the rest is logged
        return None
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _loaders(iterables: Any, depth: int = 0) -> list[Any]:
    """The DataLoaders in what Lightning trains on (a loader, a CombinedLoader's iterables,
    lists, tuples and dicts of them)."""
    if iterables is None or depth > 4:
        return []
    if hasattr(iterables, "batch_sampler") or hasattr(iterables, "batch_size"):
        return [iterables]
    inner = getattr(iterables, "iterables", None)  # Lightning's CombinedLoader
    if inner is not None and inner is not iterables:
        return _loaders(inner, depth + 1)
    if isinstance(iterables, Mapping):
        iterables = list(iterables.values())
    if isinstance(iterables, (list, tuple)):
        return [x for item in iterables for x in _loaders(item, depth + 1)]
    return []


MARK = "_reporter_autolog"  # on the callbacks autologging adds to a trainer


def _module_of(trainer: Any) -> Any:
    """The Lightning package whose Trainer this is (a subclass's too), or None."""
    return next((m for m in imported_lightning_modules() if isinstance(trainer, m.Trainer)), None)


def _logged_fit(
    config: _Config, original: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A top-level `Trainer.fit`: callbacks record params and metrics while it trains; then
    the early-stopping results, the model summary and the model."""
    trainer = args[0]
    with INTEGRATION.run(config) as run:
        if run is None:
            return original(*args, **kwargs)
        run_id = run.info.run_id
        pl = INTEGRATION.attempt("find the trainer's Lightning package", _module_of, trainer)
        if pl is None:
            return original(*args, **kwargs)
        early = [c for c in trainer.callbacks if isinstance(c, pl.callbacks.EarlyStopping)]
        for callback in early:
            INTEGRATION.attempt(
                "log the early-stopping params", _log_early_params, run_id, callback
            )
        metrics = _metrics_callback(pl, run_id, config)
        added = [metrics]
        if config.checkpoint:
            added.append(_checkpoint_callback(pl, run_id, config))
        # a later fit's callbacks replace this one's; the metrics callback stays after the
        # fit, as MLflow's does, so that `trainer.test()` logs into the fit's run
        before = [c for c in trainer.callbacks if not getattr(c, MARK, False)]
        trainer.callbacks = before + added
        try:
            result = original(*args, **kwargs)
        finally:
            trainer.callbacks = [c for c in trainer.callbacks if not any(c is a for a in added)]
            trainer.callbacks = [*trainer.callbacks, metrics]
            INTEGRATION.attempt("log the metrics", metrics.flush)
        for callback in early:
            INTEGRATION.attempt(
                "log the early-stopping results", _log_early_metrics, run_id, callback
            )
        INTEGRATION.attempt(
            "log model_summary.txt", _log_summary, pl, run_id, trainer.lightning_module
        )
        if config.log_models:
            INTEGRATION.attempt("log the model", _log_model, trainer.lightning_module)
            best = getattr(getattr(trainer, "checkpoint_callback", None), "best_model_path", "")
            if early and best and os.path.isfile(best):
                INTEGRATION.attempt(
                    "log the restored checkpoint",
                    _log_file,
                    run_id,
                    best,
                    "restored_model_checkpoint",
                )
        return result


def _client() -> Any:
    from reporter.tracking import fluent

    return fluent._client()


def _log_early_params(run_id: str, callback: Any) -> None:
    from reporter.core.entities import Param

    params = [
        Param(p, str(getattr(callback, p))) for p in EARLY_STOP_PARAMS if hasattr(callback, p)
    ]
    _client().log_batch(run_id, params=params)


def _log_early_metrics(run_id: str, callback: Any) -> None:
    """`stopped_epoch`, `restored_epoch`, `best_score`, `wait_count` (when it stopped)."""
    from reporter.core.entities import Metric

    stopped = int(getattr(callback, "stopped_epoch", 0) or 0)
    if stopped == 0:
        return
    values: dict[str, float] = {
        "stopped_epoch": stopped,
        "restored_epoch": stopped - max(1, int(callback.patience)),
    }
    if hasattr(callback, "best_score"):
        values["best_score"] = float(callback.best_score)
    if hasattr(callback, "wait_count"):
        values["wait_count"] = callback.wait_count
    now = int(time.time() * 1000)
    items = [Metric(k, float(v), now, 0) for k, v in values.items()]
    _client().log_batch(run_id, metrics=items)


def _log_summary(pl: Any, run_id: str, module: Any) -> None:
    from_lightning = pl.utilities.model_summary.ModelSummary
    _client().log_text(run_id, str(from_lightning(module, max_depth=-1)), "model_summary.txt")


def _log_model(module: Any) -> None:
    from reporter.integrations import pytorch as flavor  # looked up now: patchable

    flavor.log_model(module, name="model")


def _log_file(run_id: str, path: str, artifact_dir: str) -> None:
    _client().log_artifact(run_id, path, artifact_dir)


def _metrics_callback(pl: Any, run_id: str, config: _Config) -> Any:
    """A Lightning callback recording params at the start, metrics per epoch (and step)."""

    class Metrics(pl.Callback):  # type: ignore[misc]
        _reporter_autolog = True

        def __init__(self) -> None:
            self.pending: list[Any] = []
            self.step_metrics: set[str] = set()
            self.epoch_metrics: set[str] = set()
            self.steps_per_batch = 1

        def record(self, trainer: Any, step: int, items: list[tuple[str, Any]]) -> None:
            from reporter.core.entities import Metric

            if trainer.sanity_checking or not INTEGRATION.enabled:
                return  # (left on a trainer after its fit: quiet once autologging is off)
            now = int(time.time() * 1000)
            self.pending += [Metric(str(k), float(v), now, int(step)) for k, v in items]

        def flush(self) -> None:
            pending, self.pending = self.pending, []
            if pending:
                _client().log_batch(run_id, metrics=pending)

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            INTEGRATION.attempt("log the training params", self._params, trainer)

        def _params(self, trainer: Any) -> None:
            from reporter.core.entities import Param, RunTag

            params: dict[str, Any] = {"epochs": trainer.max_epochs}
            optimizers = list(getattr(trainer, "optimizers", []) or [])
            if optimizers:
                self.steps_per_batch = len(optimizers)
                optimizer = optimizers[0]
                inner = getattr(optimizer, "_optimizer", optimizer)  # a LightningOptimizer
                params["optimizer_name"] = type(inner).__name__
                params.update(getattr(optimizer, "defaults", {}) or {})
            size = batch_size(trainer)
            if size is not None:
                params["batch_size"] = size
            _client().log_batch(
                run_id,
                params=[Param(str(k), str(v)) for k, v in params.items()],
                tags=[RunTag("Mode", "training")],
            )

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            try:
                items = [
                    (k, v)
                    for k, v in trainer.callback_metrics.items()
                    if k not in self.step_metrics
                ]
                self.epoch_metrics.update(k for k, _ in items)
                if (pl_module.current_epoch + 1) % config.log_every_n_epoch == 0:
                    self.record(trainer, pl_module.current_epoch, items)
                    self.flush()
            except Exception as exc:  # never stop training
                INTEGRATION.warn_once("epoch", f"could not log the epoch's metrics: {exc!r}")

        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            if not config.log_every_n_step:
                return
            try:
                metrics = trainer.callback_metrics
                items = [
                    (k, v)
                    for k, v in metrics.items()
                    if k not in self.epoch_metrics and f"{k}_step" not in metrics
                ]
                self.step_metrics.update(k for k, _ in items)
                step = trainer.global_step
                if ((step // self.steps_per_batch) + 1) % config.log_every_n_step == 0:
                    self.record(trainer, step, items)
            except Exception as exc:  # never stop training
                INTEGRATION.warn_once("step", f"could not log the step's metrics: {exc!r}")

        def on_test_end(self, trainer: Any, pl_module: Any) -> None:
            from reporter.core.entities import RunTag

            def log() -> None:
                _client().log_batch(run_id, tags=[RunTag("Mode", "testing")])
                self.record(trainer, 0, list(trainer.callback_metrics.items()))
                self.flush()

            INTEGRATION.attempt("log the test metrics", log)

    return Metrics()


def _checkpoint_callback(pl: Any, run_id: str, config: _Config) -> Any:
    """MLflow's checkpointing: after each epoch (or every `checkpoint_save_freq` steps) the
    checkpoint as an artifact, the best one so far only with `checkpoint_save_best_only`."""

    class Checkpoints(pl.Callback):  # type: ignore[misc]
        _reporter_autolog = True

        def __init__(self) -> None:
            self.best: float | None = None

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if config.checkpoint_save_freq == "epoch":
                self.maybe_save(trainer)

        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            freq = config.checkpoint_save_freq
            if (
                isinstance(freq, int)
                and trainer.global_step > 0
                and trainer.global_step % freq == 0
            ):
                self.maybe_save(trainer)

        def maybe_save(self, trainer: Any) -> None:
            INTEGRATION.attempt("log a checkpoint", self.save, trainer)

        def save(self, trainer: Any) -> None:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            if config.checkpoint_save_best_only:
                value = metrics.get(config.checkpoint_monitor)
                if value is None:
                    INTEGRATION.warn_once(
                        "checkpoint monitor",
                        f"no checkpoint logged: the monitored metric "
                        f"{config.checkpoint_monitor!r} is not among the trainer's metrics",
                    )
                    return
                better = self.best is None or (
                    value < self.best if config.checkpoint_mode == "min" else value > self.best
                )
                if not better:
                    return
                self.best = value
            weights = ".weights" if config.checkpoint_save_weights_only else ""
            if config.checkpoint_save_best_only:
                folder = CHECKPOINT_DIR
                model_file, metrics_file = (
                    f"latest_checkpoint{weights}.pth",
                    "latest_checkpoint_metrics.json",
                )
            else:
                sub = (
                    f"epoch_{trainer.current_epoch}"
                    if config.checkpoint_save_freq == "epoch"
                    else f"global_step_{trainer.global_step}"
                )
                folder = f"{CHECKPOINT_DIR}/{sub}"
                model_file, metrics_file = f"checkpoint{weights}.pth", "checkpoint_metrics.json"
            client = _client()
            from reporter.core.entities import RunTag

            client.log_batch(run_id, tags=[RunTag(LATEST_CHECKPOINT_TAG, f"{folder}/{model_file}")])
            document = {
                **metrics,
                "epoch": trainer.current_epoch,
                "global_step": trainer.global_step,
            }
            client.log_text(run_id, json.dumps(document, indent=2), f"{folder}/{metrics_file}")
            with tempfile.TemporaryDirectory(prefix="reporter-checkpoint-") as tmp:
                path = os.path.join(tmp, model_file)
                checkpoint = trainer._checkpoint_connector.dump_checkpoint(
                    config.checkpoint_save_weights_only
                )
                trainer.strategy.save_checkpoint(checkpoint, path)
                client.log_artifact(run_id, path, folder)

    return Checkpoints()
