"""Benchmark `tracker-report build` on a synthetic store against the pyarrow floor.

    .venv/bin/python benchmarks/bench_build.py            # 1,000 runs x 10 metrics x 1,000 steps
    .venv/bin/python benchmarks/bench_build.py --runs 100      # a quick look

The floor for this work is pyarrow alone reading the same store files and writing the same
number of output bytes into as many files; the build should stay within 10x of it. Every time
is the median of --repeat fresh processes; memory is the peak RSS of the build process.
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
import sys, time, random
import reporter
from reporter.entities import Metric, Param
store, runs, metrics, steps, params = sys.argv[1], *map(int, sys.argv[2:6])
client = reporter.Client(store)
exp = client.create_experiment("bench-build")
rng = random.Random(1)
t0 = 1_700_000_000_000
for r in range(runs):
    run = client.create_run(exp, run_name=f"run-{r:05d}", start_time=t0 + r * 60_000)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"p{i:02d}", str(rng.choice([1, 2, 4, 8]) * (i + 1)))
                                  for i in range(params)])
    batch = [Metric(f"metric_{k}", rng.random() / (s + 1), t0 + r * 60_000 + s * 100, s)
             for k in range(metrics) for s in range(steps)]
    client.log_batch(rid, metrics=batch)
    client.set_terminated(rid, end_time=t0 + r * 60_000 + steps * 100)
client.compact()
"""

BUILD = """
import json, resource, sys, time
from reporter.site.build import build
from reporter.view.config import BuildConfig
start = time.perf_counter()
result = build(BuildConfig(store=sys.argv[1], out=sys.argv[2], artifacts="skip",
                           max_points=int(sys.argv[3])))
print(json.dumps({"seconds": time.perf_counter() - start, "pages": result.pages,
                  "written": result.stats.written, "bytes": result.stats.bytes,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FLOOR = """
import json, os, sys, time
from pathlib import Path
import pyarrow.parquet as pq
store, out, total, files = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
rows = 0
for path in sorted(Path(store).rglob("*.parquet")):
    rows += pq.read_table(path).num_rows
chunk = total // files + 1
blob = os.urandom(min(chunk, 1 << 20))
out.mkdir(parents=True, exist_ok=True)
written = 0
for i in range(files):
    size = min(chunk, total - written)
    if size <= 0:
        break
    with open(out / f"f{i}.html", "wb") as handle:
        left = size
        while left > 0:
            handle.write(blob[: min(left, len(blob))])
            left -= len(blob)
    written += size
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows, "bytes": written}))
"""


def child(code: str, *args: str) -> dict[str, Any]:
    """Run code in a fresh interpreter of this venv and return its JSON line."""
    env = dict(os.environ, TRACKER_LOG_ENVIRONMENT="0")
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    lines = out.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def make_store(path: Path, runs: int, metrics: int, steps: int, params: int) -> float:
    """Create the synthetic store once (kept under .bench/ for later runs)."""
    if (path / "store.json").exists():
        return 0.0
    start = time.perf_counter()
    child(MAKE_STORE, str(path), str(runs), str(metrics), str(steps), str(params))
    return time.perf_counter() - start


def folder_bytes(path: Path, skip: str | None = None) -> int:
    """Total size of the files below a folder (optionally skipping a sub-folder)."""
    return sum(
        p.stat().st_size for p in path.rglob("*") if p.is_file() and not (skip and skip in p.parts)
    )


def main() -> None:
    """Measure full build, rebuild, floor, memory, size and the big run page."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-points", type=int, default=1000)
    args = parser.parse_args()
    store = BENCH / f"build-store-{args.runs}x{args.metrics}x{args.steps}"
    made = make_store(store, args.runs, args.metrics, args.steps, args.params)
    if made:
        print(f"made the store in {made:.0f} s: {store}")
    scratch = BENCH / "build-scratch"
    builds, rebuilds, floors, peaks = [], [], [], []
    result: dict[str, Any] = {}
    for _ in range(args.repeat):
        shutil.rmtree(scratch, ignore_errors=True)
        result = child(BUILD, str(store), str(scratch / "site"), str(args.max_points))
        builds.append(result["seconds"])
        peaks.append(result["peak_mb"])
        again = child(BUILD, str(store), str(scratch / "site"), str(args.max_points))
        assert again["written"] == 0, again
        rebuilds.append(again["seconds"])
        files = sum(1 for p in (scratch / "site").rglob("*") if p.is_file())
        floor = child(FLOOR, str(store), str(scratch / "floor"), str(result["bytes"]), str(files))
        floors.append(floor["seconds"])
    site_mb = folder_bytes(scratch / "site") / 1e6
    shared_js = folder_bytes(scratch / "site" / "static") / 1e6

    big = BENCH / "build-store-1x10x100000"
    make_store(big, 1, 10, 100_000, 5)
    shutil.rmtree(scratch / "big", ignore_errors=True)
    child(BUILD, str(big), str(scratch / "big"), str(args.max_points))
    run_pages = list((scratch / "big" / "runs").glob("*/index.html"))
    page_kb = run_pages[0].stat().st_size / 1024
    shutil.rmtree(scratch, ignore_errors=True)

    build_s, floor_s = statistics.median(builds), statistics.median(floors)
    rebuild_s = statistics.median(rebuilds)
    points = args.runs * args.metrics * args.steps
    rows = [
        (
            "store",
            f"{args.runs:,} runs x {args.params} params x {args.metrics} metrics x "
            f"{args.steps:,} steps = {points / 1e6:.1f} M points",
            "",
            "",
        ),
        ("full build", f"{build_s:.1f} s ({result['pages']:,} pages)", "", ""),
        ("pyarrow floor (read store, write same bytes)", f"{floor_s:.2f} s", "", ""),
        (
            "build / floor",
            f"{build_s / floor_s:.1f}x",
            "<= 10x",
            "PASS" if build_s / floor_s <= 10 else "FAIL",
        ),
        (
            "peak memory",
            f"{statistics.median(peaks):.0f} MB",
            "< 2,048 MB",
            "PASS" if max(peaks) < 2048 else "FAIL",
        ),
        (
            "rebuild, nothing changed",
            f"{rebuild_s:.1f} s ({build_s / rebuild_s:.1f}x faster)",
            ">= 10x faster",
            "PASS" if build_s / rebuild_s >= 10 else "FAIL",
        ),
        ("site size", f"{site_mb:.0f} MB ({shared_js:.1f} MB shared JS and CSS)", "", ""),
        (
            "run page, 10 metrics x 100,000 steps",
            f"{page_kb:.0f} KB without the shared JS",
            "< 500 KB",
            "PASS" if page_kb < 500 else "FAIL",
        ),
    ]
    print(f"\nmedians of {args.repeat} fresh processes; {os.cpu_count()} cores\n")
    width = max(len(r[0]) for r in rows)
    for name, value, target, verdict in rows:
        print(f"{name.ljust(width)}  {value:<48} {target:<14} {verdict}")


if __name__ == "__main__":
    main()
