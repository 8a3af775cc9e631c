"""The one "inside this folder?" check every layer's stay-inside promise rests on."""

from __future__ import annotations

import os
from pathlib import Path

from reporter.core.paths import within


def test_inside_and_the_folder_itself(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert within(tmp_path / "a" / "b", tmp_path / "a")
    assert within(tmp_path / "a" / "not-yet" / "file", tmp_path / "a")
    assert within(tmp_path / "a", tmp_path / "a")


def test_a_sibling_sharing_the_prefix_is_outside(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "ab").mkdir()
    assert not within(tmp_path / "ab" / "f", tmp_path / "a")


def test_dot_dot_and_absolute_names_leading_out_are_outside(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert not within(os.path.join(tmp_path, "a", "..", "x"), tmp_path / "a")
    assert not within(os.path.join(tmp_path, "a", "/etc/passwd"), tmp_path / "a")


def test_links_are_followed_both_ways(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "a" / "escape").symlink_to(tmp_path / "out")
    assert not within(tmp_path / "a" / "escape" / "f", tmp_path / "a")
    (tmp_path / "alias").symlink_to(tmp_path / "a")
    assert within(tmp_path / "a" / "f", tmp_path / "alias")
