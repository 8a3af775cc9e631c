"""Artifacts: files, folders, text, dicts, figures, images, tables and scikit-learn models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import reporter
import reporter as mlflow

STORE_KINDS = ("local", "s3")  # every test runs on a folder and on the S3 test server


def read_artifact(run_id: str, path: str) -> bytes:
    """Download one artifact and return its bytes."""
    return Path(reporter.Client().download_artifacts(run_id, path)).read_bytes()


def test_log_artifact_and_artifacts_keep_the_tree(tmp_path):
    src = tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.csv").write_text("x,y\n1,2\n")
    single = tmp_path / "single.bin"
    single.write_bytes(b"\x00\x01")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="bins")
        mlflow.log_artifacts(str(src), artifact_path="results")
    rid = run.info.run_id
    client = reporter.Client()
    top = {f.path: f.is_dir for f in client.list_artifacts(rid)}
    assert top == {"bins": True, "environment": True, "results": True, "single.bin": False}
    inner = [(f.path, f.file_size) for f in client.list_artifacts(rid, "results")]
    assert inner == [("results/a.txt", 1), ("results/sub", None)]
    assert read_artifact(rid, "bins/single.bin") == b"\x00\x01"
    folder = client.download_artifacts(rid, "results", str(tmp_path / "dl"))
    assert (Path(folder) / "sub" / "b.csv").read_text() == "x,y\n1,2\n"
    assert mlflow.get_run(rid).info.artifact_uri.endswith(f"{rid}/artifacts")


@pytest.mark.parametrize("bad", ["/etc/passwd", "../up", "a/../../b", "C:/x"])
def test_unsafe_artifact_paths_are_refused(tmp_path, bad):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with mlflow.start_run():
        with pytest.raises(reporter.InvalidArgumentError, match="artifact"):
            mlflow.log_artifact(str(f), artifact_path=bad)
        with pytest.raises(reporter.InvalidArgumentError):
            mlflow.log_text("x", bad + "/t.txt" if not bad.startswith("/") else bad)


def test_log_artifacts_refuses_symlinks_leaving_the_folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    os.symlink(secret, src / "link.txt")
    with mlflow.start_run(), pytest.raises(reporter.InvalidArgumentError, match="symlink"):
        mlflow.log_artifacts(str(src))


def test_log_text_dict_json_and_yaml():
    with mlflow.start_run() as run:
        mlflow.log_text("héllo\n", "notes/readme.md")
        mlflow.log_dict({"a": [1, 2], "b": "ü"}, "cfg/params.json")
        mlflow.log_dict({"a": [1, 2]}, "cfg/params.yaml")
    rid = run.info.run_id
    assert read_artifact(rid, "notes/readme.md").decode() == "héllo\n"
    assert json.loads(read_artifact(rid, "cfg/params.json")) == {"a": [1, 2], "b": "ü"}
    assert yaml.safe_load(read_artifact(rid, "cfg/params.yaml")) == {"a": [1, 2]}


def test_log_figure_matplotlib_and_altair():
    import altair as alt
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    chart = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_point().encode(x="x")
    with mlflow.start_run() as run:
        mlflow.log_figure(fig, "plots/line.png")
        mlflow.log_figure(fig, "plots/line.svg")
        mlflow.log_figure(chart, "plots/chart.json")
        with pytest.raises(reporter.InvalidArgumentError, match=r"\.html or \.json"):
            mlflow.log_figure(chart, "plots/chart.png")
        with pytest.raises(reporter.InvalidArgumentError, match="matplotlib"):
            mlflow.log_figure(object(), "x.png")
    plt.close(fig)
    rid = run.info.run_id
    assert read_artifact(rid, "plots/line.png").startswith(b"\x89PNG")
    assert b"<svg" in read_artifact(rid, "plots/line.svg")
    assert json.loads(read_artifact(rid, "plots/chart.json"))["mark"]["type"] == "point"


def test_log_image_numpy_and_pil():
    from PIL import Image

    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = np.zeros((2, 2, 3), dtype=np.float64)
    rgb[0, 0] = [1.0, 0.5, 0.0]
    with mlflow.start_run() as run:
        mlflow.log_image(gray, "img/gray.png")
        mlflow.log_image(rgb, "img/rgb.png")
        mlflow.log_image(Image.new("RGB", (5, 7), "red"), "img/pil.jpg")
        mlflow.log_image(gray, key="samples", step=3)
        with pytest.raises(reporter.InvalidArgumentError, match="shape"):
            mlflow.log_image(np.zeros((2, 2, 7)), "bad.png")
        with pytest.raises(reporter.InvalidArgumentError, match=r"\[0, 1\]"):
            mlflow.log_image(np.full((2, 2), 3.0), "bad.png")
    rid = run.info.run_id

    def load(path: str) -> Image.Image:
        with Image.open(reporter.Client().download_artifacts(rid, path)) as img:
            img.load()
            return img

    assert (np.asarray(load("img/gray.png")) == gray).all()
    assert np.asarray(load("img/rgb.png"))[0, 0].tolist() == [255, 128, 0]
    assert load("img/pil.jpg").size == (5, 7)
    assert read_artifact(rid, "images/samples/step_3.png").startswith(b"\x89PNG")


def test_log_table_formats():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with mlflow.start_run() as run:
        mlflow.log_table(frame, "t/table.json")
        mlflow.log_table({"a": [1, 2], "b": ["x", "y"]}, "t/table.csv")
        mlflow.log_table(frame, "t/table.parquet")
        with pytest.raises(reporter.InvalidArgumentError, match=r"\.json, \.csv or \.parquet"):
            mlflow.log_table(frame, "t/table.xlsx")
    rid = run.info.run_id
    data = json.loads(read_artifact(rid, "t/table.json"))
    assert data["columns"] == ["a", "b"] and data["data"] == [[1, "x"], [2, "y"]]
    assert read_artifact(rid, "t/table.csv").decode() == "a,b\n1,x\n2,y\n"
    back = pd.read_parquet(reporter.Client().download_artifacts(rid, "t/table.parquet"))
    pd.testing.assert_frame_equal(back, frame)


def test_sklearn_log_and_load_model():
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    X, y = load_diabetes(return_X_y=True)
    model = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, "model")
    assert info.model_uri == f"models:/{info.model_id}" and info.run_id == run.info.run_id
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/model"):
        loaded = mlflow.sklearn.load_model(uri)
        assert type(loaded) is RandomForestRegressor
        np.testing.assert_array_equal(loaded.predict(X[:10]), model.predict(X[:10]))
    client = reporter.Client()
    meta = yaml.safe_load(client.store.read_model_artifact(info.model_id, "MLmodel"))
    flavor = meta["flavors"]["sklearn"]
    assert flavor["estimator_class"] == "sklearn.ensemble._forest.RandomForestRegressor"
    assert meta["model_id"] == info.model_id and meta["run_id"] == run.info.run_id
    assert meta["flavors"]["python_function"]["loader_module"] == "reporter.sklearn"
    reqs = client.store.read_model_artifact(info.model_id, "requirements.txt").decode()
    assert "scikit-learn==" in reqs
    assert "model" not in {f.path for f in client.list_artifacts(run.info.run_id)}  # MLflow 3
    with pytest.raises(reporter.InvalidArgumentError, match="runs:/"):
        mlflow.sklearn.load_model("runs:/only-id")
    with pytest.raises(reporter.InvalidArgumentError, match="estimator"):
        mlflow.sklearn.log_model(object(), "m")
