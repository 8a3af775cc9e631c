"""Post-import hooks: `reporter.autolog()` turns each framework on when the script imports it,
before or after the call, without importing any framework itself. Each case runs in a child
Python (what is imported is the point) on small packages the test writes."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import PYTHON, python_env


def run_child(tmp_path: Path, code: str) -> dict[str, Any]:
    """Run `code` in a child with `tmp_path/lib` importable; return what it printed last
    (JSON)."""
    (tmp_path / "lib").mkdir(exist_ok=True)
    env = python_env()
    env["PYTHONPATH"] = str(tmp_path / "lib") + ":" + env["PYTHONPATH"]
    done = subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["stderr"] = done.stderr
    return out


def package(tmp_path: Path, name: str, body: str = "VALUE = 1\n") -> None:
    folder = tmp_path / "lib" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(textwrap.dedent(body))


def test_a_hook_runs_once_after_the_import_and_leaves_the_module_as_imported(tmp_path):
    package(tmp_path, "fakelib")
    out = run_child(
        tmp_path,
        """
        import json, sys
        from reporter.integrations import import_hooks
        calls = []
        import_hooks.when_imported("k", ["fakelib"], lambda: calls.append(
            sys.modules["fakelib"].VALUE))
        before = list(calls)
        installed = sys.meta_path[0].__class__.__name__
        import fakelib
        import fakelib  # again: no second call
        print(json.dumps({
            "before": before, "calls": calls, "installed": installed,
            "loader": type(fakelib.__loader__).__name__,
            "spec_loader": type(fakelib.__spec__.loader).__name__,
            "finders": [type(f).__name__ for f in sys.meta_path],
            "waiting": import_hooks.waiting(),
        }))
        """,
    )
    assert out["before"] == [] and out["calls"] == [1]  # after the module's code ran
    assert out["installed"] == "_Finder"
    assert out["loader"] == out["spec_loader"] == "SourceFileLoader"  # the real loader
    assert "_Finder" not in out["finders"] and out["waiting"] == []


def test_a_module_imported_already_runs_the_callback_now(tmp_path):
    package(tmp_path, "fakelib")
    out = run_child(
        tmp_path,
        """
        import json, sys
        import fakelib
        from reporter.integrations import import_hooks
        calls = []
        import_hooks.when_imported("k", ["fakelib"], lambda: calls.append("now"))
        print(json.dumps({"calls": calls, "waiting": import_hooks.waiting(),
                          "finders": [type(f).__name__ for f in sys.meta_path]}))
        """,
    )
    assert out["calls"] == ["now"] and out["waiting"] == [] and "_Finder" not in out["finders"]


def test_a_failed_import_runs_nothing_and_the_hook_waits_for_the_next(tmp_path):
    package(tmp_path, "fakelib", "raise ImportError('not today')\n")
    out = run_child(
        tmp_path,
        """
        import json, pathlib, sys
        from reporter.integrations import import_hooks
        calls = []
        import_hooks.when_imported("k", ["fakelib"], lambda: calls.append("after"))
        try:
            import fakelib
        except ImportError as exc:
            failed = str(exc)
        first = list(calls)
        pathlib.Path("lib/fakelib/__init__.py").write_text("VALUE = 2\\n")
        import importlib; importlib.invalidate_caches()
        import fakelib
        print(json.dumps({"failed": failed, "first": first, "calls": calls}))
        """,
    )
    assert out["failed"] == "not today" and out["first"] == [] and out["calls"] == ["after"]


def test_a_failing_callback_never_fails_the_users_import(tmp_path):
    package(tmp_path, "fakelib")
    out = run_child(
        tmp_path,
        """
        import json
        from reporter.integrations import import_hooks
        def boom():
            raise RuntimeError("hook broke")
        import_hooks.when_imported("k", ["fakelib"], boom)
        import fakelib
        print(json.dumps({"value": fakelib.VALUE}))
        """,
    )
    assert out["value"] == 1 and "hook broke" in out["stderr"]


def test_cancel_and_one_hook_for_several_names(tmp_path):
    for name in ("liba", "libb", "libc"):
        package(tmp_path, name)
    out = run_child(
        tmp_path,
        """
        import json, sys
        from reporter.integrations import import_hooks
        calls = []
        import_hooks.when_imported("either", ["liba", "libb"], lambda: calls.append("ab"))
        import_hooks.when_imported("c", ["libc"], lambda: calls.append("c"))
        import_hooks.cancel("c")
        import libb
        import liba  # the hook ran on the first of its names: not again
        import libc
        print(json.dumps({"calls": calls, "waiting": import_hooks.waiting(),
                          "finders": [type(f).__name__ for f in sys.meta_path]}))
        """,
    )
    assert out["calls"] == ["ab"] and out["waiting"] == [] and "_Finder" not in out["finders"]


def test_a_thread_importing_concurrently_never_sees_the_module_before_its_hook(tmp_path):
    # the module's code waits until the second thread is blocked on its import: both imports
    # return only after the hook ran, and it ran once
    package(
        tmp_path,
        "slowlib",
        """
        import builtins
        builtins.GATE.wait(60)
        VALUE = 1
        """,
    )
    out = run_child(
        tmp_path,
        """
        import builtins, json, sys, threading
        from reporter.integrations import import_hooks
        builtins.GATE = threading.Event()
        calls, seen = [], []
        import_hooks.when_imported("k", ["slowlib"], lambda: calls.append("hook"))
        def importer():
            import slowlib
            seen.append(len(calls))
        threads = [threading.Thread(target=importer) for _ in range(2)]
        for t in threads:
            t.start()
        builtins.GATE.set()
        for t in threads:
            t.join()
        print(json.dumps({"calls": calls, "seen": seen}))
        """,
    )
    assert out["calls"] == ["hook"] and out["seen"] == [1, 1]


def test_autolog_imports_no_framework_and_turns_scikit_learn_on_at_its_import(tmp_path):
    out = run_child(
        tmp_path,
        """
        import json, sys
        import reporter as mlflow
        mlflow.set_tracking_uri("store")
        mlflow.autolog()
        imported_by_autolog = "sklearn" in sys.modules
        import numpy as np
        from sklearn.linear_model import LinearRegression
        LinearRegression().fit(np.ones((6, 2)), np.arange(6))
        runs = mlflow.search_runs(output_format="list")
        print(json.dumps({
            "imported_by_autolog": imported_by_autolog,
            "runs": [r.data.tags.get("mlflow.autologging") for r in runs],
        }))
        """,
    )
    assert out["imported_by_autolog"] is False
    assert out["runs"] == ["sklearn"]


def test_autolog_disabled_or_excluded_before_the_import_turns_nothing_on(tmp_path):
    out = run_child(
        tmp_path,
        """
        import json, sys
        import reporter as mlflow
        from reporter.integrations import import_hooks
        from reporter.integrations.sklearn import autologging
        mlflow.set_tracking_uri("store")
        mlflow.autolog()
        mlflow.autolog(disable=True)
        after_disable = import_hooks.waiting()
        mlflow.autolog(exclude_flavors=["sklearn"])
        after_exclude = import_hooks.waiting()
        import numpy as np
        from sklearn.linear_model import LinearRegression
        LinearRegression().fit(np.ones((6, 2)), np.arange(6))
        print(json.dumps({
            "after_disable": after_disable, "after_exclude": after_exclude,
            "enabled": autologging.is_enabled(),
            "runs": len(mlflow.search_runs(output_format="list")),
        }))
        """,
    )
    assert out["after_disable"] == [] and "sklearn" not in out["after_exclude"]
    assert out["enabled"] is False and out["runs"] == 0


def test_a_framework_that_cannot_be_turned_on_warns_at_the_users_import_line(tmp_path):
    code = """
        import json, warnings
        import reporter as mlflow
        from reporter.integrations.sklearn import autologging
        def broken(**options):
            raise RuntimeError("cannot patch")
        autologging.autolog_sklearn = broken
        mlflow.set_tracking_uri("store")
        mlflow.autolog()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import sklearn  # the user's line
        print(json.dumps({
            "where": [(w.filename, w.lineno) for w in caught],
            "messages": [str(w.message) for w in caught],
            "imported": sklearn.__name__,
        }))
        """
    line = textwrap.dedent(code).splitlines().index("    import sklearn  # the user's line") + 1
    out = run_child(tmp_path, code)
    assert out["imported"] == "sklearn"
    assert out["where"] == [["<string>", line]]
    assert (
        "could not turn on sklearn autologging: RuntimeError: cannot patch" in (out["messages"][0])
    )
