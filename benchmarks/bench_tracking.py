"""Benchmark reporter against MLflow (SQLite and file stores) and the raw-pyarrow limit.

    .venv/bin/python benchmarks/bench_tracking.py              # full run (about 20 minutes)
    .venv/bin/python benchmarks/bench_tracking.py --quick      # smoke check: small sizes
    .venv/bin/python benchmarks/bench_tracking.py --only search --repeat 7 --json out.json

Every figure is the median of --repeat fresh processes (benchmarks/workloads.py), the
implementations taking turns within each round, so a noisy neighbour hits them alike.
MLflow runs from its own venv, .bench/mlflow-venv, created on first use (it pins another
pyarrow than ours). Scratch stores go under .bench/scratch and are deleted at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOADS = HERE / "workloads.py"
MLFLOW_VENV = REPO / ".bench" / "mlflow-venv"
MLFLOW_SPEC = "mlflow>=3,<4"
SCRATCH = REPO / ".bench" / "scratch"
IMPLS = ("reporter", "mlflow-sqlite", "mlflow-file")
MLFLOWS = ("mlflow-sqlite", "mlflow-file")
CHOICES = ("log_metric", "runs300", "search", "import", "bytes_per_point", "pyarrow")
TIMEOUT = 3600.0  # seconds for one workload process


# sizes -----------------------------------------------------------------------------------------
@dataclass
class Sizes:
    """Every size the benchmark uses (printed, and stored with --json)."""

    repeat: int = 5
    log_metric: dict[str, int] = field(
        default_factory=lambda: {"reporter": 200_000, "mlflow-sqlite": 2_000, "mlflow-file": 20_000}
    )
    runs: int = 300
    runs_sqlite: int = 30  # MLflow+SQLite takes ~1.5 s a run: measured on fewer, scaled up
    search: tuple[int, ...] = (1_000, 10_000)
    mlflow_search_max: int = 1_000  # MLflow stores are built only up to this many runs
    search_calls: int = 5
    keys: int = 10
    steps: int = 10_000
    pyarrow_rows: int = 1_000_000

    @classmethod
    def quick(cls) -> Sizes:
        """Small sizes for a smoke check."""
        return cls(
            repeat=2,
            log_metric={"reporter": 20_000, "mlflow-sqlite": 200, "mlflow-file": 2_000},
            runs=30,
            runs_sqlite=5,
            search=(100, 1_000),
            mlflow_search_max=100,
            search_calls=3,
            steps=1_000,
            pyarrow_rows=100_000,
        )


# processes -------------------------------------------------------------------------------------
def mlflow_python() -> str:
    """Return the interpreter of MLflow's venv, creating the venv on first use."""
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {MLFLOW_SPEC} into {MLFLOW_VENV} (once) ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(MLFLOW_VENV)], check=True)
        pip = str(MLFLOW_VENV / "bin" / "pip")
        subprocess.run([pip, "install", "-q", MLFLOW_SPEC], check=True)
    return str(python)


def our_python() -> str:
    """Return the interpreter with reporter and our pyarrow: this one if it imports reporter
    (e.g. `.venv/bin/python benchmarks/bench_tracking.py`), else the repo's .venv."""
    if importlib.util.find_spec("reporter") is not None:
        return sys.executable
    venv = REPO / ".venv" / "bin" / "python"
    if not venv.exists():
        raise SystemExit(f"reporter is not importable here and {venv} is missing: make install")
    return str(venv)


def python_for(impl: str) -> str:
    """Return the interpreter that has this implementation installed."""
    return mlflow_python() if impl.startswith("mlflow") else our_python()


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a workload: ours without TRACKER_*/MLFLOW_* settings (defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "MLFLOW_"))}
    env.update(extra or {})
    return env


