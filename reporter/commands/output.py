"""What commands print besides their result: progress on stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click


def progress_reporter() -> Callable[[str, int, int], None]:
    """Return a progress reporter: a bar on a terminal, a few plain lines otherwise."""
    tty = sys.stderr.isatty()
    last: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if tty:
            width = 30
            filled = int(width * done / total) if total else width
            click.echo(
                f"\r{stage:>14} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                err=True,
                nl=done >= total,
            )
            return
        step = max(1, total // 4)
        if done in (0, total) or done // step != last.get(stage, -1):
            last[stage] = done // step
            click.echo(f"{stage}: {done}/{total}", err=True)

    return report
