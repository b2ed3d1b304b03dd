"""The YAML mistakes product managers really make, each reported at the line that is wrong with a
message that says how to fix it (exact texts: they are what a person reads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Advisor, InputError
from engine.cli import main
from engine.rules.rulebook import load_rules
from engine.rules.source import load_yaml

QUOTE = 'the ": " in this text makes YAML read a key and a value; put this text in quotes'
BESIDE = "line it up with the key it belongs beside"


def refused(text: str) -> str:
    with pytest.raises(InputError) as caught:
        load_yaml(text, "f.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "factors:\n  - question: a\n    yes:\n      rationale: Note: this is bad.\n",
            f"f.yaml:4:22: invalid YAML: {QUOTE}",
            id="unquoted colon in a value",
        ),
        pytest.param(
            "a:\n  b: \"Sync\" is better\n",
            "f.yaml:2:13: invalid YAML: text that starts with a quote mark must end with it; put this text in quotes",
            id="text that starts with a quote",
        ),
        pytest.param(
            "a:\n  - question: a\n    yes:\n      favours: x\n     weight: 2\n",
            "f.yaml:5:6: invalid YAML: wrong indentation: this line is indented 5 spaces, between the levels above it "
            f"(4 and 6 spaces); {BESIDE}",
            id="a key indented too little",
        ),
        pytest.param(
            "changes:\n  - a\n - b\n",
            "f.yaml:3:2: invalid YAML: wrong indentation: this line is indented 1 space, between the levels above it "
            f"(0 and 2 spaces); {BESIDE}",
            id="a list item indented too little",
        ),
        pytest.param(
            "a:\n  favours: x\n    weight: 2\n  rationale: y\n",
            "f.yaml:3:5: invalid YAML: wrong indentation: this line is indented further than the line above it, so YAML "
            f"reads it as more of that line's text; {BESIDE}",
            id="a key indented too far",
        ),
        pytest.param(
            "x:\n  text: Some text\nthat continues\n  help: x\n",
            'f.yaml:3:1: invalid YAML: wrong indentation: this line has no "key:"; if it continues the text above, '
            "indent it as far as that text, else write it as key: value",
            id="text continued without indentation: the line itself, not the next",
        ),
        pytest.param(
            "a:\n  - x\n  b: 1\n",
            f"f.yaml:3:3: invalid YAML: wrong indentation: this line, indented 2 spaces, does not fit with the lines above it; {BESIDE}",
            id="a key at the level of a list",
        ),
    ],
)
def test_yaml_mistakes_say_how_to_fix_them(text: str, message: str) -> None:
    assert refused(text) == message


def test_a_changelog_line_with_a_colon_is_text_to_quote(edited_rules) -> None:
    """Unquoted, `- Weights: now 0 to 10` is valid YAML (a mapping), so the schema sees it."""
    folder = edited_rules(("manifest.yaml", "    changes:\n", "    changes:\n      - Weights: now from 0 to 10\n"))
    text = (folder / "manifest.yaml").read_text(encoding="utf-8")
    line = text[: text.index("- Weights")].count("\n") + 1
    with pytest.raises(InputError) as caught:
        load_rules(folder)
    assert str(caught.value) == f"{folder / 'manifest.yaml'}:{line}:9: {QUOTE} (at changelog[0].changes[0])"


def test_a_duplicate_id_names_where_the_first_is(edited_rules) -> None:
    folder = edited_rules(("next_steps.yaml", "id: sync_name_sis_owner", "id: sync_contact_clever"))
    text = (folder / "next_steps.yaml").read_text(encoding="utf-8")
    first = text[: text.index("id: sync_contact_clever")].count("\n") + 1
    second = text[: text.rindex("id: sync_contact_clever")].count("\n") + 1
    with pytest.raises(InputError) as caught:
        load_rules(folder)
    assert str(caught.value) == (
        f"{folder / 'next_steps.yaml'}:{second}:9: duplicate rule 'sync_contact_clever': the first is at line {first}; "
        "give each its own id"
    )


def test_every_problem_of_an_answers_file_at_once(advisor: Advisor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Schema problems (an unknown field, a wrong type, an unknown question) and answers that are
    not yes/no/unknown are reported together, in file order, so one edit fixes them all."""
    path = tmp_path / "answers.yaml"
    path.write_text(
        "district:\n  name: X\n  code: 1\nprofile:\n  students: many\nanswers:\n  mobile_populaton: yes\n"
        "  sis_changing: maybe\n  sftp_daily: 3\n",
        encoding="utf-8",
    )
    assert main(["recommend", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:3:3: unknown field 'code'; allowed here: id, name (at district)",
        f"{path}:5:13: students must be a number, got 'many' (at profile.students)",
        f"{path}:7:3: unknown question 'mobile_populaton' (did you mean 'mobile_population'?) (at answers)",
        f"{path}:8:17: the answer to 'sis_changing' must be yes, no or unknown, got 'maybe' (at answers.sis_changing)",
        f"{path}:9:15: the answer to 'sftp_daily' must be yes, no or unknown, got 3 (at answers.sftp_daily)",
    ]
