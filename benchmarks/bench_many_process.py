"""Benchmark stores written one run per process: background compaction against none, and
against an explicit `tracker-report compact`.

    .venv/bin/python benchmarks/bench_many_process.py                 # 10,000 runs (~25 min)
    .venv/bin/python benchmarks/bench_many_process.py --runs 2000 --repeat 5

Most teams log one run per process (a training job, a CI job, a sweep trial). This makes N
runs, each logged by a process of its own, into three stores under .bench/:

* (a) `background`: every setting at its default, so the ends of runs start detached
  compactors (TRACKER_COMPACT_IN_BACKGROUND, TRACKER_AUTO_COMPACT=32); the script waits for the
  last one to finish before it measures;
* (b) `off`: the same runs with compaction off (TRACKER_AUTO_COMPACT=0): every event in raw
  part files, as one-run processes left stores before;
* (c) `compacted`: a copy of (b) after `tracker-report compact`.

The processes are forks of this script, one per run, two at a time (the machine has two
cores): the parent imports reporter once, so 10,000 processes cost minutes instead of an
hour of interpreter start-ups. reporter forgets its writer's state after a fork
(os.register_at_fork), so each child logs as a fresh process does, then runs the exit hooks
and exits. The compactors they start are real `python -m reporter.store.parquet.autocompact`
processes (start-up included). Each run has the shape of bench_tracking's search workload:
5 params, 3 metrics, 2 tags, from a seeded generator (all three stores hold the same values).

Then, in fresh processes, the median of --repeat of:
* `search_runs` with bench_tracking's filter, cold (the first call after the imports) and
  warm (a second call);
* `tracker-report build --artifacts skip` (the build function, into a new folder each time).

It prints the medians, the ratios to (c) (target: (a)/(c) <= 1.5 for search and build), the
files each store holds, and what the check and the start of a compactor cost a logging
process (timed inside each child around `autocompact.start_if_due`).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / ".bench"
EXPERIMENT = "bench-many"
SEARCH_FILTER = "metrics.rmse < 0.5 and params.max_depth = '8'"

SEARCH = """
import json, sys, time
import pandas, pyarrow.parquet  # noqa: F401 (imported before the clock starts)
import reporter as mlflow
mlflow.set_tracking_uri(sys.argv[1])
out = {}
for label in ("cold", "warm"):
    start = time.perf_counter()
    frame = mlflow.search_runs(experiment_names=[sys.argv[2]], filter_string=sys.argv[3])
    out[label] = time.perf_counter() - start
