"""`rostering-advisor guide`: the rule set rendered as the decision guide, from the templates.

Every question, override, derived answer, confidence level and changelog entry of the rules
appears in the guide; a question and an override added to a temporary rule set show up in it
without touching a template; `-o` writes atomically and never over a file the tool did not write.
"""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path

import pytest

from engine.cli import main
from engine.render.documents import Renderer
from engine.render.guide import guide_context, render_guide
from engine.rules.rulebook import load_rules

from .conftest import FIXTURES, RULES, copy_rules

DAY = datetime.date(2026, 1, 15)
NEW_QUESTION = """
  - id: board_approved_sync
    text: Has the school board approved a sync with an outside company?
    help: Some boards must approve any vendor that receives student data.
    theme: district_support
"""
NEW_FACTOR = """
  - question: board_approved_sync
    yes:
      favours: sis_sync
      weight: 1.5
      rationale: An approved vendor agreement removes a common hold-up.
    no:
      favours: user_import
      weight: 1
      rationale: Without approval the district keeps its data in house.
"""
NEW_OVERRIDE = """
  - id: board_refuses_vendors
    priority: 45
    when:
      all:
        - {answer: board_approved_sync, is: no}
        - {profile: students, at_least: 20000}
    effect: {recommend: user_import}
    reason: The board has not approved sharing student data with an outside company.
    revisit_when: Once the board approves the vendor agreement.
"""


def _plain(text: str) -> str:
    """Markdown or HTML as plain words: tags and Markdown escapes dropped, entities decoded, spaces single."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.replace("\\", "").split())


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(FIXTURES / "templates")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_guide_names_everything_in_the_rules(renderer: Renderer, fmt: str) -> None:
    rules = load_rules(RULES)
    text = _plain(render_guide(renderer, rules, fmt, generated=DAY))
    context = guide_context(rules, DAY)
    for question in rules.questions:
        assert question.text.strip() in text
    for factor in rules.factors:
        assert " ".join(factor.rationale.split()) in text
    for override in context["overrides"]:
        assert _plain(override["reason"]) in text and _plain(override["condition_text"]) in text
        if override["revisit_when"]:
            assert _plain(override["revisit_when"]) in text
    for derived in context["derived"]:
        assert _plain(derived["condition_text"]) in text and _plain(derived["explanation"]) in text
    for catalogue in rules.catalogues.values():
        assert all(item in text for item in catalogue.items)
    for level in rules.policy.levels.values():
        assert level.label in text and " ".join(level.description.split()) in text
    for entry in rules.manifest.changelog:
        assert f"Version {entry.version}" in text and all(" ".join(c.split()) in text for c in entry.changes)
    assert rules.version in text and rules.digest[:12] in text


def test_a_question_and_an_override_added_to_the_rules_appear_in_the_guide(tmp_path: Path, renderer: Renderer) -> None:
    folder = copy_rules(
        tmp_path / "rules",
        ("questions.yaml", "\n  - id: dedicated_sis_staff", NEW_QUESTION + "\n  - id: dedicated_sis_staff"),
        ("factors.yaml", "\n  - question: dedicated_sis_staff", NEW_FACTOR + "\n  - question: dedicated_sis_staff"),
        ("overrides.yaml", "\n  - id: sync_preconditions_unconfirmed", NEW_OVERRIDE + "\n  - id: sync_preconditions_unconfirmed"),
    )
    rules = load_rules(folder)
    for fmt in ("md", "html"):
        text = _plain(render_guide(renderer, rules, fmt, generated=DAY))
        assert "Has the school board approved a sync with an outside company?" in text
        assert "An approved vendor agreement removes a common hold-up." in text
        assert "1.5 points" in text
        assert "The board has not approved sharing student data with an outside company." in text
        assert "Once the board approves the vendor agreement." in text
        assert "20,000" in text  # the override's profile condition, in words


def test_guide_command_writes_atomically_and_never_over_a_foreign_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "guide.html"
    assert main(["guide", "--format", "html", "--date", "2026-01-15", "-o", str(out)]) == 0
    first = out.read_text()
    assert first.startswith("<!DOCTYPE html>") and "rostering-advisor" in first[:4096]
    assert main(["guide", "--format", "html", "--date", "2026-01-15", "-o", str(out)]) == 0  # ours: replaced
    assert out.read_text() == first
    foreign = tmp_path / "mine.md"
    foreign.write_text("my own notes\n")
    assert main(["guide", "-o", str(foreign)]) == 2
    assert foreign.read_text() == "my own notes\n"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert main(["guide", "-o", str(foreign), "--force"]) == 0 and "rostering-advisor" in foreign.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name not in ("guide.html", "mine.md")]  # no temporary files left


def test_guide_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "templates"
    empty.mkdir()
    (empty / "advice.md.j2").write_text("{{ district.name }}\n")
    assert main(["guide", "--templates", str(empty)]) == 2
    assert "no template 'guide'" in capsys.readouterr().err
    assert main(["guide", "--date", "15/01/2026"]) == 2
    assert capsys.readouterr().err.startswith("--date:")
    assert main(["guide", "--rules", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.strip() and "Traceback" not in err


def test_the_guide_is_the_same_for_the_same_rules_and_date(renderer: Renderer) -> None:
    rules = load_rules(RULES)
    assert render_guide(renderer, rules, "md", generated=DAY) == render_guide(Renderer(FIXTURES / "templates"), rules, "md", generated=DAY)


def test_docs_describe_every_guide_variable() -> None:
    documented = set(re.findall(r"\*\*`([a-z_]+)`\*\*", (FIXTURES.parent.parent / "docs" / "templates.md").read_text(encoding="utf-8")))
    assert set(guide_context(load_rules(RULES), DAY)) <= documented
