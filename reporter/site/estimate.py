"""How big a site will be, estimated before anything is written.

`tracker-report build` uses it to say, before writing, that a site will exceed a static host's
limit (`site_limit_mb`, GitHub Pages' 1 GB by default), and to leave the full-resolution series
downloads out when `full_series = "auto"` and they would take the site over it. The figures
are estimates from counts (points, runs, artifact sizes), not a dry run: `--max-site-mb`
measures exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.view.config import BuildConfig
from reporter.view.loader import StoreSnapshot

SERIES_POINT_BYTES = 32  # a charted point: step, value and time as base64 float64
SERIES_BYTES = 300  # a series' fixed part in series.js and chart blocks (names, ids, totals)
CSV_POINT_BYTES = 40  # a full-series CSV line: a step, a 17-digit value, a ms timestamp
RUN_PAGE_BYTES = 25_000  # a run page's HTML beside its series (params, tags, metrics table)
TABLE_ROW_BYTES = 600  # a run in its experiment's table.js and runs.js
STATIC_BYTES = 1_100_000  # the theme's scripts and styles


@dataclass(frozen=True)
class SiteEstimate:
    """Bytes a build will write, by kind (estimates)."""

    pages: int  # HTML of every page, table.js and runs.js
    series: int  # series.js of every run and the experiment charts' data
    downloads: int  # full-series CSVs of the series the charts thin
    artifacts: int  # artifact copies

    @property
    def total(self) -> int:
        """Every byte, the downloads included."""
        return self.pages + self.series + self.downloads + self.artifacts


def estimate_site(snapshot: StoreSnapshot, config: BuildConfig) -> SiteEstimate:
    """Estimate the site of a snapshot under these settings (downloads as if included)."""
    limit = config.max_points
    pages = STATIC_BYTES
    series = downloads = artifacts = 0
    for data in snapshot.experiments:
        runs = len(data.runs)
        pages += runs * (RUN_PAGE_BYTES + TABLE_ROW_BYTES) + 50_000
        lengths = data.series.lengths
        shown = 0
        for counts in lengths.values():
            for count in counts:
                shown += min(count, limit) * SERIES_POINT_BYTES + SERIES_BYTES
                if count > limit:
                    downloads += count * CSV_POINT_BYTES
        series += shown
        if runs:  # the experiment page charts its top runs again, inline
            series += shown * min(runs, config.top_runs) // runs
    if config.artifacts == "copy":
        cap = config.max_artifact_mb * 1024 * 1024
        for run_id, files in snapshot.artifacts.items():
            held = snapshot.withheld.get(run_id, {})
            artifacts += sum(size for path, size in files if size <= cap and path not in held)
    return SiteEstimate(pages, series, downloads, artifacts)
