"""The questionnaire's plan (`Advisor.plan`) on a small rule set of its own (tests/plan_rules).

In those rules the option is `sync` exactly when `gate` is no and `strong` is yes; `mild` and
`idle` never change it, and a profile of 5,000+ students derives `mild: yes`.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from engine import Advisor
from engine.cli import main
from engine.errors import InputError
from engine.evaluate import plan as plan_module

RULES = Path(__file__).parent / "plan_rules"
QUESTIONS = ("gate", "strong", "mild", "idle")


@pytest.fixture(scope="module")
def advisor() -> Advisor:
    return Advisor.load(RULES)


def district(answers: dict[str, str] | None = None, **profile: object) -> dict:
    return {"district": {"name": "Test"}, "answers": answers or {}, "profile": profile}


def by_hand(answers: dict[str, str]) -> str:
    return "sync" if answers["gate"] == "no" and answers["strong"] == "yes" else "upload"


def test_no_answers_counts_every_completion_and_asks_the_first_of_the_best_splits(advisor: Advisor) -> None:
    plan = advisor.plan(district())
    assert (plan.option, plan.label, plan.settled) == ("upload", "Upload", False)
    assert plan.reachable == {"sync": 4, "upload": 12}
    # gate and strong split the 16 completions alike; the guide's order breaks the tie
    assert plan.next is not None and plan.next.id == "gate"
    assert [q.id for q in plan.open] == ["gate", "strong", "mild", "idle"]
    gate, strong, mild, idle = plan.open
    assert gate.if_yes == {"upload": 8} and gate.if_no == {"sync": 4, "upload": 4}
    assert gate.gain == pytest.approx(strong.gain) and gate.gain > 0
    assert (mild.could_change, mild.gain, idle.could_change) == (False, 0.0, False)
    assert gate.text == "Is the system being replaced?" and gate.about == "A replacement under way rules out syncing."
    assert gate.help == {"yes": "Upload: A moving system cannot be synced.", "no": "Sync: A stable system can be synced."}
    assert idle.help == {}  # informational: the guide says nothing per answer
    assert plan.standing() == "for now Upload; 2 questions could still change it"


def test_following_next_settles_and_says_so(advisor: Advisor) -> None:
    plan = advisor.plan(district({"gate": "no"}))
    assert (plan.option, plan.settled, plan.next and plan.next.id) == ("sync", False, "strong")
    assert plan.reachable == {"sync": 4, "upload": 4}
    plan = advisor.plan(district({"gate": "no", "strong": "yes"}))
    assert (plan.option, plan.settled, plan.next) == ("sync", True, None)
    assert plan.reachable == {"sync": 4}
    assert plan.standing() == "Sync is settled; no answer to the 2 remaining questions can change it"
    assert advisor.plan(district({"gate": "yes"})).settled


def test_unknown_answers_are_not_asked_again_but_stay_open(advisor: Advisor) -> None:
    plan = advisor.plan(district({"gate": "unknown"}))
    assert plan.next is not None and plan.next.id == "strong"
    assert not plan.open[[q.id for q in plan.open].index("gate")].askable
    assert plan.reachable == {"sync": 4, "upload": 12}  # gate still counted open
    plan = advisor.plan(district({"gate": "unknown", "strong": "yes"}))
    assert (plan.settled, plan.next) == (False, None)  # only the unknown gate could change it
    assert plan.reachable == {"sync": 4, "upload": 4}
    assert plan.standing() == 'for now Sync; only questions answered "unknown" could still change it'


def test_derived_answers_count_as_answered(advisor: Advisor) -> None:
    plan = advisor.plan(district(students=9000))
    assert plan.answered == ("mild",)
    assert "mild" not in [q.id for q in plan.open]
    assert sum(plan.reachable.values()) == 8


def test_every_settled_claim_holds_for_every_partial_answer_set(advisor: Advisor) -> None:
    """All 3^4 answer sets (yes / no / unknown each): `settled` exactly when every completion agrees,
    the counts match the outcomes worked out by hand, and `next` is an askable question that matters."""
    for values in itertools.product(("yes", "no", "unknown"), repeat=len(QUESTIONS)):
        given = dict(zip(QUESTIONS, values))
        plan = advisor.plan(district(given))
        open_ids = [q for q, v in given.items() if v == "unknown"]
        outcomes = [
            by_hand({**given, **dict(zip(open_ids, fill))}) for fill in itertools.product(("yes", "no"), repeat=len(open_ids))
        ]
        assert plan.reachable == {o: outcomes.count(o) for o in sorted(set(outcomes))}, given
        assert plan.settled == (set(outcomes) == {plan.option}), given
        assert {q.id for q in plan.open} == set(open_ids)
        if plan.next is not None:
            assert not plan.settled and plan.next.askable and plan.next.could_change


def test_the_plan_follows_the_rules_it_was_loaded_with(advisor: Advisor, tmp_path: Path) -> None:
    """A lighter `strong: no` lets `mild` decide: the outcomes come from the edited rules (another digest)."""
    edited = shutil.copytree(RULES, tmp_path / "rules")
    factors = edited / "factors.yaml"
    factors.write_text(factors.read_text().replace("weight: 3, rationale: No strong reason.", "weight: 1, rationale: No strong reason."))
    lighter = Advisor.load(edited)
    assert lighter.rules.digest != advisor.rules.digest
    given = district({"gate": "no", "strong": "no"})
    plan = lighter.plan(given)
    assert (plan.reachable, plan.next and plan.next.id) == ({"sync": 2, "upload": 2}, "mild")
    assert advisor.plan(given).reachable == {"upload": 4} and advisor.plan(given).settled


def test_many_questions_plan_only_the_completions_of_the_answers(advisor: Advisor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `MAX_PLANNED_QUESTIONS` the table covers the district's own open questions; too many is exit 2."""
    expected = advisor.plan(district({"gate": "no", "mild": "yes"}))
    monkeypatch.setattr(plan_module, "MAX_PLANNED_QUESTIONS", 2)
    narrow = advisor.plan(district({"gate": "no", "mild": "yes"}))
    assert (narrow.reachable, narrow.next, narrow.settled) == (expected.reachable, expected.next, expected.settled)
    with pytest.raises(InputError, match=r"^<district>: 4 open questions: a plan looks at most 2 ahead"):
        advisor.plan(district())


