"""Benchmark `tracker-report du`: what measuring a store costs against listing it, and reading it.

    .venv/bin/python benchmarks/bench_du.py                  # 10,000 runs, 3 repeats (~4 min)
    .venv/bin/python benchmarks/bench_du.py --runs 2000 --repeat 5

Makes a store of N finished runs (3 params, 2 metrics x 5 steps each, a small artifact on one
run in 10, 1 % of them deleted) under .bench/, once with every event in raw part files (as
logged, automatic compaction off) and once compacted. For each it times, in fresh processes,
the median over --repeat of:

* the floor: `os.walk` + `stat` of every file (what any listing costs), and GNU `du -sb`;
* `store.usage(lifecycles=False)`: the listing plus the footers of the compacted files
  (`du --quick`);
* `store.usage()`: the same plus the runs' lifecycle events (which runs are deleted, what gc
  would free), i.e. `du` as it runs by default;
* `tracker-report du --format json` end to end (Python start-up included; timed once);
* the full read a report does: `runs_frame` of every experiment (`search_runs`).

"cold" is the first call in a fresh process, after the imports (nothing of ours cached;
the OS page cache is warm: dropping it needs root and would measure the disk), "warm" a
second call in the same process (footers cached; `runs_frame` keeps its whole frame). Peak
RSS is the process's maximum resident size. It also checks du's total against the walk, and
its compaction estimate against what `compact` really frees.

MLflow's `mlflow gc` is not compared: MLflow's SQLite store logs a run in about 1.5 s (see
README.md, `runs300`), so a 10,000-run store takes hours to build, MLflow has no `du`, and its
gc deletes rather than measures.
"""

from __future__ import annotations

import argparse
import json
import os
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

MAKE_STORE = """
import sys, random
import reporter
from reporter.entities import Metric, Param
store, runs = sys.argv[1], int(sys.argv[2])
client = reporter.Client(store)
exp = client.create_experiment("bench-du")
rng = random.Random(1)
t0 = 1_700_000_000_000
ids = []
for r in range(runs):
    run = client.create_run(exp, run_name=f"run-{r:05d}", start_time=t0 + r * 60_000)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"p{i}", str(rng.randint(1, 9))) for i in range(3)],
                     metrics=[Metric(f"m{k}", rng.random(), t0 + r * 60_000 + s, s)
                              for k in range(2) for s in range(5)])
    if r % 10 == 0:
        client.log_text(rid, "x" * rng.randint(100, 5000), "notes.txt")
    client.set_terminated(rid, end_time=t0 + r * 60_000 + 1000)
    ids.append(rid)
for rid in ids[:: 100]:
    client.delete_run(rid)
client.flush()
"""

MEASURE = """
import json, os, resource, sys, time, warnings
what, store = sys.argv[1], sys.argv[2]

def walk():
    total = files = 0
    for folder, _dirs, names in os.walk(store):
        for name in names:
            total += os.stat(os.path.join(folder, name)).st_size
            files += 1
    return {"bytes": total, "files": files}

import pandas, pyarrow.parquet, reporter  # imported before the clock starts, for every one
from reporter.store.parquet import usage  # noqa: F401 (and what du itself imports)

def run():
    if what == "walk":
        return walk()
    store_obj = reporter.Client(store).store
    if what == "quick":
        u = store_obj.usage(lifecycles=False)
        return {"bytes": u.total.bytes, "files": u.total.files}
    if what == "full":
        u = store_obj.usage()
        return {"bytes": u.total.bytes, "files": u.total.files, "deleted": u.deleted_runs,
                "compaction_frees": u.compaction_frees, "gc_bytes": u.gc.freed.bytes}
    if what == "read":
        ids = [e.experiment_id for e in store_obj.list_experiments()]
        return {"rows": len(store_obj.runs_frame(ids))}
    raise SystemExit(what)

out = {}
for label in ("cold", "warm"):
    start = time.perf_counter()
    result = run()
    out[label] = time.perf_counter() - start
out.update(result)
out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run code in a fresh interpreter of this venv and return its last JSON line."""
    full_env = dict(os.environ, TRACKER_LOG_ENVIRONMENT="0", **(env or {}))
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    lines = out.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def make_stores(runs: int) -> tuple[Path, Path, float]:
    """Create the raw store and its compacted copy once (kept under .bench/)."""
    raw, compacted = BENCH / f"du-store-{runs}-raw", BENCH / f"du-store-{runs}-compacted"
    made = 0.0
    if not (raw / "store.json").exists():
        shutil.rmtree(raw, ignore_errors=True)
        start = time.perf_counter()
        child(MAKE_STORE, str(raw), str(runs), env={"TRACKER_AUTO_COMPACT": "0"})
        made = time.perf_counter() - start
    if not (compacted / "store.json").exists():
        shutil.copytree(raw, compacted)
        child("import sys, reporter; reporter.Client(sys.argv[1]).compact(); print('{}')",
              str(compacted))  # fmt: skip
    return raw, compacted, made


