"""Advice is never written over the answers file it comes from. An answers file that `ask` wrote
carries the seal, so the ownership check alone would let `recommend FILE -o FILE` (or `ask -o F
--advice F`) replace the district's answers with its advice: refused, exit 2, one line, file kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.cli import main

RULES = Path(__file__).parent / "plan_rules"


@pytest.fixture
def answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sealed answers file, as `ask` writes it."""
    path = tmp_path / "answers.yaml"
    monkeypatch.setattr("sys.stdin", io.StringIO("Test\n\nyes\n"))
    assert main(["ask", "--rules", str(RULES), "-o", str(path), "--advice", str(tmp_path / "advice.md")]) == 0
    return path


@pytest.mark.parametrize("how", ["same path", "symbolic link", "relative path"])
def test_recommend_refuses_to_write_over_its_answers_file(
    answers: Path, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = answers.read_bytes()
    out = answers
    if how == "symbolic link":
        out = tmp_path / "advice.md"
        out.unlink()
        out.symlink_to(answers)
    elif how == "relative path":
        monkeypatch.chdir(tmp_path)
        out = Path("sub/../answers.yaml")
        (tmp_path / "sub").mkdir()
    capsys.readouterr()
    assert main(["recommend", str(answers), "--rules", str(RULES), "-o", str(out), "--force"]) == 2
    assert capsys.readouterr().err == f"-o: {out} is the answers file; write the advice to another file\n"
    assert answers.read_bytes() == before


def test_ask_refuses_advice_over_the_answers_file_before_the_first_question(
    answers: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = answers.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO("Other\n\nno\n"))
    capsys.readouterr()
    assert main(["ask", "--rules", str(RULES), "-o", str(answers), "--advice", str(answers)]) == 2
    assert capsys.readouterr().err == f"--advice: {answers} is the answers file; write the advice to another file\n"
    assert answers.read_bytes() == before


def test_advice_beside_the_answers_file_is_still_written(answers: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = answers.with_name("advice.json")
    assert main(["recommend", str(answers), "--rules", str(RULES), "-o", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("{")


@pytest.mark.parametrize("command", [["recommend", "answers.yaml"], ["guide"], ["blank"]])
def test_dash_as_output_is_standard_output(
    answers: Path, command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o -` prints, as `-` reads standard input; it makes no file named '-'."""
    monkeypatch.chdir(answers.parent)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    capsys.readouterr()
    assert main([*command, "--rules", str(RULES)]) == 0
    printed = capsys.readouterr().out
    assert main([*command, "--rules", str(RULES), "-o", "-"]) == 0
    assert capsys.readouterr().out == printed != ""
    assert not (answers.parent / "-").exists()
