"""Shared fixtures: the repository's rules, a loaded advisor, and editable copies of the rules."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from engine import Advisor

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    """The shipped rules, compiled once for the whole session."""
    return Advisor.load(RULES)


@pytest.fixture
def edited_rules(tmp_path: Path) -> Callable[..., Path]:
    """Copy rules/ into tmp_path, apply (file, old, new) text replacements, return the folder."""

    def edit(*changes: tuple[str, str, str]) -> Path:
        folder = tmp_path / "rules"
        if not folder.exists():
            shutil.copytree(RULES, folder)
        return apply_edits(folder, *changes)

    return edit


def copy_rules(folder: Path, *changes: tuple[str, str, str]) -> Path:
    """A copy of rules/ at `folder` with (file, old, new) text replacements applied."""
    shutil.copytree(RULES, folder)
    return apply_edits(folder, *changes)


def apply_edits(folder: Path, *changes: tuple[str, str, str]) -> Path:
    for name, old, new in changes:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def position(path: Path, needle: str, offset: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the first `needle` in a file, plus `offset` columns."""
    text = path.read_text(encoding="utf-8")
    index = text.index(needle)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1 + offset
    return line, column