def cli_seconds(store: Path) -> float:
    """Time `tracker-report du --format json` end to end."""
    env = dict(os.environ, TRACKER_LOG_ENVIRONMENT="0")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from reporter.commands.main import main; main()", "du",
         "--store", str(store), "--format", "json"],
        capture_output=True, check=True, env=env,
    )  # fmt: skip
    return time.perf_counter() - start


def gnu_du_seconds(store: Path) -> float | None:
    """Time GNU `du -sb` (None when there is no du)."""
    if shutil.which("du") is None:
        return None
    start = time.perf_counter()
    subprocess.run(["du", "-sb", str(store)], capture_output=True, check=True)
    return time.perf_counter() - start


def measure(store: Path, repeat: int) -> dict[str, Any]:
    """Return the medians of every measurement of one store."""
    samples: dict[str, list[float]] = {}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):  # the measurements take turns, so a noisy neighbour hits all alike
        for what in ("walk", "quick", "full", "read"):
            got = child(MEASURE, what, str(store))
            last[what] = got
            for key in ("cold", "warm", "rss_mb"):
                samples.setdefault(f"{what} {key}", []).append(float(got[key]))
        if "cli" not in samples:  # once: it is `du` plus start-up, which the others show
            samples["cli"] = [cli_seconds(store)]
        gnu = gnu_du_seconds(store)
        if gnu is not None:
            samples.setdefault("du -sb", []).append(gnu)
    out: dict[str, Any] = {k: statistics.median(v) for k, v in samples.items()}
    out["facts"] = last
    return out


def report(name: str, m: dict[str, Any]) -> None:
    """Print one store's medians and ratios."""
    facts = m["facts"]
    walk, quick, full = facts["walk"], facts["quick"], facts["full"]
    print(f"\n{name}: {walk['files']:,} files, {walk['bytes'] / 1e6:.1f} MB")
    rows = [
        ("floor: os.walk + stat", "walk"),
        ("du --quick (listing + footers)", "quick"),
        ("du (+ lifecycle events)", "full"),
        ("full read (runs_frame)", "read"),
    ]
    print(f"  {'':34} {'cold s':>8} {'warm s':>8} {'x floor':>8} {'peak RSS MB':>12}")
    for label, key in rows:
        cold, warm = m[f"{key} cold"], m[f"{key} warm"]
        ratio = cold / m["walk cold"]
        print(f"  {label:34} {cold:8.3f} {warm:8.3f} {ratio:8.1f} {m[f'{key} rss_mb']:12.0f}")
    if "du -sb" in m:
        print(f"  {'GNU du -sb':34} {m['du -sb']:8.3f}")
    print(f"  {'tracker-report du (CLI, end to end)':34} {m['cli']:8.3f}  (one run)")
    print(f"  du / full read: {m['full cold'] / m['read cold']:.2f} (cold), "
          f"du --quick / full read: {m['quick cold'] / m['read cold']:.2f}")  # fmt: skip
    ok = quick["bytes"] == walk["bytes"] and quick["files"] == walk["files"]
    print(f"  du's total equals the walk's: {ok}; deleted runs: {full['deleted']}")


def main() -> None:
    """Build the stores, measure them, print medians and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write every median to this file")
    args = parser.parse_args()
    raw, compacted, made = make_stores(args.runs)
    if made:
        print(f"made the stores in {made:.0f} s under {BENCH}")
    results = {"raw": measure(raw, args.repeat), "compacted": measure(compacted, args.repeat)}
    report(f"{args.runs:,} runs, uncompacted (raw part files)", results["raw"])
    report(f"{args.runs:,} runs, compacted", results["compacted"])
    estimate = results["raw"]["facts"]["full"]["compaction_frees"]
    really = (
        results["raw"]["facts"]["walk"]["bytes"] - results["compacted"]["facts"]["walk"]["bytes"]
    )
    print(f"\ncompaction: du estimated {estimate / 1e6:.2f} MB freed, compact freed "
          f"{really / 1e6:.2f} MB ({estimate / really:.2f} x)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
