"""What the site may show: the publication profile's selection, masked secrets, withheld files.

Applied once, to the snapshot the loader read, before any page is made: every page, data
script and copied file is built from what this module lets through (gather, then write).

* experiments, runs (a search_runs filter), params, tags and artifacts left out by the
  profile (`--profile public`, `[profile.NAME]` in the config);
* param and tag values whose key looks like a secret, or that hold a credential, masked;
  credentials in run names, descriptions and notes masked in place (see reporter.secrets);
* artifacts named like secrets (.env, *.pem, id_rsa) or whose text holds one are withheld:
  listed with the reason, never copied, linked or previewed;
* artifact paths that are not plain relative paths inside the run (`..`, absolute) skipped.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from typing import TYPE_CHECKING, Any

from reporter import secrets
from reporter.store import schema

if TYPE_CHECKING:
    import pandas as pd

    from reporter.entities import Experiment
    from reporter.site.config import BuildConfig
    from reporter.site.fetch import ArtifactBytes
    from reporter.store.events import MetricPoints
    from reporter.store.parquet import ParquetStore

# Text files whose content is scanned for secrets before they are copied into the site.
TEXT_FILES = frozenset(
    {
        "txt",
        "json",
        "yaml",
        "yml",
        "md",
        "csv",
        "tsv",
        "cfg",
        "ini",
        "toml",
        "env",
        "py",
        "sh",
        "log",
        "conf",
        "properties",
        "xml",
        "html",
        "htm",
        "ipynb",
        "r",
        "sql",
        "js",
        "ts",
        "svg",
    }
)
# Binary formats: never scanned as text (any other file is, whatever its extension, unless its
# first 8 KB hold a NUL byte).
BINARY_FILES = frozenset(
    {"png", "jpg", "jpeg", "gif", "webp", "bmp", "ico", "avif", "tif", "tiff", "pdf"}
    | {"mp3", "wav", "ogg", "oga", "mp4", "webm", "m4a", "flac"}
    | {"parquet", "feather", "arrow", "npy", "npz", "pkl", "pickle", "joblib", "pt", "pth"}
    | {"ckpt", "onnx", "h5", "hdf5", "bin", "safetensors", "pb", "tflite", "cbm", "ubj"}
    | {"zip", "gz", "tgz", "tar", "bz2", "xz", "zst", "7z", "whl"}
)
TABLE_FILES = frozenset({"parquet"})  # read as a table; text cells are scanned
SCAN_LIMIT = 8 * 1024 * 1024  # larger text files are withheld unscanned rather than published


def matches(name: str, globs: tuple[str, ...]) -> bool:
    """Return True if a name matches one of the globs (case-sensitive, like fnmatch)."""
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def experiment(exp: Experiment, rules: secrets.SecretRules) -> Experiment:
    """Return an experiment record with secrets masked in its description and tags."""
    tags = {
        rules.mask_name("experiment tag key", k): rules.mask("experiment tag", k, v)
        for k, v in exp.tags.items()
    }
    return dataclasses.replace(
        exp,
        name=rules.mask_name("experiment name", exp.name),
        description=rules.mask_text("experiment description", exp.name, exp.description),
        tags=tags,
    )


def runs_frame(
    frame: pd.DataFrame, config: BuildConfig, rules: secrets.SecretRules
) -> pd.DataFrame:
    """Return the runs the profile publishes, with left-out columns dropped and secrets masked."""
    if config.runs and len(frame):
        from reporter import search

        frame = search.search_frame(frame, config.runs)
    drop = [
        c
        for c in frame.columns
        if (c.startswith("params.") and matches(c[7:], config.exclude_params))
        or (c.startswith("tags.") and matches(c[5:], config.exclude_tags))
    ]
    frame = frame.drop(columns=drop).copy()
    if config.hide_users and "user_id" in frame.columns:
        frame["user_id"] = ""
    for column in frame.columns:
        if column.startswith(("params.", "tags.")):
            kind, key = column.split(".", 1)
            kind = "param" if kind == "params" else "tag"
            frame[column] = _masked(frame[column], lambda v, k=kind, key=key: rules.mask(k, key, v))
    if "run_name" in frame.columns:
        frame["run_name"] = _masked(
            frame["run_name"], lambda v: rules.mask_text("run name", "run_name", v)
        )
    if config.hide_paths:
        frame = _without_paths(frame)
    renamed = {}
    for column in frame.columns:  # a credential in a key: the key is masked too
        kind, _, key = column.partition(".")
        if kind in ("params", "tags", "metrics") and key:
            shown = rules.mask_name(f"{kind[:-1]} key", key)
            if shown != key:
                renamed[column] = f"{kind}.{shown}"
    frame = frame.rename(columns=renamed) if renamed else frame
    return frame.reset_index(drop=True)


# An absolute local path (POSIX, home-relative or Windows), and a home folder inside any text.
ABSOLUTE_PATH = re.compile(r"^(?:/|~[/\\]|[A-Za-z]:[/\\])[^\n]*$")
HOME_FOLDER = re.compile(r"(?:/home/|/Users/|[A-Za-z]:\\Users\\)[^/\\\s]+(?=[/\\])")


def shown_path(value: str) -> str:
    """Return a value as a public site shows it: an absolute path as its file name, a home
    folder inside other text as `~`."""
    if ABSOLUTE_PATH.match(value):
        name = re.split(r"[/\\]", value.rstrip("/\\"))[-1]
        return name or value
    return HOME_FOLDER.sub("~", value)


def _without_paths(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the machine's paths from a runs frame: artifact locations, absolute source paths."""
    if "artifact_uri" in frame.columns:
        frame["artifact_uri"] = ""
    for column in frame.columns:
        if column.startswith(("params.", "tags.")):
            frame[column] = _masked(frame[column], shown_path)
    return frame


