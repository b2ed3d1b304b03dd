"""The ship checklist runs by itself: `validate --base REF` refuses a rule change without a version
bump, and `--format github` turns problems into annotations on the pull request."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.cli import main

from .conftest import FIXTURES, RULES


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.email=pm@example.org", "-c", "user.name=PM", *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A rules repository with one commit of the tests' rules."""
    shutil.copytree(RULES, tmp_path / "rules")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def test_validate_base_refuses_a_change_without_a_version_bump(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    factors = repo / "rules" / "factors.yaml"
    factors.write_text(factors.read_text(encoding="utf-8").replace("weight: 1\n", "weight: 2\n", 1), encoding="utf-8")
    capsys.readouterr()
    assert main(["validate", str(repo / "rules"), "--base", "HEAD", "--format", "github"]) == 1
    out, err = capsys.readouterr()
    manifest = repo / "rules" / "manifest.yaml"
    message = "the rules changed but the content version is still 1.0.1: bump `version`"
    assert out == f"::error file={manifest},line=4,col=10::{message}\n"
    assert err == f"{manifest}:4:10: {message}\n"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("version: 1.0.1", "version: 1.0.2"), encoding="utf-8")
    assert main(["validate", str(repo / "rules"), "--base", "HEAD"]) == 0


def test_validate_format_github_annotates_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(RULES, tmp_path / "rules")
    manifest = tmp_path / "rules" / "manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("version: 1.0.1", "version: one"), encoding="utf-8")
    assert main(["validate", str(tmp_path / "rules"), "--format", "github"]) == 2
    assert capsys.readouterr().out == (
        f"::error file={manifest},line=4,col=10::version 'one' does not have the expected form: Semantic version of the "
        "content (e.g. 1.2.0); bump it whenever the content changes.\n"
        f"::error file={manifest},line=6,col=14::version 'one' does not have the expected form: The content version this "
        "entry describes. (at changelog[0].version)\n"
    )


def test_test_format_github_annotates_a_failing_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(FIXTURES / "examples" / "north-fork", tmp_path / "examples" / "north-fork")
    expect = tmp_path / "examples" / "north-fork" / "expect.yaml"
    expect.write_text(expect.read_text(encoding="utf-8").replace("confidence: strong", "confidence: lean"), encoding="utf-8")
    assert main(["test", "--examples", str(tmp_path / "examples"), "--format", "github"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"::error file={expect}::example north-fork: confidence:  expected lean, got strong",
        f"::warning file={tmp_path / 'examples'}::{tmp_path / 'examples' / 'answers.schema.json'} is out of date; "
        "`rostering-advisor test --update` rewrites it",
        f"::warning file={tmp_path / 'examples'}::{tmp_path / 'examples' / 'example.schema.json'} is out of date; "
        "`rostering-advisor test --update` rewrites it",
        "0 passed, 1 failed",
    ]


def test_blank_answers_file_reads_as_is_and_with_every_question_uncommented(
    advisor, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "answers.yaml"
    assert main(["blank", "-o", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert advisor.read(path).answers == {}
    for question in advisor.rules.questions:
        assert f"  # {question.text}\n  # {question.id}: unknown\n" in text
    # A coordinator uncomments one question and answers it: the file still reads.
    first = advisor.rules.questions[0].id
    path.write_text(text.replace(f"  # {first}: unknown\n", f"  {first}: yes\n"), encoding="utf-8")
    assert advisor.read(path).answers == {first: "yes"}
    uncommented = re.sub(r"(?m)^  # ([a-z_0-9]+: unknown)$", r"  \1", text)
    path.write_text(uncommented, encoding="utf-8")
    assert advisor.read(path).answers == {q.id: "unknown" for q in advisor.rules.questions}
    # Once edited, the file is the coordinator's (its seal no longer matches): kept unless --force.
    assert main(["blank", "-o", str(path)]) == 2
    assert path.read_text(encoding="utf-8") == uncommented
    assert main(["blank", "-o", str(path), "--force"]) == 0
    assert path.read_text(encoding="utf-8") == text


def test_impact_format_github_annotates_the_version_and_each_changed_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(RULES, tmp_path / "rules")
    shutil.copytree(FIXTURES / "examples" / "harbor-view", tmp_path / "examples" / "harbor-view")
    factors = tmp_path / "rules" / "factors.yaml"
    old = "    no:\n      favours: user_import\n      weight: 2\n      rationale: Classroom teachers"
    factors.write_text(factors.read_text(encoding="utf-8").replace(old, old.replace("weight: 2", "weight: 3")), encoding="utf-8")
    args = ["impact", "--rules", str(tmp_path / "rules"), "--base-dir", str(RULES), "--examples", str(tmp_path / "examples")]
    assert main([*args, "--format", "github"]) == 1
    manifest = tmp_path / "rules" / "manifest.yaml"
    assert capsys.readouterr().out.splitlines() == [
        f"::error file={manifest},line=4,col=10::the rules changed but the content version is still 1.0.1: bump `version` in "
        f"{manifest}:4:10",
        f"::notice file={tmp_path / 'examples' / 'harbor-view' / 'answers.yaml'}::example harbor-view: the advice changes: "
        "scores SIS Sync 14 → 14, User Import Tool 9 → 10; the order of the reasons",
        "The advice changes for 1 of 1 example districts and 71 of the 8,192 ways to answer every question yes or no.",
    ]


def test_the_pre_commit_hooks_run_commands_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    """Each hook in .pre-commit-hooks.yaml names a rostering-advisor command, which runs and passes
    on the tests' own project (the folder the suite runs from)."""
    import yaml

    from .conftest import ROOT

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"rostering-advisor-validate", "rostering-advisor-test"}
    for hook in hooks:
        program, *args = hook["entry"].split()
        assert program == "rostering-advisor" and hook["pass_filenames"] is False
        assert main(args) == 0, capsys.readouterr()
