"""The engine: votes, overrides, derived answers, unknowns, what-if, trace, and its hygiene."""

from __future__ import annotations

import itertools
import threading

import pytest

from engine import Advisor, EngineError
from engine.evaluate.compiler import Program, compile_rules, encode_intake
from engine.rules.rulebook import load_rules
from engine.evaluate.runtime import Engine

from .conftest import RULES

RULES_MODEL = load_rules(RULES)
QUESTIONS = [q.id for q in RULES_MODEL.questions]
FACTORS = {(f.question, f.answer): f for f in RULES_MODEL.factors}


def favouring(option: str) -> dict[str, str]:
    """The answer to every question that favours `option`."""
    return {q: a for (q, a), f in FACTORS.items() if f.favours == option}


def district(answers: dict[str, str], **profile: object) -> dict:
    return {"district": {"name": "Test District"}, "answers": answers, "profile": profile}


@pytest.mark.parametrize(("question", "answer"), sorted(FACTORS))
def test_each_factor_votes_as_the_rules_say(advisor: Advisor, question: str, answer: str) -> None:
    factor = FACTORS[(question, answer)]
    result = advisor.recommend(district({question: answer}))
    assert result.outcome.votes == (factor.id,)
    assert result.outcome.scores[factor.favours] == factor.weight
    assert sum(result.outcome.scores.values()) == factor.weight
    entry = next(f for f in result.to_dict()["factors"] if f["question"] == question)
    assert (entry["favours"], entry["weight"], entry["rationale"]) == (factor.favours, factor.weight, factor.rationale)


DECIDING = {
    "sis_in_transition": {"sis_changing": "yes"},
    "dbm_will_not_set_up": {"dbm_supports_setup": "no"},
    "dbm_will_not_maintain": {"dbm_maintains_data": "no"},
    "no_way_to_sync": {"sis_supports_clever": "no", "sftp_daily": "no"},
}


@pytest.mark.parametrize("override", sorted(DECIDING))
def test_each_override_decides_against_the_score(advisor: Advisor, override: str) -> None:
    answers = {**favouring("sis_sync"), **DECIDING[override]}
    result = advisor.recommend(district(answers))
    scores = result.outcome.scores
    assert scores["sis_sync"] > scores["user_import"]
    assert (result.option, result.decided_by, result.deciding_override) == ("user_import", "override", override)
    assert result.confidence == "strong"
    fired = result.to_dict()["overrides"]
    assert [o["id"] for o in fired if o["decided"]] == [override]


def test_the_highest_priority_override_decides_when_several_fire(advisor: Advisor) -> None:
    answers = {**favouring("sis_sync"), "sis_changing": "yes", "dbm_maintains_data": "no"}
    result = advisor.recommend(district(answers))
    assert result.outcome.overrides == ("sis_in_transition", "dbm_will_not_maintain")
    assert result.deciding_override == "sis_in_transition"


def test_review_overrides_flag_without_deciding(advisor: Advisor) -> None:
    answers = {q: a for q, a in favouring("sis_sync").items() if q != "dbm_maintains_data"}
    result = advisor.recommend(district(answers))
    assert result.option == "sis_sync" and result.decided_by == "score"
    assert result.outcome.overrides == ("sync_preconditions_unconfirmed",)
    assert result.to_dict()["recommendation"]["needs_review"] is True
    large = advisor.recommend(district({"over_5000_students": "yes", "sis_supports_clever": "no", "sftp_daily": "no"}))
    assert "large_district_without_sync_path" in large.outcome.overrides
    assert large.deciding_override == "no_way_to_sync"


def test_all_answers_favouring_one_option_give_strong_confidence(advisor: Advisor) -> None:
    sync = advisor.recommend(district(favouring("sis_sync")))
    assert (sync.option, sync.confidence, sync.decided_by) == ("sis_sync", "strong", "score")
    imports = advisor.recommend(district(favouring("user_import")))
    assert (imports.option, imports.confidence) == ("user_import", "strong")


def test_derived_answers_from_the_profile(advisor: Advisor) -> None:
    result = advisor.recommend(district({}, students=6200, sis="  powerSCHOOL ", uses_clever=True))
    answers = result.to_dict()["answers"]
    assert answers["over_5000_students"] == {
        "value": "yes",
        "source": "derived",
        "rule": "enrolment_5000_or_more",
        "explanation": RULES_MODEL.derived[0].explanation,
    }
    assert answers["sis_supports_clever"]["value"] == "yes"
    assert answers["clever_customer"]["value"] == "yes"
    assert "over_5000_students.yes" in result.outcome.votes
    small = advisor.recommend(district({}, students=800, sis="Genesis", uses_clever=False))
    assert small.outcome.answers["over_5000_students"] == "no"
    assert small.outcome.answers["sis_supports_clever"] == "no"
    assert small.outcome.derived["clever_customer"] == "does_not_use_clever"


def test_an_explicit_answer_beats_a_derived_one(advisor: Advisor) -> None:
    result = advisor.recommend(district({"over_5000_students": "no"}, students=6200))
    assert result.to_dict()["answers"]["over_5000_students"] == {"value": "no", "source": "answered"}
    assert "enrolment_5000_or_more" not in result.outcome.fired()
    assert "over_5000_students.no" in result.outcome.votes


