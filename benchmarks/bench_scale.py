"""Build memory, time and site size at scale, against pyarrow reading the same store.

    .venv/bin/python benchmarks/bench_scale.py                   # 2,000 runs x 20 x 2,000 = 80 M
    .venv/bin/python benchmarks/bench_scale.py --runs 200        # 8 M points, a quick look
    .venv/bin/python benchmarks/bench_scale.py --copies 5        # and a 400 M point store

The store is made once under .bench/ (2,000 runs of 20 metrics x 2,000 steps, logged with
`Client.log_batch` by two processes, then compacted: about 12 minutes for 80 M points). With
`--copies K` a second store holds K copies of it under other run ids (written with the store's
own compaction code, so it is a store like any other), for the 400 M point figure.

Every figure is a fresh process; peak memory is the process's peak RSS (ru_maxrss). The floor
is pyarrow reading every Parquet file of the store (`pq.read_table`, all columns), the least a
build must do; the build's ratio to it is the target (<= 3x), and its peak RSS (<= 2 GB).
Two lean floors (LEAN below) show what the points' share of the site costs done in plain
numpy: the series alone, and the series with the grouped lines and the read they need first.
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
PAGE_WORKERS = 1  # the builds measured (--page-workers): the product's default on 2 cores

MAKE_RUNS = """
import sys, random
import reporter
from reporter.entities import Metric, Param
store, first, last, metrics, steps = sys.argv[1], *map(int, sys.argv[2:6])
client = reporter.Client(store)
exp = client.get_experiment_by_name("scale")
exp_id = exp.experiment_id if exp else client.create_experiment("scale")
t0 = 1_700_000_000_000
for r in range(first, last):
    rng = random.Random(r)
    run = client.create_run(exp_id, run_name=f"run-{r:05d}", start_time=t0 + r * 60_000)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"p{i:02d}", str(rng.choice([1, 2, 4, 8]) * (i + 1)))
                                  for i in range(10)])
    for k in range(metrics):
        client.log_batch(rid, metrics=[Metric(f"metric_{k}", rng.random() / (s + 1),
                                              t0 + r * 60_000 + s * 100, s)
                                       for s in range(steps)])
    client.set_terminated(rid, end_time=t0 + r * 60_000 + steps * 100)
"""

COMPACT = """
import sys
import reporter
reporter.Client(sys.argv[1]).compact()
"""

COPIES = """
import sys, glob, json
import pyarrow as pa, pyarrow.parquet as pq
from reporter.store.parquet import compaction, schema
from reporter.store import registry
source, target, copies, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = registry.open_store(target)
fs = store._fs
(exp,) = [e for e in store.list_experiments() if e.name == name]
(path,) = glob.glob(f"{source}/runs/*/_compacted/*.parquet")
def renamed(column, k):  # run ids (and part ids) of copy k: their last 3 characters
    chunks = []
    for chunk in column.chunks:
        names = [n[:29] + f"{k:03d}" + n[32:] for n in chunk.dictionary.to_pylist()]
        chunks.append(pa.DictionaryArray.from_arrays(chunk.indices, pa.array(names)))
    return pa.chunked_array(chunks)
table = pq.read_table(path)
for k in range(copies):
    cols = {}
    for column in table.column_names:
        col = table.column(column)
        cols[column] = renamed(col, k) if column in ("run_id", "part") else col
    copy = pa.table(cols)
    parts = copy.column("part").unique().cast(pa.string()).to_pylist()
    compaction.publish(fs, exp.experiment_id, copy, parts, ordered=True)
    for rid in copy.column("run_id").unique().cast(pa.string()).to_pylist():  # run markers
        marker = {"run_id": rid, "experiment_id": exp.experiment_id, "created": 0}
        rel = fs.join(schema.RUNS_FOLDER, exp.experiment_id, rid, schema.RUN_MARKER_FILE)
        fs.write_atomic(rel, json.dumps(marker).encode())
    print(k, copy.num_rows, flush=True)
