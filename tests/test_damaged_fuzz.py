"""Damaged-store fuzzing: mutate store files (truncate, flip bytes, swap in another file,
garbage, empty, delete) many times; `build` and `search_runs` must either succeed or raise our
own error (ReporterError), never an unhandled exception, and the build never changes the store
(a Client may add the Default experiment, as MLflow's does)."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import reporter
import reporter as mlflow
from reporter.core.errors import ReporterError
from reporter.site.build import build
from reporter.view.config import BuildConfig

ROUNDS = 120
MUTATIONS = ("truncate", "flip", "swap", "garbage", "empty", "delete", "json")


@pytest.fixture
def seed_store(store_uri: str, tmp_path: Path) -> Path:
    """A small store with every kind of file: raw and compacted parts, run and experiment
    records, heartbeats, artifacts."""
    mlflow.set_experiment("fuzz")
    for i in range(3):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_params({"depth": i, "lr": 0.1})
            mlflow.set_tag("team", "a")
            for step in range(20):
                mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            mlflow.log_text("hello", "notes.txt")
            mlflow.log_dict({"a": i}, "cfg.json")
    reporter.Client(store_uri).compact()
    mlflow.set_experiment("second")
    with mlflow.start_run(run_name="late"):
        mlflow.log_metric("acc", 0.5)
        mlflow.log_image(np.zeros((2, 2, 3), dtype=np.uint8), "img.png")
    return Path(store_uri)


def digest(folder: Path) -> dict[str, str]:
    """Return {relative path: sha256} of every file below folder."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def mutate(rng: random.Random, root: Path) -> str:
    """Damage one file of the store copy at root; return what was done."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    target = rng.choice(files)
    kind = rng.choice(MUTATIONS)
    data = target.read_bytes()
    if kind == "truncate":
        target.write_bytes(data[: rng.randrange(0, max(1, len(data)))])
    elif kind == "flip":
        raw = bytearray(data or b"\0")
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(raw))
    elif kind == "swap":  # another file's content: a foreign schema, JSON where Parquet was
        target.write_bytes(rng.choice(files).read_bytes())
    elif kind == "garbage":
        target.write_bytes(rng.randbytes(rng.randint(1, 2000)))
    elif kind == "empty":
        target.write_bytes(b"")
    elif kind == "delete":
        target.unlink()
    else:  # valid JSON of the wrong shape
        target.write_text(rng.choice(["[]", "{}", "null", '{"version": 99}', '"x"', '{"a": [1]}']))
    return f"{kind} {target.relative_to(root)}"


def test_damaged_stores_never_crash_build_or_search(seed_store: Path, tmp_path: Path):
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "20261126")))
    outcomes: dict[str, int] = {"ok": 0, "our error": 0}
    for round_ in range(ROUNDS):
        copy = tmp_path / f"store-{round_}"
        shutil.copytree(seed_store, copy)
        done = [mutate(rng, copy) for _ in range(rng.randint(1, 3))]
        before = digest(copy)
        for action in ("build", "search"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # damaged files warn; that is expected
                    if action == "build":
                        out = tmp_path / f"site-{round_}"
                        try:
                            build(BuildConfig(store=str(copy), out=str(out)))
                            assert (out / "index.html").is_file()
                        finally:
                            assert digest(copy) == before, f"round {round_}: the build wrote"
                    else:
                        client = reporter.Client(str(copy))
                        ids = [e.experiment_id for e in client.search_experiments()]
                        client.search_runs(ids, "metrics.loss < 1 or params.depth = '1'")
                outcomes["ok"] += 1
            except ReporterError as exc:
                outcomes["our error"] += 1
                # only a damaged store marker may stop a build; anything else is skipped
                if action == "build" and not any("store.json" in d for d in done):
                    pytest.fail(f"round {round_} ({'; '.join(done)}): build failed: {exc}")
            except Exception as exc:  # the point of the test: nothing else may escape
                pytest.fail(
                    f"round {round_} ({'; '.join(done)}): {action} raised "
                    f"{type(exc).__name__}: {exc}"
                )
        shutil.rmtree(copy)
    # most damage is survivable: the rest of the store still builds
    assert outcomes["ok"] > outcomes["our error"], outcomes