out["rows"] = len(frame)
print(json.dumps(out))
"""

BUILD = """
import json, sys, time
from reporter.site.build import build
from reporter.view.config import BuildConfig
start = time.perf_counter()
result = build(BuildConfig(store=sys.argv[1], out=sys.argv[2], artifacts="skip"))
print(json.dumps({"seconds": time.perf_counter() - start, "pages": result.pages}))
"""


def log_one_run(store: str, index: int, timings: str) -> None:
    """In a forked child: log run `index` as a one-run process does, timing the check."""
    import reporter as mlflow
    from reporter.store.parquet import autocompact

    real = autocompact.start_if_due

    def timed(*args: Any, **kwargs: Any) -> int | None:
        start = time.perf_counter()
        pid = real(*args, **kwargs)
        with open(timings, "a") as handle:  # one short line: an atomic append
            handle.write(f"{(time.perf_counter() - start) * 1000:.3f} {int(pid is not None)}\n")
        return pid

    autocompact.start_if_due = timed  # type: ignore[assignment]
    rng = random.Random(index)
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"run-{index}"):
        mlflow.log_params(
            {
                "max_depth": rng.choice([2, 4, 8, 16]),
                "n_estimators": rng.choice([50, 100, 200]),
                "lr": rng.choice([0.1, 0.01]),
                "seed": index,
                "model": rng.choice(["rf", "gbm"]),
            }
        )
        mlflow.log_metrics({k: rng.random() for k in ("rmse", "mae", "r2")})
        mlflow.set_tags({"team": rng.choice(["a", "b"]), "batch": str(index // 100)})


def make_store(store: Path, runs: int, env: dict[str, str], parallel: int) -> dict[str, Any]:
    """Log `runs` runs into `store`, each in a forked child; return timings."""
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import reporter  # noqa: F401 (imported once, before the forks)
    from reporter.store.parquet import autocompact
    from reporter.store.parquet.fs import StoreFS

    os.environ.update(env)
    timings = store.parent / f"{store.name}.checks"
    timings.unlink(missing_ok=True)
    start = time.perf_counter()
    live: set[int] = set()
    for index in range(runs):
        while len(live) >= parallel:
            pid, _ = os.wait()
            live.discard(pid)
        pid = os.fork()
        if pid == 0:  # the child: one run, the exit hooks, gone
            code = 0
            try:
                log_one_run(str(store), index, str(timings))
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                atexit._run_exitfuncs()
                os._exit(code)
        live.add(pid)
    while live:
        pid, _status = os.wait()
        live.discard(pid)
    logged = time.perf_counter() - start
    fs = StoreFS(str(store))
    waited = time.perf_counter()
    assert autocompact.wait_for_compactors(fs, fs.list_dirs("runs"), timeout_s=3600)
    lines = timings.read_text().split() if timings.exists() else []
    checks = [(float(ms), int(spawned)) for ms, spawned in zip(lines[::2], lines[1::2])]
    return {
        "log_seconds": logged,
        "wait_seconds": time.perf_counter() - waited,
        "checks_ms": [ms for ms, spawned in checks if not spawned],
        "spawns_ms": [ms for ms, spawned in checks if spawned],
    }


def store_files(store: Path) -> dict[str, int]:
    """Count the event files of a store."""
    return {
        "raw parts": sum(1 for _ in store.glob("runs/*/_parts/*.parquet")),
        "compacted files": sum(1 for _ in store.glob("runs/*/_compacted/*.parquet")),
        "MB": round(sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 1e6, 1),
    }


def child(code: str, *args: str) -> dict[str, Any]:
    """Run code in a fresh interpreter of this venv; return its last JSON line."""
    env = dict(os.environ, TRACKER_LOG_ENVIRONMENT="0")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def build_stores(runs: int, parallel: int) -> tuple[dict[str, Path], dict[str, Any]]:
    """Make the three stores (kept under .bench/ for the next run with the same --runs)."""
    base = BENCH / f"many-{runs}"
    stores = {name: base / name for name in ("background", "off", "compacted")}
    made: dict[str, Any] = {}
    quiet = {"TRACKER_LOG_ENVIRONMENT": "0"}
    for name, env in (
        ("background", {**quiet}),
        ("off", {**quiet, "TRACKER_AUTO_COMPACT": "0"}),
    ):
        if (stores[name] / "store.json").exists():
            continue
        shutil.rmtree(stores[name], ignore_errors=True)
        stores[name].parent.mkdir(parents=True, exist_ok=True)
        saved = dict(os.environ)
        for key in [k for k in os.environ if k.startswith("TRACKER_")]:
            del os.environ[key]  # every other setting at its default
        try:
            made[name] = make_store(stores[name], runs, env, parallel)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    if not (stores["compacted"] / "store.json").exists():
        shutil.rmtree(stores["compacted"], ignore_errors=True)
        shutil.copytree(stores["off"], stores["compacted"])
        cli = [sys.executable, "-c", "from reporter.commands.main import main; main()"]
        subprocess.run([*cli, "compact", "--store", str(stores["compacted"])], check=True)
    return stores, made


def measure(stores: dict[str, Path], repeat: int) -> dict[str, dict[str, float]]:
    """Medians of cold and warm search and of build, per store; the stores take turns."""
    samples: dict[str, dict[str, list[float]]] = {n: {} for n in stores}
    rows: dict[str, int] = {}
    scratch = BENCH / "scratch" / "many-site"
    for _ in range(repeat):
        for name, store in stores.items():
            got = child(SEARCH, str(store), EXPERIMENT, SEARCH_FILTER)
            rows[name] = int(got["rows"])
            for key in ("cold", "warm"):
                samples[name].setdefault(f"search {key}", []).append(float(got[key]))
            shutil.rmtree(scratch, ignore_errors=True)  # a new site: no unchanged-build skip
            built = child(BUILD, str(store), str(scratch))
            samples[name].setdefault("build", []).append(float(built["seconds"]))
    shutil.rmtree(scratch, ignore_errors=True)
    if len(set(rows.values())) != 1:
        raise SystemExit(f"the stores' searches disagree: {rows}")
    return {n: {k: statistics.median(v) for k, v in s.items()} for n, s in samples.items()}


def report(
    runs: int, stores: dict[str, Path], medians: dict[str, dict[str, float]], made: dict[str, Any]
) -> None:
    """Print the table, the ratios and the per-process cost."""
    print(f"\n{runs:,} runs, each logged by its own process (seconds, medians)")
    head = f"  {'store':34} {'search cold':>12} {'search warm':>12} {'build':>8}"
    print(head + f" {'raw parts':>10} {'compacted':>10} {'MB':>6}")
    labels = {
        "background": "(a) background compaction (default)",
        "off": "(b) compaction off",
        "compacted": "(c) (b) + tracker-report compact",
    }
    for name, label in labels.items():
        m, files = medians[name], store_files(stores[name])
        print(
            f"  {label:34} {m['search cold']:12.3f} {m['search warm']:12.3f} {m['build']:8.2f}"
            f" {files['raw parts']:10,} {files['compacted files']:10,} {files['MB']:6.1f}"
        )
    ref = medians["compacted"]
    for name in ("background", "off"):
        m = medians[name]
        search, build = m["search cold"] / ref["search cold"], m["build"] / ref["build"]
        verdict = "PASS" if search <= 1.5 and build <= 1.5 else "FAIL"
        target = f"  target <= 1.5: {verdict}" if name == "background" else ""
        print(f"  {labels[name][:3]}/(c): search cold {search:.2f}x, build {build:.2f}x{target}")
    if "background" in made:
        got = made["background"]
        checks, spawns = got["checks_ms"], got["spawns_ms"]
        print(
            f"\nper logging process (store (a), {got['log_seconds']:.0f} s to log, "
            f"{got['wait_seconds']:.1f} s waiting for the last compactor):"
        )
        if checks:
            print(f"  check only (one listing of _parts/): median {statistics.median(checks):.2f}"
                  f" ms, p95 {quantile(checks, 0.95):.2f} ms, max {max(checks):.2f} ms"
                  f" ({len(checks):,} processes)")  # fmt: skip
        if spawns:
            print(f"  check + lease + start of a compactor: median {statistics.median(spawns):.2f}"
                  f" ms, p95 {quantile(spawns, 0.95):.2f} ms, max {max(spawns):.2f} ms"
                  f" ({len(spawns):,} processes)")  # fmt: skip
    else:
        print("\n(stores reused from an earlier run: delete .bench/many-N to time the logging)")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Make the stores, measure them, print medians, ratios and the per-process cost."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=2, help="logging processes at once")
    parser.add_argument("--json", help="write the medians and per-process costs to this file")
    args = parser.parse_args()
    stores, made = build_stores(args.runs, args.parallel)
    medians = measure(stores, args.repeat)
    report(args.runs, stores, medians, made)
    if args.json:
        Path(args.json).write_text(json.dumps({"medians": medians, "made": made}, indent=2))


if __name__ == "__main__":
    main()