def test_explicit_unknown_lets_the_profile_decide(advisor: Advisor) -> None:
    result = advisor.recommend(district({"over_5000_students": "unknown"}, students=6200))
    assert result.outcome.derived == {"over_5000_students": "enrolment_5000_or_more"}


def test_unknowns_are_listed_with_what_each_could_do(advisor: Advisor) -> None:
    answers = {q: a for q, a in favouring("sis_sync").items() if q not in ("sis_changing", "clever_customer")}
    result = advisor.recommend(district(answers))
    assert result.unanswered == ["sis_changing", "clever_customer"]
    assert result.combinations == {"sis_sync": 2, "user_import": 2}
    by_question = {o.question: o for o in result.open_questions}
    assert by_question["sis_changing"].if_yes == {"user_import": 2}
    assert by_question["sis_changing"].if_no == {"sis_sync": 2}
    assert by_question["sis_changing"].could_change
    assert not by_question["clever_customer"].could_change


def test_more_than_eight_unknowns_are_examined_one_at_a_time(advisor: Advisor) -> None:
    result = advisor.recommend(district({"sis_changing": "no", "dbm_supports_setup": "yes"}))
    assert len(result.unanswered) == 11
    assert result.combinations is None
    for question in result.open_questions:
        assert sum(question.if_yes.values()) == 1 and sum(question.if_no.values()) == 1


def test_nothing_answered_is_insufficient_information(advisor: Advisor) -> None:
    result = advisor.recommend(district({}))
    assert result.confidence == "insufficient"
    assert result.unanswered == QUESTIONS


def test_what_if_names_the_single_answers_that_flip_the_outcome(advisor: Advisor) -> None:
    answers = {"mobile_population": "yes", "over_5000_students": "no", "sis_changing": "no"}
    result = advisor.recommend(district(answers))
    assert result.option == "sis_sync" and result.outcome.scores == {"sis_sync": 4.0, "user_import": 2.0}
    flips = {w.question: (w.changed_to, w.outcome.option, w.outcome.decided_by) for w in result.flips}
    assert flips["sis_changing"] == ("yes", "user_import", "override")
    assert flips["mobile_population"] == ("no", "user_import", "score")
    assert "over_5000_students" not in flips
    assert all(w["option"] != "sis_sync" for w in result.to_dict()["what_if"])


def test_trace_names_yaml_rules_in_firing_order(advisor: Advisor) -> None:
    result = advisor.recommend(district({"sis_changing": "yes", "mobile_population": "no"}, students=12000))
    trace = [entry["rule"] for entry in result.to_dict()["trace"]]
    assert trace[:2] == ["enrolment_5000_or_more", "policy.derived"]
    assert trace[2:5] == ["mobile_population.no", "over_5000_students.yes", "sis_changing.yes"]
    assert trace[5:9] == [
        "sis_in_transition",
        "policy.tally",
        "policy.decision.override.sis_in_transition",
        "confidence.strong.1",
    ]
    assert trace[9:] == list(result.outcome.next_steps)
    assert trace[9:] and all(step.startswith("import_") for step in trace[9:])
    data = result.to_dict()
    derive, derived, intake = (data["facts"][entry["facts"][0]] for entry in data["trace"][:3])
    # the derived rule reads a small derive fact; the admit rule asserts the intake with its answer
    assert derive["t"] == "derive" and derive["a_over_5000_students"] == "unknown" and "a_sis_changing" not in derive
    assert derived["d_over_5000_students"] == "enrolment_5000_or_more"
    assert intake["t"] == "intake" and intake["a_over_5000_students"] == "yes" and intake["a_sis_changing"] == "yes"
    assert intake["d_over_5000_students"] == "enrolment_5000_or_more"
    assert [data["facts"][e["facts"][0]]["t"] for e in data["trace"][6:9]] == ["intake", "tally", "decision"]


def test_a_district_with_nothing_to_derive_skips_the_derive_fact(advisor: Advisor) -> None:
    answers = {"over_5000_students": "no", "sis_supports_clever": "yes", "clever_customer": "no"}
    data = advisor.recommend(district(answers, students=12000)).to_dict()
    assert data["facts"][0]["t"] == "intake"
    assert "policy.derived" not in [entry["rule"] for entry in data["trace"]]


def test_a_derived_answer_may_lead_to_another(edited_rules) -> None:
    folder = edited_rules(
        ("derived.yaml", "when: {profile: uses_clever, equals: true}", "when: {answer: over_5000_students, is: yes}"),
    )
    rec = Advisor.load(folder).recommend(district({}, students=12000))
    assert rec.outcome.derived == {"over_5000_students": "enrolment_5000_or_more", "clever_customer": "uses_clever_already"}
    assert rec.outcome.answers["clever_customer"] == "yes"


