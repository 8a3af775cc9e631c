"""Run the timing-sensitive tests many times, idle and under CPU load, and report every failure.

A test that ever fails on a correct program is broken: CI lands a submission only when the
whole suite passes. This runs the multi-process, kill, browser and server tests (or any pytest
arguments you give) round after round; the last `--loaded` rounds run beside `--hogs` processes
that spin on the CPU, as a busy CI machine would. It prints one line per round and exits 1 if
any round failed.

    python tests/flaky_check.py --rounds 5 --loaded 2            # the default selection
    python tests/flaky_check.py --rounds 20 -- tests/test_serve.py -k stops
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# multi-process, SIGKILL, browser and server tests: the ones whose outcome could depend on timing
DEFAULT_SELECTION = [
    "tests/test_store_concurrency.py",
    "tests/test_multiprocess.py",
    "tests/test_compaction.py",
    "tests/test_serve.py",
    "tests/test_s3_store.py",
    "tests/test_import_rest.py",
    "tests/test_import_mlflow.py",
    "tests/site/test_browser.py",
    "tests/site/test_table_browser.py",
    "tests/site/test_compare_browser.py",
    "tests/site/test_explore_browser.py",
    "tests/site/test_explore_views.py",
    "tests/site/test_charts_browser.py",
    "tests/site/test_table_layout_browser.py",
    "tests/site/test_pages_browser.py",
    "tests/site/test_filter_js.py",
    "tests/site/test_injection.py",
]


@contextlib.contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    """Keep `count` processes spinning on the CPU for the duration of the block."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def run_round(pytest_args: list[str]) -> tuple[int, str, list[str], float]:
    """Run pytest once; return its exit code, closing line, failed test ids and seconds."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *pytest_args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    lines = proc.stdout.strip().splitlines()
    closing = lines[-1] if lines else proc.stderr.strip()[-200:]
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.MULTILINE)
    return proc.returncode, closing, failed, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print a summary; exit 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds in all [5]")
    parser.add_argument("--loaded", type=int, default=2, help="of which, last ones under load [2]")
    parser.add_argument("--hogs", type=int, default=2, help="CPU-spinning processes [2]")
    parser.add_argument("pytest_args", nargs="*", help="pytest arguments [the default selection]")
    args, extra = parser.parse_known_args(argv)  # unknown options go to pytest (-k, -x, ...)
    if args.rounds < 1 or not 0 <= args.loaded <= args.rounds:
        parser.error("--rounds must be at least 1 and --loaded between 0 and --rounds")
    selection = [*(args.pytest_args or DEFAULT_SELECTION), *extra]
    failures: dict[str, int] = {}
    green = 0
    for number in range(1, args.rounds + 1):
        loaded = number > args.rounds - args.loaded
        with cpu_hogs(args.hogs if loaded else 0):
            code, closing, failed, seconds = run_round(selection)
        green += code == 0
        for test in failed:
            failures[test] = failures.get(test, 0) + 1
        load = f"{args.hogs} hogs" if loaded else "idle"
        print(f"round {number}/{args.rounds} ({load}): {closing} [{seconds:.0f} s]", flush=True)
        for test in failed:
            print(f"    {test}", flush=True)
    print(f"{green} of {args.rounds} rounds green")
    for test, count in sorted(failures.items(), key=lambda item: -item[1]):
        print(f"  failed {count}x: {test}")
    return 0 if green == args.rounds else 1


if __name__ == "__main__":
    sys.exit(main())
