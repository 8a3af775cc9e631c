"""The client-side comparison: data files the compare page loads with <script src>.

`fetch()` is blocked on file://, so the compare page gets its data from scripts:
`experiments/<slug>/runs.js` (every run's params, latest metrics, tags and images) and, for
the runs being compared, `runs/<run_id>/series.js` (their metric series, downsampled).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from reporter.core import system_tags
from reporter.core.datasets import RunInputs
from reporter.site import charts
from reporter.site.contract import MetricIndex
from reporter.view import text

# Run attributes the page's filter box can test (status and id are in the run itself).
FILTER_ATTRIBUTES = (
    "run_name",
    "start_time",
    "end_time",
    "user_id",
    "artifact_uri",
    "lifecycle_stage",
    "experiment_id",
    "parent_run_id",
)
IMAGE_TYPES = ("png", "jpg", "jpeg", "gif", "webp")  # not svg: copied as text, never served raw


def js_json(value: Any) -> str:
    """Serialise for a .js file: JSON, with <, > and & escaped like in HTML blocks."""
    raw = text.show_controls(
        json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    )
    return raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _clean(value: Any) -> Any:
    """Return a JSON-able value: NaN and infinities as strings, numbers as floats."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return text.fmt_number(value)
    return value


def _attr(value: Any) -> Any:
    """Return a run attribute for the page's filter: ints for times, None for missing."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return str(value)


def runs_js(
    experiment: str,
    records: list[dict[str, Any]],
    metrics: list[str],
    images: dict[str, list[tuple[str, str]]],
    lower_better: Callable[[str], bool],
    datasets: Mapping[str, RunInputs] | None = None,
    archived: AbstractSet[str] = frozenset(),
) -> bytes:
    """Return experiments/<slug>/runs.js: what the compare page shows of every run (and what
    the experiment page's filter reads, a run's datasets as [name, digest, context or null]);
    an archived run has `"archived": true`."""
    runs: list[dict[str, Any]] = []
    for rec in records:
        run_id = rec["run_id"]
        runs.append(
            {
                "id": run_id,
                "name": str(rec["run_name"] or run_id),
                "status": rec["status"],
                "start": text.fmt_time(rec["start_time"]),
                "params": {
                    k[7:]: v
                    for k, v in rec.items()
                    if k.startswith("params.") and isinstance(v, str)
                },
                "metrics": {
                    k[8:]: _clean(float(v))
                    for k, v in rec.items()
                    if k.startswith("metrics.") and v is not None and v == v
                },
                "attrs": {k: _attr(rec.get(k)) for k in FILTER_ATTRIBUTES},
                "tags": {
                    k[5:]: v
                    for k, v in rec.items()
                    if k.startswith("tags.")
                    and isinstance(v, str)
                    and not system_tags.is_system_tag(k[5:])
                },
                "images": dict(images.get(run_id, [])),
            }
        )
        if run_id in archived:
            runs[-1]["archived"] = True
        used = (datasets or {}).get(run_id, RunInputs()).dataset_inputs
        if used:
            runs[-1]["datasets"] = [[d.dataset.name, d.dataset.digest, d.context] for d in used]
    payload = {
        "experiment": experiment,
        "runs": runs,
        "lower_is_better": {m: lower_better(m) for m in metrics},
    }
    return f"window.TRACKER_EXPERIMENT = {js_json(payload)};\n".encode()


def series_js(
    run_id: str,
    name: str,
    start: int | None,
    keys: list[str],
    metrics: MetricIndex,
    artifacts: list[tuple[str, int, str | None]],
    max_points: int,
) -> bytes:
    """Return runs/<run_id>/series.js: every metric of one run, downsampled to max_points
    (minima and maxima kept; "total" says of how many) for comparing and for the run page's
    own charts, and its artifacts as [path, size, link or null] (site-relative, or a URL in
    link mode)."""
    out = {}
    for key in keys:
        a, b = metrics.slices[(run_id, key)]
        keep = metrics.kept(a, b, max_points)
        step, value, time = metrics.step[a:b], metrics.value[a:b], metrics.time[a:b]
        out[key] = {
            **charts.make_series(name, run_id, start, step, value, time, keep).to_json(),
            "total": b - a,
        }
    key = json.dumps(run_id)
    return (
        f"(window.TRACKER_SERIES = window.TRACKER_SERIES || {{}})[{key}] = {js_json(out)};\n"
        f"(window.TRACKER_ARTIFACTS = window.TRACKER_ARTIFACTS || {{}})[{key}] = "
        f"{js_json([list(a) for a in artifacts])};\n"
    ).encode()


def is_image(path: str) -> bool:
    """Return True if an artifact path names an image the compare page shows."""
    return path.rsplit(".", 1)[-1].lower() in IMAGE_TYPES
