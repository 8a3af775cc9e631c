"""What flows through the store seam besides entities: event rows, metric points, results.

Every store implementation speaks these types; none of them says how a store keeps its data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Event kinds: one row of a run's event log each.
KIND_METRIC = "metric"  # key, value, step, timestamp
KIND_PARAM = "param"  # key, text (first value wins)
KIND_TAG = "tag"  # key, text (last event wins; a null text deletes the tag)
KIND_ATTR = "attr"  # key in ATTRIBUTES, text (last event wins)
KIND_INPUT = "input"  # key names a dataset (or model) the run used, text its JSON (first wins)
KIND_OUTPUT = "output"  # key is a logged model the run produced, text {"model_id", "step"}
KINDS = (KIND_METRIC, KIND_PARAM, KIND_TAG, KIND_ATTR, KIND_INPUT, KIND_OUTPUT)

# One event of a run: (kind, key, value, text, step, timestamp)
Row = tuple[str, str, "float | None", "str | None", int, int]


@dataclass
class MetricPoints:
    """Every metric point of some runs as numpy columns, sorted by run, key, step, time, value.

    `run` and `key` are integer codes into `runs` and `keys`; each (run, key) is one
    contiguous slice (see `slices`).
    """

    runs: list[str]
    keys: list[str]
    run: Any
    key: Any
    value: Any
    step: Any
    time: Any

    def __len__(self) -> int:
        return len(self.value)

    def where(self, mask: Any) -> MetricPoints:
        """Return the points a boolean numpy mask selects (codes and names unchanged)."""
        return MetricPoints(
            self.runs,
            self.keys,
            self.run[mask],
            self.key[mask],
            self.value[mask],
            self.step[mask],
            self.time[mask],
        )

    def slices(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Return {(run_id, key): (start, stop)} of every series."""
        starts, stops = self.bounds()
        runs, keys = self.runs, self.keys
        return {
            (runs[r], keys[k]): (a, b)
            for r, k, a, b in zip(
                self.run[starts].tolist(),
                self.key[starts].tolist(),
                starts.tolist(),
                stops.tolist(),
                strict=True,
            )
        }

    def bounds(self) -> tuple[Any, Any]:
        """Return where each series starts and stops (numpy arrays, in order)."""
        import numpy as np

        if not len(self):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        run, key = self.run, self.key
        turns = np.flatnonzero((run[1:] != run[:-1]) | (key[1:] != key[:-1])) + 1
        return np.concatenate([[0], turns]), np.concatenate([turns, [len(run)]])


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction of one experiment did."""

    experiment_id: str
    parts_merged: int
    files_deleted: int
    rows: int
    path: str | None


@dataclass
class RunBatch:
    """Some runs of an experiment read together (`read_experiment_batches`): their rows of the
    runs frame (`search_runs` columns), every metric point of theirs and their inputs."""

    frame: Any  # pd.DataFrame
    points: MetricPoints
    inputs: dict[str, Any]  # run id -> RunInputs, runs that have any
    # what the batch's events say of its runs' lifecycles, in the store's own terms, for its
    # `usage(known=...)`: a measure of the same runs then reads them no second time (None:
    # the store says nothing)
    lifecycles: Any = None