def run_workload(
    impl: str, workload: str, folder: Path, *, env: dict[str, str] | None = None, **sizes: int
) -> dict[str, Any]:
    """Run one workload in a fresh process and return its JSON result."""
    cmd = [python_for(impl), str(WORKLOADS), "--impl", impl, "--workload", workload]
    cmd += ["--dir", str(folder)]
    for name, value in sizes.items():
        cmd += [f"--{name.replace('_', '-')}", str(value)]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=child_env(env), cwd=REPO, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkloadError(f"{impl} {workload} timed out after {TIMEOUT:g} s: {cmd}") from exc
    if out.returncode != 0:
        raise WorkloadError(
            f"{impl} {workload} failed, exit {out.returncode}\n  command: {' '.join(cmd)}\n"
            f"  stderr (last 4000 characters):\n{out.stderr[-4000:]}"
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


class WorkloadError(Exception):
    """A workload process failed: its command and stderr, reported at the end of the run."""


class Scratch:
    """Fresh folders under one scratch directory of this benchmark run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def new(self, label: str) -> Path:
        """Return the path of a new (not yet created) folder."""
        self.count += 1
        return self.root / f"{self.count:04d}-{label}"

    def drop(self, folder: Path) -> None:
        """Delete a folder that is no longer needed (keeps the disk small)."""
        shutil.rmtree(folder, ignore_errors=True)


# results ---------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the result table: samples per column, a target, a verdict."""

    name: str
    unit: str
    samples: dict[str, list[float]] = field(default_factory=dict)  # column -> samples
    higher_is_better: bool = False
    target: str = ""
    official: bool = True  # False: shown for information, verdict in lower case
    check: Callable[[Row], bool] | None = None
    note: str = ""

    def median(self, column: str) -> float | None:
        """Median of a column's samples (None if it has none)."""
        values = self.samples.get(column)
        return statistics.median(values) if values else None

    def ratio(self, other: str) -> float | None:
        """How many times better reporter is than `other` (> 1: reporter is better)."""
        mine, theirs = self.median("reporter"), self.median(other)
        if not mine or not theirs:
            return None
        return mine / theirs if self.higher_is_better else theirs / mine

    def verdict(self) -> str:
        """PASS/FAIL for a target, pass/fail for an informational comparison."""
        if self.check is None:
            return ""
        ok = self.check(self)
        text = "PASS" if ok else "FAIL"
        return text if self.official else f"({text.lower()})"


def at_least(sqlite: float, file: float) -> Callable[[Row], bool]:
    """A check: reporter is at least `sqlite` x better than SQLite and `file` x than files."""
    return lambda r: (
        (r.ratio("mlflow-sqlite") or 0) >= sqlite and (r.ratio("mlflow-file") or 0) >= file
    )


def progress(label: str, value: float, unit: str) -> None:
    """Print one sample as it arrives."""
    print(f"  {label:<44} {fmt(value, unit):>12} {unit}", flush=True)


def rounds(
    repeat: int, impls: Iterable[str], sample: Callable[[str], float], unit: str, label: str
) -> dict[str, list[float]]:
    """`repeat` rounds in which each implementation gives one sample in turn."""
    samples: dict[str, list[float]] = {impl: [] for impl in impls}
    for r in range(repeat):
        for impl in samples:
            value = sample(impl)
            samples[impl].append(value)
            progress(f"{label} {impl} #{r + 1}", value, unit)
    return samples


# workloads -------------------------------------------------------------------------------------
def bench_log_metric(sizes: Sizes, scratch: Scratch) -> Row:
    """Single log_metric calls per second, timed until end_run has written them."""

    def sample(impl: str) -> float:
        folder = scratch.new(f"log-metric-{impl}")
        n = sizes.log_metric[impl]
        value = float(run_workload(impl, "log_metric", folder, n=n)["per_second"])
        scratch.drop(folder)
        return value

    ns = ", ".join(f"{k} {v:,}" for k, v in sizes.log_metric.items())
    return Row(
        "log_metric, single calls until end_run",
        "calls/s",
        rounds(sizes.repeat, IMPLS, sample, "calls/s", "log_metric"),
        higher_is_better=True,
        target=">= 100x sqlite, >= 20x file",
        check=at_least(sqlite=100, file=20),
        note=f"calls per process: {ns}",
    )


def bench_runs300(sizes: Sizes, scratch: Scratch) -> Row:
    """`runs` runs of 20 params, 5 tags, 5 metrics x 50 steps (single calls): seconds."""

    def sample(impl: str) -> float:
        folder = scratch.new(f"runs-{impl}")
        runs = sizes.runs_sqlite if impl == "mlflow-sqlite" else sizes.runs
        result = run_workload(impl, "runs300", folder, runs=runs)
        scratch.drop(folder)
        return float(result["seconds_per_run"]) * sizes.runs

    note = ""
    if sizes.runs_sqlite != sizes.runs:
        note = (
            f"mlflow-sqlite ran {sizes.runs_sqlite} runs per process, its time scaled "
            f"x{sizes.runs / sizes.runs_sqlite:g} to {sizes.runs} runs (its per-run cost "
            "does not fall as the database grows, so this flatters SQLite if anything)"
        )
    return Row(
        f"{sizes.runs} runs x (20 params, 5 tags, 250 points)",
        "s",
        rounds(sizes.repeat, IMPLS, sample, "s", "runs"),
        target=">= 20x sqlite, >= 5x file",
        check=at_least(sqlite=20, file=5),
        note=note,
    )


def bench_search(sizes: Sizes, scratch: Scratch) -> list[Row]:
    """search_runs with a filter over stores of each size; builds are untimed."""
    rows: list[Row] = []
    smallest = min(sizes.search)
    base: dict[str, Row] = {}
    for n in sorted(sizes.search):
        impls = [i for i in MLFLOWS if n <= sizes.mlflow_search_max]
        stores: dict[str, Path] = {}
        print(f"  building {n:,}-run stores (untimed) ...", flush=True)
        # reporter: one build with automatic compaction off (one part file per run), copied;
        # the copy is compacted once, as a store that `tracker-report compact` has merged.
        raw = scratch.new(f"search-{n}-reporter-uncompacted")
        built = run_workload(
            "reporter", "search_build", raw, env={"TRACKER_AUTO_COMPACT": "0"}, runs=n
        )
        parts = built.get("part_files", "?")
        print(f"    reporter: {built['build_seconds']:.1f} s, {parts} part files")
        merged = scratch.new(f"search-{n}-reporter")
        shutil.copytree(raw, merged)
        done = run_workload("reporter", "compact", merged)
        print(
            f"    reporter compact(): {done['compact_seconds']:.2f} s -> "
            f"{done.get('part_files', '?')} part files, "
            f"{done.get('compacted_files', '?')} compacted files {done.get('note', '')}"
        )
        stores["reporter"], stores["reporter-uncompacted"] = merged, raw
        for impl in impls:
            stores[impl] = scratch.new(f"search-{n}-{impl}")
            built = run_workload(impl, "search_build", stores[impl], runs=n)
            print(f"    {impl}: {built['build_seconds']:.1f} s", flush=True)

        results: dict[str, list[dict[str, Any]]] = {k: [] for k in stores}
        cold = sizes.search_calls if n <= 1_000 else 1  # a cold read of 10,000 part files: 13 s
        for r in range(sizes.repeat):
            for variant, folder in stores.items():
                impl = "reporter" if variant.startswith("reporter") else variant
                res = run_workload(  # cold_calls: reporter only (cache cleared)
                    impl, "search_time", folder, calls=sizes.search_calls, cold_calls=cold
                )
                results[variant].append(res)
                extra = (
                    f" (cache cleared {res['uncached_seconds']:.4f} s)"
                    if "uncached_seconds" in res
                    else ""
                )
                print(
                    f"  search {n:,} {variant} #{r + 1}: warm {res['seconds']:.4f} s, first "
                    f"{res['first_seconds']:.3f} s, {res['rows']} rows{extra}",
                    flush=True,
                )
        for folder in stores.values():
            scratch.drop(folder)

        counts = {v: sorted({res["rows"] for res in rs}) for v, rs in results.items()}
        agree = len({c for cs in counts.values() for c in cs}) == 1
        rows_note = f"rows returned: {', '.join(f'{v} {c}' for v, c in counts.items())}"
        if not agree:
            rows_note = "ROWS DISAGREE: " + rows_note

        def col(
            variant: str, key: str, results: dict[str, list[dict[str, Any]]] = results
        ) -> list[float]:
            return [float(res[key]) for res in results.get(variant, []) if key in res]

        mlflow_warm = {impl: col(impl, "seconds") for impl in impls}
        label = f"search {n:,} runs"
        calls = f"median of {sizes.search_calls} calls after a warm-up call"
        if n == smallest:
            target, official = ">= 10x file, >= 2x sqlite", True
            check: Callable[[Row], bool] | None = at_least(sqlite=2, file=10)
        else:
            target, official, check = "", True, None
        variants: list[tuple[str, dict[str, list[float]], bool, str]] = [
            ("warm, compacted", {"reporter": col("reporter", "seconds")}, official, calls),
            (
                "warm, uncompacted",
                {"reporter": col("reporter-uncompacted", "seconds")},
                False,
                "reporter: one part file per run (TRACKER_AUTO_COMPACT=0), never compacted",
            ),
            (
                "cache cleared, compacted",
                {"reporter": col("reporter", "uncached_seconds")},
                False,
                f"reporter: its in-process cache cleared before each call ({cold} per "
                "process); MLflow: warm calls",
            ),
            (
                "cache cleared, uncompacted",
                {"reporter": col("reporter-uncompacted", "uncached_seconds")},
                False,
                "",
            ),
        ]
        for name, reporter_samples, is_official, note in variants:
            row = Row(
                f"{label}, {name}",
                "s",
                {**reporter_samples, **mlflow_warm},
                target=target if is_official else (f"info: {target}" if target else ""),
                official=is_official,
                check=check,
                note=note,
            )
            if name == variants[0][0]:
                row.note = f"{note}; {rows_note}"
                if not agree:
                    row.check = lambda _: False
            rows.append(row)
        mlflow_first = {impl: col(impl, "first_seconds") for impl in impls}
        for name, variant in (("compacted", "reporter"), ("uncompacted", "reporter-uncompacted")):
            rows.append(
                Row(
                    f"{label}, first call in a fresh process, {name}",
                    "s",
                    {"reporter": col(variant, "first_seconds"), **mlflow_first},
                    official=False,
                    note="includes lazy imports and opening the store"
                    if name == "compacted"
                    else "",
                )
            )
        if n == smallest:
            base = {r.name.split(", ", 1)[1]: r for r in rows}
        else:  # growth from the smallest size, for each reporter variant shown
            grow = n / smallest
            for row in rows[-len(variants) - 2 :]:
                small = base.get(row.name.split(", ", 1)[1])
                if small is None or "first call" in row.name:
                    continue
                got = (row.median("reporter") or 0) / (small.median("reporter") or 1)
                row.target = f"{'' if row.official else 'info: '}<= {grow:g}x {smallest:,}-run time"
                row.target += f" (got {got:.1f}x)"
                row.check = lambda _r, got=got, grow=grow: got <= grow
    return rows


def bench_import(sizes: Sizes) -> list[Row]:
    """`import reporter` vs `import mlflow`, raw and net of `python -c pass`."""

    def timed(python: str, code: str) -> float:
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, capture_output=True, env=child_env())
        return time.perf_counter() - start

    repeat = max(sizes.repeat, 5)
    raw: dict[str, list[float]] = {"reporter": [], "mlflow": []}
    net: dict[str, list[float]] = {"reporter": [], "mlflow": []}
    bare: dict[str, list[float]] = {"reporter": [], "mlflow": []}
    for r in range(repeat):
        for module in raw:
            python = python_for(module)
            timed(python, "pass")  # page the interpreter in
            base = timed(python, "pass")
            took = timed(python, f"import {module}")
            bare[module].append(base)
            raw[module].append(took)
            net[module].append(took - base)
            progress(f"import {module} #{r + 1} (python -c pass {base:.3f} s)", took, "s")

    def columns(samples: dict[str, list[float]]) -> dict[str, list[float]]:
        mlflow = samples["mlflow"]
        return {"reporter": samples["reporter"], "mlflow-sqlite": mlflow, "mlflow-file": mlflow}

    ours, theirs = statistics.median(bare["reporter"]), statistics.median(bare["mlflow"])
    note = f"python -c pass: {ours:.3f} s (our venv), {theirs:.3f} s (mlflow venv)"
    return [
        Row("import, raw: python -c 'import X'", "s", columns(raw), note=note, official=False),
        Row(
            "import, net of python -c pass",
            "s",
            columns(net),
            target="<= 1/3 of mlflow",
            check=lambda r: (r.ratio("mlflow-sqlite") or 0) >= 3,
            note="mlflow's columns are the same figure: one package for both stores",
        ),
    ]


