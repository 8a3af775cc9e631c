"""What looks like a secret: key names, credential-shaped values, and artifact file names.

Used twice: `log_param`/`set_tag` warn once when they store something that looks like a secret,
and `tracker-report build` masks such values and withholds such artifacts (see SecretRules).

Credential-shaped values are found by Yelp's detect-secrets (its regex plugins for AWS, GitHub,
GitLab, Slack, Stripe, JWT, private keys, URLs with a password, ... but not its entropy
guesses, which would flag every git commit and run id), plus bearer tokens, which it lacks.
Key names are matched by words: `db_password`, `apiKey` and `AWS_SECRET_ACCESS_KEY` are
secret-looking; `author` and `max_tokens` are not.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import itertools
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

MASK = "[masked]"

# A key is secret-looking when one of its words, or two adjacent words, is one of these.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "cookie",
        "privatekey",
        "accesskey",
        "secretkey",
        "sessionkey",
        "clientsecret",
        "signingkey",
        "dsn",
    }
)
SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("session", "key"),
        ("client", "secret"),
        ("signing", "key"),
        ("account", "key"),
        ("access", "token"),
        ("refresh", "token"),
        ("auth", "token"),
    }
)
# Artifact file names that hold secrets by convention (matched against the base name).
SECRET_FILES = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".htpasswd",
    "credentials",
    "credentials.json",
    "*.kdbx",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    "service-account*.json",
    "*secret*",
)
# detect-secrets plugins that recognise a credential by its shape (no entropy guesses).
PLUGINS = (
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
BEARER = re.compile(r"\bbearer\s+[A-Za-z0-9\-._~+/]{12,}=*", re.IGNORECASE)
# Tokens known by their prefix, taken whole whatever follows: detect-secrets' patterns end in
# (?!\w), which misses a token run on into more letters (`glpat-...é`, `glpat-` + 60 chars).
PREFIXED = re.compile(
    r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|sk-(?:proj|ant)-[A-Za-z0-9_\-]{16,}|pypi-[A-Za-z0-9_\-]{50,}|npm_[A-Za-z0-9]{36})"
)
PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN[A-Z ]*PRIVATE KEY( BLOCK)?-----.*?(-----END[A-Z ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)
# `password = "hunter2"`, `"api_key": "..."`, `TOKEN=abc` in a text file: the value is group 2.
ASSIGNMENT = re.compile(
    r"""(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*[:=]\s*["']?"""
    r"""(?P<value>[^\s"',;#=:<>][^\s"',;#]{3,})"""
)
HARMLESS = re.compile(
    r"^(|none|null|true|false|[-+]?\d+(\.\d*)?([eE][-+]?\d+)?|\*+|x+)$", re.IGNORECASE
)
SHORTEST = 8  # shorter values are never scanned for credential shapes
# the package root: frames of any reporter module are skipped
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SecretWarning(UserWarning):
    """A param or tag that looks like a secret was logged (it is stored as given)."""


def _words(key: str) -> list[str]:
    """Split a key into lower-case words: camelCase, snake_case, kebab, dotted."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


@functools.lru_cache(maxsize=65536)
def key_looks_secret(key: str) -> bool:
    """Return True if a param or tag key names a secret (`password`, `api_key`, ...)."""
    words = _words(key)
    if any(w in SECRET_WORDS for w in words):
        return True
    return any(
        (a, b) in SECRET_PAIRS or a + b in SECRET_WORDS for a, b in itertools.pairwise(words)
    )


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], ...]:
    """The credential regexes of detect-secrets' shape plugins, and ours."""
    from reporter.core import secret_shapes

    if plugin_sources_digest() == secret_shapes.PLUGIN_SOURCES_SHA256:
        shapes = secret_shapes.SHAPES  # the installed plugins are the ones copied
    else:
        shapes = detect_secrets_shapes()
    return (*(re.compile(pattern, flags) for pattern, flags in shapes), BEARER, PREFIXED)


def detect_secrets_shapes() -> tuple[tuple[str, int], ...]:
    """Return (pattern, flags) of the regexes of detect-secrets' shape plugins, in PLUGINS
    order, from the installed package (an import of a twentieth of a second and more)."""
    from reporter.core.guest import host_kept

    with host_kept():  # detect-secrets turns on logging.captureWarnings at import
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        plugins: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    by_name = {plugin.__name__: plugin for plugin in plugins}
    found: list[re.Pattern[str]] = []
    for name in PLUGINS:
        found += getattr(by_name[name](), "denylist", ())
    return tuple((rx.pattern, rx.flags) for rx in found)


def plugin_sources_digest() -> str | None:
    """Return the SHA-256 of the installed detect-secrets' plugin sources (`plugins/*.py`, by
    name), found without importing it; None when it is not installed as files."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("detect_secrets")
    except (ImportError, ValueError):
        return None
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    digest = hashlib.sha256()
    try:
        folder = os.path.join(folders[0], "plugins")
        for name in sorted(n for n in os.listdir(folder) if n.endswith(".py")):
            with open(os.path.join(folder, name), "rb") as source:
                digest.update(name.encode() + b"\0" + source.read() + b"\0")
    except (IndexError, OSError):
        return None
    return digest.hexdigest()


_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


@functools.lru_cache(maxsize=65536)
def _credentials_in_line(line: str) -> tuple[str, ...]:
    # the whole match, not a plugin's capture group: a GitHub token's group is just "ghp";
    # non-ASCII characters read as spaces (one for one, so matches are the line's own text):
    # a \w that is a letter like é would otherwise hide the token before it
    folded = _NOT_ASCII.sub(" ", line)
    return tuple(m.group(0) for rx in _patterns() for m in rx.finditer(folded) if m.group(0))


WINDOW = 10_000  # a long line is scanned in overlapping windows: bounded regex work per call
OVERLAP = 1_000  # longer than any credential shape the scanners look for


def _windows(line: str) -> Iterator[str]:
    """Yield a line whole, or in overlapping windows when it is long (every part is scanned)."""
    if len(line) <= WINDOW:
        yield line
        return
    for start in range(0, len(line), WINDOW - OVERLAP):
        yield line[start : start + WINDOW]


def credentials_in(text: str) -> list[str]:
    """Return the credential-shaped substrings of a text (AWS keys, tokens, key blocks, ...)."""
    if len(text) < SHORTEST:
        return []
    found = [m.group(0) for m in PRIVATE_KEY_BLOCK.finditer(text)]
    for line in text.splitlines():
        if len(line.strip()) >= SHORTEST:
            for window in _windows(line):
                found += _credentials_in_line(window)
    return found


_MARKDOWN_ESCAPE = re.compile(r"\\(?=[!-/:-@\[-`{-~])")


def as_shown(text: str) -> str:
    """Return text as a reader sees it once markdown and HTML have rendered it: character
    references decoded (`&#95;` is `_`) and markdown backslash escapes removed (`ghp\\_` is
    `ghp_`), so a credential written that way is still found."""
    import html

    previous = None
    while previous != text:  # &amp;#95; decodes twice
        previous, text = text, html.unescape(_MARKDOWN_ESCAPE.sub("", text))
    return text


def value_looks_harmless(value: str) -> bool:
    """Return True for values no one would mask: empty, a number, true/false, none."""
    return bool(HARMLESS.match(value.strip()))


_warned: set[tuple[str, str]] = set()


def check_logged(kind: str, key: str, value: str) -> None:
    """Warn once per key and process when a logged param or tag looks like a secret."""
    if (kind, key) in _warned:
        return
    if key_looks_secret(key) and not value_looks_harmless(value):
        why = "its name looks like a secret's"
    elif credentials_in(value):
        why = "its value looks like a credential"
    else:
        return
    _warned.add((kind, key))
    frame: FrameType | None = sys._getframe(0)  # point the warning at the caller's line
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(
        f"{kind} {key!r}: {why}. It is stored as given; `tracker-report build` masks it in the "
        f"site. Prefer an environment variable or a secret store for credentials.",
        SecretWarning,
        stacklevel=level,
    )


@dataclass
class SecretRules:
    """How the build masks: extra key patterns (regexes), an allow-list of keys (globs) that
    are never masked, and whether masking is on at all."""

    extra_keys: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    enabled: bool = True
    masked: dict[str, set[str]] = field(default_factory=dict)  # what was masked: kind -> keys
    masked_names: dict[str, int] = field(default_factory=dict)  # names masked, by kind
    _extra: list[re.Pattern[str]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        from reporter.core.errors import InvalidArgumentError

        for pattern in self.extra_keys:
            try:
                self._extra.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise InvalidArgumentError(
                    f"secret_keys pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from None

    def allowed(self, key: str) -> bool:
        """Return True if a key is on the allow-list."""
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in self.allow)

    def key_is_secret(self, key: str) -> bool:
        """Return True if values of this key are masked whatever they look like."""
        if not self.enabled or self.allowed(key):
            return False
        return key_looks_secret(key) or any(p.search(key) for p in self._extra)

    def mask(self, kind: str, key: str, value: str) -> str:
        """Return a param/tag value as the site may show it (and note what was masked)."""
        if not self.enabled or self.allowed(key) or not value:
            return value
        if self.key_is_secret(key) and not value_looks_harmless(value):
            self.masked.setdefault(kind, set()).add(key)
            return MASK
        return self.mask_text(kind, key, value)

    def mask_text(self, kind: str, key: str, text: str) -> str:
        """Return free text with every credential-shaped part replaced by the mask."""
        if not self.enabled or self.allowed(key) or len(text) < SHORTEST:
            return text
        found = credentials_in(text)
        if not found:
            if credentials_in(as_shown(text)):  # hidden by escapes: what renders is a secret
                self.masked.setdefault(kind, set()).add(key)
                return MASK
            return text
        self.masked.setdefault(kind, set()).add(key)
        for secret in sorted(set(found), key=len, reverse=True):
            text = text.replace(secret, MASK)
        if credentials_in(as_shown(text)):  # one more, written with escapes
            return MASK
        return text

    def mask_name(self, kind: str, name: str) -> str:
        """Return a name (experiment name, param/tag/metric key, path) as the site may show it:
        credential-shaped parts masked, plus a short digest of the original so two masked
        names stay apart. The digest (24 bits) tells nothing usable about a credential."""
        if not self.enabled or len(name) < SHORTEST:
            return name
        found = credentials_in(name)
        if not found and not credentials_in(as_shown(name)):
            return name
        masked = name
        for secret in sorted(set(found), key=len, reverse=True):
            masked = masked.replace(secret, MASK)
        if credentials_in(as_shown(masked)):  # written with escapes: mask it whole
            masked = MASK
        self.masked_names[kind] = self.masked_names.get(kind, 0) + 1
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:6]
        return f"{masked} ({digest})"

    def file_is_secret(self, path: str) -> bool:
        """Return True for artifacts whose name says they hold secrets (.env, *.pem, id_rsa)."""
        if not self.enabled:
            return False
        name = path.rsplit("/", 1)[-1].lower()
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_FILES)

    def secrets_in_file(self, content: str) -> list[str]:
        """Return what makes a text file unsafe to publish: credential shapes and secret-named
        assignments (`password = ...`), as `line N: <why>` without the secret itself."""
        if not self.enabled:
            return []
        reasons = []
        shown = as_shown(content)
        lines = content.splitlines()
        count = max(len(lines), 1)  # once: per line, it made a long file's scan quadratic
        if shown != content:  # also the file as a browser or markdown would show it
            lines += shown.splitlines()
        for number, line in enumerate(lines, 1):
            number = (number - 1) % count + 1
            if credentials_in(line):
                reasons.append(f"line {number}: a credential")
                continue
            for match in ASSIGNMENT.finditer(line):
                key, value = match.group("key"), match.group("value")
                if self.key_is_secret(key) and not value_looks_harmless(value):
                    reasons.append(f"line {number}: {key}")
                    break
        if PRIVATE_KEY_BLOCK.search(content) and not reasons:
            reasons.append("a private key block")
        return reasons

    def report(self) -> Iterator[str]:
        """Yield one warning line per kind: which keys were masked (names only)."""
        for kind in sorted(self.masked):
            keys = ", ".join(sorted(self.masked[kind]))
            yield f"Masked {kind} values that look like secrets: {keys}"
        for kind, count in sorted(self.masked_names.items()):
            yield f"Masked a credential in {count} {kind}{'s' if count > 1 else ''}"