def test_exact_tie_uses_the_tie_break(advisor: Advisor) -> None:
    result = advisor.recommend(district({"mobile_population": "yes", "over_5000_students": "no"}))
    assert result.outcome.scores == {"sis_sync": 2.0, "user_import": 2.0}
    assert (result.option, result.decided_by) == ("user_import", "tie_break")
    assert "evenly balanced" in result.summary()


def test_json_contract(advisor: Advisor) -> None:
    data = advisor.recommend(district({"sis_changing": "no"})).to_dict()
    assert set(data) >= {
        "recommendation", "scores", "answers", "factors", "overrides", "unanswered",
        "what_if", "next_steps", "rules", "trace",
    }
    assert set(data["recommendation"]) >= {"option", "label", "confidence", "decided_by", "summary"}
    assert data["rules"] == {"version": RULES_MODEL.version, "digest": RULES_MODEL.digest}
    assert data["answers"]["sis_changing"] == {"value": "no", "source": "answered"}
    assert data["answers"]["sftp_daily"] == {"value": "unknown", "source": "unknown"}


# --- engine hygiene -----------------------------------------------------------------------------


def test_more_than_1024_districts_in_one_process(advisor: Advisor) -> None:
    combos = list(itertools.islice(itertools.product(("yes", "no"), repeat=len(QUESTIONS)), 1500))
    outcomes = advisor.evaluate(dict(zip(QUESTIONS, values)) for values in combos)
    assert len(outcomes) == 1500
    assert all(o.option in ("sis_sync", "user_import") and o.confidence for o in outcomes)
    again = advisor.evaluate([dict(zip(QUESTIONS, combos[-1]))])
    assert again[0] is outcomes[-1]  # memoised


def test_two_rule_versions_side_by_side(edited_rules) -> None:
    base = Advisor.load(RULES)
    head = Advisor.load(edited_rules(("factors.yaml", "      weight: 2\n", "      weight: 5\n")))
    assert base.program.name != head.program.name
    answers = {"mobile_population": "yes", "over_5000_students": "no"}
    assert base.evaluate([answers])[0].option == "user_import"
    assert head.evaluate([answers])[0].option == "sis_sync"
    assert Advisor.load(RULES).program is base.program  # compiled once per rules version


def test_an_action_that_fails_is_an_engine_error_and_the_engine_recovers(advisor: Advisor, monkeypatch) -> None:
    engine = Engine(advisor.program)

    def broken(*_: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr("engine.evaluate.runtime.tally", broken)
    with pytest.raises(EngineError, match="policy/tally.*boom"):
        engine.evaluate([{"t": "intake", **{f"a_{q}": "yes" for q in QUESTIONS}, "a_sis_changing": "no"}])
    monkeypatch.undo()
    assert engine.evaluate([{"t": "intake", **{f"a_{q}": "no" for q in QUESTIONS}}])[0].option == "user_import"


def test_a_fact_no_rule_handles_is_an_engine_error() -> None:
    program = compile_rules(RULES_MODEL)
    lonely = Program(
        name="ra_test_unhandled",
        definition={"only": {"all": [{"m": {"t": "other"}}], "run": "only"}},
        actions={},
        questions=program.questions,
        profile_fields=(),
        options=program.options,
    )
    with pytest.raises(EngineError, match="no rule handles the fact"):
        Engine(lonely).evaluate([{"t": "intake"}])


def test_concurrent_threads_get_correct_results(advisor: Advisor) -> None:
    combos = [dict(zip(QUESTIONS, values)) for values in itertools.islice(itertools.product(("no", "yes"), repeat=13), 300)]
    expected = [o.option for o in advisor.evaluate(combos)]
    intakes = [encode_intake(advisor.program, answers, {}) for answers in combos]
    results: dict[int, list[str]] = {}

    def work(index: int) -> None:
        engine = Engine(advisor.program)
        results[index] = [o.option for o in engine.evaluate(intakes)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[i] == expected for i in range(4))


def test_a_rule_fires_once_even_when_several_branches_of_its_condition_hold(advisor: Advisor) -> None:
    result = advisor.recommend(district({"mobile_population": "yes"}))  # all three preconditions unknown
    assert result.outcome.overrides == ("sync_preconditions_unconfirmed",)
    assert [f.rule for f in result.outcome.trace].count("sync_preconditions_unconfirmed") == 1


def test_evaluations_sharing_an_engine_session_agree_with_each_alone(advisor: Advisor) -> None:
    import random

    from engine.evaluate.runtime import BATCH

    rng = random.Random(5)
    intakes = []
    for _ in range(BATCH * 3 + 5):  # several sessions, mixing intakes with and without something to derive
        answers = {q: rng.choice(["yes", "no", "unknown"]) for q in QUESTIONS if rng.random() < 0.7}
        profile = {"students": rng.randint(0, 20000), "sis": rng.choice(["PowerSchool", "Genesis", "Other"])}
        intakes.append(encode_intake(advisor.program, answers, profile if rng.random() < 0.7 else {}))
    together = Engine(advisor.program).evaluate(intakes)
    for intake, outcome in zip(intakes, together):
        alone = Engine(advisor.program).evaluate([intake])[0]
        assert outcome == alone
    assert any(o.derived for o in together) and any(not o.derived for o in together)
