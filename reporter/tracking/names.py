"""Friendly random names for runs and logged models, like 'swift-otter-417'."""

from __future__ import annotations

import random

_ADJECTIVES = [
    "bright",
    "brave",
    "calm",
    "clever",
    "eager",
    "gentle",
    "honest",
    "jolly",
    "keen",
    "lively",
    "merry",
    "noble",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "sharp",
    "shiny",
    "smart",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "wise",
]
_NOUNS = [
    "ant",
    "bass",
    "bear",
    "crow",
    "deer",
    "dove",
    "eagle",
    "finch",
    "fox",
    "hare",
    "hawk",
    "heron",
    "lark",
    "lynx",
    "mole",
    "moth",
    "newt",
    "otter",
    "owl",
    "panda",
    "robin",
    "seal",
    "shrew",
    "snail",
    "swan",
    "toad",
    "trout",
    "wolf",
    "wren",
]


def generate_run_name() -> str:
    """Return a friendly random run name like 'swift-otter-417'."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"
