"""The durable_rules engine agrees with an independent reference evaluator, everywhere we can look."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Advisor

from .conftest import FIXTURES, ROOT
from .reference import evaluate

EXAMPLES = sorted((FIXTURES / "examples").glob("*/answers.yaml"))


def assert_agrees(outcome, expected) -> None:
    assert (outcome.option, outcome.decided_by, outcome.confidence, outcome.overrides) == (
        expected.option,
        expected.decided_by,
        expected.confidence,
        expected.overrides,
    )
    assert outcome.answers == expected.answers


def test_every_yes_no_combination_agrees(advisor: Advisor) -> None:
    questions = [q.id for q in advisor.rules.questions]
    combos = [dict(zip(questions, values)) for values in itertools.product(("yes", "no"), repeat=len(questions))]
    outcomes = advisor.evaluate(combos)
    mismatches = []
    for answers, outcome in zip(combos, outcomes):
        expected = evaluate(advisor.rules, answers)
        actual = (outcome.option, outcome.decided_by, outcome.confidence, outcome.overrides)
        if actual != (expected.option, expected.decided_by, expected.confidence, expected.overrides):
            mismatches.append((answers, actual, expected))
    assert len(combos) == 8192
    assert mismatches == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_example_district_agrees(advisor: Advisor, path: Path) -> None:
    district = advisor.read(path)
    outcome = advisor.recommend(district).outcome
    expected = evaluate(advisor.rules, district.answers, district.profile)
    assert_agrees(outcome, expected)


ANSWER = st.sampled_from(["yes", "no", "unknown"])
PROFILE = st.fixed_dictionaries(
    {},
    optional={
        "students": st.integers(min_value=0, max_value=1_000_000),
        "sis": st.sampled_from(["PowerSchool", "powerschool ", "Genesis", "ASCENDER", "Home-grown", ""]),
        "uses_clever": st.booleans(),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), profile=PROFILE)
def test_answers_with_unknowns_and_profiles_agree(advisor: Advisor, data: st.DataObject, profile: dict) -> None:
    questions = [q.id for q in advisor.rules.questions]
    answers = data.draw(st.fixed_dictionaries({}, optional={q: ANSWER for q in questions}))
    outcome = advisor.evaluate([answers], profile)[0]
    expected = evaluate(advisor.rules, answers, profile)
    assert_agrees(outcome, expected)
    assert outcome.scores == expected.scores
