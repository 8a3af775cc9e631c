"""One script run under real MLflow (its venv, `make mlflow`) and under reporter: what each
store reads back, through each library's own client, for the framework tests to compare."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import python_env
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow

HEAD = """
import json, sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "mlflow":
    import mlflow
else:
    import reporter as mlflow
mlflow.set_tracking_uri(sys.argv[2])
"""

# after the script's training: every run, oldest first (FLAVOR and UNCOMPARED set by it)
READ_BACK = """
client = mlflow.MlflowClient()
out = []
for run in mlflow.search_runs(output_format="list", order_by=["start_time ASC"]):
    rid = run.info.run_id
    metrics = {k: [(m.step, m.value) for m in client.get_metric_history(rid, k)]
               for k in run.data.metrics}
    found = [client.get_logged_model(o.model_id) for o in run.outputs.model_outputs]
    flavors = [mlflow.models.get_model_info(m.model_uri).flavors for m in found]
    out.append({
        "status": run.info.status,
        "autologging": run.data.tags.get("mlflow.autologging"),
        "mode": run.data.tags.get("Mode"),
        "checkpoint": run.data.tags.get("mlflow.latest_checkpoint_artifact"),
        "params": run.data.params,
        "metrics": metrics,
        "artifacts": sorted(a.path for a in client.list_artifacts(rid) if a.path != "environment"),
        "models": [m.name for m in found],
        "flavor": [{k: v for k, v in f[FLAVOR].items() if k not in UNCOMPARED} for f in flavors],
    })
print(json.dumps(out))
"""


def _run(python: Path | str, lib: str, uri: str, folder: Path, script: str, env: Any) -> Any:
    folder.mkdir()
    path = folder / "autolog_script.py"
    path.write_text(textwrap.dedent(HEAD) + textwrap.dedent(script) + textwrap.dedent(READ_BACK))
    done = subprocess.run(
        [str(python), path.name, lib, uri],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def under_both(tmp_path: Path, script: str) -> tuple[list[Any], list[Any]]:
    """Run `script` under reporter and under MLflow; return (ours, MLflow's) read-backs."""
    require_mlflow()
    theirs = _run(
        VENV_PYTHON, "mlflow", "sqlite:///mlflow.db", tmp_path / "m", script, mlflow_env()
    )
    ours = _run(sys.executable, "reporter", "store", tmp_path / "r", script, python_env())
    return ours, theirs


def assert_same(ours: list[Any], theirs: list[Any]) -> None:
    """Run by run, field by field (a failure names the field)."""
    assert len(ours) == len(theirs)
    for mine, mlflows in zip(ours, theirs, strict=True):
        assert mine.keys() == mlflows.keys()
        for key in mine:
            assert mine[key] == mlflows[key], key


def child_json(folder: Path, code: str) -> Any:
    """Run `code` in a child Python of this venv (reporter importable) in `folder`; return
    the JSON it printed last (the child must succeed)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
