"""The command line as a user meets it: exit codes, one-line errors, no tracebacks, no lost files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main

from .conftest import FIXTURES, ROOT

EXAMPLE = FIXTURES / "examples" / "lakeview-unified" / "answers.yaml"


def test_recommend_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(EXAMPLE), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["recommendation"]["option"] == "sis_sync"
    assert data["generator"].startswith("rostering-advisor")


def test_recommend_prints_the_markdown_advice_unless_asked_or_told_by_the_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recommend", str(EXAMPLE), "--date", "2026-01-15"]) == 0
    assert capsys.readouterr().out == (EXAMPLE.parent / "advice.md").read_text(encoding="utf-8")
    assert main(["recommend", str(EXAMPLE), "-o", str(tmp_path / "a.html")]) == 0
    assert (tmp_path / "a.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_version_schema_by_bare_name_and_the_computed_maximum_scores(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("rostering-advisor ")
    assert main(["schema", "factors"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"] == "factors.schema.json"
    assert main(["validate"]) == 0  # the tests' rules: SIS Sync 30, User Import Tool 27 by their weights
    assert "the most each option can collect: SIS Sync 30, User Import Tool 27 (digest" in capsys.readouterr().out


def test_bad_answers_file_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("district: {name: A}\nanswers:\n  sftp_daily: perhaps\n", encoding="utf-8")
    assert main(["recommend", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{path}:3:15: the answer to 'sftp_daily'")


def test_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope.yaml'}: no such file\n"


def test_missing_rules_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "no such rules folder" in capsys.readouterr().err


def test_output_file_is_not_overwritten_unless_ours_or_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "notes.json"
    mine.write_text("my own notes\n", encoding="utf-8")
    assert main(["recommend", str(EXAMPLE), "-o", str(mine)]) == 2
    assert "was not written by rostering-advisor; use --force" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == "my own notes\n"
    assert main(["recommend", str(EXAMPLE), "-o", str(mine), "--force"]) == 0
    assert json.loads(mine.read_text(encoding="utf-8"))["recommendation"]["option"] == "sis_sync"
    assert main(["recommend", str(EXAMPLE), "-o", str(mine)]) == 0  # ours now: replaced without --force
    assert [p.name for p in tmp_path.iterdir()] == ["notes.json"]  # no temporary files left


def test_python_dash_m_engine_runs_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("district: [\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "engine", "recommend", str(bad)], capture_output=True, text=True, cwd=FIXTURES, check=False
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{bad}:")
