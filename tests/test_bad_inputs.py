"""A corpus of bad answers files: each ends in exit 2 with its message at its file:line:col.

Table-driven: (file in tests/bad_inputs, exit code, expected stderr). Files too large to keep in
the repository (deep nesting, an oversized file) are generated into tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.rules.source import MAX_DEPTH, MAX_FILE_BYTES

from .conftest import FIXTURES, ROOT

CORPUS = Path(__file__).parent / "bad_inputs"

CASES = [
    ("unsafe-tag.yaml", "2:10: YAML tags such as !!python/object/apply:os.system are not allowed"),
    ("billion-laughs.yaml", "2:4: anchors and aliases (& and *) are not allowed; write the value out"),
    ("duplicate-key.yaml", "4:3: duplicate key 'sftp_daily' (first defined at line 3)"),
    ("empty.yaml", "1:1: the file is empty; expected a mapping of fields"),
    ("scalar.yaml", "1:1: the file must hold a mapping of fields, got 'just a sentence'"),
    ("list.yaml", "1:1: the file must hold a mapping of fields, got a list"),
    ("invalid-utf8.yaml", "1:21: the file is not valid UTF-8 text; save it as UTF-8"),
    ("tabs.yaml", "2:1: invalid YAML: a tab character; indent with spaces"),
    ("bad-answer.yaml", "3:15: the answer to 'sftp_daily' must be yes, no or unknown, got 'maybe' (at answers.sftp_daily)"),
    ("unknown-question.yaml", "3:3: unknown question 'sftp_dialy' (did you mean 'sftp_daily'?) (at answers)"),
    ("no-name.yaml", "1:11: district is missing the required field 'name'"),
    ("nan-students.yaml", "3:13: students must be a number, got '.nan' (at profile.students)"),
    ("nan.json", "1:53: invalid JSON: NaN is not a number JSON allows"),
    ("infinity.json", "1:53: invalid JSON: Infinity is not a number JSON allows"),
    ("duplicate-key.json", "2:2: invalid JSON: duplicate key 'district'"),
    ("trailing-comma.json", "1:61: invalid JSON: Expecting property name enclosed in double quotes"),
    ("huge-number.json", "1:53: invalid JSON: the number 100000000000... is too large"),
    ("bad-answer.json", "1:55: the answer to 'sftp_daily' must be yes, no or unknown, got 'sometimes' (at answers.sftp_daily)"),
    ("lone-surrogate.json", "1:29: a \\u escape for half of a character pair (a lone surrogate) is not text"),
    ("lone-low-surrogate.json", "1:62: a \\u escape for half of a character pair (a lone surrogate) is not text"),
]


@pytest.mark.parametrize(("name", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_answers_file(name: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / name
    assert main(["recommend", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{path}:{expected}\n"


def test_unsafe_tag_never_runs(capsys: pytest.CaptureFixture[str]) -> None:
    marker = Path("/tmp/rostering-pwned")
    marker.unlink(missing_ok=True)
    main(["recommend", str(CORPUS / "unsafe-tag.yaml")])
    assert not marker.exists()


@pytest.mark.parametrize("name", ["bom-crlf.yaml", "yaml11-surprises.yaml"])
def test_odd_but_valid_files_are_read_as_meant(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(CORPUS / name)]) == 0


def test_yaml_1_1_surprises_stay_text(advisor) -> None:
    district = advisor.read(CORPUS / "yaml11-surprises.yaml")
    assert (district.name, district.id) == ("no", "0777")
    assert district.profile == {"sis": "1:20", "founded": "2001-09-01"}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("district: " + "[" * 25_000, f"1:{11 + MAX_DEPTH}"),
        ("district: " + "{a: " * 5_000, f"1:{11 + MAX_DEPTH * 4}"),
        ("district:\n" + "".join(" " * (2 * i) + f"k{i}:\n" for i in range(1, 600)), None),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings"],
)
def test_deep_nesting_is_refused_before_the_parser_sees_it(tmp_path: Path, text: str, where: str | None) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    # in a subprocess, so that a crash of libyaml's C parser would be seen as a crash, not hang pytest
    done = subprocess.run(
        [sys.executable, "-m", "engine", "recommend", str(path)], capture_output=True, text=True, cwd=FIXTURES, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "nested deeper than" in done.stderr
    if where:
        assert done.stderr.startswith(f"{path}:{where}:")


def test_oversized_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.write(b"district: {name: A}\nnotes: ")
        handle.write(b"x" * MAX_FILE_BYTES)
    assert main(["recommend", str(path)]) == 2
    size = os.path.getsize(path)
    assert capsys.readouterr().err == (
        f"{path}: the file is {size:,} bytes; files larger than {MAX_FILE_BYTES:,} bytes are refused\n"
    )


def test_a_directory_instead_of_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"{tmp_path}: is a directory, not a file\n"


# --- rules that durable_rules would refuse, crash on, or silently misread ------------------------


def rules_problems(folder: Path) -> list[str]:
    from engine import InputError
    from engine.rules.rulebook import load_rules

    with pytest.raises(InputError) as caught:
        load_rules(folder)
    return [str(d) for d in caught.value.diagnostics]


def test_more_fact_properties_than_the_engine_allows(edited_rules) -> None:
    halves = [", ".join(f"{{profile: field_{i}, equals: x}}" for i in range(start, start + 125)) for start in (0, 125)]
    tests = ", ".join(f"{{any: [{half}]}}" for half in halves)  # an any takes at most 200 (checks.MAX_ANY)
    folder = edited_rules(("derived.yaml", "    when: {profile: students, at_least: 5000}", f"    when: {{any: [{tests}]}}"))
    assert rules_problems(folder) == [
        f"{folder / 'questions.yaml'}:15:3: the rules need 302 properties per engine fact; the engine allows at "
        "most 250 (fewer questions, profile fields or overrides)"
    ]


def test_more_rules_than_the_engine_handles(edited_rules) -> None:
    steps = "".join(
        f"  - id: extra_step_{i}\n    option: sis_sync\n    priority: {100 + i}\n    text: Step {i}.\n" for i in range(360)
    )
    folder = edited_rules(("next_steps.yaml", "next_steps:\n", "next_steps:\n" + steps))
    (message,) = rules_problems(folder)
    assert message == (
        f"{folder / 'manifest.yaml'}:2:1: the rules compile to 426 engine rules; durable_rules fails beyond about 480, "
        "so at most 400 are allowed (merge or remove next steps, derived answers or overrides)"
    )


def test_values_the_engine_would_misread_are_refused(edited_rules) -> None:
    folder = edited_rules(
        ("factors.yaml", "      weight: 2\n", "      weight: .nan\n"),
        ("options.yaml", "    label: SIS Sync", "    label: true"),
    )
    assert rules_problems(folder) == [
        f"{folder / 'factors.yaml'}:10:15: weight must be a number from 0 to 10, got '.nan' (at factors[0].yes.weight)",
        f"{folder / 'options.yaml'}:4:12: label must be text, got true (at options[0].label)",
    ]
