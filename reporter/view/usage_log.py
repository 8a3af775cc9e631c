"""The store's usage log: where `tracker-report du --log` records a store's usage, and what a
build may show of it.

`du --log` records the figures as the metrics of one run, tagged `reporter.usage = du`, in the
`store-usage` experiment, one point a day (step = days since 1970-01-01 UTC): store-wide totals
(`total_bytes`, `events_bytes`, ...) and each experiment's bytes (`exp.<name>.bytes`). The
names are declared here, below the CLI, so that `du`, the loader and the storage page agree.
A build that publishes only some experiments shows, of that run, only their own bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reporter.store.usage import KINDS

if TYPE_CHECKING:
    from reporter.view.config import BuildConfig

USAGE_EXPERIMENT = "store-usage"  # where `du --log` records, unless --log-experiment says
TAG_USAGE = "reporter.usage"  # marks the run that holds a store's usage series
TAG_USAGE_VALUE = "du"
TOTAL_KEY = "total_bytes"  # store-wide metrics of that run: total_bytes, events_bytes, ...
KIND_KEYS = tuple(f"{kind}_bytes" for kind in KINDS)


def usage_metric_key(name: str) -> str:
    """Return the metric `du --log` records an experiment's bytes under: `exp.<name>.bytes`,
    control characters in the name written as '_'."""
    clean = "".join(c if ord(c) >= 32 else "_" for c in name)
    return f"exp.{clean}.bytes"


def whole_store(config: BuildConfig) -> bool:
    """Return True when the build publishes every active experiment of the store: store-wide
    figures (totals, deleted experiments, store files) may then be shown."""
    return not config.experiments and not config.exclude_experiments
