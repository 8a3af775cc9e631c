"""Run MLflow scripts under one library, each in a fresh store, and dump what each wrote.

    python tests/compat/run.py --library mlflow   --work DIR SCRIPT...   # real MLflow
    python tests/compat/run.py --library reporter --work DIR SCRIPT...   # `mlflow` is reporter

For each script, DIR/<script name>/ gets a fresh store (MLflow: `sqlite:///.../mlflow.db`
through MLFLOW_TRACKING_URI; reporter: a folder through TRACKER_TRACKING_URI), the script's
output (output.txt), the searches it asks for (searches.json) and then either dump.json (see
dump.py) or error.txt (a traceback).

`--store NAME=URI` logs script NAME.py to URI instead of a fresh store (a tracking server's
http://...: MLflow's client against our server). `--dump-only DIR` runs no script: it dumps
each script's --store, with the searches an earlier run saved in DIR/<script name>/ (what a
server stored, read back through the other library).

Importing MLflow takes seconds, so this process imports the library once and forks a child
per script: each child starts from the same just-imported state, with no run, experiment or
tracking URI set, as a new process would. The child runs the script as `python SCRIPT`
would (`__main__`, argv[0], its folder first on sys.path), then dumps through the library's
own client, then exits. An empty MLflow database is made once and copied (MLflow's schema
migrations take seconds per database).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import runpy
import shutil
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_DB = "template.db"
DUMP = "dump.json"
ERROR = "error.txt"
OUTPUT = "output.txt"
SEARCHES = "searches.json"
SEARCH_NAMES = ("SEARCHES", "EXPERIMENT_SEARCHES", "MODEL_SEARCHES")  # see dump.py
# imported once before forking, as any script may use them: only the import time is shared
PRELOAD = ("numpy", "pandas", "sklearn.linear_model", "sklearn.datasets")


def point_at_store(library: str, folder: Path, uri: str | None) -> None:
    """Point the library at uri, else at a fresh store inside folder, through its
    environment variable."""
    variable = "MLFLOW_TRACKING_URI" if library == "mlflow" else "TRACKER_TRACKING_URI"
    if uri is None and library == "mlflow":
        shutil.copyfile(folder.parent / TEMPLATE_DB, folder / "mlflow.db")
        uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ[variable] = uri or str(folder / "store")


def run_script(script: str) -> dict[str, object]:
    """Run a script as `python script` would; return its module globals."""
    import numpy

    random.seed(0)
    numpy.random.seed(0)
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        return runpy.run_path(script, run_name="__main__")
    finally:
        sys.path.pop(0)


def child(library: str, folder: Path, script: str, uri: str | None, saved: Path | None) -> int:
    """In a forked child: run one script in its own folder and store (or, with saved, read
    the searches a run saved there), then dump the store."""
    from tests.compat import dump

    with open(folder / OUTPUT, "wb") as output:
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
    os.chdir(folder)
    try:
        point_at_store(library, folder, uri)
        if saved is None:
            ran = run_script(script)
            names = {key: ran[key] for key in SEARCH_NAMES if key in ran}
            (folder / SEARCHES).write_text(json.dumps(names, indent=1), encoding="utf-8")
        else:
            names = json.loads((saved / Path(script).stem / SEARCHES).read_text("utf-8"))
        import mlflow

        data = dump.dump(mlflow, names)
        text = json.dumps(data, indent=1, sort_keys=True, allow_nan=False)
        (folder / DUMP).write_text(text, encoding="utf-8")
        return 0
    except BaseException:
        (folder / ERROR).write_text(traceback.format_exc(), encoding="utf-8")
        return 1


def in_child(work: Path, library: str, script: str, uri: str | None, saved: Path | None) -> int:
    """Fork; run one task in the child and wait for it; return its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns into the caller's loop
        code = 1
        try:
            folder = work / Path(script).stem
            folder.mkdir()
            code = child(library, folder, script, uri, saved)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # skip the parent's atexit handlers and buffered output
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    """Import the library once, then run every script in a child of its own."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--library", choices=("mlflow", "reporter"), required=True)
    parser.add_argument("--work", required=True, type=Path, help="an empty folder")
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="NAME=URI",
        help="log script NAME.py to URI (a server's http://...) instead of a fresh store",
    )
    parser.add_argument(
        "--dump-only",
        type=Path,
        metavar="DIR",
        help="run no script: dump each one's --store with the searches saved in DIR/<name>/",
    )
    parser.add_argument("scripts", nargs="+")
    args = parser.parse_args(argv)
    stores = dict(item.split("=", 1) for item in args.store)

    sys.path[0] = str(REPO)  # for tests.compat; each script's own folder is added when it runs
    from tests.compat import alias

    if args.library == "reporter":
        alias.install()
    import mlflow  # imported once, before forking

    for name in PRELOAD:
        __import__(name)
    if args.library == "mlflow" and {Path(s).stem for s in args.scripts} - set(stores):
        # the empty database every script's copy starts from; opening it here also imports
        # and caches what MLflow's SQLite store needs, once (a child opens its own copy)
        mlflow.MlflowClient(f"sqlite:///{args.work / TEMPLATE_DB}").search_experiments()
    failed = []
    for script in args.scripts:
        started = time.monotonic()
        uri = stores.get(Path(script).stem)
        if in_child(args.work, args.library, script, uri, args.dump_only) != 0:
            failed.append(script)
        print(f"{Path(script).stem}: {time.monotonic() - started:.1f} s")
    for script in failed:
        print(f"{script}: see {args.work / Path(script).stem / ERROR}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
