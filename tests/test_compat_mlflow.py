"""MLflow compatibility: each script in tests/compat/scripts runs under real MLflow 3 and under
reporter (the same file: `import mlflow` is aliased to reporter), and what each store then
holds, read back through each library's own client, must be the same (tests/compat/README.md).

Without MLflow's venv (`make mlflow`) the comparisons skip; under CI=true they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.compat.compare import Difference, differences, load_dump, matches, report
from tests.conftest import REPO
from tests.mlflow_server import VENV_PYTHON, mlflow_env, require_mlflow

COMPAT = REPO / "tests" / "compat"
SCRIPTS = sorted((COMPAT / "scripts").glob("*.py"))
RUNNER = COMPAT / "run.py"
TIMEOUT = 300  # seconds for all scripts under one library; the whole suite takes ~20 s

# Differences we accept on purpose: (key path pattern, reason[, only when]). A pattern is one
# glob per key (`a|b` for either, `**` last for anything below); paths are printed on failure.
# `only when` narrows an entry to some values (MLflow's, ours). A difference that is a reporter
# bug does not belong here: it fails the test until it is fixed.
FLOAT_MAX = 1.7976931348623157e308
EXTRA_COLUMNS = (
    "run_name|user_id|lifecycle_stage|parent_run_id|tags.reporter.*|tags.mlflow.source.git.dirty"
)


def _clamped_infinity(mlflow: object, ours: object) -> bool:
    """MLflow's value is ±float max where ours is ±infinity, point by point."""
    if isinstance(mlflow, list) and isinstance(ours, list):
        return len(mlflow) == len(ours) and all(map(_clamped_infinity, mlflow, ours))
    clamped = {FLOAT_MAX: "Infinity", -FLOAT_MAX: "-Infinity"}
    return mlflow == ours or (isinstance(mlflow, float) and clamped.get(mlflow) == ours)


def _same_model_files(theirs: object, ours: object) -> bool:
    """Whether two model folders' file lists differ only in the files listed as accepted."""
    only_theirs = {"conda.yaml", "python_env.yaml", "registered_model_meta", "model.skops"}
    if not isinstance(theirs, list) or not isinstance(ours, list):
        return False
    return set(theirs) - only_theirs - {"model.pkl"} == set(ours) - {"model.pkl"} and (
        "model.pkl" in ours
    )


ACCEPTED: list[tuple[tuple[str, ...], str, Callable[[object, object], bool] | None]] = [
    (
        (
            "runs|models",
            "*",
            "tags",
            "reporter.host|reporter.python.version|mlflow.source.git.dirty",
        ),
        "reporter records the host, Python version and a dirty checkout (README: System tags)",
        None,
    ),
    (
        ("runs", "*", "artifacts", "environment/requirements.txt"),
        "reporter records the installed packages with each run (README: Environment)",
        None,
    ),
    (
        ("frames", "*", "dtypes", EXTRA_COLUMNS),
        "reporter's search_runs frame has four more columns (README: Search), and columns "
        "for its own tags (above)",
        None,
    ),
    (("frames", "*", "rows", "*", EXTRA_COLUMNS), "the same columns' values", None),
    (
        ("runs", "*", "artifacts", "training_*.png", "file_size|size|sha256"),
        "autologging's plots are compared by name: MLflow draws them in its own style",
        None,
    ),
    (
        ("models", "*", "files"),
        "a model folder holds model.pkl (joblib) where MLflow 3 writes model.skops, and no "
        "conda.yaml, python_env.yaml or registry file (README: Logged models); the other files "
        "are the same",
        _same_model_files,
    ),
    (
        ("runs|frames", "**"),
        "MLflow's SQL store clamps ±inf metrics to ±1.8e308 (SQL has no infinity); ours keeps "
        "them, as MLflow's file store did",
        _clamped_infinity,
    ),
]


def accepted(difference: Difference) -> bool:
    """Whether a difference is one the table accepts."""
    return any(
        matches(difference.path, pattern)
        and (when is None or when(difference.mlflow, difference.ours))
        for pattern, _, when in ACCEPTED
    )


