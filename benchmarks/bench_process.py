"""Benchmark a whole logging process: import, one run of 50 metric points, end, exit.

    .venv/bin/python benchmarks/bench_process.py               # 7 repeats (about a minute)
    .venv/bin/python benchmarks/bench_process.py --repeat 15 --json .bench/process.json
    .venv/bin/python benchmarks/bench_process.py --no-git    # scripts outside any git repo

The script every implementation runs (ONE_RUN) is the issue's: `import reporter as mlflow`
(or `import mlflow`), `set_tracking_uri(argv[1])`, a `with start_run():` block logging 50
`log_metric` calls, from a file in a one-commit git repository under .bench/scratch. It runs
in fresh processes for reporter (.venv), MLflow on SQLite and MLflow's file store
(.bench/mlflow-venv: `make mlflow`), each into a store an untimed first
process created ("existing store"), and into a new store ("new store": the first process of a
store, which creates it). The floors are `python -c pass` and pyarrow importing its Parquet
writer and writing one 50-row file. Every figure is the median of --repeat processes, the
processes taking turns within each round; wall time from start to exit, CPU time (user +
system, all threads) and peak RSS from wait4.

TRACKER_* and MLFLOW_* are removed from the children's environment (every setting at its
default; MLflow's telemetry is turned off, as there is no network to send it to). reporter's
modules are byte-compiled first (`compileall`, into the checkout's git-ignored __pycache__
folders), as an installed package's are, even where PYTHONDONTWRITEBYTECODE is set.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUR_PYTHON = REPO / ".venv" / "bin" / "python"
MLFLOW_PYTHON = REPO / ".bench" / "mlflow-venv" / "bin" / "python"
SCRATCH = REPO / ".bench" / "scratch"
TARGET = 0.3  # seconds: the bound for reporter's one-run process

ONE_RUN = """\
import sys
import {module}
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run():
    for i in range(50):
        mlflow.log_metric("loss", 1.0/(i+1), step=i)
"""
# the floor: pyarrow's Parquet writer, imported, writing 50 rows of a metric batch's columns
# (built from buffers: `pa.array(list)` would import pandas, and the floor would include it)
PYARROW_FILE = """\
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
n = 50
def column(kind, dtype, values):
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(np.array(values, dtype))])
keys = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(np.arange(0, 4 * n + 1, 4,
    dtype=np.int32)), pa.py_buffer(b"loss" * n)])
table = pa.table([keys, column(pa.float64(), np.float64, [1.0 / (i + 1) for i in range(n)]),
                  column(pa.int64(), np.int64, range(n)), column(pa.int64(), np.int64,
                  [1_700_000_000_000 + i for i in range(n)])],
                 names=["key", "value", "step", "timestamp"])
