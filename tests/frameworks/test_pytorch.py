"""`reporter.pytorch`: PyTorch Lightning autologging, the Lightning logger, and modules and
state dicts logged and loaded back; checked against what Lightning itself reports, against
real MLflow running the same script, and in the site (per-epoch curves of a Lightning run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import reporter
import reporter as mlflow
from reporter.integrations.patching import TAG_AUTOLOGGING
from reporter.integrations.pytorch import autologging
from tests.frameworks import same_script

pytestmark = [
    pytest.mark.usefixtures("undo_autolog"),
    # Lightning's own advice on a CPU machine (workers for DataLoaders, ...)
    pytest.mark.filterwarnings("ignore::UserWarning:lightning.*"),
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
    # and its own use of torch APIs torch deprecates
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


class Net(pl.LightningModule):  # type: ignore[misc]
    """A linear model of four features: a few hundred rows train in well under a second."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def forward(self, x: Any) -> Any:
        return self.layer(x)

    def training_step(self, batch: Any, index: int) -> Any:
        x, t = batch
        loss = torch.nn.functional.mse_loss(self(x), t)
        self.log("train_loss", loss, on_epoch=True, on_step=True)
        return loss

    def validation_step(self, batch: Any, index: int) -> None:
        x, t = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), t))

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class Seen(pl.Callback):  # type: ignore[misc]
    """What Lightning reports at the end of each training epoch (added after autologging's)."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.epochs.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def loaders() -> tuple[DataLoader[Any], DataLoader[Any]]:
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(256, 4, generator=generator)
    y = (X @ torch.tensor([1.0, -2.0, 0.5, 3.0])).unsqueeze(1)
    train = DataLoader(TensorDataset(X[:192], y[:192]), batch_size=32)
    return train, DataLoader(TensorDataset(X[192:], y[192:]), batch_size=32)


def trainer(epochs: int = 3, callbacks: list[Any] | None = None, **kwargs: Any) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=epochs,
        logger=kwargs.pop("logger", False),
        enable_checkpointing=kwargs.pop("enable_checkpointing", False),
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks or [],
        deterministic=True,
        **kwargs,
    )


def runs() -> list[reporter.Run]:
    found = mlflow.search_runs(output_format="list", order_by=["start_time ASC"])
    assert isinstance(found, list)
    return found


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlflow.MlflowClient().get_metric_history(run_id, key)]


def artifact(run_id: str, path: str) -> Path:
    return Path(mlflow.MlflowClient().download_artifacts(run_id, path))


def test_fit_logs_params_every_epochs_metrics_summary_and_model():
    train, val = loaders()
    mlflow.pytorch.autolog()
    seen = Seen()
    net = Net()
    trainer(3, [seen]).fit(net, train, val)
    (run,) = runs()
    assert run.info.status == "FINISHED" and run.data.tags[TAG_AUTOLOGGING] == "pytorch"
    assert run.data.tags["Mode"] == "training"
    params = run.data.params
    assert params["epochs"] == "3" and params["optimizer_name"] == "Adam"
    assert params["lr"] == "0.05" and params["betas"] == "(0.9, 0.999)"
    assert params["weight_decay"] == "0" and params["batch_size"] == "32"
    # every epoch's value as Lightning reported it (its epoch aggregate, not the last step)
    for key in ("val_loss", "train_loss_epoch"):
        assert history(run.info.run_id, key) == [(e, v[key]) for e, v in enumerate(seen.epochs)]
    summary = artifact(run.info.run_id, "model_summary.txt").read_text()
    from lightning.pytorch.utilities.model_summary import ModelSummary

    assert summary == str(ModelSummary(net, max_depth=-1))
    (output,) = run.outputs.model_outputs
    uri = mlflow.MlflowClient().get_logged_model(output.model_id).model_uri
    loaded = mlflow.pytorch.load_model(uri)
    X = torch.randn(5, 4)
    with torch.no_grad():
        torch.testing.assert_close(loaded(X), net(X))
        expected = net(X).numpy()
    np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(X.numpy()), expected)


def test_the_best_checkpoint_is_an_artifact_named_by_a_tag():
    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False)
    seen = Seen()
    trainer(3, [seen]).fit(Net(), train, val)
    (run,) = runs()
    path = run.data.tags["mlflow.latest_checkpoint_artifact"]
    assert path == "checkpoints/latest_checkpoint.pth"
    document = json.loads(
        artifact(run.info.run_id, "checkpoints/latest_checkpoint_metrics.json").read_text()
    )
    best = min(range(3), key=lambda e: seen.epochs[e]["val_loss"])
    assert document["epoch"] == best  # the best val_loss so far is the one kept
    assert document["val_loss"] == pytest.approx(seen.epochs[best]["val_loss"])
    checkpoint = torch.load(artifact(run.info.run_id, path), weights_only=False)
    assert checkpoint["epoch"] == best and "state_dict" in checkpoint


def test_every_n_steps_logs_step_metrics_on_global_steps():
    train, val = loaders()
    mlflow.pytorch.autolog(log_every_n_step=2, log_models=False, checkpoint=False)
    trainer(2).fit(Net(), train, val)
    (run,) = runs()
    steps = [s for s, _ in history(run.info.run_id, "train_loss_step")]
    assert steps == [s for s in range(1, 13) if (s + 1) % 2 == 0]  # 6 batches an epoch
    assert [s for s, _ in history(run.info.run_id, "val_loss")] == [0, 1]


def test_early_stopping_logs_its_params_and_results():
    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False, checkpoint=False)
    stop = pl.callbacks.EarlyStopping("val_loss", patience=1, min_delta=1e9)  # never improves
    trainer(10, [stop]).fit(Net(), train, val)
    (run,) = runs()
    assert run.data.params["monitor"] == "val_loss" and run.data.params["patience"] == "1"
    assert stop.stopped_epoch > 0
    metrics = run.data.metrics
    assert metrics["stopped_epoch"] == stop.stopped_epoch
    assert metrics["restored_epoch"] == stop.stopped_epoch - 1
    assert metrics["best_score"] == pytest.approx(float(stop.best_score))
    assert metrics["wait_count"] == stop.wait_count


def test_state_dicts_and_save_model_round_trip(tmp_path):
    net = Net()
    with mlflow.start_run() as run:
        mlflow.pytorch.log_state_dict(net.state_dict(), "weights")
    state = mlflow.pytorch.load_state_dict(f"runs:/{run.info.run_id}/weights")
    assert state.keys() == net.state_dict().keys()
    for key, value in net.state_dict().items():
        torch.testing.assert_close(state[key], value)
    mlflow.pytorch.save_model(net, str(tmp_path / "m"))
    assert (tmp_path / "m" / "data" / "model.pth").is_file()
    assert (tmp_path / "m" / "data" / "pickle_module_info.txt").read_text() == "pickle"
    X = torch.randn(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(mlflow.pytorch.load_model(str(tmp_path / "m"))(X), net(X))
    with pytest.raises(reporter.exceptions.MlflowException, match="pt2"):
        mlflow.pytorch.save_model(net, str(tmp_path / "n"), serialization_format="pt2")


def test_a_folder_naming_a_foreign_pickle_module_is_refused(tmp_path):
    mlflow.pytorch.save_model(Net(), str(tmp_path / "m"))
    (tmp_path / "m" / "data" / "pickle_module_info.txt").write_text("os")
    with pytest.raises(reporter.exceptions.MlflowException, match="pickle module 'os'"):
        mlflow.pytorch.load_model(str(tmp_path / "m"))


def test_the_lightning_logger_logs_hyperparams_and_metrics_into_a_run(store_uri):
    train, val = loaders()
    logger = mlflow.pytorch.MLFlowLogger(
        experiment_name="lightning", tracking_uri=store_uri, run_name="logged", prefix="fit"
    )
    seen = Seen()
    trainer(2, [seen], logger=logger).fit(Net(lr=0.01), train, val)
    run = mlflow.MlflowClient().get_run(logger.run_id)
    assert run.info.run_name == "logged" and run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.01"}
    assert mlflow.MlflowClient().get_experiment(run.info.experiment_id).name == "lightning"
    logged = history(run.info.run_id, "fit-val_loss")
    assert [v for _, v in logged] == pytest.approx([e["val_loss"] for e in seen.epochs])


def test_disable_puts_back_every_trainers_fit():
    modules = autologging.lightning_modules()
    before = {m.__name__: m.Trainer.__dict__["fit"] for m in modules}
    mlflow.pytorch.autolog()
    assert all(m.Trainer.__dict__["fit"] is not before[m.__name__] for m in modules)
    mlflow.pytorch.autolog(disable=True)
    assert {m.__name__: m.Trainer.__dict__["fit"] for m in modules} == before


def test_the_site_shows_a_lightning_runs_per_epoch_curves(store_uri):
    from reporter.site import contract, model
    from reporter.site.build import build_time
    from reporter.view import loader
    from reporter.view.config import BuildConfig

    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False, checkpoint=False)
    seen = Seen()
    trainer(4, [seen]).fit(Net(), train, val)
    (run,) = runs()
    config = BuildConfig(store=store_uri)
    snapshot = loader.load(loader.open_store(store_uri), config)
    info = contract.SiteInfo("T", "0", build_time(), None)
    site = model.make_site(snapshot, config, info, lambda r, p: None, lambda r, p: "")
    (page,) = [p for p in site.pages if p.info.path == f"runs/{run.info.run_id}/index.html"]
    (chart,) = [c for c in page.context.charts if c.title == "val_loss"]
    assert chart.kind == "line"  # a curve over epochs, not a bar
    a, b = chart.metrics.slices[(run.info.run_id, "val_loss")]
    assert chart.metrics.step[a:b].tolist() == [0, 1, 2, 3]
    assert chart.metrics.value[a:b].tolist() == [e["val_loss"] for e in seen.epochs]


SCRIPT = """
import logging
logging.disable(logging.WARNING)
import torch
import pytorch_lightning as pl  # the package MLflow's autologging looks for callbacks in
from torch.utils.data import DataLoader, TensorDataset
FLAVOR, UNCOMPARED = "pytorch", ("pytorch_version",)
torch.manual_seed(0)
X = torch.randn(256, 4)
y = (X @ torch.tensor([1.0, -2.0, 0.5, 3.0])).unsqueeze(1)
class Net(pl.LightningModule):  # type: ignore[misc]
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
    def forward(self, x):
        return self.layer(x)
    def training_step(self, batch, i):
        x, t = batch
        loss = torch.nn.functional.mse_loss(self(x), t)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss
    def validation_step(self, batch, i):
        x, t = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), t))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.5)