def test_to_dict_is_json(advisor: Advisor) -> None:
    data = advisor.plan(district({"gate": "unknown"})).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["next"] == "strong" and data["reachable"] == {"sync": 4, "upload": 12}
    assert [(q["id"], q["askable"]) for q in data["open"]][:2] == [("gate", False), ("strong", True)]  # ranked by what they matter


def test_bad_answers_are_input_errors(advisor: Advisor) -> None:
    with pytest.raises(InputError, match="the answer to 'gate' must be yes, no or unknown"):
        advisor.plan(district({"gate": "perhaps"}))


# --- rostering-advisor plan FILE -------------------------------------------------------------


def answers_file(folder: Path, text: str) -> Path:
    path = folder / "district.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_command_prints_the_plan_as_json_or_text(tmp_path: Path, capsys: pytest.CaptureFixture[str], advisor: Advisor) -> None:
    path = answers_file(tmp_path, "district: {name: Test}\nanswers: {gate: no}\n")
    assert main(["plan", str(path), "--rules", str(RULES), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == advisor.plan(advisor.read(path)).to_dict()
    assert main(["plan", str(path), "--rules", str(RULES)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("For now Sync; 1 question could still change it.\n")
    assert "Ask next: Is there a strong reason to sync? (strong)\n  yes: Sync: The strong reason.\n" in text
    assert "  Is there a mild reason to sync? (mild): cannot change the option\n" in text  # words, not bits


def test_plan_command_bad_answers_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = answers_file(tmp_path, "district: {name: Test}\nanswers:\n  gat: no\n")
    assert main(["plan", str(path), "--rules", str(RULES)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{path}:3:3: unknown question 'gat' (did you mean 'gate'?)")
    assert main(["plan", str(tmp_path / "nope.yaml"), "--rules", str(RULES)]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope.yaml'}: no such file\n"
