"""Shared fixtures: the tests' own rule set, a loaded advisor, and editable copies of the rules.

Tests of the engine, the rule language and the renderers run on `tests/fixtures/` (rules,
templates and example districts frozen for the tests), never on the shipped `rules/`,
`templates/` and `examples/`: a product manager's edit of those must not turn a test of the
engine red. The shipped content is checked through its example districts (the pytest plugin)
and through properties that hold for any valid rule set (tests/test_shipped_content.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest
from hypothesis import settings

from engine import Advisor

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
RULES = FIXTURES / "rules"
# Long fuzzing and property runs are opt-in; by default hypothesis draws the same examples every
# run (derandomize), so a run is deterministic and as fast as the last one.
LONG = os.environ.get("ROSTERING_LONG_TESTS") == "1"
if LONG:  # one switch for every long run, including those test files gate on variables of their own
    for _name in ("ROSTERING_ADVICE_FULL", "RA_PLAN_EXHAUSTIVE"):
        os.environ.setdefault(_name, "1")
settings.register_profile("short", derandomize=True, deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None)
settings.load_profile("long" if LONG else "short")


@pytest.fixture(scope="session", autouse=True)
def _in_fixture_project() -> Iterator[None]:
    """Run every test from tests/fixtures/, so that commands which look for `./rules` and
    `./templates` find the tests' own, not the shipped ones."""
    before = os.getcwd()
    os.chdir(FIXTURES)
    try:
        yield
    finally:
        os.chdir(before)


# --- the disk cache (engine/cache.py): a fresh folder for the session, never the user's -------


@pytest.fixture(scope="session", autouse=True)
def _disk_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The disk cache in a temporary folder of this session, unless the environment turns it off
    (ROSTERING_ADVISOR_NO_CACHE=1 runs the whole suite without it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROSTERING_ADVISOR_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


# ------------------------------------------------------------------------------------------------


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
