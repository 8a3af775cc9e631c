"""MLflow's `mlflow.artifacts` (`reporter.artifacts`) and `mlflow.Image`: artifacts read back
by runs:/ URI, run id, a run's artifact URI in the store, local paths and file:// URIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import reporter
import reporter as mlflow
from reporter import artifacts

STORE_KINDS = ("local", "s3")  # the tests below run on a folder and on the S3 test server


@pytest.fixture
def logged_run(monkeypatch: pytest.MonkeyPatch) -> str:
    """A run with these artifacts only: a/b.txt, a/c/d.txt, d.json, d.yaml, img.png."""
    monkeypatch.setenv("TRACKER_LOG_ENVIRONMENT", "0")  # no environment/requirements.txt
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "a/b.txt")
        mlflow.log_text("deep", "a/c/d.txt")
        mlflow.log_dict({"k": [1, 2]}, "d.json")
        mlflow.log_dict({"k": [1, 2]}, "d.yaml")
        mlflow.log_image(mlflow.Image(np.full((3, 4, 3), 200, dtype=np.uint8)), "img.png")
    return run.info.run_id


def test_download_artifacts_by_runs_uri_run_id_and_store_uri(logged_run, tmp_path):
    rid = logged_run
    one = artifacts.download_artifacts(f"runs:/{rid}/a/b.txt", dst_path=str(tmp_path / "1"))
    assert one == str(tmp_path / "1" / "b.txt") and Path(one).read_text() == "hello"
    folder = artifacts.download_artifacts(run_id=rid, artifact_path="a", dst_path=str(tmp_path))
    assert folder == str(tmp_path / "a")
    assert sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*.txt")) == [
        "b.txt",
        "c/d.txt",
    ]
    root = Path(artifacts.download_artifacts(run_id=rid))  # a new temporary folder
    assert sorted(p.name for p in root.iterdir()) == ["a", "d.json", "d.yaml", "img.png"]
    store_uri = mlflow.get_run(rid).info.artifact_uri + "/a/c/d.txt"  # a path or s3://...
    assert Path(artifacts.download_artifacts(store_uri)).read_text() == "deep"
    with pytest.raises(reporter.NotFoundError) as missing:
        artifacts.download_artifacts(f"runs:/{rid}/nope.txt")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_download_artifacts_of_local_paths_and_file_uris(tmp_path):
    source = tmp_path / "src dir" / "f.txt"
    source.parent.mkdir()
    source.write_text("local")
    assert artifacts.download_artifacts(str(source)) == str(source)  # no copy without dst
    copied = artifacts.download_artifacts(source.as_uri(), dst_path=str(tmp_path / "out"))
    assert copied == str(tmp_path / "out" / "f.txt") and Path(copied).read_text() == "local"
    tree = artifacts.download_artifacts(str(source.parent), dst_path=str(tmp_path / "out2"))
    assert (Path(tree) / "f.txt").read_text() == "local"
    with pytest.raises(reporter.NotFoundError):
        artifacts.download_artifacts(str(tmp_path / "missing.txt"))


def test_artifact_functions_check_their_arguments():
    for call in (
        lambda: artifacts.download_artifacts("runs:/x/y", run_id="x"),
        lambda: artifacts.download_artifacts(),
        lambda: artifacts.download_artifacts("runs:/x/y", artifact_path="y"),
        lambda: artifacts.list_artifacts(),
    ):
        with pytest.raises(reporter.InvalidArgumentError) as err:
            call()
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(reporter.NotFoundError, match="Registered Model with name=my-model"):
        artifacts.load_text("models:/my-model/1")  # a registered version, of no model here
    with pytest.raises(reporter.InvalidArgumentError, match="runs:/<run_id>/<path>"):
        artifacts.load_text("runs:/")
    with pytest.raises(reporter.InvalidArgumentError, match=r"\.\."):
        artifacts.load_text("runs:/abc/../../etc/passwd")
    for bad in ("runs:abc/x", "models:m-abc"):  # MLflow's forms have runs:/ and models:/
        with pytest.raises(reporter.InvalidArgumentError, match="Not a proper"):
            artifacts.load_text(bad)
    with pytest.raises(reporter.InvalidArgumentError, match="a registered model's version is"):
        artifacts.load_text("models:/")
    with pytest.raises(reporter.InvalidArgumentError, match=r"\.\."):
        artifacts.load_text("models:/m-0123456789abcdef0123456789abcdef/../../x")


def test_load_text_dict_and_image(logged_run):
    rid = logged_run
    assert artifacts.load_text(f"runs:/{rid}/a/b.txt") == "hello"
    assert artifacts.load_dict(f"runs:/{rid}/d.json") == {"k": [1, 2]}
    assert artifacts.load_dict(f"runs:/{rid}/d.yaml") == {"k": [1, 2]}  # MLflow reads JSON only
    image = artifacts.load_image(f"runs:/{rid}/img.png")
    assert image.size == (4, 3) and np.asarray(image)[0, 0].tolist() == [200, 200, 200]
    with pytest.raises(reporter.InvalidArgumentError) as bad:
        artifacts.load_dict(f"runs:/{rid}/a/b.txt")
    assert bad.value.error_code == "BAD_REQUEST"
    with pytest.raises(reporter.InvalidArgumentError, match="PIL Image") as not_image:
        artifacts.load_image(f"runs:/{rid}/a/b.txt")
    assert not_image.value.error_code == "BAD_REQUEST"
    with pytest.raises(reporter.InvalidArgumentError, match="is a folder"):
        artifacts.load_text(f"runs:/{rid}/a")


def test_list_artifacts_by_run_id_and_uri(logged_run, tmp_path):
    rid = logged_run
    top = artifacts.list_artifacts(run_id=rid)
    assert [(f.path, f.is_dir) for f in top] == [
        ("a", True),
        ("d.json", False),
        ("d.yaml", False),
        ("img.png", False),
    ]
    inside = [(f.path, f.is_dir, f.file_size) for f in artifacts.list_artifacts(f"runs:/{rid}/a")]
    assert inside == [("a/b.txt", False, 5), ("a/c", True, None)]
    assert artifacts.list_artifacts(run_id=rid, artifact_path="a/c")[0].path == "a/c/d.txt"
    assert artifacts.list_artifacts(f"runs:/{rid}/a/b.txt") == []  # a file lists nothing
    assert artifacts.list_artifacts(f"runs:/{rid}/nothing") == []
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "x.bin").write_bytes(b"12")
    listed = artifacts.list_artifacts(str(tmp_path / "local"))
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [("local/x.bin", False, 2)]
    with pytest.raises(reporter.NotFoundError):
        artifacts.list_artifacts(run_id="0123456789abcdef")


# mlflow.Image ----------------------------------------------------------------------------
def test_image_takes_arrays_lists_pil_images_and_paths(tmp_path):
    from PIL import Image as PILImage

    pixels = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    from_array = mlflow.Image(pixels)
    assert from_array.size == (4, 2) and from_array.to_array().tolist() == pixels.tolist()
    assert mlflow.Image(pixels.tolist()).to_list() == pixels.tolist()
    pil = PILImage.new("RGB", (5, 6), "red")
    assert mlflow.Image(pil).to_pil() is pil
    from_array.save(str(tmp_path / "img.png"))
    assert mlflow.Image(str(tmp_path / "img.png")).to_array().tolist() == pixels.tolist()
    assert from_array.resize((8, 4)).size == (8, 4)
    with pytest.raises(TypeError, match="numpy array"):
        mlflow.Image(3.5)
