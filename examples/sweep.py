"""A hyper-parameter sweep: ordinary MLflow tracking code, run by tracker-report.

    python examples/sweep.py            # logs into ./tracker-store (or $TRACKER_TRACKING_URI)

Logistic regression by stochastic gradient descent (scikit-learn's `SGDClassifier`) on the
bundled handwritten-digits data set (1,797 images of 8x8 pixels, ten classes), in two stages,
the way a sweep is usually run:

1. a random search: a baseline (scikit-learn's default penalty, alpha and schedule) and 23
   configurations drawn at random (`penalty`, `learning_rate`, `alpha`, `eta0`,
   `class_weight`, `l1_ratio` for the elastic net), 15 epochs each, plus a probe of a
   too-large learning rate, which diverges and ends FAILED;
2. the best four configurations trained again for 30 epochs, each a parent run
   (`candidate-1` ... `candidate-4`) with three seeded child runs (`seed-0`, `seed-1`,
   `seed-2`); the parent holds the means over its seeds.

Every run logs the loss and accuracy per epoch and the final test scores once (`f1`,
macro-averaged, `accuracy`, `roc_auc`); parents also log `f1_std`. Every run records its
datasets; the baseline and the candidates log a confusion matrix (PNG), their test predictions
(CSV), a classification report (text) and the model. Seeded throughout: the same numbers on
every run of the script.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    f1_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

import reporter as mlflow

EXPERIMENT = "digits_sgd"
SEARCH_RUNS = 23  # random configurations, besides the baseline and the probe
SEARCH_EPOCHS = 15
FINAL_EPOCHS = 30
CANDIDATES = 4
SEEDS = 3
CLASSES = list(range(10))
DIVERGED = 2 * math.log(10)  # twice the loss of a uniform guess: after the warm-up, it fails
WARM_UP = 3


@dataclass(frozen=True)
class Config:
    """One configuration of the classifier."""

    penalty: str = "l2"
    learning_rate: str = "optimal"
    alpha: float = 0.0001
    eta0: float = 0.01
    l1_ratio: float | None = None  # the elastic net's mix; only logged for it
    class_weight: str | None = None

    def params(self) -> dict[str, Any]:
        """Return the params to log (`l1_ratio` only for the elastic net)."""
        params: dict[str, Any] = {
            "penalty": self.penalty,
            "learning_rate": self.learning_rate,
            "alpha": self.alpha,
            "eta0": self.eta0,
            "class_weight": self.class_weight,  # None is logged as "None", as MLflow does
        }
        if self.penalty == "elasticnet":
            params["l1_ratio"] = self.l1_ratio
        return params

    def short(self) -> str:
        """Return a short name: penalty and schedule."""
        return f"{self.penalty}-{self.learning_rate}"


@dataclass
class Data:
    """The split data set: frames for the datasets and the model, scaled arrays to train on."""

    train: pd.DataFrame
    test: pd.DataFrame
    train_set: Any  # the datasets as runs record them (mlflow.data.from_pandas)
    test_set: Any
    scaler: StandardScaler
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_data() -> Data:
    """Split digits into train (60%), validation (20%) and test (20%), stratified."""
    frame = load_digits(as_frame=True).frame
    rest, test = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame["target"])
    train, val = train_test_split(rest, test_size=0.25, random_state=0, stratify=rest["target"])
    features = [c for c in frame.columns if c != "target"]
    scaler = StandardScaler().fit(train[features])
    return Data(
        train=train,
        test=test,
        train_set=mlflow.data.from_pandas(train, name="digits_train", targets="target"),
        test_set=mlflow.data.from_pandas(test, name="digits_test", targets="target"),
        scaler=scaler,
        x_train=scaler.transform(train[features]),
        y_train=train["target"].to_numpy(),
        x_val=scaler.transform(val[features]),
        y_val=val["target"].to_numpy(),
        x_test=scaler.transform(test[features]),
        y_test=test["target"].to_numpy(),
    )


def draw_configs(count: int, rng: random.Random) -> list[Config]:
    """Draw configurations at random: log-uniform rates, uniform choices."""
    configs = []
    for _ in range(count):
        penalty = rng.choice(["l2", "l1", "elasticnet"])
        configs.append(
            Config(
                penalty=penalty,
                learning_rate=rng.choice(["optimal", "constant", "invscaling", "adaptive"]),
                alpha=float(f"{10 ** rng.uniform(-5, -2):.3g}"),
                eta0=float(f"{10 ** rng.uniform(-3, -0.5):.3g}"),
                l1_ratio=round(rng.uniform(0.05, 0.95), 2) if penalty == "elasticnet" else None,
                class_weight=rng.choice([None, "balanced"]),
            )
        )
    return configs


def cross_entropy(labels: np.ndarray, proba: np.ndarray) -> float:
    """Return the mean log loss of class probabilities (columns in CLASSES order)."""
    picked = proba[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))


def train(config: Config, data: Data, seed: int, epochs: int) -> tuple[SGDClassifier, list[float]]:
    """Train one model, logging loss and accuracy per epoch into the active run; return it
    and its validation loss per epoch."""
    model = SGDClassifier(
        loss="log_loss",
        penalty=config.penalty,
        alpha=config.alpha,
        l1_ratio=config.l1_ratio if config.l1_ratio is not None else 0.15,
        learning_rate=config.learning_rate,
        eta0=config.eta0,
        random_state=seed,
    )
    # partial_fit takes no class_weight="balanced": weigh the samples instead
    weights = (
        compute_sample_weight("balanced", data.y_train)
        if config.class_weight == "balanced"
        else None
    )
    val_losses: list[float] = []
    for epoch in range(epochs):
        model.partial_fit(data.x_train, data.y_train, classes=CLASSES, sample_weight=weights)
        val_proba = model.predict_proba(data.x_val)
        val_loss = cross_entropy(data.y_val, val_proba)
        val_losses.append(val_loss)
        mlflow.log_metrics(
            {
                "train_loss": cross_entropy(data.y_train, model.predict_proba(data.x_train)),
                "val_loss": val_loss,
                "val_accuracy": float(np.mean(val_proba.argmax(axis=1) == data.y_val)),
            },
            step=epoch,
        )
        if epoch + 1 >= WARM_UP and val_loss > DIVERGED:
            raise RuntimeError(
                f"Training diverged: val_loss {val_loss:.3f} > {DIVERGED:.3f} after {epoch + 1} "
                f"epochs (learning_rate={config.learning_rate}, eta0={config.eta0})"
            )
    return model, val_losses


def test_scores(model: SGDClassifier, data: Data) -> dict[str, float]:
    """Return the final scores on the test set."""
    predicted = model.predict(data.x_test)
    return {
        "f1": f1_score(data.y_test, predicted, average="macro"),
        "accuracy": accuracy_score(data.y_test, predicted),
        "roc_auc": roc_auc_score(
            data.y_test, model.predict_proba(data.x_test), multi_class="ovr", labels=CLASSES
        ),
        "nonzero_weights": int(np.count_nonzero(model.coef_)),
    }


def log_datasets(data: Data) -> None:
    """Record which data the run used (name, digest, schema, profile; never the rows)."""
    mlflow.log_input(data.train_set, context="training")
    mlflow.log_input(data.test_set, context="evaluation")


def log_evaluation(model: SGDClassifier, data: Data) -> None:
    """Log the artifacts of a run worth a closer look: plot, predictions, report, model."""
    predicted = model.predict(data.x_test)
    figure = Figure(figsize=(5, 4.5), dpi=100)
    ConfusionMatrixDisplay.from_predictions(
        data.y_test, predicted, labels=CLASSES, ax=figure.add_subplot(), colorbar=False
    )
    figure.tight_layout()
    mlflow.log_figure(figure, "plots/confusion_matrix.png")
    mlflow.log_table(
        pd.DataFrame(
            {
                "target": data.y_test,
                "predicted": predicted,
                "probability": model.predict_proba(data.x_test).max(axis=1).round(4),
            }
        ),
        "predictions.csv",
    )
    report = classification_report(data.y_test, predicted, labels=CLASSES, digits=3)
    mlflow.log_text(report, "classification_report.txt")
    features = data.train.drop(columns="target")
    pipeline = make_pipeline(data.scaler, model)  # both already fitted: scale, then classify
    mlflow.sklearn.log_model(pipeline, name="model", input_example=features.head(3))


def search_run(name: str, config: Config, data: Data, stage: str) -> float:
    """Log one run of the random search; return its final validation loss (inf if it failed:
    the run ends FAILED, as any exception inside `with start_run()` makes it, and the sweep
    goes on)."""
    try:
        with mlflow.start_run(run_name=name, tags={"stage": stage}):
            mlflow.log_params({**config.params(), "epochs": SEARCH_EPOCHS, "seed": 0})
            mlflow.log_dict(
                {"model": "SGDClassifier", "loss": "log_loss", **config.params()}, "config.json"
            )
            log_datasets(data)
            model, val_losses = train(config, data, seed=0, epochs=SEARCH_EPOCHS)
            mlflow.log_metrics(test_scores(model, data))
            if stage == "baseline":
                log_evaluation(model, data)
            return val_losses[-1]
    except RuntimeError as exc:
        print(f"{name} FAILED: {exc}")
        return math.inf


def replicate(rank: int, source: str, config: Config, data: Data) -> None:
    """Log a parent run for a configuration and a child run per seed; the parent holds means."""
    description = (
        f"Configuration of `{source}` ({config.short()}), trained for {FINAL_EPOCHS} epochs "
        f"with {SEEDS} seeds; the metrics are the means over the seeds."
    )
    with mlflow.start_run(
        run_name=f"candidate-{rank}",
        tags={"stage": "replicate", "source_run": source},
        description=description,
    ):
        mlflow.log_params({**config.params(), "epochs": FINAL_EPOCHS})
        mlflow.log_dict(
            {"model": "SGDClassifier", "loss": "log_loss", **config.params()}, "config.json"
        )
        log_datasets(data)
        scores: list[dict[str, float]] = []
        curves: list[list[float]] = []
        models: list[SGDClassifier] = []
        for seed in range(SEEDS):
            with mlflow.start_run(
                run_name=f"seed-{seed}", nested=True, tags={"stage": "replicate"}
            ):
                mlflow.log_params({**config.params(), "epochs": FINAL_EPOCHS, "seed": seed})
                log_datasets(data)
                model, val_losses = train(config, data, seed=seed, epochs=FINAL_EPOCHS)
                scores.append(test_scores(model, data))
                mlflow.log_metrics(scores[-1])
                curves.append(val_losses)
                models.append(model)
        for epoch, losses in enumerate(zip(*curves)):
            mlflow.log_metric("val_loss", float(np.mean(losses)), step=epoch)
        f1s = [s["f1"] for s in scores]
        mlflow.log_metrics({key: float(np.mean([s[key] for s in scores])) for key in scores[0]})
        mlflow.log_metric("f1_std", float(np.std(f1s)))
        log_evaluation(models[int(np.argmax(f1s))], data)  # the best seed's model


def main() -> None:
    """Log the two stages of the sweep into the digits_sgd experiment."""
    existing = mlflow.get_experiment_by_name(EXPERIMENT)
    if existing is not None and len(mlflow.search_runs([existing.experiment_id])):
        # run twice, the sweep would log the same 41 runs again: keep the store as it is
        print(
            f"{EXPERIMENT} is already logged in {mlflow.get_tracking_uri()}; nothing to do "
            "(delete the experiment, or log into another store, to log the sweep again)"
        )
        return
    data = load_data()
    mlflow.set_experiment(EXPERIMENT)
    mlflow.set_experiment_description(
        "Logistic regression by **SGD** on scikit-learn's handwritten digits: a random "
        f"search of {SEARCH_RUNS} configurations ({SEARCH_EPOCHS} epochs), then the best "
        f"{CANDIDATES} again for {FINAL_EPOCHS} epochs with {SEEDS} seeds each."
    )
    mlflow.set_experiment_tags({"team": "vision", "dataset": "digits"})

    # stage 1: the baseline, a random search, and a probe of a large constant learning rate
    losses: dict[str, tuple[float, Config]] = {}
    baseline = Config()
    losses["baseline"] = (search_run("baseline", baseline, data, "baseline"), baseline)
    for i, config in enumerate(draw_configs(SEARCH_RUNS, random.Random(7)), start=1):
        name = f"rs-{i:02d}-{config.short()}"
        losses[name] = (search_run(name, config, data, "search"), config)
    probe = replace(baseline, learning_rate="constant", eta0=50.0)
    losses["probe-constant-eta50"] = (
        search_run("probe-constant-eta50", probe, data, "search"),
        probe,
    )

    # stage 2: the best configurations of the search, three seeds each
    ranked = sorted((loss, name) for name, (loss, _) in losses.items() if math.isfinite(loss))
    for rank, (_, name) in enumerate(ranked[:CANDIDATES], start=1):
        replicate(rank, name, losses[name][1], data)

    runs = mlflow.search_runs(
        filter_string="tags.stage = 'replicate' and tags.mlflow.parentRunId IS NULL",
        order_by=["metrics.f1 DESC"],
    )
    total = mlflow.search_runs()
    print(f"Logged {len(total)} runs into {mlflow.get_tracking_uri()}")
    best = runs.iloc[0]
    print(f"Best candidate: {best['run_name']} f1={best['metrics.f1']:.3f}")


if __name__ == "__main__":
    main()