pq.write_table(table, sys.argv[1], compression="zstd")
"""


def child_env(mlflow: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without TRACKER_*/MLFLOW_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    if mlflow:
        env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    env.update(extra or {})
    return env


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run one process; return its wall seconds, CPU seconds (user + system) and peak RSS in
    MB."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=SCRATCH, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class Case:
    """One kind of process: how to start it, and its samples."""

    def __init__(self, name: str, python: Path, argv: list[str], **env: str) -> None:
        self.name, self.python, self.argv, self.env = name, python, argv, env
        self.seconds: list[float] = []
        self.cpu: list[float] = []
        self.rss: list[float] = []

    def command(self, round_: int) -> list[str]:
        """The command line of one process of this case ({n} in an argument: the round)."""
        return [str(self.python), *(arg.format(n=round_) for arg in self.argv)]

    def measure(self, round_: int) -> None:
        """Run one process and keep its figures."""
        env = child_env(self.python == MLFLOW_PYTHON, self.env)
        seconds, cpu, rss = run(self.command(round_), env)
        self.seconds.append(seconds)
        self.cpu.append(cpu)
        self.rss.append(rss)

    def median(self) -> float:
        """The median wall time."""
        return statistics.median(self.seconds)


def cases(scratch: Path, git: bool) -> list[Case]:
    """Every process kind, floors first; the logging scripts are files in `scratch`."""
    ours, theirs = scratch / "one_run_reporter.py", scratch / "one_run_mlflow.py"
    ours.write_text(ONE_RUN.format(module="reporter as mlflow"))
    theirs.write_text(ONE_RUN.format(module="mlflow"))
    floor = scratch / "pyarrow_file.py"
    floor.write_text(PYARROW_FILE)
    files = {"MLFLOW_ALLOW_FILE_STORE": "true"}
    stores = scratch / "stores"  # not beside the scripts: a folder named reporter would shadow it
    stores.mkdir()
    if git:
        commit_scripts(scratch)
    return [
        Case("python -c pass", OUR_PYTHON, ["-c", "pass"]),
        Case(FLOOR, OUR_PYTHON, [str(floor), f"{stores}/f{{n}}.parquet"]),
        Case("import reporter", OUR_PYTHON, ["-c", "import reporter"]),
        Case("import mlflow", MLFLOW_PYTHON, ["-c", "import mlflow"]),
        Case("reporter", OUR_PYTHON, [str(ours), f"{stores}/reporter"]),
        Case("mlflow sqlite", MLFLOW_PYTHON, [str(theirs), f"sqlite:///{stores}/mlflow.db"]),
        Case("mlflow file", MLFLOW_PYTHON, [str(theirs), f"file:{stores}/mlruns"], **files),
        Case(NEW + "reporter", OUR_PYTHON, [str(ours), f"{stores}/reporter-{{n}}"]),
        Case(NEW + "mlflow sqlite", MLFLOW_PYTHON, [str(theirs), f"sqlite:///{stores}/{{n}}.db"]),
        Case(NEW + "mlflow file", MLFLOW_PYTHON, [str(theirs), f"file:{stores}/ml-{{n}}"], **files),
    ]


def commit_scripts(scratch: Path) -> None:
    """Make `scratch` a git repository of one commit holding the scripts: both libraries record
    git tags, as for a training script in a repository, from a small clean one (this
    checkout's own `git status` varies with whatever is being edited in it)."""
    git = ["git", "-C", str(scratch), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (["init", "-q"], ["add", "one_run_reporter.py", "one_run_mlflow.py"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-q", "-m", "scripts"], check=True, capture_output=True)


FLOOR = "pyarrow: import + 50-row file"
NEW = "new store: "


def report(all_cases: list[Case], repeat: int) -> None:
    """Print the table: medians, ratios to reporter's process, CPU, peak RSS; the target."""
    med = {case.name: case.median() for case in all_cases}
    print(f"\none process each; medians of {repeat} (wall seconds, start to exit)")
    head = f"{'process':<32}{'median':>9}{'min':>9}{'x reporter':>12}{'CPU':>9}{'peak RSS':>11}"
    print(head)
    for case in all_cases:
        ours = med[NEW + "reporter"] if case.name.startswith(NEW) else med["reporter"]
        print(
            f"{case.name:<32}{case.median():>8.3f}s{min(case.seconds):>8.3f}s"
            f"{case.median() / ours:>11.2f}x{statistics.median(case.cpu):>8.3f}s"
            f"{statistics.median(case.rss):>8.0f} MB"
        )
    print(
        f"\nreporter above the pyarrow floor: {med['reporter'] - med[FLOOR]:+.3f} s; "
        f"above `import reporter`: {med['reporter'] - med['import reporter']:+.3f} s"
    )
    verdict = "PASS" if med["reporter"] <= TARGET else "FAIL"
    print(f"target: reporter's one-run process <= {TARGET} s: {med['reporter']:.3f} s {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed processes per figure")
    parser.add_argument("--json", type=Path, help="write every sample to this file")
    parser.add_argument(
        "--no-git",
        action="store_true",
        help="run the scripts from a temporary folder outside any git repository",
    )
    args = parser.parse_args()
    for python in (OUR_PYTHON, MLFLOW_PYTHON):
        if not python.exists():
            raise SystemExit(f"no {python}: `make install` and `make mlflow` first")
    if args.no_git:
        scratch = Path(tempfile.mkdtemp(prefix="bench-process-"))
    else:
        SCRATCH.mkdir(parents=True, exist_ok=True)
        scratch = SCRATCH / f"process-{os.getpid()}"
        scratch.mkdir()
    all_cases = cases(scratch, git=not args.no_git)
    # bytecode, as an installed package has it (pip compiles; an editable checkout may not)
    compile_ = [str(OUR_PYTHON), "-m", "compileall", "-q", str(REPO / "reporter")]
    subprocess.run(compile_, check=True, stdout=subprocess.DEVNULL)
    try:
        for case in all_cases:  # untimed: creates the existing stores, warms the page cache
            case.measure(-1)
            case.seconds, case.cpu, case.rss = [], [], []
        for round_ in range(args.repeat):
            for case in all_cases:
                case.measure(round_)
            print(f"  round {round_ + 1}/{args.repeat} done", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(all_cases, args.repeat)
    if args.json:
        samples = {
            c.name: {"seconds": c.seconds, "cpu_seconds": c.cpu, "rss_mb": c.rss} for c in all_cases
        }
        args.json.write_text(json.dumps({"repeat": args.repeat, "samples": samples}, indent=1))


if __name__ == "__main__":
    main()
