"""Deterministic downsampling of long metric series that keeps the extremes."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def minmax_indices(values: npt.NDArray[np.float64], max_points: int) -> npt.NDArray[np.int64]:
    """Return sorted indices of at most `max_points` points: first, last, and each bucket's
    minimum and maximum, so no peak or trough of the series is lost.

    The buckets are equal runs of consecutive points; NaN values are never chosen as extremes
    unless a bucket holds nothing else.
    """
    import numpy as np

    count = len(values)
    if count <= max_points:
        return np.arange(count, dtype=np.int64)
    if max_points < 4:
        return np.unique(np.array([0, count - 1], dtype=np.int64))[:max_points]
    buckets = (max_points - 2) // 2
    inner = np.arange(1, count - 1)
    edges = np.linspace(0, len(inner), buckets + 1).astype(np.int64)
    picks = [0, count - 1]
    clean = np.where(np.isnan(values), np.inf, values)
    clean_max = np.where(np.isnan(values), -np.inf, values)
    for start, stop in itertools.pairwise(edges):
        if stop <= start:
            continue
        chunk = inner[start:stop]
        picks.append(int(chunk[np.argmin(clean[chunk])]))
        picks.append(int(chunk[np.argmax(clean_max[chunk])]))
    return np.unique(np.array(picks, dtype=np.int64))
