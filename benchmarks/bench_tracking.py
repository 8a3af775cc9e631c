"""Benchmark reporter against MLflow (its own venv) and the raw-pyarrow limit, in one run.

    python benchmarks/bench_tracking.py                # full run (about 10-15 minutes)
    python benchmarks/bench_tracking.py --quick        # smoke check with small sizes
    python benchmarks/bench_tracking.py --only search --repeat 7

Every figure is the median of several fresh processes; ratios compare medians from this run.
MLflow is installed on first use into .bench/mlflow-venv (it pins an older pyarrow).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOADS = HERE / "workloads.py"
MLFLOW_VENV = REPO / ".bench" / "mlflow-venv"
MLFLOW_SPEC = "mlflow>=3,<4"


def mlflow_python() -> str:
    """Return the interpreter of MLflow's venv, creating it on first use."""
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {MLFLOW_SPEC} into {MLFLOW_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", MLFLOW_SPEC], check=True)
    return str(python)


def python_for(impl: str) -> str:
    """Return the interpreter that has this implementation installed."""
    return sys.executable if impl in ("reporter", "pyarrow") else mlflow_python()


def run_workload(impl: str, workload: str, folder: Path, *args: str) -> dict[str, Any]:
    """Run one workload in a fresh process and return its JSON result."""
    env = dict(os.environ, TRACKER_AUTO_COMPACT=os.environ.get("TRACKER_AUTO_COMPACT", "32"))
    cmd = [
        python_for(impl),
        str(WORKLOADS),
        "--impl",
        impl,
        "--workload",
        workload,
        "--dir",
        str(folder),
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(folder.parent))
    if out.returncode != 0:
        raise SystemExit(f"{impl} {workload} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@dataclass
class Row:
    """One line of the result table."""

    name: str
    unit: str
    values: dict[str, float] = field(default_factory=dict)  # impl -> median
    samples: dict[str, list[float]] = field(default_factory=dict)
    target: str = ""
    passed: bool | None = None
    higher_is_better: bool = False

    def ratio(self, other: str) -> float | None:
        """Return how many times better reporter is than `other` (>1 is better)."""
        mine, theirs = self.values.get("reporter"), self.values.get(other)
        if not mine or not theirs:
            return None
        return mine / theirs if self.higher_is_better else theirs / mine


def measure(repeat: int, fn: Callable[[], float]) -> list[float]:
    """Call fn `repeat` times and return the samples."""
    return [fn() for _ in range(repeat)]


def fresh(tmp: Path) -> Path:
    """Return a new empty folder under tmp."""
    return Path(tempfile.mkdtemp(dir=tmp))


def bench_log_metric(tmp: Path, repeat: int, quick: bool) -> Row:
    """Single log_metric calls per second, until durable."""
    sizes = {"reporter": 200_000, "mlflow-sqlite": 2_000, "mlflow-file": 20_000}
    if quick:
        sizes = {k: v // 10 for k, v in sizes.items()}
    row = Row(
        "log_metric calls/s (until durable)",
        "calls/s",
        higher_is_better=True,
        target=">= 100x sqlite, >= 20x file",
    )
    for impl, n in sizes.items():
        row.samples[impl] = measure(
            repeat,
            lambda impl=impl, n=n: run_workload(impl, "log_metric", fresh(tmp), "--n", str(n))[
                "per_second"
            ],
        )
    return row


def bench_runs300(tmp: Path, repeat: int, quick: bool) -> Row:
    """300 runs x (20 params, 5 tags, 5 metrics x 50 steps), call by call."""
    runs = 30 if quick else 300
    row = Row(
        f"{runs} runs x (20 params, 5 tags, 250 points)", "s", target=">= 20x sqlite, >= 5x file"
    )
    for impl in ("reporter", "mlflow-sqlite", "mlflow-file"):
        row.samples[impl] = measure(
            repeat,
            lambda impl=impl: run_workload(impl, "runs300", fresh(tmp), "--n", str(runs))[
                "seconds"
            ],
        )
    return row


def bench_search(tmp: Path, repeat: int, quick: bool, big: int, mlflow_big: bool) -> list[Row]:
    """search_runs with a filter over 1,000 runs (and `big` runs for the growth check)."""
    small = 100 if quick else 1_000
    rows = []
    sizes = [(small, ("reporter", "reporter-uncompacted", "mlflow-sqlite", "mlflow-file"))]
    big_impls: tuple[str, ...] = ("reporter",)
    if mlflow_big:
        big_impls += ("mlflow-sqlite", "mlflow-file")
    sizes.append((big // 10 if quick else big, big_impls))
    counts: dict[str, int] = {}
    extras: dict[str, dict[str, float]] = {}
    for runs, impls in sizes:
        row = Row(
            f"search_runs, filter, {runs:,} runs (warm)",
            "s",
            target=">= 10x file, >= 2x sqlite" if runs == small else "linear growth",
        )
        for impl in impls:
            real = "reporter" if impl.startswith("reporter") else impl
            folder = fresh(tmp)
            uncompacted = impl == "reporter-uncompacted"
            os.environ["TRACKER_AUTO_COMPACT"] = "0" if uncompacted else "32"
            extra = ["--no-compact"] if uncompacted else []
            built = run_workload(real, "search_build", folder, "--n", str(runs), *extra)
            print(f"  built {runs} runs for {impl} in {built['build_seconds']:.1f} s", flush=True)
            samples, warm, first = [], [], []
            for _ in range(repeat):
                res = run_workload(real, "search_time", folder, "--repeat", "5")
                samples.append(res["seconds"])
                warm.append(res["warm_seconds"])
                first.append(res["first_seconds"])
                counts[f"{impl}/{runs}"] = res["rows"]
            row.samples[impl] = samples
            extras[f"{impl}/{runs}"] = {
                "first call in process": statistics.median(first),
                "warm (reporter: cached)": statistics.median(warm),
            }
        os.environ["TRACKER_AUTO_COMPACT"] = "32"
        rows.append(row)
    print(f"  rows returned: {counts}", flush=True)
    for name, figures in extras.items():
        text = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in figures.items())
        print(f"  {name}: {text}", flush=True)
    return rows


def bench_import(repeat: int) -> Row:
    """`import reporter` vs `import mlflow`, net of the interpreter's own start-up."""
    row = Row("import time (net of python start-up)", "s", target="<= 1/3 of mlflow")

    def timed(python: str, code: str) -> float:
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - start

    for impl, module in (("reporter", "reporter"), ("mlflow-sqlite", "mlflow")):
        python = python_for(impl)
        base = statistics.median(measure(repeat, lambda python=python: timed(python, "pass")))
        row.samples[impl] = measure(
            repeat,
            lambda python=python, module=module, base=base: (
                timed(python, f"import {module}") - base
            ),
        )
    return row


def bench_bytes(tmp: Path, quick: bool) -> Row:
    """Bytes on disk per metric point (reporter after compaction)."""
    steps = "1000" if quick else "10000"
    row = Row("bytes per metric point", "B", target="<= 20 B after compaction")
    for impl in ("reporter", "mlflow-sqlite", "mlflow-file"):
        res = run_workload(impl, "bytes_per_point", fresh(tmp), "--keys", "10", "--steps", steps)
        row.samples[impl] = [res["bytes_per_point"]]
    return row


def bench_pyarrow(repeat: int, tmp: Path) -> Row:
    """Raw pyarrow: metric-shaped rows written per second."""
    row = Row("raw pyarrow write (the limit)", "rows/s", higher_is_better=True)
    row.samples["reporter"] = measure(
        repeat,
        lambda: run_workload("pyarrow", "pyarrow", fresh(tmp), "--n", "1000000")["per_second"],
    )
    return row


def judge(rows: dict[str, Row | list[Row]]) -> None:
    """Fill medians and PASS/FAIL from the targets."""
    flat = [r for v in rows.values() for r in (v if isinstance(v, list) else [v])]
    for row in flat:
        row.values = {k: statistics.median(v) for k, v in row.samples.items()}
    checks: dict[str, Callable[[Row], bool]] = {
        "log_metric": lambda r: (
            (r.ratio("mlflow-sqlite") or 0) >= 100 and (r.ratio("mlflow-file") or 0) >= 20
        ),
        "runs300": lambda r: (
            (r.ratio("mlflow-sqlite") or 0) >= 20 and (r.ratio("mlflow-file") or 0) >= 5
        ),
        "import": lambda r: (r.ratio("mlflow-sqlite") or 0) >= 3,
        "bytes": lambda r: r.values["reporter"] <= 20,
    }
    for name, check in checks.items():
        row = rows.get(name)
        if isinstance(row, Row):
            row.passed = check(row)
    search = rows.get("search")
    if isinstance(search, list) and search:
        small = search[0]
        small.passed = (small.ratio("mlflow-file") or 0) >= 10 and (
            small.ratio("mlflow-sqlite") or 0
        ) >= 2
        if len(search) > 1:
            big = search[1]
            runs_small = float(small.name.split(",")[2].split()[0].replace(",", ""))
            runs_big = float(big.name.split(",")[2].split()[0].replace(",", ""))
            growth = big.values["reporter"] / small.values["reporter"]
            big.target = f"<= {runs_big / runs_small:.0f}x the 1k time (got {growth:.1f}x)"
            big.passed = growth <= runs_big / runs_small * 1.1


def fmt(value: float | None, unit: str = "") -> str:
    """Format a number for the table."""
    if value is None:
        return "-"
    if unit in ("calls/s", "rows/s"):
        return f"{value:,.0f}"
    if unit == "B":
        return f"{value:.1f}"
    return f"{value:.3f}"


def print_table(rows: dict[str, Row | list[Row]], pyarrow: Row | None) -> None:
    """Print medians, ratios and verdicts."""
    flat = [r for v in rows.values() for r in (v if isinstance(v, list) else [v])]
    header = [
        "workload",
        "unit",
        "reporter",
        "mlflow sqlite",
        "mlflow file",
        "x sqlite",
        "x file",
        "target",
        "result",
    ]
    lines = [header]
    for row in flat:
        extra = ""
        if row.name.startswith("search") and "reporter-uncompacted" in row.values:
            extra = f" (uncompacted {fmt(row.values['reporter-uncompacted'], row.unit)})"
        ratios = [row.ratio("mlflow-sqlite"), row.ratio("mlflow-file")]
        lines.append(
            [
                row.name,
                row.unit,
                fmt(row.values.get("reporter"), row.unit) + extra,
                fmt(row.values.get("mlflow-sqlite"), row.unit),
                fmt(row.values.get("mlflow-file"), row.unit),
                *[f"{r:.1f}x" if r else "-" for r in ratios],
                row.target,
                {True: "PASS", False: "FAIL", None: ""}[row.passed],
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if pyarrow is not None:
        limit = statistics.median(pyarrow.samples["reporter"])
        log_row = rows.get("log_metric")
        print(f"\nraw pyarrow writes {limit:,.0f} metric rows/s", end="")
        if isinstance(log_row, Row):
            print(
                f"; reporter's single log_metric calls reach "
                f"{log_row.values['reporter'] / limit:.1%} of it",
                end="",
            )
        print()


def main() -> None:
    """Run the selected workloads and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per figure")
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats")
    parser.add_argument(
        "--only", action="append", choices=["log_metric", "runs300", "search", "import", "bytes"]
    )
    parser.add_argument("--big", type=int, default=10_000, help="runs for the growth check")
    parser.add_argument(
        "--mlflow-big", action="store_true", help="also build --big runs for MLflow (slow)"
    )
    parser.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    only = set(args.only or ["log_metric", "runs300", "search", "import", "bytes"])
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    rows: dict[str, Row | list[Row]] = {}
    pyarrow = None
    try:
        if "log_metric" in only:
            print("log_metric ...", flush=True)
            rows["log_metric"] = bench_log_metric(tmp, repeat, args.quick)
            pyarrow = bench_pyarrow(repeat, tmp)
        if "runs300" in only:
            print("runs300 ...", flush=True)
            rows["runs300"] = bench_runs300(tmp, repeat, args.quick)
        if "search" in only:
            print("search ...", flush=True)
            rows["search"] = bench_search(tmp, repeat, args.quick, args.big, args.mlflow_big)
        if "import" in only:
            print("import ...", flush=True)
            rows["import"] = bench_import(max(repeat, 5))
        if "bytes" in only:
            print("bytes per point ...", flush=True)
            rows["bytes"] = bench_bytes(tmp, args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    judge(rows)
    print(
        f"\nmedians of {repeat} fresh processes each; {os.cpu_count()} cores; "
        f"took {time.time() - started:.0f} s\n"
    )
    print_table(rows, pyarrow)
    if args.json:
        flat = [r for v in rows.values() for r in (v if isinstance(v, list) else [v])]
        args.json.write_text(json.dumps({r.name: r.samples for r in flat}, indent=1))


if __name__ == "__main__":
    main()
