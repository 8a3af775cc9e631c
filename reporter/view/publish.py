"""What the site may show: the publication profile's selection, masked secrets, withheld files.

Applied once, to the snapshot the loader read, before any page is made: every page, data
script and copied file is built from what this module lets through (gather, then write).

* experiments, runs (a search_runs filter), params, tags and artifacts left out by the
  profile (`--profile public`, `[profile.NAME]` in the config);
* param and tag values whose key looks like a secret, or that hold a credential, masked;
  credentials in run names, descriptions and notes masked in place (see reporter.core.secrets);
* artifacts named like secrets (.env, *.pem, id_rsa) or whose text holds one are withheld:
  listed with the reason, never copied, linked or previewed;
* artifact paths that are not plain relative paths inside the run (`..`, absolute) skipped;
* of the store's usage log (`du --log`), in a build of some experiments, only their own bytes.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from typing import TYPE_CHECKING, Any

from reporter.core import secrets

if TYPE_CHECKING:
    import pandas as pd

    from reporter.core.entities import Experiment
    from reporter.store.records import MetricPoints
    from reporter.view.config import BuildConfig
    from reporter.view.fetch import ArtifactBytes

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


def experiment(exp: Experiment, config: BuildConfig, rules: secrets.SecretRules) -> Experiment:
    """Return an experiment record with secrets masked in its name, description and tags (and
    the machine's paths left out when the profile hides them)."""
    shown = _shown_text if config.hide_paths else _same
    tags = {
        shown(rules.mask_name("experiment tag key", k)): shown(rules.mask("experiment tag", k, v))
        for k, v in exp.tags.items()
    }
    name = shown(rules.mask_name("experiment name", exp.name))
    return dataclasses.replace(
        exp,
        name=name,
        description=shown(rules.mask_text("experiment description", name, exp.description)),
        tags=tags,
    )


def _same(value: str) -> str:
    return value


def _shown_text(value: str) -> str:
    """Free text without the machine's home folders (they name the user)."""
    return HOME_FOLDER.sub("~", value) if value else value


def runs_frame(
    frame: pd.DataFrame, config: BuildConfig, rules: secrets.SecretRules
) -> pd.DataFrame:
    """Return the runs the profile publishes, with left-out columns dropped and secrets masked."""
    if config.runs and len(frame):
        from reporter.query import search

        frame = search.search_frame(frame, config.runs)
    tag_globs = config.excluded_tags()
    drop = [
        c
        for c in frame.columns
        if (c.startswith("params.") and matches(c[7:], config.exclude_params))
        or (c.startswith("tags.") and matches(c[5:], tag_globs))
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
            shown = shown_key(f"{kind[:-1]} key", key, config, rules)
            if shown != key:
                renamed[column] = f"{kind}.{shown}"
    frame = frame.rename(columns=renamed) if renamed else frame
    if frame.columns.duplicated().any():
        frame = _one_column_a_name(frame)
    return frame.reset_index(drop=True)


def _one_column_a_name(frame: pd.DataFrame) -> pd.DataFrame:
    """Join columns whose keys read alike once masked or shortened (`/srv/a/loss` and
    `/srv/b/loss` in a public build): each run's value from the last of them (in key order)
    that it has, as its metric's one series (`_one_series_a_key`)."""
    import pandas as pd

    out: dict[str, pd.Series] = {}
    for i, name in enumerate(frame.columns):
        column = frame.iloc[:, i]
        out[name] = column.where(column.notna(), out[name]) if name in out else column
    return pd.DataFrame(out, index=frame.index)


# An absolute local path (POSIX, home-relative or Windows), and a home folder inside any text.
ABSOLUTE_PATH = re.compile(r"^(?:/|~[/\\]|[A-Za-z]:[/\\])[^\n]*$")
HOME_FOLDER = re.compile(r"(?:/home/|/Users/|[A-Za-z]:\\Users\\)[^/\\\s]+(?=[/\\])")


def shown_key(kind: str, key: str, config: BuildConfig, rules: secrets.SecretRules) -> str:
    """Return a param, tag or metric key as the site shows it (one rule for columns and charts)."""
    shown = rules.mask_name(kind, key)
    return shown_path(shown) if config.hide_paths else shown


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
    if "run_name" in frame.columns:
        frame["run_name"] = _masked(frame["run_name"], _shown_text)
    return frame


def _masked(column: pd.Series, mask: Any) -> pd.Series:
    """Apply mask to each distinct string of a column once."""
    values = {v for v in column.dropna().unique() if isinstance(v, str)}
    changed = {v: out for v in values if (out := mask(v)) != v}
    return (
        column.map(lambda v: changed.get(v, v) if isinstance(v, str) else v) if changed else column
    )


def metric_points(
    points: MetricPoints, run_ids: set[str], config: BuildConfig, rules: secrets.SecretRules
) -> MetricPoints:
    """Return only the points of the published runs, under the keys the site may show."""
    import numpy as np

    keys = [shown_key("metric key", k, config, rules) for k in points.keys]
    if keys != points.keys:
        points = dataclasses.replace(points, keys=keys)
        if len(set(keys)) < len(keys):  # keys that read alike once masked or shortened
            points = _one_series_a_key(points)
    keep = np.asarray([r in run_ids for r in points.runs], dtype=bool)
    if not len(points) or keep.all():
        return points
    present = np.bincount(points.run, minlength=len(points.runs)) > 0  # runs with points
    if not (present & ~keep).any():
        return points
    return points.where(keep[points.run])


def _one_series_a_key(points: MetricPoints) -> MetricPoints:
    """Keep one series of a run's series whose keys read alike (the last, in key order): a
    run shows one series under a name, and every part of the build counts that one."""
    import numpy as np

    begin, end = points.bounds()
    last: dict[tuple[int, str], int] = {}
    for i, (run, key) in enumerate(zip(points.run[begin].tolist(), points.key[begin].tolist())):
        last[(run, points.keys[key])] = i
    kept = np.zeros(len(begin), dtype=bool)
    kept[list(last.values())] = True
    return points if kept.all() else points.where(np.repeat(kept, end - begin))


def usage_log_runs(frame: pd.DataFrame) -> set[str]:
    """Return the usage log runs (`du --log`: tagged reporter.usage = du) of a runs frame."""
    from reporter.view.usage_log import TAG_USAGE, TAG_USAGE_VALUE

    column = f"tags.{TAG_USAGE}"
    if not len(frame) or column not in frame.columns:
        return set()
    return set(frame.loc[frame[column] == TAG_USAGE_VALUE, "run_id"])


def usage_log(
    frame: pd.DataFrame, points: MetricPoints, allowed: set[str]
) -> tuple[pd.DataFrame, MetricPoints]:
    """Keep, of the usage log runs (`du --log`: tagged reporter.usage = du), only the metrics
    in `allowed`: a build that publishes some experiments shows each one's own bytes, never
    another's name or size, nor store-wide totals. Works on the store's keys (before masking)."""
    import numpy as np

    log_runs = usage_log_runs(frame)
    if not log_runs:
        return frame, points
    logs = frame["run_id"].isin(log_runs)
    frame = frame.copy()
    for name in [c for c in frame.columns if c.startswith("metrics.")]:
        if name[len("metrics.") :] not in allowed:
            frame.loc[logs, name] = np.nan
            if frame[name].isna().all():
                frame = frame.drop(columns=name)
    return frame, usage_log_points(points, log_runs, allowed)


def usage_log_points(points: MetricPoints, log_runs: set[str], allowed: set[str]) -> MetricPoints:
    """Drop the points of usage log runs under keys not in `allowed` (see `usage_log`)."""
    import numpy as np

    log_codes = [i for i, r in enumerate(points.runs) if r in log_runs]
    hidden_keys = [i for i, k in enumerate(points.keys) if k not in allowed]
    if not log_codes or not hidden_keys or not len(points):
        return points
    drop = np.isin(points.run, np.asarray(log_codes, dtype=points.run.dtype)) & np.isin(
        points.key, np.asarray(hidden_keys, dtype=points.key.dtype)
    )
    return points.where(~drop)


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
            reason = _withhold(exp_id, run_id, path, size, config, rules, reads)
            if reason == PICKLE_REASON:  # left out by the profile, like exclude_artifacts
                continue
            kept.append((path, size))
            if reason:
                withheld.setdefault(run_id, {})[path] = reason
                warnings.append(f"Withheld artifact {path} of run {run_id}: {reason}")
        files[:] = kept
    return withheld


def _withhold(
    exp_id: str,
    run_id: str,
    path: str,
    size: int,
    config: BuildConfig,
    rules: secrets.SecretRules,
    reads: ArtifactBytes,
) -> str | None:
    """Return why an artifact must not be published, or None."""
    if config.artifacts == "skip":
        return None
    name = path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if config.exclude_pickles and {p.lower() for p in name.split(".")[1:]} & PICKLE_FILES:
        return PICKLE_REASON
    if rules.enabled and rules.file_is_secret(path):
        return "its name looks like a secrets file"
    if size > config.max_artifact_mb * 1024 * 1024 and config.artifacts == "copy":
        return None  # over the copy limit: listed, never copied
    if size > SCAN_LIMIT:
        if rules.enabled and ext not in BINARY_FILES:
            return f"a text file over {SCAN_LIMIT // 1024 // 1024} MB is not scanned for secrets"
        return None
    if not (rules.enabled or config.hide_paths or config.exclude_pickles):
        return None
    if ext in BINARY_FILES and size > reads.file_limit and not config.exclude_pickles:
        return None  # not kept in memory: scanning would fetch it twice (once for the copy)
    try:
        data = reads.read(run_id, path, exp_id)
    except Exception as exc:
        return f"could not be read to check it for secrets ({type(exc).__name__})"
    if config.exclude_pickles and _is_pickle(data):
        return PICKLE_REASON
    binary = ext in BINARY_FILES or data[:4] == PARQUET_MAGIC
    if rules.enabled:
        reason = _secret_in(data, ext, binary, rules)
        if reason:
            return reason
    if config.hide_paths and not binary and HOME_FOLDER.search(data.decode("utf-8", "replace")):
        return "it shows a home folder path (the profile hides the machine's paths)"
    return None


PICKLE_FILES = frozenset(
    {"pkl", "pickle", "pickle5", "joblib", "pt", "pth", "ckpt", "sav", "dill", "p"}
    | {"cloudpickle"}
)
PICKLE_REASON = "a pickled model or checkpoint: loading it runs code (left out by this profile)"
PARQUET_MAGIC = b"PAR1"
PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{16,}")  # what `strings` shows: where a token can be


def _is_pickle(data: bytes) -> bool:
    """Return True for pickle data (protocol 2 and later), compressed or not, and for zip
    archives holding one (PyTorch's format)."""
    if _pickle_head(data):
        return True
    if data[:4] == b"PK\x03\x04":
        return b".pkl" in data[-65536:]
    return _pickle_head(_decompressed_head(data))


def _pickle_head(head: bytes) -> bool:
    """Return True when bytes start like a pickle of protocol 2 to 5."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _decompressed_head(data: bytes) -> bytes:
    """Return the first bytes of gzip, bz2, xz or zlib data (b"" for anything else)."""
    import bz2
    import gzip
    import io
    import lzma
    import zlib

    readers: dict[bytes, Any] = {b"\x1f\x8b": gzip.GzipFile, b"BZ": bz2.BZ2File}
    readers[b"\xfd7"] = lzma.LZMAFile
    try:
        opener = readers.get(data[:2])
        if opener is not None:
            with opener(fileobj=io.BytesIO(data)) as handle:
                return bytes(handle.read(2))
        if data[:1] == b"\x78":  # zlib, joblib's default compressor
            return zlib.decompressobj().decompress(data[:4096], 2)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
        pass
    return b""


def _secret_in(data: bytes, ext: str, binary: bool, rules: secrets.SecretRules) -> str | None:
    """Return why an artifact's bytes are unsafe to publish (a credential), or None."""
    if ext in TABLE_FILES or data[:4] == PARQUET_MAGIC:
        reason = _table_secret(data, rules)
        if reason:
            return reason
    if binary:  # a credential stored as plain bytes (a PNG text chunk, a stored zip entry)
        printable = "\n".join(run.decode("ascii") for run in PRINTABLE_RUN.findall(data))
        if secrets.credentials_in(printable):
            return "it looks like it holds a secret (a credential in its bytes)"
        return None
    found = rules.secrets_in_file(data.decode("utf-8", errors="replace"))
    if found:
        return "it looks like it holds a secret (" + "; ".join(found[:3]) + ")"
    return None


def _table_secret(data: bytes, rules: secrets.SecretRules) -> str | None:
    """Return why a Parquet table must not be published (a credential in a column name or in
    any cell that is not a number, a time or a boolean), or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:
        return f"a Parquet file that could not be read to check it for secrets ({exc})"
    if rules.secrets_in_file("\n".join(table.column_names)):
        return "it looks like it holds a secret (a column name)"
    plain = (
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_boolean,
        pa.types.is_temporal,
        pa.types.is_decimal,
        pa.types.is_null,
    )
    for name, column in zip(table.column_names, table.columns, strict=True):
        if any(check(column.type) for check in plain):
            continue
        cells = {str(cell) for cell in column.to_pylist() if cell is not None}
        if rules.secrets_in_file("\n".join(sorted(cells))):
            return f"it looks like it holds a secret (column {name!r})"
    return None
