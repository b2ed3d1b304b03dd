"""The pytest plugin: example districts collected as test items, failures shown as readable diffs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.verify.pytest_plugin import project_of

from .conftest import FIXTURES, ROOT

pytest_plugins = ("pytester",)
PLUGIN = ("-p", "engine.verify.pytest_plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning", "-o", "addopts=", "-p", "no:xdist")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project laid out like ours (rules/, templates/, examples/) with two examples and goldens."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # load our plugin once, by -p, installed or not
    root = pytester.path
    shutil.copytree(FIXTURES / "rules", root / "rules")
    shutil.copytree(FIXTURES / "templates", root / "templates")
    for name in ("fox-hollow", "north-fork"):
        shutil.copytree(FIXTURES / "examples" / name, root / "examples" / name)
    assert main(["test", "--rules", str(root / "rules"), "--templates", str(root / "templates"), "--examples", str(root / "examples"), "--update"]) == 0
    return root


def test_examples_are_collected_and_pass(pytester: pytest.Pytester, project: Path) -> None:
    result = pytester.runpytest(*PLUGIN, "examples", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*examples/fox-hollow/expect.yaml::fox-hollow PASSED*"])


def test_failure_shows_the_same_readable_diff(pytester: pytest.Pytester, project: Path) -> None:
    expect = project / "examples" / "north-fork" / "expect.yaml"
    expect.write_text(expect.read_text(encoding="utf-8").replace("confidence: strong", "confidence: lean"), encoding="utf-8")
    golden = project / "examples" / "fox-hollow" / "advice.md"
    golden.write_text(golden.read_text(encoding="utf-8").replace("## At a glance", "## In brief"), encoding="utf-8")
    result = pytester.runpytest(*PLUGIN, "examples")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*advice.md: differs from the golden document*",
            "*-## In brief*",
            "*+## At a glance*",
            "*confidence:  expected lean, got strong*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_bad_expectation_fails_with_file_line_col(pytester: pytest.Pytester, project: Path) -> None:
    expect = project / "examples" / "north-fork" / "expect.yaml"
    expect.write_text(expect.read_text(encoding="utf-8").replace("option: user_import", "option: import"), encoding="utf-8")
    result = pytester.runpytest(*PLUGIN, "examples")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*expect.yaml:*:*: unknown option 'import'*"])


def test_only_our_examples_are_collected(tmp_path: Path) -> None:
    example = tmp_path / "examples" / "x"
    example.mkdir(parents=True)
    (example / "expect.yaml").write_text("option: a\n", encoding="utf-8")
    assert project_of(example / "expect.yaml") is None  # no answers file
    (example / "answers.yaml").write_text("district: {name: X}\n", encoding="utf-8")
    assert project_of(example / "expect.yaml") is None  # no rules folder: another project's file
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "manifest.yaml").write_text("format: 1\n", encoding="utf-8")
    assert project_of(example / "expect.yaml") == tmp_path
    assert project_of(example / "other.yaml") is None
    elsewhere = tmp_path / "cases" / "x"
    shutil.copytree(example, elsewhere)
    assert project_of(elsewhere / "expect.yaml") is None  # not in an examples folder


def test_shipped_examples_are_collected(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest(*PLUGIN, "--collect-only", "-q", str(FIXTURES / "examples"))
    collected = [line for line in result.stdout.lines if "expect.yaml::" in line]
    assert len(collected) == len(list((FIXTURES / "examples").glob("*/expect.yaml"))) >= 15


def test_pytest_prints_the_coverage_that_rostering_advisor_test_prints(
    pytester: pytest.Pytester, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One code path: the same figures, from the same rules and examples, also under -k."""
    folders = ["--rules", str(project / "rules"), "--templates", str(project / "templates"), "--examples", str(project / "examples")]
    for selection in ((), ("-k", "fox")):
        capsys.readouterr()
        assert main(["test", *folders, *selection]) == 0
        printed = capsys.readouterr().out.splitlines()
        lines = pytester.runpytest(*PLUGIN, "examples", *selection).stdout.lines
        start = next(i for i, line in enumerate(lines) if "rostering-advisor examples: " in line)
        ours = next(i for i, line in enumerate(lines) if i > start and line.startswith("coverage: "))
        theirs = next(i for i, line in enumerate(printed) if line.startswith("coverage: "))
        assert lines[ours].split(", over")[0] == printed[theirs].split(", over")[0]
        assert lines[ours + 1 : ours + 6] == printed[theirs + 1 : theirs + 6]  # rules fired, by kind
        assert lines[ours].endswith(", over the 1 example pytest ran only") == bool(selection)
        assert printed[theirs].endswith(", over the 1 example matching -k 'fox' only") == bool(selection)
