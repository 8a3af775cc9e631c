"""Render the site model with the theme and write it: the only writer of the output folder.

Writes are atomic (temporary file, then rename), unchanged files are left untouched (so a
rebuild rewrites only what changed), and two outputs at one path are refused.
"""

from __future__ import annotations

import heapq
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporter.core.errors import InvalidArgumentError, ReporterError
from reporter.core.sizes import format_size
from reporter.site import charts
from reporter.site.contract import Made, Page, Site, SiteInfo, Written, json_block
from reporter.site.paths import relative_url
from reporter.site.theme import Theme
from reporter.view import numbers, text

MARKER = ".tracker-report-site"
TMP_PREFIX = ".tmp-"


@dataclass
class WriteStats:
    """What a build wrote."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    bytes: int = 0


class SiteTooLargeError(InvalidArgumentError):
    """The site is larger than --max-site-mb allows."""


class SiteWriter:
    """Publish files under one folder: atomically, only when changed, each path once."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.seen: set[str] = set()
        self.stats = WriteStats()

    def write(self, rel: str, data: bytes) -> None:
        """Write data at rel unless the file already holds exactly that."""
        if rel in self.seen:
            raise ReporterError(f"Two outputs want the same path {rel!r}; refusing to overwrite")
        self.seen.add(rel)
        target = self.out / rel
        self.stats.bytes += len(data)
        try:
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                self.stats.unchanged += 1
                return
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        self.stats.written += 1

    def clean(self) -> None:
        """Remove files of an earlier build that this build did not produce."""
        for path in sorted(self.out.rglob("*"), reverse=True):
            rel = path.relative_to(self.out).as_posix()
            if path.is_file() and rel not in self.seen and rel != MARKER:
                path.unlink()
                self.stats.removed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def previous_build(out: Path) -> tuple[str, list[str]]:
    """Return the fingerprint and file list of the build in out ('' and [] if none)."""
    try:
        manifest = json.loads((out / MARKER).read_text(encoding="utf-8"))
        return str(manifest["fingerprint"]), list(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return "", []


def check_out_folder(out: Path) -> None:
    """Refuse to write into a non-empty folder that is not a tracker-report site."""
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError(f"Output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise InvalidArgumentError(
            f"Output folder {out} is not empty and was not made by tracker-report; "
            "choose another --out or empty it first (nothing was written)"
        )


def claim_out_folder(out: Path) -> None:
    """Mark out as ours before the first file is written, and sweep temporary files of a build
    that was killed: an interrupted first build leaves a folder the next build finishes."""
    if not (out / MARKER).exists():
        unfinished = {"note": "an unfinished tracker-report build", "fingerprint": "", "files": []}
        tmp = out / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        tmp.write_bytes(json.dumps(unfinished).encode())
        os.replace(tmp, out / MARKER)
    sweep_temporary(out)


def sweep_temporary(out: Path) -> None:
    """Remove temporary files a killed writer (a build, a page worker) left below out."""
    for stale in out.rglob(f"{TMP_PREFIX}*"):
        if stale.is_file():
            stale.unlink(missing_ok=True)


def make_environment(theme: Theme) -> Any:
    """Return the Jinja environment: theme search path, autoescape, StrictUndefined."""
    import jinja2

    default = jinja2.FileSystemLoader(str(theme.default_dir))
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader([str(d) for d in theme.template_dirs]),
            jinja2.PrefixLoader({"default": default}),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=text.show_controls,  # every {{ value }}: bidi controls shown, not obeyed
    )

    @jinja2.pass_context
    def url(ctx: Any, target: str) -> str:
        """Make a site-relative path relative to the page being rendered."""
        return relative_url(target, ctx["page"].path)

    env.filters["url"] = url
    env.filters["count"] = text.counted  # {{ n | count("report") }}: "1 report", "2 reports"
    env.filters["human"] = numbers.human  # {{ value | human }}: "1,234", "0.9123", "1.23M"
    env.filters["size"] = format_size  # {{ bytes | size }}: "950 B", "12.3 kB", "1.25 GB"
    env.globals["metric_spec"] = json_block(charts.metric_spec())
    env.globals["storage_spec"] = LazySpec(charts.storage_spec)
    env.globals["models_spec"] = LazySpec(charts.models_spec)
    return env


