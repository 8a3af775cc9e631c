"""Text helpers for pages: slugs, times, durations, numbers, sanitised markdown, git links."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from markupsafe import Markup

LOWER_IS_BETTER = re.compile(
    r"(loss|err|error|rmse|mse|mae|mape|smape|perplexity|latency|duration|time|cost|wer|cer)",
    re.IGNORECASE,
)


# Bidirectional embeddings, overrides and isolates: in a run name they can make text read
# differently from what it is ("Trojan source"). The site shows them as visible codes.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def show_controls(value: Any) -> Any:
    """Return a string with bidi control characters spelled out as [U+202E]; other values
    (and strings without them) as they are. Markup stays Markup (the codes are plain text)."""
    if not isinstance(value, str) or value.isascii() or not BIDI_CONTROLS.search(value):
        return value  # isascii() is a flag lookup: most page data never needs the search
    shown = BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)
    return Markup(shown) if isinstance(value, Markup) else shown


def slugify(text: str, fallback: str = "item") -> str:
    """Return a URL-safe lower-case slug (accents dropped: 'Ünïcode' -> 'unicode')."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:80] or fallback


def fmt_time(ms: Any) -> str:
    """Format epoch milliseconds as 'YYYY-MM-DD HH:MM:SS' UTC, or '' when missing."""
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return ""
    stamp = dt.datetime.fromtimestamp(float(ms) / 1000, tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(start: Any, end: Any) -> str:
    """Format the time between two epoch-ms values as '1h 02m', '3m 05s' or '4.2s'."""
    if (
        start is None
        or end is None
        or any(isinstance(v, float) and math.isnan(v) for v in (start, end))
    ):
        return ""
    seconds = max(0.0, (float(end) - float(start)) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_number(value: Any) -> str:
    """Format a metric value compactly (6 significant digits; NaN and inf spelled out): the
    `summary` command's text and the data files. Pages show numbers with reporter.view.numbers."""
    if value is None:
        return ""
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return f"{number:.6g}"


def counted(count: Any, singular: str, plural: str | None = None) -> str:
    """Return a count with its noun, singular or plural, and thousands separators:
    '1 report', '0 reports', '1,234 runs' (`plural` for irregular nouns: 'entries')."""
    number = int(count)
    noun = singular if number == 1 else (plural or f"{singular}s")
    return f"{number:,} {noun}"


def fmt_size(size: int) -> str:
    """Format a byte count for people."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def lower_is_better(metric: str) -> bool:
    """Guess a metric's direction from its name (loss, error, rmse, ... are lower-is-better)."""
    return bool(LOWER_IS_BETTER.search(metric))


ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "dd",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "span",
    "div",
}


def markdown(text: str | None, demote: int = 0) -> Markup:
    """Render markdown, then sanitise it (no scripts, event handlers or javascript: URLs).

    `demote` lowers headings (an artifact's `# Title` becomes an h4 inside the run page).
    """
    if not text:
        return Markup("")
    import markdown as md
    import nh3

    html = md.markdown(str(text), extensions=["fenced_code", "tables", "sane_lists"])
    if demote:
        html = re.sub(
            r"<(/?)h([1-6])\b", lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + demote)}", html
        )
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={
            "a": {"href", "title"},
            "img": {"src", "alt", "title"},
            "td": {"align"},
            "th": {"align"},
            "code": {"class"},
        },
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_offline_images,
    )
    return Markup(clean)


def _offline_images(tag: str, attribute: str, value: str) -> str | None:
    """Keep an image only from the site itself or a data:image URL (a page never loads
    anything from the network); keep data: URLs nowhere else."""
    scheme = value.split(":", 1)[0].lower().strip() if ":" in value.split("/", 1)[0] else ""
    if tag == "img" and attribute == "src":
        local = scheme == "" and not value.lstrip().startswith(("//", "\\", "/\\"))
        return value if local or value.startswith("data:image/") else None
    if scheme == "data":
        return None
    return value


KNOWN_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org")


def commit_url(remote: str | None, commit: str | None) -> str | None:
    """Return a web link to a commit when the remote is on a known host, else None."""
    if not remote or not commit or not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        return None
    match = re.match(r"^(?:https?://|ssh://)?(?:[^@/]+@)?([^/:]+)[:/](.+?)(?:\.git)?/?$", remote)
    if not match or match.group(1).lower() not in KNOWN_HOSTS:
        return None
    host, path = match.group(1).lower(), match.group(2)
    if not re.fullmatch(r"[\w.\-/]+", path):
        return None
    middle = "commits" if host == "bitbucket.org" else "commit"
    if host == "gitlab.com":
        middle = "-/commit"
    return f"https://{host}/{path}/{middle}/{commit}"
