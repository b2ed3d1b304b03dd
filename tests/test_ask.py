"""The questionnaire's logic (`engine.ask.interview`) driven by lines, in this process, on the small
rule set of tests/plan_rules: `sync` exactly when `gate` is no and `strong` yes; 5,000+ students
answer `mild`. The real terminal and pipe are in test_ask_pty.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from engine import Advisor
from engine.ask.interview import Interview, interview
from engine.ask.prompts import LinePrompter
from engine.cli import main

RULES = Path(__file__).parent / "plan_rules"


@pytest.fixture(scope="module")
def advisor() -> Advisor:
    return Advisor.load(RULES)


def run(advisor: Advisor, lines: str, *, ask_all: bool = False) -> tuple[Interview, list[dict], str]:
    """The interview, what was saved each time, and the transcript."""
    out = io.StringIO()
    saved: list[dict] = []
    done = interview(advisor, LinePrompter(io.StringIO(lines), out), lambda d: saved.append(yaml.safe_load(d.to_yaml())), ask_all=ask_all)
    return done, saved, out.getvalue()


def test_asks_in_the_plans_order_and_offers_to_stop_once_settled(advisor: Advisor) -> None:
    done, saved, transcript = run(advisor, "Test\n\nno\nyes\ny\n")
    assert (done.answers, done.ended) == ({"gate": "no", "strong": "yes"}, "stopped")
    assert "for now Upload; 2 questions could still change it." in transcript
    assert "Question 1: A replacement under way rules out syncing.\n  yes: Upload: A moving system cannot be synced.\n" in transcript
    assert (
        "Sync is settled; no answer to the 2 remaining questions can change it.\n"
        "The advice's confidence so far: Leaning.\nStop here? (2 questions left) [Y/n] y\n"
    ) in transcript
    assert saved[-1] == {"district": {"name": "Test"}, "answers": {"gate": "no", "strong": "yes"}}
    assert len(saved) == 3  # the name, then each answer


def test_going_on_asks_the_rest_and_all_never_offers(advisor: Advisor) -> None:
    done, _, _ = run(advisor, "Test\n\nyes\nno\nnot sure\nno\nyes\n")
    assert (list(done.answers), done.ended) == (["gate", "strong", "mild", "idle"], "finished")
    assert done.answers["strong"] == "unknown"
    done, _, transcript = run(advisor, "Test\n\nyes\nno\nyes\nno\n", ask_all=True)
    assert len(done.answers) == 4 and "Stop here?" not in transcript


def test_not_sure_is_not_asked_again(advisor: Advisor) -> None:
    done, _, transcript = run(advisor, "Test\n\n?\nyes\ny\n")
    assert done.answers == {"gate": "unknown", "strong": "yes"}
    assert 'for now Sync; only questions answered "unknown" could still change it.' in transcript
    assert done.ended == "stopped"  # offered: nothing left to ask could change it; "yes" stopped it


def test_the_profile_answers_questions_and_bad_values_are_asked_again(advisor: Advisor) -> None:
    done, saved, transcript = run(advisor, "  Big  \nlots\n9,000\nno\nyes\n")
    assert done.name == "Big" and done.profile == {"students": 9000}
    assert "Profile, students (a number; Enter to skip): lots\n  (give a number, or press Enter to skip)\n" in transcript
    assert "Answered by the profile: Is there a mild reason to sync? Many students." in transcript
    assert "mild" not in done.answers
    assert saved[1] == {"district": {"name": "Big"}, "profile": {"students": 9000}, "answers": {}}


def test_bad_answers_are_asked_again_and_the_input_may_end_anywhere(advisor: Advisor) -> None:
    done, _, transcript = run(advisor, "Test\n\nperhaps\nno\n")
    assert "[yes/no/not sure] perhaps\n  (answer yes, no or not sure)\n" in transcript
    assert (done.answers, done.ended) == ({"gate": "no"}, "input ended")
    done, saved, _ = run(advisor, "")
    assert (done.name, saved, done.ended) == ("", [], "input ended")


def test_ask_command_without_a_name_is_exit_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    out = tmp_path / "answers.yaml"
    assert main(["ask", "--rules", str(RULES), "-o", str(out)]) == 2
    assert capsys.readouterr().err.endswith(f"<stdin>: the input ended before a district name was given; {out} not written\n")
    assert not out.exists()


def test_ask_command_all_questions_and_the_advice_where_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Test\n\nyes\nno\nno\nno\n"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    monkeypatch.chdir(tmp_path)
    templates = Path(__file__).parent / "fixtures" / "templates"
    args = ["--rules", str(RULES), "--templates", str(templates), "--format", "html"]
    assert main(["ask", *args, "--advice", "advice.html", "--all"]) == 0
    assert capsys.readouterr().out == ""
    assert len(yaml.safe_load((tmp_path / "answers.yaml").read_text(encoding="utf-8"))["answers"]) == 4  # --all: no offer to stop
    assert main(["recommend", "answers.yaml", *args]) == 0
    assert capsys.readouterr().out == (tmp_path / "advice.html").read_text(encoding="utf-8")


def test_ask_command_into_a_missing_folder_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Test\n\nyes\n"))
    out = tmp_path / "nowhere" / "answers.yaml"
    assert main(["ask", "--rules", str(RULES), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"{out}: the folder {out.parent} does not exist\n") and err.count("\n") == 1


def test_ask_never_replaces_a_file_the_tool_did_not_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Refused before the first question, with the file untouched; --force replaces it."""
    mine = tmp_path / "answers.yaml"
    mine.write_text("my notes\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("Test\n\nyes\n"))
    assert main(["ask", "--rules", str(RULES), "-o", str(mine)]) == 2
    assert capsys.readouterr().err == f"{mine}: already exists and was not written by rostering-advisor; use -o another file, or --force\n"
    assert mine.read_text(encoding="utf-8") == "my notes\n"
    assert main(["ask", "--rules", str(RULES), "-o", str(mine), "--force", "--advice", str(tmp_path / "advice.md")]) == 0
    assert yaml.safe_load(mine.read_text(encoding="utf-8"))["answers"] == {"gate": "yes"}


def test_a_second_district_never_replaces_the_first_ones_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An answers file `ask` wrote holds a district's answers: another `ask` to the same file is
    refused before its first question (the file unchanged) unless --force."""
    answers = tmp_path / "answers.yaml"
    args = ["ask", "--rules", str(RULES), "-o", str(answers), "--advice", str(tmp_path / "advice.md")]
    monkeypatch.setattr("sys.stdin", io.StringIO("First\n\nyes\n"))
    assert main(args) == 0
    first = answers.read_text(encoding="utf-8")
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("Second\n\nno\n"))
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"{answers}: already exists and holds a district's answers; use --continue to go on with it, "
        "use -o another file, or --force\n"
    )
    assert answers.read_text(encoding="utf-8") == first
    monkeypatch.setattr("sys.stdin", io.StringIO("Second\n\nno\n"))
    assert main([*args, "--force"]) == 0
    assert yaml.safe_load(answers.read_text(encoding="utf-8"))["district"] == {"name": "Second"}


def test_continue_asks_only_what_is_still_open_and_keeps_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "answers.yaml"
    args = ["ask", "--rules", str(RULES), "-o", str(answers), "--advice", str(tmp_path / "advice.md")]
    monkeypatch.setattr("sys.stdin", io.StringIO("Test\n\nno\n"))  # the input ends after one answer
    assert main(args) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\ny\n"))  # no name, no profile: straight to the open questions
    assert main([*args, "--continue"]) == 0
    err = capsys.readouterr().err
    assert "Continuing Test: 1 answer given so far." in err and "District name:" not in err
    assert yaml.safe_load(answers.read_text(encoding="utf-8"))["answers"] == {"gate": "no", "strong": "yes"}


def test_continue_keeps_the_id_and_notes_and_needs_a_file_of_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "answers.yaml"
    args = ["ask", "--rules", str(RULES), "-o", str(answers), "--advice", str(tmp_path / "advice.md"), "--continue"]
    assert main(args) == 2  # nothing to continue
    assert capsys.readouterr().err.startswith(f"{answers}:")
    hand_written = 'district:\n  name: Test\n  id: "0601"\nanswers:\n  gate: no\nnotes: Board meets in May.\n'
    answers.write_text(hand_written, encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert main(args) == 2  # a file a person wrote is rewritten only with --force
    assert capsys.readouterr().err == f"{answers}: already exists and was not written by rostering-advisor; use -o another file, or --force\n"
    assert answers.read_text(encoding="utf-8") == hand_written
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert main([*args, "--force"]) == 0
    data = yaml.safe_load(answers.read_text(encoding="utf-8"))
    assert data["district"] == {"name": "Test", "id": "0601"} and data["notes"] == "Board meets in May."
    assert data["answers"] == {"gate": "no", "strong": "yes"}
