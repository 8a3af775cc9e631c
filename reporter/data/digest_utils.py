"""Digests of data sets, computed exactly as MLflow's `mlflow.data.digest_utils` does (its names).

The same DataFrame or array gets the same 8-hex-digit digest under MLflow and here, so runs
logged by either can be matched by `datasets.digest`. Like MLflow's, a digest looks at the
first 10,000 rows (string and number columns of a DataFrame, its index included), the row
count and the column names: two frames that differ only further down share a digest.
"""

from __future__ import annotations

import hashlib
from typing import Any

MAX_ROWS = 10000


def get_normalized_md5_digest(elements: list[Any]) -> str:
    """Return the first 8 hex digits of the md5 of these byte-like elements."""
    if not elements:
        raise ValueError("No hashable elements were provided for md5 digest creation")
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]


def _all_strings(df: Any, position: int) -> bool:
    """Return True if every value of one column is exactly a `str` (MLflow's test)."""
    column = df.iloc[:, [position]]
    types = column.map(type) if hasattr(column, "map") else column.applymap(type)
    return bool((types == str).all(axis=0).iloc[0])  # noqa: E721 (elementwise, as MLflow)


def compute_pandas_digest(df: Any) -> str:
    """Return MLflow's digest of a DataFrame."""
    import numpy as np
    import pandas as pd

    trimmed = df.head(MAX_ROWS)
    numeric = trimmed.select_dtypes(include=[np.number]).columns
    # MLflow tests every column; a number column is kept anyway, so only the others are tested
    number_positions = {i for i, c in enumerate(df.columns) if c in set(numeric)}
    strings = [i not in number_positions and _all_strings(df, i) for i in range(len(df.columns))]
    wanted = trimmed.columns[np.asarray(strings, dtype=bool)].union(numeric)
    return get_normalized_md5_digest(
        [pd.util.hash_pandas_object(trimmed[wanted]).values, np.int64(len(df))]
        + [str(x).encode() for x in df.columns]
    )


def compute_numpy_digest(features: Any, targets: Any = None) -> str:
    """Return MLflow's digest of arrays (or dicts of named arrays) of features and targets."""
    import numpy as np
    import pandas as pd

    elements: list[Any] = []

    def add(array: Any) -> None:
        trimmed = array.flatten()[0:MAX_ROWS]
        try:
            elements.append(pd.util.hash_array(trimmed))
        except TypeError:
            elements.append(np.int64(trimmed.size))
        elements.extend(np.int64(x) for x in array.shape)

    for item in (features, targets):
        if item is None:
            continue
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        else:
            add(item)
    return get_normalized_md5_digest(elements)
