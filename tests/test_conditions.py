"""The registry of condition forms: each form parses, reads, checks, compiles and reads in prose."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from engine import Advisor
from engine.errors import SourceLocation
from engine.render.context import build_context
from engine.rules.conditions import (
    FORMS,
    PROFILE_OPS,
    AllOf,
    AnswerIs,
    AnyOf,
    DecidedBy,
    MetricTest,
    Not,
    ProfileTest,
    Scope,
    Wording,
    expression,
    parse_condition,
    prose,
)

SCHEMA = Path(__file__).resolve().parent.parent / "engine/rules/schemas/rules/condition.schema.json"
WORDS = Wording({"sis_changing": "Are you changing your SIS?", "clever_customer": "Are you a Clever customer?"}, {"auto": "SIS products Clever syncs."})


def parse(data: dict[str, Any]) -> Any:
    return parse_condition(data, ("when",), lambda path: SourceLocation("overrides.yaml", len(path), 1))


def test_every_form_in_the_schema_is_registered_and_parses_to_its_class() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))["$defs"]
    keys = {d["required"][0] for d in schema.values()}
    assert keys == set(FORMS)
    comparisons = set(schema["profile_test"]["properties"]) - {"profile"}
    assert comparisons == set(PROFILE_OPS)
    samples = {
        "answer": {"answer": "sis_changing", "is": "yes"},
        "profile": {"profile": "students", "at_least": 5000},
        "metric": {"metric": "margin", "at_least": 2},
        "decided_by": {"decided_by": "score"},
        "all": {"all": [{"answer": "sis_changing", "is": "yes"}]},
        "any": {"any": [{"answer": "sis_changing", "is": "yes"}]},
        "not": {"not": {"answer": "sis_changing", "is": "yes"}},
    }
    for key, form in FORMS.items():
        assert isinstance(parse(samples[key]), form)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"answer": "sis_changing", "is": "yes"}, 'you answered yes to "Are you changing your SIS?"'),
        ({"answer": "sis_changing", "is": "unknown"}, 'you have not answered "Are you changing your SIS?"'),
        ({"answer": "sis_changing", "is": ["no", "unknown"]}, 'you answered no to "Are you changing your SIS?" or have not answered it'),
        ({"profile": "students", "at_least": 5000}, "your district has at least 5,000 students"),
        ({"profile": "students", "less_than": 5000}, "your district has fewer than 5,000 students"),
        ({"profile": "sis", "equals": "PowerSchool"}, "your district's SIS is PowerSchool"),
        ({"profile": "sis", "not_equals": "Genesis"}, "your district's SIS is not Genesis"),
        ({"profile": "sis", "in": ["A", "B", "C"]}, "your district's SIS is A, B or C"),
        ({"profile": "sis", "in_catalogue": "auto"}, 'your district\'s SIS is on the list "SIS products Clever syncs"'),
        ({"profile": "uses_clever", "equals": True}, 'your district\'s profile says "Uses Clever: yes"'),
        ({"profile": "sis", "present": False}, "your district did not give its SIS"),
        ({"metric": "margin_share", "at_least": 0.5}, "the leading option's lead as a share of all the weight of the answers is at least 50%"),
        ({"decided_by": "tie_break"}, "the scores were tied"),
        (
            {"all": [{"answer": "sis_changing", "is": "no"}, {"any": [{"answer": "clever_customer", "is": "yes"}, {"profile": "sis", "present": True}]}]},
            'you answered no to "Are you changing your SIS?" and (you answered yes to "Are you a Clever customer?" or your district gave its SIS)',
        ),
        ({"not": {"answer": "sis_changing", "is": "yes"}}, 'not (you answered yes to "Are you changing your SIS?")'),
    ],
)
def test_each_form_reads_in_prose(data: dict[str, Any], text: str) -> None:
    assert prose(parse(data), WORDS) == text


def test_no_condition_reads_as_nothing() -> None:
    assert prose(None, WORDS) == ""


def test_what_a_condition_reads() -> None:
    condition = parse(
        {"all": [{"answer": "sis_changing", "is": "yes"}, {"not": {"answer": "clever_customer", "is": "no"}}, {"profile": "students", "at_least": 1}]}
    )
    assert isinstance(condition, AllOf)
    assert condition.questions_read() == {"sis_changing", "clever_customer"}
    assert condition.reads() == {"a_sis_changing", "a_clever_customer", "p_students"}
    assert condition.profile_read() == {"students": "number"}
    assert condition.supporting_answers() == (("sis_changing", ("yes",)),)  # not under the `not`


def test_problems_name_unknown_references_and_policy_only_forms() -> None:
    condition = parse(
        {"any": [{"answer": "sis_chaning", "is": "yes"}, {"profile": "sis", "in_catalogue": "nope"}, {"metric": "margin", "at_least": 1}]}
    )
    scope = Scope(questions=["sis_changing"], catalogues=["auto"], policy=False)
    messages = [message for _, message in condition.problems(scope)]
    assert messages == [
        "unknown question 'sis_chaning' (did you mean 'sis_changing'?)",
        "unknown catalogue 'nope'",
        "'metric' conditions are only allowed in policy.yaml confidence levels",
    ]
    assert [m for _, m in condition.problems(Scope(["sis_chaning"], ["nope"], policy=True))] == []


def test_not_is_pushed_down_to_the_tests() -> None:
    negated = parse({"not": {"any": [{"answer": "sis_changing", "is": "yes"}, {"profile": "students", "at_least": 10}]}})
    assert isinstance(negated, Not) and isinstance(negated.item, AnyOf)
    assert expression(negated, {}) == {
        "$and": [{"$neq": {"a_sis_changing": "yes"}}, {"$or": [{"$lt": {"p_students": 10}}, {"$nex": {"p_students": 1}}]}]
    }
    assert expression(parse({"profile": "sis", "in_catalogue": "auto"}), {"auto": ["PowerSchool", " Skyward "]}) == {
        "$or": [{"p_sis": "powerschool"}, {"p_sis": "skyward"}]
    }


def test_leaf_forms_are_hashable_values_whatever_their_location() -> None:
    a = AnswerIs("q", ("yes",), SourceLocation("a.yaml", 1, 1))
    b = AnswerIs("q", ("yes",), SourceLocation("b.yaml", 9, 9))
    assert a == b and hash(a) == hash(b)
    assert len({ProfileTest("f", "present", True, a.loc), MetricTest("margin", "at_least", 1, a.loc), DecidedBy("score", a.loc)}) == 3


def test_every_fired_override_has_its_condition_in_words(advisor: Advisor) -> None:
    """For any rule set: a fired override's text names each question whose answer made it fire."""
    questions = [q.id for q in advisor.rules.questions]
    fired = 0
    for value in ("yes", "no", "unknown"):
        rec = advisor.recommend({"district": {"name": "Test"}, "answers": dict.fromkeys(questions, value)})
        for override in build_context(rec, datetime.date(2026, 1, 1))["overrides"]:
            fired += 1
            assert override["condition_text"] == prose(advisor.rules.index.overrides[override["id"]].when, override_words(advisor))
            for question in override["questions"]:
                assert f'"{question["text"]}"' in override["condition_text"]
    assert fired or not advisor.rules.overrides


def override_words(advisor: Advisor) -> Wording:
    rules = advisor.rules
    return Wording({q.id: q.text.strip() for q in rules.questions}, {k: c.description for k, c in rules.catalogues.items()})
