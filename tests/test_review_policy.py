"""policy.yaml `review`: a review flag caps the confidence, in the engine, for the main outcome and
for every what-if variant alike; a cap that names no level is a `file:line:col` error."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from engine import Advisor
from engine.cli import main

from .conftest import copy_rules
from .reference import evaluate
from .test_validation import problems, where

CAP = "  review:\n    at_most: lean\n    note: pending a person's check\n  levels:"


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Advisor:
    return Advisor.load(copy_rules(tmp_path_factory.mktemp("capped") / "rules", ("policy.yaml", "  levels:", CAP)))


def test_a_review_flag_caps_an_override_decision(capped: Advisor) -> None:
    # no way to sync in a large district: the override decides (strong), the review flag caps it at lean
    rec = capped.recommend({"district": {"name": "D"}, "answers": {"over_5000_students": "yes", "sis_supports_clever": "no", "sftp_daily": "no"}})
    assert rec.needs_review and rec.decided_by == "override"
    assert (rec.confidence, rec.outcome.uncapped_confidence) == ("lean", "strong")
    assert rec.to_dict()["recommendation"]["confidence"] == "lean"
    assert "(confidence: leaning, pending a person's check)" in rec.summary()


def test_the_summary_sentence_reads_for_every_level_label(capped: Advisor) -> None:
    # "insufficient information confidence" is not English; "confidence: insufficient information" is
    rec = capped.recommend({"district": {"name": "D"}, "answers": {"mobile_population": "yes"}})
    assert rec.needs_review
    assert rec.summary().startswith("SIS Sync is recommended for D (confidence: insufficient information, and a person should review it)")


def test_levels_weaker_than_the_cap_stay(capped: Advisor) -> None:
    rec = capped.recommend({"district": {"name": "D"}, "answers": {"mobile_population": "yes"}})  # 12 unknown: insufficient
    assert rec.needs_review and rec.confidence == rec.outcome.uncapped_confidence == "insufficient"


def test_engine_agrees_with_the_reference_on_sampled_answer_sets(capped: Advisor) -> None:
    rules = capped.rules
    questions = [q.id for q in rules.questions]
    rng = random.Random(7)
    answer_sets = [{q: rng.choice(("yes", "no", "unknown")) for q in questions} for _ in range(1500)]
    answer_sets += [dict(zip(questions, v)) for v in itertools.islice(itertools.product(("yes", "no"), repeat=len(questions)), 0, 8192, 7)]
    for answers, outcome in zip(answer_sets, capped.evaluate(answer_sets)):
        assert outcome.confidence == evaluate(rules, answers).confidence, answers


def test_what_if_verdicts_carry_the_cap(capped: Advisor) -> None:
    """A flipped answer's confidence (judged from memoised parts) equals a whole evaluation's."""
    rng = random.Random(11)
    questions = [q.id for q in capped.rules.questions]
    for _ in range(40):
        answers = {q: rng.choice(("yes", "no", "unknown")) for q in questions}
        rec = capped.recommend({"district": {"name": "D"}, "answers": answers})
        flipped = [dict(rec.outcome.answers, **{w.question: w.changed_to}) for w in rec.what_if]
        for w, whole in zip(rec.what_if, capped.evaluate(flipped)):
            assert (w.outcome.option, w.outcome.confidence) == (whole.option, whole.confidence)


def test_a_cap_that_names_no_level_is_an_error(edited_rules, capsys: pytest.CaptureFixture[str]) -> None:
    folder: Path = edited_rules(("policy.yaml", "  levels:", CAP.replace("at_most: lean", "at_most: moderat")))
    assert problems(folder) == [
        f"{where(folder, 'policy.yaml', 'at_most: moderat', 9)}: unknown confidence level 'moderat' (did you mean 'moderate'?)"
    ]
    assert main(["validate", str(folder)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_review_without_its_note_is_a_schema_error(edited_rules) -> None:
    folder: Path = edited_rules(("policy.yaml", "  levels:", "  review:\n    at_most: lean\n  levels:"))
    (message,) = problems(folder)
    assert message.startswith(f"{folder / 'policy.yaml'}:") and "note" in message