mlflow.pytorch.autolog()
train = DataLoader(TensorDataset(X[:192], y[:192]), batch_size=32)
val = DataLoader(TensorDataset(X[192:], y[192:]), batch_size=32)
stop = pl.callbacks.EarlyStopping("val_loss", patience=1, min_delta=1e9)
# (Lightning's checkpointing on: MLflow 3.17 fails after training when early stopping runs
# without it, and logs no early-stopping results then)
trainer = pl.Trainer(max_epochs=4, logger=False, default_root_dir="lightning",
                     enable_progress_bar=False, enable_model_summary=False,
                     callbacks=[stop], deterministic=True)
with mlflow.start_run(run_name="fit"):
    trainer.fit(Net(), train, val)
"""


def test_the_same_script_logs_what_mlflow_logs(tmp_path):
    """Params, every metric value at every epoch, artifacts (the checkpoint, the summary),
    tags and the model's flavor, value by value (pytorch_lightning: the package MLflow's
    autologging finds EarlyStopping in)."""
    ours, theirs = same_script.under_both(tmp_path, SCRIPT)
    assert ours[0]["params"].pop("batch_size") == "32"  # MLflow does not log it
    same_script.assert_same(ours, theirs)
    (run,) = ours
    assert {"stopped_epoch", "restored_epoch", "val_loss"} <= set(run["metrics"])
    assert "restored_model_checkpoint" in run["artifacts"]
    assert run["params"]["momentum"] == "0.5" and run["params"]["patience"] == "1"


# found by an adversarial review ---------------------------------------------------------------
def test_a_trainer_subclass_trains_and_logs():
    class MyTrainer(pl.Trainer):  # type: ignore[misc]
        pass

    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False, checkpoint=False)
    MyTrainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False
    ).fit(Net(), train, val)
    (run,) = runs()
    assert run.info.status == "FINISHED" and run.data.params["epochs"] == "2"


def test_test_after_fit_logs_into_the_fits_run():
    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False, checkpoint=False)

    class Tested(Net):
        def test_step(self, batch: Any, index: int) -> None:
            x, t = batch
            self.log("test_loss", torch.nn.functional.mse_loss(self(x), t))

    net = Tested()
    fitted = trainer(1)
    with mlflow.start_run() as run:
        fitted.fit(net, train, val)
        fitted.test(net, val)
    data = mlflow.MlflowClient().get_run(run.info.run_id).data
    assert data.tags["Mode"] == "testing" and "test_loss" in data.metrics


def test_predicting_through_log_model_leaves_the_module_training():
    net = Net()
    net.train()
    with mlflow.start_run():
        mlflow.pytorch.log_model(net, name="model", input_example=np.zeros((2, 4), np.float32))
    assert net.training


@pytest.mark.parametrize("name", ["cloudpickle", "mlflow.pytorch.pickle_module"])
def test_folders_mlflow_pickled_load(tmp_path, name):
    net = Net()
    mlflow.pytorch.save_model(net, str(tmp_path / "m"))
    (tmp_path / "m" / "data" / "pickle_module_info.txt").write_text(name)
    X = torch.randn(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(mlflow.pytorch.load_model(str(tmp_path / "m"))(X), net(X))


def test_ctrl_c_in_lightning_ends_the_run_killed():
    import signal

    class Interrupt(pl.Callback):  # type: ignore[misc]
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            raise KeyboardInterrupt

    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False, checkpoint=False)
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):  # Lightning's answer to Ctrl-C
            trainer(3, [Interrupt()]).fit(Net(), train, val)
    finally:
        signal.signal(signal.SIGINT, handler)  # (Lightning ignores SIGINT from then on)
    (run,) = runs()
    assert run.info.status == "KILLED"


def test_the_loggers_runs_carry_mlflows_context_tags(store_uri):
    train, val = loaders()
    logger = mlflow.pytorch.MLFlowLogger(experiment_name="tags", tracking_uri=store_uri)
    trainer(1, logger=logger).fit(Net(), train, val)
    tags = mlflow.MlflowClient().get_run(logger.run_id).data.tags
    assert {"mlflow.user", "mlflow.source.name", "mlflow.source.type"} <= set(tags)


def test_a_warning_from_inside_lightning_points_at_the_users_line(monkeypatch):
    from reporter.integrations.patching import AutologgingWarning
    from reporter.integrations.pytorch import autologging as pt

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False, checkpoint=False)
    monkeypatch.setattr(pt, "_client", lambda: type("C", (), {"log_batch": broken})())
    with pytest.warns(AutologgingWarning) as seen:
        trainer(1).fit(Net(), train, val)
    ours = [w for w in seen if issubclass(w.category, AutologgingWarning)]
    assert any("could not log the training params" in str(w.message) for w in ours)
    assert {w.filename for w in ours} == {__file__}  # past Lightning's frames, to this line


class TwoLoaderNet(Net):
    def training_step(self, batch: Any, index: int) -> Any:
        return super().training_step(batch["a"], index)


def test_the_batch_size_is_logged_where_the_training_loader_says_it():
    from torch.utils.data import BatchSampler, SequentialSampler

    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False)
    sampled = DataLoader(
        train.dataset, batch_sampler=BatchSampler(SequentialSampler(train.dataset), 48, False)
    )
    trainer(1).fit(Net(), sampled, val)  # the batch sampler's size
    trainer(1).fit(TwoLoaderNet(), {"a": train, "b": sampled}, val)  # no one size
    trainer(1).fit(TwoLoaderNet(), {"a": train}, val)  # the only loader in a dict
    first, second, third = runs()
    assert first.data.params["batch_size"] == "48"
    assert "batch_size" not in second.data.params and "epochs" in second.data.params
    assert third.data.params["batch_size"] == "32"


def test_a_loader_whose_batch_size_cannot_be_read_loses_no_other_param():
    class Odd(DataLoader):  # type: ignore[misc]
        @property
        def batch_size(self) -> int:
            raise RuntimeError("no size here")

        @batch_size.setter
        def batch_size(self, value: Any) -> None:
            pass

    train, val = loaders()
    mlflow.pytorch.autolog(log_models=False)
    trainer(1).fit(Net(), Odd(train.dataset, batch_size=16), val)
    (run,) = runs()
    assert "batch_size" not in run.data.params
    assert run.data.params["epochs"] == "1" and run.data.params["optimizer_name"] == "Adam"


# mlflow.autolog() before Lightning is imported: the import turns Lightning on (MLflow's
# post-import hooks); the comparison runs the same script under MLflow
LATE_IMPORT = "mlflow.autolog()\n" + SCRIPT.replace("mlflow.pytorch.autolog()\n", "")


def test_autolog_before_lightning_is_imported_logs_what_mlflow_logs(tmp_path):
    ours, theirs = same_script.under_both(tmp_path, LATE_IMPORT)
    assert ours[0]["params"].pop("batch_size") == "32"
    same_script.assert_same(ours, theirs)
    assert ours[0]["autologging"] is None  # the user's run
    assert "val_loss" in ours[0]["metrics"] and ours[0]["models"] == ["model"]


def test_autolog_imports_no_framework_itself(tmp_path):
    code = """
