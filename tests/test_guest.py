"""A library is a guest: importing and using reporter leaves the host process's warnings,
logging, signal handlers, excepthook and working directory as they were."""

from __future__ import annotations

import subprocess
import textwrap

from tests.conftest import PYTHON, python_env

HOST = """
    import logging, os, signal, sys, warnings

    def on_usr1(signum, frame):
        pass

    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("always", UserWarning)
    signal.signal(signal.SIGUSR1, on_usr1)
    os.chdir(sys.argv[1])

    def state():
        root = logging.getLogger()
        return {
            "filters": list(warnings.filters),
            "showwarning": warnings.showwarning,
            "captured": logging._warnings_showwarning,
            "root": (root.level, list(root.handlers)),
            "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM,
                                                          signal.SIGUSR1, signal.SIGPIPE)},
            "excepthook": sys.excepthook,
            "cwd": os.getcwd(),
        }

    before = state()
    import reporter as mlflow
    from reporter.core import secret_shapes

    # as if the installed detect-secrets were not the one whose patterns reporter copied:
    # the scan below imports it (it turns on logging.captureWarnings at import)
    secret_shapes.PLUGIN_SOURCES_SHA256 = "another version"
    mlflow.set_tracking_uri("store")
    mlflow.set_experiment("guest")
    with mlflow.start_run():
        # a long value is scanned for credentials (detect-secrets is imported here)
        mlflow.log_param("notes", "a plain description that is long enough to be scanned " * 3)
        mlflow.log_param("aws_key", "AKIAIOSFODNN7EXAMPLE")  # warned about: a secret
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_text("hello", "hello.txt")
        mlflow.log_dict({"a": 1}, "d.json")
    mlflow.search_runs()
    mlflow.Client().compact()
    after = state()
    changed = sorted(k for k in before if before[k] != after[k])
    print("changed:", changed, flush=True)
    print("detect_secrets:", "detect_secrets" in sys.modules, flush=True)
    warnings.warn("the user's own warning")  # must reach stderr, not a logging handler
"""


def test_importing_and_using_reporter_leaves_the_host_process_as_it_was(tmp_path):
    proc = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(HOST), str(tmp_path)],
        env=python_env(TRACKER_LOG_ENVIRONMENT="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "changed: []" in proc.stdout, proc.stdout
    assert "detect_secrets: True" in proc.stdout, proc.stdout
    # the user's warning is shown by warnings' own hook (captured, it would go to logging at
    # WARNING, below the root's ERROR level, and disappear)
    assert "UserWarning: the user's own warning" in proc.stderr
    assert (tmp_path / "store").is_dir()  # relative paths resolved against the host's cwd