"""

EMPTY = """
import sys
import reporter
reporter.Client(sys.argv[1]).create_experiment(sys.argv[2])
"""

BUILD = """
import json, resource, sys, time
from reporter.site.build import build
from reporter.view.config import BuildConfig
start = time.perf_counter()
result = build(BuildConfig(store=sys.argv[1], out=sys.argv[2], artifacts="skip",
                           batch_points=int(sys.argv[3]), page_workers=int(sys.argv[4])))
print(json.dumps({"seconds": time.perf_counter() - start, "pages": result.pages,
                  "bytes": result.stats.bytes, "warnings": result.warnings,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

FLOOR = """
import json, resource, sys, time
from pathlib import Path
import pyarrow.parquet as pq
start = time.perf_counter()
rows = 0
for path in sorted(Path(sys.argv[1]).rglob("*.parquet")):
    rows += pq.read_table(path).num_rows
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LEAN = """
# The least a build could do, in plain numpy on pyarrow (no event semantics, HTML, tables,
# masking or storage page), two processes with half the row groups each. "series": every
# metric point read once, each series cut into 500 min/max buckets, each run's series written
# as base64. "site": first a pass for each key's x range and the latest values, then the
# series as above and the grouped lines (each run's mean in 200 bins of its key's range, on
# both axes, then each group's mean, min and max): the two reads the grouped lines need.
import base64, json, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import numpy as np
import pyarrow.parquet as pq

BINS, NONE = 200, (0.0, 1.0, 1.0)

def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.float64).tobytes()).decode()

def points(f, g):
    t = f.read_row_group(g, columns=["run_id", "kind", "key", "value", "step", "timestamp"])
    kinds = t.column("kind").combine_chunks()
    kind = kinds.indices.to_numpy() == kinds.dictionary.to_pylist().index("metric")
    run = t.column("run_id").combine_chunks()
    key = t.column("key").combine_chunks()
    ri, ki = run.indices.to_numpy()[kind], key.indices.to_numpy()[kind]
    value = t.column("value").to_numpy(zero_copy_only=False)[kind]
    step = t.column("step").to_numpy()[kind]
    ts = t.column("timestamp").to_numpy()[kind]
    cut = np.flatnonzero((np.diff(ri) != 0) | (np.diff(ki) != 0)) + 1
    edges = np.concatenate([[0], cut, [len(ri)]])
    starts = np.minimum.reduceat(ts, edges[:-1])  # each series' first time, then its run's
    first = {}
    for r, t0 in zip(ri[edges[:-1]].tolist(), starts.tolist()):
        first[r] = min(first.get(r, t0), t0)
    origin = np.array([first[r] for r in ri[edges[:-1]].tolist()])
    keys = key.dictionary.to_pylist()
    return run.dictionary.to_pylist(), keys, ri, ki, value, step, ts, edges, origin

def facts(job):
    path, share, shares = job
    f = pq.ParquetFile(path)
    ranges, latest = {}, 0
    for g in range(share, f.metadata.num_row_groups, shares):
        runs, keys, ri, ki, value, step, ts, edges, origin = points(f, g)
        a = edges[:-1]
        low, high = np.minimum.reduceat(step, a), np.maximum.reduceat(step, a)
        late = (np.maximum.reduceat(ts, a) - origin) / 1000.0
        latest += len(value[edges[1:] - 1])
        for k, lo, hi, rel in zip(ki[a].tolist(), low.tolist(), high.tolist(), late.tolist()):
            old = ranges.get(keys[k], (np.inf, -np.inf, -np.inf))
            ranges[keys[k]] = (min(old[0], lo), max(old[1], hi), max(old[2], rel))
    return ranges

def work(job):
    path, out, share, shares, ranges = job
    f = pq.ParquetFile(path)
    done = 0
    for g in range(share, f.metadata.num_row_groups, shares):
        runs, keys, ri, ki, value, step, ts, edges, origin = points(f, g)
        series = {}
        for a, b in zip(edges[:-1], edges[1:]):
            at = np.linspace(a, b, 501).astype(np.int64)[:-1] if b - a > 500 else np.arange(a, b)
            series.setdefault(runs[ri[a]], {})[keys[ki[a]]] = {
                "step": b64(step[at]), "min": b64(np.minimum.reduceat(value[a:b], at - a)),
                "max": b64(np.maximum.reduceat(value[a:b], at - a))}
        for run_id, data in series.items():  # (a run split between row groups: two files)
            folder = Path(out, run_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"series-{g}.js").write_text("S=" + json.dumps(data))
            done += len(data)
        if ranges is None:
            continue
        of = [ranges.get(k, NONE) for k in keys]
        a = edges[:-1]
        seg = np.repeat(np.arange(len(a)), np.diff(edges))
        group = ki[a] * 4 + ri[a] % 4  # four groups of runs per key
        relative = (ts - origin[seg]) / 1000.0
        for x, low, high in ((step.astype(np.float64), [o[0] for o in of], [o[1] for o in of]),
                             (relative, [0.0] * len(of), [o[2] for o in of])):
            low, high = np.asarray(low)[ki], np.asarray(high)[ki]
            span = np.where(high > low, high - low, 1.0)
            cell = seg * BINS + np.minimum(((x - low) / span * BINS).astype(np.int64), BINS - 1)
            n = np.bincount(cell, minlength=len(a) * BINS)
            total = np.bincount(cell, weights=value, minlength=len(a) * BINS)
            mean = np.divide(total, n, out=np.zeros(len(n)), where=n > 0).reshape(len(a), BINS)
            sums = np.zeros((len(keys) * 4, BINS))  # kept per row group: a floor, not a site
            lows, highs = np.full_like(sums, np.inf), np.full_like(sums, -np.inf)
            np.add.at(sums, group, mean)
            np.fmin.at(lows, group, mean)
            np.fmax.at(highs, group, mean)
    return done

if __name__ == "__main__":
    start = time.perf_counter()
    files = sorted(Path(sys.argv[1]).rglob("*.parquet"))
    jobs = [(str(p), k) for p in files for k in (0, 1)]
    with ProcessPoolExecutor(2) as pool:
        ranges = None
        if sys.argv[3] == "site":
            ranges = {}
            for part in pool.map(facts, [(p, k, 2) for p, k in jobs]):
                for key, (lo, hi, rel) in part.items():
                    old = ranges.get(key, (np.inf, -np.inf, -np.inf))
                    ranges[key] = (min(old[0], lo), max(old[1], hi), max(old[2], rel))
        n = sum(pool.map(work, [(p, sys.argv[2], k, 2, ranges) for p, k in jobs]))
    print(json.dumps({"seconds": time.perf_counter() - start, "series": n}))
"""

READS = """
import json, resource, sys, time
import reporter as mlflow
mlflow.set_tracking_uri(sys.argv[1])
start = time.perf_counter()
frame = mlflow.search_runs(experiment_names=[sys.argv[2]], filter_string="metrics.metric_0 < 0.5")
search = time.perf_counter() - start
run_id = frame["run_id"].iloc[0] if len(frame) else mlflow.search_runs(
    experiment_names=[sys.argv[2]])["run_id"].iloc[0]
start = time.perf_counter()
history = mlflow.MlflowClient().get_metric_history(run_id, "metric_0")
print(json.dumps({"search_s": search, "rows": len(frame), "history_s": time.perf_counter() - start,
                  "points": len(history),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: str, *args: str, script: bool = False, **extra: str) -> dict[str, Any]:
    """Run code in a fresh interpreter of this venv (from a file when `script`: its process
    pool imports the main module) and return its last JSON line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env["TRACKER_LOG_ENVIRONMENT"] = "0"
    env.update(extra)
    source = textwrap.dedent(code)
    if script:
        BENCH.mkdir(exist_ok=True)
        (BENCH / "child_script.py").write_text(source)
    out = subprocess.run(
        [sys.executable, *([str(BENCH / "child_script.py")] if script else ["-c", source]), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    lines = out.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines and lines[-1].startswith("{") else {}


def make_store(path: Path, runs: int, metrics: int, steps: int) -> None:
    """Log the store with two processes (half the runs each), then compact it."""
    if (path / "store.json").exists():
        return
    start = time.perf_counter()
    child(MAKE_RUNS, str(path), "0", "1", str(metrics), str(steps))  # the experiment, once
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env["TRACKER_LOG_ENVIRONMENT"] = "0"
    half = (runs + 1) // 2
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MAKE_RUNS, str(path), str(a), str(b), str(metrics), str(steps)],
            env=env,
        )
        for a, b in ((1, half), (half, runs))
    ]
    if any(p.wait() for p in procs):
        raise SystemExit("making the store failed")
    child(COMPACT, str(path))
    print(f"made {path.name} in {time.perf_counter() - start:.0f} s", flush=True)


def folder_bytes(path: Path) -> int:
    """Total size of the files below a folder."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(
    store: Path, experiment: str, repeat: int, batch_points: int, label: str
) -> list[tuple[str, str]]:
    """Build, floor and reads of one store; return table rows."""
    scratch = BENCH / "scale-site"
    builds, floors = [], []
    quiet = []  # the floor with the disk quiet: after the last build's site was written out
    for _ in range(repeat):
        shutil.rmtree(scratch, ignore_errors=True)
        builds.append(child(BUILD, str(store), str(scratch), str(batch_points), str(PAGE_WORKERS)))
        floors.append(child(FLOOR, str(store)))
        os.sync()
        quiet.append(child(FLOOR, str(store)))
    site = folder_bytes(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    lean: dict[str, list[float]] = {"series": [], "site": []}
    for _ in range(repeat):
        for mode, times in lean.items():
            shutil.rmtree(scratch, ignore_errors=True)
            os.sync()
            times.append(child(LEAN, str(store), str(scratch), mode, script=True)["seconds"])
    lean_bytes = folder_bytes(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    lean_s = statistics.median(lean["series"])
    lean_site_s = statistics.median(lean["site"])
    reads = child(READS, str(store), experiment)
    build_s = statistics.median(b["seconds"] for b in builds)
    floor_s = statistics.median(f["seconds"] for f in floors)
    peak = max(b["peak_mb"] for b in builds)
    worker_peak = max(b.get("worker_peak_mb", 0) for b in builds)
    quiet_s = statistics.median(f["seconds"] for f in quiet)
    points = floors[0]["rows"]
    rows = [
        (
            f"{label}: store",
            f"{points / 1e6:,.0f} M event rows, {folder_bytes(store) / 1e6:,.0f} MB",
        ),
        (
            f"{label}: build",
            f"{build_s:,.1f} s, peak {peak:,.0f} MB, its page worker's {worker_peak:,.0f} MB "
            "(target <= 2,048 MB)",
        ),
        (
            f"{label}: pyarrow floor (read every file)",
            f"{floor_s:,.1f} s right after a build, {quiet_s:,.1f} s after a sync, peak "
            f"{statistics.median(f['peak_mb'] for f in floors):,.0f} MB",
        ),
        (
            f"{label}: build / floor",
            f"{build_s / floor_s:.1f}x right after a build, {build_s / quiet_s:.1f}x after a "
            "sync (target <= 3x)",
        ),
        (
            f"{label}: lean series floor",
            f"{lean_s:,.1f} s ({lean_bytes / 1e6:,.0f} MB: read once, 500 min/max buckets a "
            f"series, base64, written; 2 processes) = {lean_s / quiet_s:.1f}x the quiet floor; "
            f"the build is {build_s / lean_s:.1f}x it",
        ),
        (
            f"{label}: lean site floor",
            f"{lean_site_s:,.1f} s (a first read for each key's x range and latest values, then "
            f"the series as above and grouped lines in 200 bins) = {lean_site_s / quiet_s:.1f}x "
            f"the quiet floor; the build is {build_s / lean_site_s:.1f}x it",
        ),
        (
            f"{label}: site",
            f"{site / 1e6:,.0f} MB, {builds[0]['pages']:,} pages (GitHub Pages: 1,000 MB)",
        ),
        (
            f"{label}: search_runs, get_metric_history",
            f"{reads['search_s']:.1f} s ({reads['rows']:,} runs), {reads['history_s']:.2f} s "
            f"({reads['points']:,} points), peak {reads['peak_mb']:,.0f} MB",
        ),
    ]
    for warning in builds[0]["warnings"]:
        rows.append((f"{label}: build warned", warning[:120]))
    return rows


MOTO = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()  # until the parent closes it
server.stop()
"""


def measure_s3(store: Path, experiment: str, batch_points: int) -> list[tuple[str, str]]:
    """Upload the store to moto's S3 server (127.0.0.1, a process of its own: a child's peak
    RSS counts the memory of the process it was forked from), then build it and read it
    from there, each in a fresh process; return table rows."""
    import s3fs

    server = subprocess.Popen(
        [sys.executable, "-c", MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        creds = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        fs = s3fs.S3FileSystem(
            client_kwargs={"endpoint_url": endpoint}, key="bench", secret="bench"
        )
        fs.mkdir("bench-scale")
        start = time.perf_counter()
        fs.put(str(store), "bench-scale/store", recursive=True)
        upload = time.perf_counter() - start
        uri = "s3://bench-scale/store"
        env = {**creds, "TRACKER_S3_ENDPOINT_URL": endpoint}
        scratch = BENCH / "scale-site-s3"
        shutil.rmtree(scratch, ignore_errors=True)
        built = child(BUILD, uri, str(scratch), str(batch_points), str(PAGE_WORKERS), **env)
        shutil.rmtree(scratch, ignore_errors=True)
        reads = child(READS, uri, experiment, **env)
    finally:
        server.communicate("", timeout=60)
    return [
        ("s3: upload to moto (not timed below)", f"{upload:,.0f} s"),
        ("s3: build", f"{built['seconds']:,.1f} s, peak {built['peak_mb']:,.0f} MB"),
        (
            "s3: search_runs, get_metric_history",
            f"{reads['search_s']:.1f} s ({reads['rows']:,} runs), {reads['history_s']:.2f} s "
            f"({reads['points']:,} points), peak {reads['peak_mb']:,.0f} MB",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batch-points", type=int, default=1_000_000)
    parser.add_argument("--page-workers", type=int, default=1, help="0: the build alone")
    parser.add_argument("--copies", type=int, default=0, help="also a store of K copies")
    parser.add_argument("--store", help="an existing compacted store of one experiment")
    parser.add_argument("--experiment", default="scale", help="its experiment's name")
    parser.add_argument("--s3", action="store_true", help="also build and read it from moto")
    parser.add_argument("--no-local", action="store_true", help="skip the local figures")
    args = parser.parse_args()
    global PAGE_WORKERS
    PAGE_WORKERS = args.page_workers
    name = args.experiment
    store = (
        Path(args.store) if args.store else BENCH / f"scale-{args.runs}x{args.metrics}x{args.steps}"
    )
    if not args.store:
        make_store(store, args.runs, args.metrics, args.steps)
    rows = [] if args.no_local else measure(store, name, args.repeat, args.batch_points, "x1")
    if args.s3:
        rows += measure_s3(store, name, args.batch_points)
    if args.copies > 1:
        big = store.with_name(f"{store.name}-x{args.copies}")
        if not (big / "store.json").exists():
            child(EMPTY, str(big), name)
            child(COPIES, str(store), str(big), str(args.copies), name)
        rows += measure(big, name, 1, args.batch_points, f"x{args.copies}")
    print(f"\n{os.cpu_count()} cores; medians of {args.repeat} fresh processes\n")
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
