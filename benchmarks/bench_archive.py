"""Benchmark `tracker-report archive` and `restore` against copying the same bytes by hand.

    .venv/bin/python benchmarks/bench_archive.py                 # 2,000 runs, 3 repeats
    .venv/bin/python benchmarks/bench_archive.py --runs 10000 --repeat 1

A store of --runs finished, compacted runs (10 params, 3 metrics x 100 steps, two small
artifacts each) is made once; each repeat works on a fresh copy of it, in fresh processes:

* archive --dry-run: selection and sizes, nothing written;
* archive: every run into a folder archive (copy, read back and check, summary, removal);
* search: search_runs over the store once its runs are archived (summaries only), against
  the same search before archiving;
* restore: every run back, each artifact checked against its SHA-256.

The raw limit beside them: copying the store's files to another folder and reading the copy
back to hash it (`shutil.copytree` + SHA-256 of every byte), which any verified move pays.
MLflow has no archive to compare with. Peak RSS is each child's own (ru_maxrss). Every figure
is the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

MAKE = """
import sys
import reporter
from reporter.entities import Metric, Param
uri, runs = sys.argv[1], int(sys.argv[2])
client = reporter.Client(uri)
exp = client.create_experiment("bench")
for r in range(runs):
    run = client.create_run(exp, run_name=f"run-{r}", start_time=1_600_000_000_000 + r)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"p{i}", str(i * r)) for i in range(10)],
                     metrics=[Metric(k, s / (r + 1), 1_600_000_000_000 + s, s)
                              for k in ("loss", "rmse", "mae") for s in range(100)])
    client.log_text(rid, "notes " * 100, "notes.md")
    client.log_dict(rid, {"run": r}, "config.json")
    client.set_terminated(rid, end_time=1_600_000_100_000 + r)
client.compact()
"""

TIMED = """
import json, resource, sys, time
from reporter.commands.main import run
start = time.perf_counter()
code = run(sys.argv[1:])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "code": code, "peak_mb": peak}))
"""

SEARCH = """
import json, resource, sys, time
import reporter as mlflow
mlflow.set_tracking_uri(sys.argv[1])
start = time.perf_counter()
found = mlflow.search_runs(experiment_names=["bench"], filter_string="metrics.loss < 1")
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "runs": len(found), "peak_mb": peak}))
"""


def child(code: str, *args: str) -> dict[str, Any]:
    """Run code in a fresh Python; return the JSON it prints last."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TRACKER_AUTO_COMPACT": "0"},
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1])) if out.stdout.strip() else {}


def cli(*args: str) -> dict[str, Any]:
    """Run `tracker-report ARGS` timed in a fresh process; fail unless it exits 0."""
    result = child(TIMED, *args)
    if result["code"] != 0:
        raise SystemExit(f"tracker-report {' '.join(args)} exited {result['code']}")
    return result


def raw_copy(store: Path, dest: Path) -> float:
    """Copy every file and read the copy back to hash it: a verified copy's floor."""
    start = time.perf_counter()
    shutil.copytree(store, dest)
    for path in dest.rglob("*"):
        if path.is_file():
            hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}

    def note(name: str, result: dict[str, Any]) -> None:
        samples.setdefault(name, []).append(result["seconds"])
        if "peak_mb" in result:
            peaks.setdefault(name, []).append(result["peak_mb"])

    with tempfile.TemporaryDirectory(prefix="bench-archive-") as scratch:
        root = Path(scratch)
        template = root / "template"
        child(MAKE, str(template), str(args.runs))
        size = sum(p.stat().st_size for p in template.rglob("*") if p.is_file())
        for i in range(args.repeat):
            store, cold = root / f"store{i}", root / f"cold{i}"
            shutil.copytree(template, store)
            select = ["--store", str(store), "--to", str(cold), "--older-than", "1d"]
            note("search before", child(SEARCH, str(store)))
            note("archive --dry-run", cli("archive", *select, "--dry-run"))
            note("archive", cli("archive", *select))
            note("search archived", child(SEARCH, str(store)))
            note(
                "restore",
                cli(
                    "restore",
                    "--filter",
                    "metrics.loss < 1",
                    "--store",
                    str(store),
                    "--from",
                    str(cold),
                ),
            )
            samples.setdefault("raw copy + hash", []).append(raw_copy(template, root / f"raw{i}"))
            for folder in (store, cold, root / f"raw{i}"):
                shutil.rmtree(folder)
    raw = statistics.median(samples["raw copy + hash"])
    print(f"{args.runs:,} runs, store {size / 1e6:.1f} MB, median of {args.repeat}")
    print(f"{'step':<20} {'seconds':>9} {'x raw':>7} {'runs/s':>8} {'peak MB':>8}")
    for name, values in samples.items():
        seconds = statistics.median(values)
        peak = f"{statistics.median(peaks[name]):8.0f}" if name in peaks else f"{'-':>8}"
        print(f"{name:<20} {seconds:9.2f} {seconds / raw:7.1f} {args.runs / seconds:8.0f} {peak}")


if __name__ == "__main__":
    main()