import json, sys
import reporter as mlflow
mlflow.set_tracking_uri("store")
mlflow.autolog()
before = sorted(m for m in ("sklearn", "xgboost", "lightgbm", "lightning", "pytorch_lightning",
                            "torch") if m in sys.modules)
from reporter.integrations import import_hooks
waiting = import_hooks.waiting()
import xgboost
from reporter.integrations.xgboost import autologging
print(json.dumps({"before": before, "waiting": waiting, "xgboost": autologging.is_enabled(),
                  "after": import_hooks.waiting()}))
"""
    out = same_script.child_json(tmp_path, code)
    assert out["before"] == []
    assert out["waiting"] == ["lightgbm", "lightning", "pytorch_lightning", "sklearn", "xgboost"]
    assert out["xgboost"] is True  # (xgboost imports scikit-learn: that one turned on too)
    assert out["after"] == ["lightgbm", "lightning", "pytorch_lightning"]


def test_both_lightning_packages_imported_at_once_are_patched_when_each_import_returns(tmp_path):
    code = """
import json, sys, threading
import reporter as mlflow
mlflow.set_tracking_uri("store")
mlflow.autolog()
seen = {}
def load(name):
    module = __import__(name)
    trainer = module.pytorch.Trainer if name == "lightning" else module.Trainer
    seen[name] = hasattr(trainer.fit, "__wrapped__")  # patched when the import returned
threads = [threading.Thread(target=load, args=(n,)) for n in ("lightning", "pytorch_lightning")]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(seen))
"""
    for _ in range(2):
        assert same_script.child_json(tmp_path, code) == {
            "lightning": True,
            "pytorch_lightning": True,
        }