def _masked(column: pd.Series, mask: Any) -> pd.Series:
    """Apply mask to each distinct string of a column once."""
    values = {v for v in column.dropna().unique() if isinstance(v, str)}
    changed = {v: out for v in values if (out := mask(v)) != v}
    return (
        column.map(lambda v: changed.get(v, v) if isinstance(v, str) else v) if changed else column
    )


def metric_points(
    points: MetricPoints, run_ids: set[str], rules: secrets.SecretRules
) -> MetricPoints:
    """Return only the points of the published runs, under the keys the site may show."""
    import numpy as np

    keys = [rules.mask_name("metric key", k) for k in points.keys]
    if keys != points.keys:
        points = dataclasses.replace(points, keys=keys)
    keep_codes = [i for i, r in enumerate(points.runs) if r in run_ids]
    if len(keep_codes) == len(points.runs):
        return points
    mask = np.isin(points.run, np.asarray(keep_codes, dtype=points.run.dtype))
    return dataclasses.replace(
        points,
        run=points.run[mask],
        key=points.key[mask],
        value=points.value[mask],
        step=points.step[mask],
        time=points.time[mask],
    )


def safe_path(path: str) -> bool:
    """Return True for a plain relative artifact path (no '..', not absolute, no backslash)."""
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and "\\" not in path
        and ":" not in parts[0]
        and all(p not in ("", ".", "..") for p in parts)
    )


def artifacts(
    store: ParquetStore,
    exp_id: str,
    listing: dict[str, list[tuple[str, int]]],
    config: BuildConfig,
    rules: secrets.SecretRules,
    warnings: list[str],
    reads: ArtifactBytes,
) -> dict[str, dict[str, str]]:
    """Drop unsafe and left-out artifact paths from `listing` (in place); return the files to
    withhold, by run: {run_id: {path: reason}}. Text files are read through `reads`."""
    withheld: dict[str, dict[str, str]] = {}
    for run_id, files in listing.items():
        kept = []
        for path, size in files:
            if not safe_path(path):
                warnings.append(
                    f"Skipped artifact {path!r} of run {run_id}: not a plain relative "
                    "path inside the run's artifact folder"
                )
                continue
            if matches(path, config.exclude_artifacts):
                continue
            if rules.mask_name("artifact name", path) != path:
                shown = rules.mask_name("artifact name", path)
                warnings.append(
                    f"Skipped artifact {shown!r} of run {run_id}: its name holds a credential"
                )
                continue
            kept.append((path, size))
            reason = _withhold(store, exp_id, run_id, path, size, config, rules, reads)
            if reason:
                withheld.setdefault(run_id, {})[path] = reason
                warnings.append(f"Withheld artifact {path} of run {run_id}: {reason}")
        files[:] = kept
    return withheld


def _withhold(
    store: ParquetStore,
    exp_id: str,
    run_id: str,
    path: str,
    size: int,
    config: BuildConfig,
    rules: secrets.SecretRules,
    reads: ArtifactBytes,
) -> str | None:
    """Return why an artifact must not be published, or None."""
    if not rules.enabled or config.artifacts == "skip":
        return None
    if rules.file_is_secret(path):
        return "its name looks like a secrets file"
    name = path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in BINARY_FILES - TABLE_FILES:  # by content otherwise: a .out or .jsonl is text
        return None
    if size > config.max_artifact_mb * 1024 * 1024 and config.artifacts == "copy":
        return None  # over the copy limit: listed, never copied
    if size > SCAN_LIMIT:
        return f"a text file over {SCAN_LIMIT // 1024 // 1024} MB is not scanned for secrets"
    rel = store.fs.join(schema.RUNS_FOLDER, exp_id, run_id, schema.ARTIFACTS_FOLDER, path)
    try:
        data = reads.read(rel)
    except Exception as exc:
        return f"could not be read to check it for secrets ({type(exc).__name__})"
    if ext in TABLE_FILES:  # log_table's Parquet: every column name and text cell
        return _table_secret(data, rules)
    if b"\x00" in data[:8192] and ext not in TEXT_FILES:  # binary content: nothing to read
        return None
    content = data.decode("utf-8", errors="replace")
    found = rules.secrets_in_file(content)
    if found:
        return "it looks like it holds a secret (" + "; ".join(found[:3]) + ")"
    return None


def _table_secret(data: bytes, rules: secrets.SecretRules) -> str | None:
    """Return why a Parquet table must not be published (a credential in a column name or a
    text cell), or None."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:
        return f"a Parquet file that could not be read to check it for secrets ({exc})"
    if rules.secrets_in_file("\n".join(table.column_names)):
        return "it looks like it holds a secret (a column name)"
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            if not pa.types.is_dictionary(column.type):
                continue
            column = column.cast(column.type.value_type)
            if not pa.types.is_string(column.type):
                continue
        cells = pc.unique(column.combine_chunks()).drop_null().to_pylist()
        found = rules.secrets_in_file("\n".join(str(c) for c in cells))
        if found:
            return f"it looks like it holds a secret (column {name!r})"
    return None
