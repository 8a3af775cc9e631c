"""Deterministic downsampling of long metric series that keeps the extremes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def minmax_indices(values: npt.NDArray[np.float64], max_points: int) -> npt.NDArray[np.int64]:
    """Return sorted indices of at most `max_points` points: first, last, and each bucket's
    minimum and maximum, so no peak or trough of the series is lost.

    The buckets are equal runs of consecutive points; NaN values are never chosen as extremes
    unless a bucket holds nothing else (then its first point is). Ties go to the first point.
    Vectorised: a few passes over the series whatever the number of buckets.
    """
    import numpy as np

    count = len(values)
    if count <= max_points:
        return np.arange(count, dtype=np.int64)
    if max_points < 4:
        return np.unique(np.array([0, count - 1], dtype=np.int64))[:max_points]
    buckets = (max_points - 2) // 2
    inner = np.asarray(values[1 : count - 1], dtype=np.float64)
    edges = np.linspace(0, len(inner), buckets + 1).astype(np.int64)
    starts = edges[:-1][edges[1:] > edges[:-1]]  # the non-empty buckets, which tile `inner`
    lengths = np.diff(np.append(starts, len(inner)))
    bucket = np.repeat(np.arange(len(starts)), lengths)
    position = np.arange(len(inner), dtype=np.int64)
    nan = np.isnan(inner)
    low = np.where(nan, np.inf, inner)
    high = np.where(nan, -np.inf, inner)
    # the first point of each bucket equal to the bucket's extreme (np.argmin's choice)
    lows = np.minimum.reduceat(low, starts)[bucket]
    first_low = np.minimum.reduceat(np.where(low == lows, position, len(inner)), starts)
    highs = np.maximum.reduceat(high, starts)[bucket]
    first_high = np.minimum.reduceat(np.where(high == highs, position, len(inner)), starts)
    picks = np.concatenate([[0, count - 1], first_low + 1, first_high + 1]).astype(np.int64)
    return np.unique(picks)
