"""Rules that pass the schemas but that durable_rules cannot build or run: `validate` refuses them
at the rule's `file:line:col` (it builds and starts the ruleset it approves), and so does every
other command, with exit 2 and one line, never a traceback.

The default run builds the rule sets small; HOSTILE_LONG=1 adds the 50,000-condition `any`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, RULES, position
from tests.hostile import assert_refused, run_table

QUESTIONS = (
    "mobile_population", "over_5000_students", "class_structure_matches", "sis_changing", "sis_supports_clever",
    "sftp_daily", "strong_desire_for_sync", "clever_customer", "dedicated_sis_staff", "dbm_supports_setup",
    "dbm_maintains_data", "teachers_resist_layout_change", "teachers_want_sync",
)


def _with_override(folder: Path, when: str) -> Path:
    """A copy of the tests' rules with one more override, `huge`, whose condition is `when`."""
    shutil.copytree(RULES, folder)
    path = folder / "overrides.yaml"
    text = path.read_text(encoding="utf-8")
    rule = f"  - id: huge\n    priority: 5\n    when: {when}\n    effect: {{recommend: user_import}}\n    reason: Big.\n    revisit_when: Never.\n\n"
    path.write_text(text.replace("overrides:\n", "overrides:\n" + rule, 1), encoding="utf-8")
    return folder


def _answer(i: int) -> str:
    return f"{{answer: {QUESTIONS[i % 13]}, is: {'yes' if i % 2 else 'no'}}}"


def _all_of_anys(count: int, width: int) -> str:
    return "{all: [" + ", ".join("{any: [" + ", ".join(_answer(i + j) for j in range(width)) + "]}" for i in range(count)) + "]}"


def _wide_any(width: int) -> str:
    return "{any: [" + ", ".join(_answer(i) for i in range(width)) + "]}"


def _rule_sets(tmp_path: Path, long: bool) -> list[tuple[Path, str]]:
    """(rules folder, where and what `validate` must say)."""
    built = []
    for name, when, needle, message in (
        ("all-of-14-anys", _all_of_anys(14, 2), "id: huge", "durable_rules cannot build this rule"),  # error 113
        ("any-of-1000", _wide_any(1000), "any:", "an 'any' of 1,000 conditions"),  # error 107 unchecked
        ("all-of-60-8-way-anys", _all_of_anys(60, 8), "when:", "a condition of 541 parts"),
        *((("any-of-50000", _wide_any(50_000), "any:", "an 'any' of 50,000 conditions"),) if long else ()),
    ):
        folder = _with_override(tmp_path / name, when)
        line, column = position(folder / "overrides.yaml", needle)
        built.append((folder, f"overrides.yaml:{line}:{column}: {message}"))
    return built


def test_rules_the_engine_cannot_build_are_refused_by_every_command(tmp_path: Path) -> None:
    sets = _rule_sets(tmp_path, long=os.environ.get("HOSTILE_LONG") == "1")
    answers = FIXTURES / "examples" / "brookhaven" / "answers.yaml"
    table = [(["validate", str(folder)], expected) for folder, expected in sets]
    first, expected = sets[0]
    table += [
        (["recommend", "--rules", str(first), str(answers)], expected),
        (["test", "--rules", str(first)], expected),
        (["batch", "--rules", str(first), str(answers.parent.parent / "lakeview-unified"), "--out", str(tmp_path / "out"), "--quiet"], expected),
    ]
    for (argv, expected), outcome in zip(table, run_table([argv for argv, _ in table], cwd=FIXTURES)):
        assert_refused(outcome, expected)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("count, width", [(12, 2), (8, 3)])
def test_large_conditions_the_engine_can_build_are_approved(tmp_path: Path, count: int, width: int, capsys) -> None:
    from engine.cli import main

    folder = _with_override(tmp_path / "rules", _all_of_anys(count, width))
    assert main(["validate", str(folder)]) == 0, capsys.readouterr().err