def bench_bytes(sizes: Sizes, scratch: Scratch) -> list[Row]:
    """Bytes on disk per metric point; reporter after Client().compact()."""
    samples: dict[str, list[float]] = {impl: [] for impl in IMPLS}
    before: list[float] = []
    for impl in IMPLS:  # sizes: no noise to average away, one process each
        folder = scratch.new(f"bytes-{impl}")
        res = run_workload(impl, "bytes_per_point", folder, keys=sizes.keys, steps=sizes.steps)
        scratch.drop(folder)
        samples[impl].append(float(res["bytes_per_point"]))
        if impl == "reporter":
            before.append(float(res["bytes_per_point_uncompacted"]))
            if res.get("note"):
                print(f"  note: {res['note']}", flush=True)
        progress(f"bytes_per_point {impl}", res["bytes_per_point"], "B")
    points = sizes.keys * sizes.steps
    mlflow = {k: v for k, v in samples.items() if k != "reporter"}
    return [
        Row(
            f"bytes per metric point ({points:,} points), compacted",
            "B",
            samples,
            target="<= 20 B after compaction",
            check=lambda r: (r.median("reporter") or 1e9) <= 20,
            note="Parquet files (reporter), mlflow.db (sqlite), metric and meta files (file)",
        ),
        Row(
            f"bytes per metric point ({points:,} points), before compaction",
            "B",
            {"reporter": before, **mlflow},
            official=False,
        ),
    ]


