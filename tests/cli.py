"""`tracker-report` run in this process with click's test runner: what a command prints and
its exit code, as the installed command gives them (`reporter.commands.main.run` maps errors to
exit codes). End-to-end runs of the real entry point stay in a few subprocess tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from reporter.commands.main import run


@dataclass
class CliResult:
    """A finished command, named like subprocess.CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: str | Path | None = None, **env: str) -> CliResult:
    """Run `tracker-report ARGS` in this process (in `cwd`, with `env` set); never raises."""
    runner = CliRunner()
    here = os.getcwd()
    with runner.isolation(env=env) as streams:
        stdout, stderr = streams[0], streams[1]
        try:
            if cwd is not None:
                os.chdir(cwd)
            try:
                code = run(list(args))
            except SystemExit as exc:  # a command that exits itself (build --strict)
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(here)
        return CliResult(code, stdout.getvalue().decode(), stderr.getvalue().decode())
