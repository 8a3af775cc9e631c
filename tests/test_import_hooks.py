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


# found by an adversarial review ------------------------------------------------------------------
def test_a_hook_made_while_another_thread_imports_the_module_still_runs(tmp_path):
    # the module's import has passed the finder and is held in its body while the hook is
    # made; it is released once the hook-maker is blocked on the module's import lock (it
    # waits for that import, then runs the callback) or has returned without waiting
    package(tmp_path, "half", "import builtins\nbuiltins.STARTED.set()\nbuiltins.GATE.wait(60)\n")
    out = run_child(
        tmp_path,
        """
        import builtins, importlib, json, sys, threading
        from importlib import _bootstrap
        from reporter.integrations import import_hooks
        builtins.STARTED, builtins.GATE, made = (threading.Event() for _ in range(3))

        def blocked_on_the_import():
            ref = _bootstrap._module_locks.get("half")
            lock = ref() if ref is not None else None
            waiters = getattr(lock, "waiters", 0)
            return (waiters if isinstance(waiters, int) else len(waiters)) > 0

        def release():
            while not (made.is_set() or blocked_on_the_import()):
                made.wait(0.001)
            builtins.GATE.set()

        calls = []
        importer = threading.Thread(target=importlib.import_module, args=("half",))
        importer.start()
        builtins.STARTED.wait(60)
        threading.Thread(target=release).start()
        import_hooks.when_imported("k", ["half"], lambda: calls.append(1))
        made.set()
        ran_before_return = list(calls)
        importer.join()
        print(json.dumps({"before_return": ran_before_return, "calls": calls,
                          "waiting": import_hooks.waiting()}))
        """,
    )
    assert out["before_return"] == [1] and out["calls"] == [1] and out["waiting"] == []


def test_a_users_own_delegating_finder_and_reporters_do_not_recurse(tmp_path):
    package(tmp_path, "fakelib")
    out = run_child(
        tmp_path,
        """
        import json, sys
        class Delegating:  # asks every other finder, as reporter's does
            seen = []
            def find_spec(self, name, path, target=None):
                if name != "fakelib":
                    return None
                for f in sys.meta_path:
                    if f is not self and hasattr(f, "find_spec"):
                        spec = f.find_spec(name, path, target)
                        if spec is not None:
                            self.seen.append(name)
                            return spec
                return None
        sys.meta_path.insert(0, Delegating())
        from reporter.integrations import import_hooks
        calls = []
        import_hooks.when_imported("k", ["fakelib"], lambda: calls.append(1))  # first now
        import fakelib
        print(json.dumps({"calls": calls, "value": fakelib.VALUE}))
        """,
    )
    assert out["calls"] == [1] and out["value"] == 1


def test_a_waiting_modules_loader_answers_as_the_real_one_before_the_import(tmp_path):
    package(tmp_path, "fakelib")
    (tmp_path / "lib" / "fakelib" / "data.txt").write_text("payload")
    out = run_child(
        tmp_path,
        """
        import importlib.util, json, pkgutil, sys
        from reporter.integrations import import_hooks
        calls = []
        import_hooks.when_imported("k", ["fakelib"], lambda: calls.append(1))
        loader = importlib.util.find_spec("fakelib").loader
        answers = {
            "is_package": loader.is_package("fakelib"),
            "filename": loader.get_filename("fakelib").endswith("__init__.py"),
            "imported": "fakelib" in sys.modules,
        }
        answers["data"] = pkgutil.get_data("fakelib", "data.txt").decode()  # imports it
        answers["calls"] = calls
        print(json.dumps(answers))
        """,
    )
    del out["stderr"]
    assert out == {
        "is_package": True,
        "filename": True,
        "imported": False,
        "data": "payload",
        "calls": [1],
    }


def test_a_warning_a_module_raises_at_import_still_names_the_importing_line(tmp_path):
    package(
        tmp_path,
        "fakelib",
        "import warnings\nwarnings.warn('old API', DeprecationWarning, stacklevel=2)\n",
    )
    code = """
        import json, warnings
        from reporter.integrations import import_hooks
        import_hooks.when_imported("k", ["fakelib"], lambda: None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import fakelib  # the importing line
        print(json.dumps({"where": [(w.filename, w.lineno) for w in caught]}))
        """
    line = textwrap.dedent(code).splitlines().index("    import fakelib  # the importing line")
    out = run_child(tmp_path, code)
    assert out["where"] == [["<string>", line + 1]]


def test_a_library_installed_after_autolog_is_turned_on_when_imported(tmp_path):
    # as after `%pip install` in a notebook: not importable when autolog() ran
    out = run_child(
        tmp_path,
        """
        import json, pathlib, importlib, sys
        import reporter as mlflow
        from reporter.integrations import import_hooks
        from reporter.integrations.sklearn import autologging
        import sklearn as installed
        del sys.modules["sklearn"]  # as if not imported, and then not importable either
        sys.path.insert(0, "nowhere")
        real = [p for p in sys.path if (pathlib.Path(p) / "sklearn").is_dir()]
        for p in real:
            sys.path.remove(p)
        importlib.invalidate_caches()
        mlflow.set_tracking_uri("store")
        mlflow.autolog()
        waiting = import_hooks.waiting()
        sys.path.extend(real)  # "installed" now
        importlib.invalidate_caches()
        import sklearn
        print(json.dumps({"waiting": waiting, "enabled": autologging.is_enabled()}))
        """,
    )
    assert "sklearn" in out["waiting"] and out["enabled"] is True


def test_silent_and_the_frameworks_own_autolog_are_respected_by_the_hooks(tmp_path):
    out = run_child(
        tmp_path,
        """
        import json, warnings
        import reporter as mlflow
        from reporter.integrations.sklearn import autologging
        mlflow.set_tracking_uri("store")
        mlflow.autolog(max_tuning_runs=-1, silent=True)  # cannot be turned on: silently
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import sklearn
        silent = [str(w.message) for w in caught]
        mlflow.sklearn.autolog(disable=True)  # the framework's own call wins (MLflow's rule)
        mlflow.autolog()
        after_own = autologging.is_enabled()
        print(json.dumps({"silent": silent, "after_own": after_own}))
        """,
    )
    assert out["silent"] == [] and out["after_own"] is False