class LazySpec:
    """A page's chart specs, made by Altair only when a page shows them."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def __html__(self) -> str:
        return str(json_block(self.make()))

    def __str__(self) -> str:
        return self.__html__()


def render_page(env: Any, page: Page, info: SiteInfo) -> bytes:
    """Render one page to bytes."""
    template = env.get_template(page.template)
    html = template.render(page=page.info, ctx=page.context, site=info)
    return str(html).encode("utf-8")


class PartWriter:
    """Render and write a site a part at a time (`SiteStream.parts`): pages and files of each
    part as it comes, the theme's static files once, the sitemap and manifest last. A file
    offered twice with the same bytes (a series CSV of a run page and of a report chart) is
    written once; different bytes for one path are refused. With `measure_only` nothing is
    written: `sizes` collects (bytes, path) of every output, for `check_size`."""

    def __init__(
        self,
        info: SiteInfo,
        theme: Theme,
        out: Path,
        copy_artifact: Callable[[str, str], bytes],
        progress: Callable[[str, int, int], None] | None = None,
        measure_only: bool = False,
        expected_pages: int = 0,
        claim: bool = True,
    ) -> None:
        self.info = info
        self.theme = theme
        self.copy_artifact = copy_artifact
        self.progress = progress
        self.measure_only = measure_only
        self.expected_pages = expected_pages
        self.env = make_environment(theme)
        self.writer = SiteWriter(out)
        self.digests: dict[str, bytes] = {}  # file path -> digest of what was written there
        self.sizes: list[tuple[int, str]] = []
        self.pages: list[str] = []  # every page but the 404 (the sitemap's)
        if not measure_only and claim:  # (a page worker writes into the build's folder)
            check_out_folder(out)
            out.mkdir(parents=True, exist_ok=True)
            claim_out_folder(out)

    def _put(self, rel: str, data: bytes) -> None:
        if self.measure_only:
            if rel in self.writer.seen:
                raise ReporterError(
                    f"Two outputs want the same path {rel!r}; refusing to overwrite"
                )
            self.writer.seen.add(rel)
            self.sizes.append((len(data), rel))
        else:
            self.writer.write(rel, data)

    def part(self, made: Made) -> None:
        """Render and write one part's pages and files (and count in what was written of it
        already, `made.written`)."""
        import hashlib

        for done in made.written:
            self.take(done)
        for page in made.pages:
            self._put(page.info.path, render_page(self.env, page, self.info))
            if page.info.kind != "404":
                self.pages.append(page.info.path)
            if self.progress:
                total = max(self.expected_pages, len(self.pages))
                self.progress("pages", len(self.pages), total)
        for item in made.files:
            if item.artifact is not None and self.measure_only and item.size is not None:
                self._put_size(item.path, item.size)
                continue
            if item.data is not None:
                data = item.data
            elif item.artifact is not None:
                data = self.copy_artifact(*item.artifact)
            elif item.make is not None:
                data = item.make()
            else:
                continue
            digest = hashlib.sha256(data).digest()
            if self.digests.get(item.path) == digest:
                continue  # the same file offered again
            self.digests[item.path] = digest
            self._put(item.path, data)

    def write_apart(self, made: Made) -> Written:
        """Render and write one part on its own: what it wrote is returned, for `take` (of
        this writer or of the build's, in the parts' order), not counted here."""
        kept = (self.writer, self.digests, self.sizes, self.pages, self.progress)
        self.writer = SiteWriter(self.writer.out)
        self.digests, self.sizes, self.pages, self.progress = {}, [], [], None
        try:
            self.part(made)
            stats = self.writer.stats
            return Written(
                self.pages,
                sorted(self.writer.seen),
                self.digests,
                self.sizes,
                stats.written,
                stats.unchanged,
                stats.bytes,
            )
        finally:
            self.writer, self.digests, self.sizes, self.pages, self.progress = kept

    def take(self, done: Written) -> None:
        """Count in a part written apart: its paths, as if this writer had written it (two
        outputs at one path are refused, a file offered again with the same bytes is not)."""
        for rel in done.seen:
            if rel in self.writer.seen and (
                rel not in done.digests or self.digests.get(rel) != done.digests[rel]
            ):
                raise ReporterError(
                    f"Two outputs want the same path {rel!r}; refusing to overwrite"
                )
        self.writer.seen.update(done.seen)
        self.digests.update(done.digests)
        self.sizes += done.sizes
        self.pages += done.pages
        self.writer.stats.written += done.written
        self.writer.stats.unchanged += done.unchanged
        self.writer.stats.bytes += done.bytes
        if self.progress and done.pages:
            total = max(self.expected_pages, len(self.pages))
            self.progress("pages", len(self.pages), total)

    def _put_size(self, rel: str, size: int) -> None:
        """Count an artifact copy by its listed size (measuring: never read)."""
        if rel in self.writer.seen:
            raise ReporterError(f"Two outputs want the same path {rel!r}; refusing to overwrite")
        self.writer.seen.add(rel)
        self.sizes.append((size, rel))

    def finish(
        self, clean: bool = False, fingerprint: str = "", summary: dict[str, Any] | None = None
    ) -> WriteStats:
        """Write the theme's static files, the sitemap and the manifest; clean if asked."""
        statics: dict[str, Path] = {}
        for folder in self.theme.static_dirs:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    statics[f"static/{path.relative_to(folder).as_posix()}"] = path
        for rel, path in sorted(statics.items()):
            self._put(rel, path.read_bytes())
        if self.info.base_url:
            self._put("sitemap.xml", sitemap(self.info, self.pages))
        if self.measure_only:
            return WriteStats(bytes=sum(size for size, _ in self.sizes))
        manifest = {
            "note": "made by tracker-report build; --clean may delete files here",
            "fingerprint": fingerprint,
            "summary": summary or {},
            "files": sorted(self.writer.seen | {MARKER}),
        }
        self.writer.write(MARKER, json.dumps(manifest, indent=0).encode())
        if clean:
            self.writer.clean()
        return self.writer.stats