def _work_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder in memory where there is one (MLflow's SQLite syncs each write: 3x slower on
    disk), else pytest's temporary folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="compat-", dir=shm))
    return tmp_path_factory.mktemp("compat")


def _selected(session: pytest.Session) -> list[str]:
    """Return the scripts whose comparison tests were selected (`-k` may pick a few)."""
    wanted = {
        item.callspec.params["script"]
        for item in session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_script_matches_mlflow"
    }
    return [str(s) for s in SCRIPTS if s.stem in wanted]


@pytest.fixture(scope="module")
def dumps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Run the selected scripts under both libraries at once (one process each); yield the
    folder holding mlflow/<script>/ and reporter/<script>/."""
    require_mlflow()
    root = _work_root(tmp_path_factory)
    scripts = _selected(request.session)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    child_env["PYTHONHASHSEED"] = "0"
    commands = {
        "mlflow": ([str(VENV_PYTHON)], mlflow_env(PYTHONHASHSEED="0")),
        "reporter": ([sys.executable], child_env),
    }
    procs = {}
    try:
        for library, (python, env) in commands.items():
            (root / library).mkdir()
            command = [*python, str(RUNNER), "--library", library, "--work", str(root / library)]
            procs[library] = subprocess.Popen(
                [*command, *scripts],
                env=env,
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its forked children are killed with it
            )
        for library, proc in procs.items():
            output, _ = proc.communicate(timeout=TIMEOUT)
            # 1: some script failed, which its own test reports
            assert proc.returncode in (0, 1), f"{library} runner: {output.decode()[-3000:]}"
        yield root
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("script", [s.stem for s in SCRIPTS])
def test_script_matches_mlflow(dumps: Path, script: str) -> None:
    mlflow = load_dump(dumps, "mlflow", script)
    ours = load_dump(dumps, "reporter", script)
    assert mlflow["runs"], f"{script} logged no run under MLflow: nothing was compared"
    found = [d for d in differences(mlflow, ours) if not accepted(d)]
    assert not found, report(script, found)


# the machinery itself: no MLflow needed -----------------------------------------------------
def test_alias_imports_reporter_for_mlflow_and_its_submodules() -> None:
    code = (
        "from tests.compat import alias; alias.install()\n"
        "import mlflow, mlflow.sklearn, reporter, reporter.sklearn\n"
        "from mlflow.tracking import MlflowClient\n"
        "from mlflow.entities import Metric, ViewType\n"
        "import mlflow.artifacts\n"
        "assert mlflow is reporter and mlflow.sklearn is reporter.sklearn\n"
        "assert MlflowClient is reporter.MlflowClient and Metric is reporter.Metric\n"
        "assert mlflow.artifacts is reporter.artifacts\n"
        "try:\n"
        "    import mlflow.no_such_module\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["reporter.no_such_module"]


def test_differences_name_the_key_path_and_both_values() -> None:
    mlflow = {"runs": {"e/a": {"status": "FINISHED", "tags": {"x": "1"}}}}
    ours = {"runs": {"e/a": {"status": "FAILED", "tags": {}}, "e/b": {}}}
    found = differences(mlflow, ours)
    assert [(d.path, d.mlflow, d.ours) for d in found] == [
        (("runs", "e/a", "status"), "FINISHED", "FAILED"),
        (("runs", "e/a", "tags", "x"), "1", found[1].ours),
        (("runs", "e/b"), found[2].mlflow, {}),
    ]
    assert 'runs › e/a › tags › x\n      mlflow: "1"\n      ours:   (absent)' in report("s", found)


def test_patterns_match_one_key_per_glob_and_alternatives() -> None:
    assert matches(("runs", "e/a", "tags", "reporter.host"), ("runs", "*", "tags", "reporter.*"))
    assert matches(("frames", "e", "dtypes", "user_id"), ("frames", "*", "dtypes", "a|user_id"))
    assert not matches(("runs", "e/a", "tags"), ("runs", "*", "tags", "*"))
    assert matches(("runs", "e/a", "tags", "k"), ("runs", "**"))
    assert not matches(("experiments", "e"), ("runs", "**"))
