"""Where things are in the site: page paths, artifact copies, relative links."""

from __future__ import annotations

import hashlib
import posixpath

from reporter.view import text

# The only types copied under their own name: a browser and any static host treat them as
# images, media, plain text, data or downloads, never as a document that runs script. Every
# other file (.rss, .xsl, .shtm, no extension, anything new) is copied as <name>.txt.
INERT_TYPES = frozenset(
    {"png", "jpg", "jpeg", "gif", "webp", "bmp", "ico", "avif", "tif", "tiff"}
    | {"mp3", "wav", "ogg", "oga", "mp4", "webm", "m4a", "flac"}
    | {"txt", "log", "out", "err", "csv", "tsv", "md", "json", "jsonl", "ndjson", "yaml", "yml"}
    | {"toml", "ini", "cfg", "py", "r", "sql", "sh", "ipynb", "pdf"}
    | {"parquet", "feather", "arrow", "npy", "npz", "pkl", "pickle", "joblib", "pt", "pth"}
    | {"ckpt", "onnx", "h5", "hdf5", "bin", "safetensors", "pb", "tflite", "cbm", "ubj"}
    | {"zip", "gz", "tgz", "tar", "bz2", "xz", "zst", "7z", "whl"}
)


def site_artifact_path(path: str) -> str:
    """Return where an artifact is copied in the site: inert types as they are, any other file
    as <name>.txt, so no artifact can run script in the site's origin whatever its type."""
    return path if extension(path) in INERT_TYPES else f"{path}.txt"


# --- paths --------------------------------------------------------------------------------
def run_path(run_id: str) -> str:
    """Return a run page's path (stable across builds)."""
    return f"runs/{run_id}/index.html"


def experiment_slugs(names: dict[str, str]) -> dict[str, str]:
    """Map experiment ids to unique slugs from their names."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for exp_id, name in sorted(names.items(), key=lambda kv: (kv[1], kv[0])):
        slug = text.slugify(name, "experiment")
        if slug in used:
            slug = f"{slug}-{exp_id[:6]}"
        used.add(slug)
        out[exp_id] = slug
    return out


def csv_path(run_id: str, key: str) -> str:
    """Return the path of a metric's full-series CSV."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"runs/{run_id}/metrics/{text.slugify(key, 'metric')}-{digest}.csv"


def extension(path: str) -> str:
    """Return the lower-case extension of a path."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def relative_url(target: str, page_path: str) -> str:
    """Return target (site-relative) as a link relative to the page at page_path."""
    if "://" in target or target.startswith(("#", "mailto:", "data:")):
        return target
    base = posixpath.dirname(page_path)
    path, _, fragment = target.partition("#")
    rel = posixpath.relpath(path, base or ".")
    if path.endswith("/"):
        rel += "/"
    return rel + (f"#{fragment}" if fragment else "")
