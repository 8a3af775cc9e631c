"""Artifacts of every kind: a table (logged twice: rows are appended), an image, a figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

mlflow.set_experiment("artifact-kinds")

with mlflow.start_run(run_name="kinds"):
    first = pd.DataFrame({"prompt": ["a", "b"], "score": [0.5, 0.75]})
    mlflow.log_table(first, artifact_file="eval/results.json")
    mlflow.log_table({"prompt": ["c"], "score": [1.0]}, artifact_file="eval/results.json")

    image = (np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5).astype(np.uint8)
    mlflow.log_image(image, "images/gradient.png")

    figure, axes = plt.subplots()
    axes.plot([0, 1, 2], [1, 0.5, 0.25])
    mlflow.log_figure(figure, "plots/loss.png")
    plt.close(figure)

    mlflow.log_text("<h1>report</h1>", "report.html")
    assert {
        f.path for f in mlflow.MlflowClient().list_artifacts(mlflow.active_run().info.run_id)
    } >= {
        "eval",
        "images",
        "plots",
        "report.html",
    }
