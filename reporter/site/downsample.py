"""Deterministic downsampling of long metric series that keeps the extremes."""

from __future__ import annotations

from collections.abc import Sequence
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


def minmax_many(
    values: npt.NDArray[np.float64], spans: Sequence[tuple[int, int]], max_points: int
) -> list[npt.NDArray[np.int64]]:
    """Return `minmax_indices(values[a:b], max_points)` for each span (a, b) of `values`: the
    same arrays, computed for many spans at once (a few passes over their points, not a few
    passes each)."""
    out: list[npt.NDArray[np.int64] | None] = [None] * len(spans)
    by_width: dict[int, list[int]] = {}  # long spans by their buckets' width
    buckets = (max_points - 2) // 2
    for i, (a, b) in enumerate(spans):
        if b - a <= max_points or max_points < 4:
            out[i] = minmax_indices(values[a:b], max_points)
        else:
            by_width.setdefault(-(-(b - a - 2) // buckets), []).append(i)
    for group in by_width.values():
        for i, picks in zip(group, _long_spans(values, [spans[i] for i in group], buckets)):
            out[i] = picks
    return [o for o in out if o is not None]


def _long_spans(
    values: npt.NDArray[np.float64], spans: Sequence[tuple[int, int]], buckets: int
) -> list[npt.NDArray[np.int64]]:
    """minmax_many for spans longer than max_points whose buckets are about as wide.

    Each bucket's points are a row of a matrix, padded with values that never win (argmin
    and argmax take the first of equals, as minmax_indices does). A span's picks, in order,
    are its first point, each bucket's two extremes (the earlier first) and its last point:
    sorted already, so duplicates are neighbours."""
    import numpy as np

    first = np.asarray([a for a, _ in spans], dtype=np.int64)
    last = np.asarray([b - 1 for _, b in spans], dtype=np.int64)
    # each span's buckets as minmax_indices makes them (np.linspace over its inner points);
    # a long span has more inner points than buckets, so none is empty
    edges = np.linspace(0, last - first - 1, buckets + 1).astype(np.int64).T
    starts = (edges[:, :-1] + first[:, None] + 1).ravel()
    stops = (edges[:, 1:] + first[:, None] + 1).ravel()
    cells = starts[:, None] + np.arange(int((stops - starts).max()))
    padding = cells >= stops[:, None]
    points = np.asarray(values[np.minimum(cells, len(values) - 1)], dtype=np.float64)
    nan = np.isnan(points) | padding
    first_low = starts + np.argmin(np.where(nan, np.inf, points), axis=1)
    first_high = starts + np.argmax(np.where(nan, -np.inf, points), axis=1)
    pairs = np.stack([np.minimum(first_low, first_high), np.maximum(first_low, first_high)], 1)
    picks = np.concatenate(
        [first[:, None], pairs.reshape(len(spans), 2 * buckets), last[:, None]], 1
    )
    new = np.ones(picks.shape, dtype=bool)
    new[:, 1:] = picks[:, 1:] != picks[:, :-1]
    return [picks[row][new[row]] - first[row] for row in range(len(spans))]