def render(
    site: Site,
    theme: Theme,
    out: Path,
    copy_artifact: Callable[[str, str], bytes],
    clean: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    fingerprint: str = "",
    summary: dict[str, Any] | None = None,
) -> WriteStats:
    """Write every page, static file, data file and artifact of a site made in memory."""
    writer = PartWriter(site.info, theme, out, copy_artifact, progress, False, len(site.pages))
    writer.part(Made(site.pages, site.files))
    return writer.finish(clean, fingerprint, summary)


def sitemap(info: SiteInfo, pages: list[str]) -> bytes:
    """Return a sitemap.xml of these pages under the base URL."""
    from xml.sax.saxutils import escape

    base = (info.base_url or "").rstrip("/") + "/"
    urls = "".join(f"  <url><loc>{escape(base + path)}</loc></url>\n" for path in pages)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
    ).encode()


def check_size(sizes: list[tuple[int, str]], max_mb: float) -> int:
    """Raise SiteTooLargeError (listing the largest files) when outputs of these sizes
    ((bytes, path), as a measuring PartWriter gathers them) are over max_mb; return the
    total bytes."""
    total = sum(size for size, _ in sizes)
    if total > max_mb * 1024 * 1024:
        largest = "\n".join(
            f"  {size / 1024 / 1024:9.2f} MB  {rel}" for size, rel in heapq.nlargest(10, sizes)
        )
        raise SiteTooLargeError(
            f"The site would be {total / 1024 / 1024:.1f} MB, over --max-site-mb "
            f"{max_mb:g}; nothing was written. Largest files:\n{largest}\nLeave out "
            "artifacts (--artifacts link|skip, max_artifact_mb, exclude_artifacts), "
            "experiments or runs (a --profile), or lower --max-points."
        )
    return total
