"""The parser made for one command line (`build_parser(argv)`, only the command it starts with)
prints and parses exactly as the parser with every command does."""

from __future__ import annotations

import contextlib
import io

import pytest

from engine.cli import COMMANDS, build_parser


def _outcome(argv: list[str], full: bool) -> tuple[object, str, str]:
    """What parsing `argv` gives: the arguments (or the exit code), and what was printed."""
    parser = build_parser() if full else build_parser(argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result: object = vars(parser.parse_args(argv))
        except SystemExit as exit:
            result = exit.code
    return result, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps help to the terminal's width


@pytest.mark.parametrize("name", COMMANDS)
def test_each_commands_help_is_the_same_from_its_own_parser(name: str) -> None:
    alone = _outcome([name, "--help"], full=False)
    assert alone == _outcome([name, "--help"], full=True)
    assert alone[0] == 0 and alone[1].startswith(f"usage: rostering-advisor {name} ")


def test_the_top_level_help_lists_every_command_with_its_help_line() -> None:
    code, text, _ = _outcome(["--help"], full=False)
    assert code == 0
    assert all(name in text and " ".join(help_text.split()[:3]) in " ".join(text.split()) for name, (_, help_text, _) in COMMANDS.items())


@pytest.mark.parametrize(
    "argv",
    [
        ["recommend", "a.yaml", "--format", "md", "--date", "2026-01-05", "--no-cache"],
        ["recommend", "a.yaml", "-o", "out.html", "--rules", "r", "--templates", "t"],
        ["impact", "--base-dir", "old", "--workers", "2"],
        ["validate"],
        ["test", "-k", "lake*", "--min-coverage", "90"],
        ["recommend"],  # FILE missing
        ["recommend", "a.yaml", "--format", "pdf"],
        ["recommend", "a.yaml", "--bogus"],
        ["recommend", "a.yaml", "--version"],  # a top-level option after the command
        ["impact"],  # the required --base / --base-dir
        ["recommend", "plan"],  # a FILE named like another command
        ["--help", "recommend"],  # the top level's help, which lists every command
        ["bogus", "recommend"],
        ["bogus"],
        ["--version"],
        [],
    ],
)
def test_a_command_line_parses_and_fails_alike(argv: list[str]) -> None:
    assert _outcome(argv, full=False) == _outcome(argv, full=True)