def bench_pyarrow(sizes: Sizes, scratch: Scratch) -> list[float]:
    """Raw pyarrow.parquet.write_table of a metric-batch table: rows per second."""
    out = []
    for r in range(sizes.repeat):
        folder = scratch.new("pyarrow")
        value = float(
            run_workload("pyarrow", "pyarrow", folder, rows=sizes.pyarrow_rows)["per_second"]
        )
        scratch.drop(folder)
        out.append(value)
        progress(f"pyarrow write_table #{r + 1}", value, "rows/s")
    return out


# output ----------------------------------------------------------------------------------------
def fmt(value: float | None, unit: str = "") -> str:
    """Format a number for the table."""
    if value is None:
        return "-"
    if unit.endswith("/s"):
        return f"{value:,.0f}"
    if unit == "B":
        return f"{value:,.1f}"
    return f"{value:.4f}" if value < 1 else f"{value:,.2f}"


def table(rows: list[Row]) -> str:
    """An aligned plain-text table of medians, ratios and verdicts."""
    header = [
        "workload",
        "unit",
        "reporter",
        "mlflow-sqlite",
        "mlflow-file",
        "vs sqlite",
        "vs file",
        "target",
        "result",
    ]
    lines = [header]
    for row in rows:
        ratios = [row.ratio(other) for other in MLFLOWS]
        lines.append(
            [
                row.name,
                row.unit,
                *(fmt(row.median(c), row.unit) for c in IMPLS),
                *(f"{x:,.1f}x" if x else "-" for x in ratios),
                row.target,
                row.verdict(),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3, 4, 5, 6}
    out = []
    for i, line in enumerate(lines):
        cells = [
            c.rjust(w) if j in right else c.ljust(w) for j, (c, w) in enumerate(zip(line, widths))
        ]
        out.append("  ".join(cells).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [f"  {row.name}: {row.note}" for row in rows if row.note]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


def code_version() -> str:
    """The commit of the code measured, and whether reporter/ had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "reporter"],
            capture_output=True,
            text=True,
            cwd=REPO,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return commit + (" + uncommitted changes in reporter/" if dirty else "")


def versions() -> str:
    """Versions of the libraries compared."""
    code = "import mlflow, pyarrow, sqlalchemy; print(mlflow.__version__, pyarrow.__version__)"
    theirs = subprocess.run(
        [mlflow_python(), "-c", code], capture_output=True, text=True, env=child_env()
    ).stdout.split()
    ours = subprocess.run(
        [our_python(), "-c", "import pyarrow; print(pyarrow.__version__)"],
        capture_output=True,
        text=True,
        env=child_env(),
    ).stdout.strip()
    mlflow, their_arrow = theirs if len(theirs) == 2 else ("?", "?")
    return (
        f"reporter at {code_version()}, pyarrow {ours or '?'}; "
        f"mlflow {mlflow} (pyarrow {their_arrow}); python {platform.python_version()}"
    )


def main() -> None:
    """Run the selected workloads and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, help="fresh processes per figure (default 5)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats: smoke check")
    parser.add_argument("--only", action="append", choices=CHOICES, help="repeatable")
    parser.add_argument("--json", type=Path, help="write every raw sample here")
    parser.add_argument("--n-reporter", type=int, help="log_metric calls, reporter")
    parser.add_argument("--n-sqlite", type=int, help="log_metric calls, mlflow-sqlite")
    parser.add_argument("--n-file", type=int, help="log_metric calls, mlflow-file")
    parser.add_argument("--runs", type=int, help="runs in runs300 (default 300)")
    parser.add_argument("--runs-sqlite", type=int, help="runs300 runs measured for sqlite")
    parser.add_argument("--search-sizes", help="comma-separated run counts (1000,10000)")
    parser.add_argument("--mlflow-search-max", type=int, help="largest MLflow search store")
    parser.add_argument("--search-calls", type=int, help="timed search calls per process")
    parser.add_argument("--steps", type=int, help="steps x 10 keys in bytes_per_point")
    parser.add_argument("--pyarrow-rows", type=int, help="rows in the raw pyarrow write")
    args = parser.parse_args()

    sizes = Sizes.quick() if args.quick else Sizes()
    for name, impl in (("n_reporter", "reporter"), ("n_sqlite", "mlflow-sqlite")):
        if getattr(args, name):
            sizes.log_metric[impl] = getattr(args, name)
    if args.n_file:
        sizes.log_metric["mlflow-file"] = args.n_file
    for name in ("repeat", "runs", "runs_sqlite", "mlflow_search_max", "search_calls", "steps"):
        if getattr(args, name):
            setattr(sizes, name, getattr(args, name))
    if args.pyarrow_rows:
        sizes.pyarrow_rows = args.pyarrow_rows
    if args.search_sizes:
        sizes.search = tuple(int(x) for x in args.search_sizes.split(","))
    sizes.runs_sqlite = min(sizes.runs_sqlite, sizes.runs)
    only = set(args.only or CHOICES)

    started = time.time()
    print(versions())
    print(f"sizes: {json.dumps(asdict(sizes))}")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start\n", flush=True)
    if only & {"log_metric", "runs300", "search", "import", "bytes_per_point"}:
        mlflow_python()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    scratch = Scratch(SCRATCH / f"run-{os.getpid()}")
    rows: list[Row] = []
    limit: list[float] = []
    errors: dict[str, str] = {}  # workload -> error of the process that failed
    sections: list[tuple[str, Callable[[], Any]]] = [
        ("log_metric", lambda: rows.append(bench_log_metric(sizes, scratch))),
        ("pyarrow", lambda: limit.extend(bench_pyarrow(sizes, scratch))),
        ("runs300", lambda: rows.append(bench_runs300(sizes, scratch))),
        ("search", lambda: rows.extend(bench_search(sizes, scratch))),
        ("import", lambda: rows.extend(bench_import(sizes))),
        ("bytes_per_point", lambda: rows.extend(bench_bytes(sizes, scratch))),
    ]
    try:
        for name, section in sections:
            if name not in only:
                continue
            print(f"{name} ...", flush=True)
            try:
                section()
            except WorkloadError as exc:  # report it, go on with the other workloads
                errors[name] = str(exc)
                print(f"  ERROR in {name}: {exc}", flush=True)
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)
    took = time.time() - started

    print(
        f"\nmedians of {sizes.repeat} fresh processes per figure; took {took / 60:.1f} min; "
        f"load average {os.getloadavg()[0]:.2f} at the end\n"
    )
    print(table(rows))
    if limit:
        best = statistics.median(limit)
        print(f"\nraw pyarrow write_table, {sizes.pyarrow_rows:,} metric rows: {best:,.0f} rows/s")
        log_row = next((r for r in rows if r.name.startswith("log_metric")), None)
        mine = log_row.median("reporter") if log_row else None
        if mine:
            print(
                f"reporter's single log_metric calls: {mine:,.0f} calls/s = {mine / best:.1%} "
                f"of that limit ({best / mine:.0f}x below it)"
            )
    official = [r for r in rows if r.official and r.check is not None]
    failed = [r.name for r in official if r.verdict() == "FAIL"]
    print(f"\ntargets: {len(official) - len(failed)} of {len(official)} pass")
    for name in failed:
        print(f"  FAIL: {name}")
    for name, error in errors.items():
        print(f"\nERROR: workload {name} did not finish:\n{error}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "versions": versions(),
                    "sizes": asdict(sizes),
                    "seconds": took,
                    "rows": {
                        r.name: {
                            "unit": r.unit,
                            "samples": r.samples,
                            "medians": {c: r.median(c) for c in r.samples},
                            "target": r.target,
                            "result": r.verdict(),
                        }
                        for r in rows
                    },
                    "pyarrow_rows_per_second": limit,
                    "errors": errors,
                },
                indent=1,
            )
        )
        print(f"raw samples written to {args.json}")
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
