"""What-if variants judged by parts agree with whole evaluations of the same answers."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Advisor
from engine.evaluate.answers import district_from_data
from engine.evaluate.compiler import compile_conclusions, compile_parts, compile_rules, encode_intake
from engine.rules.model import Rules
from engine.rules.rulebook import load_rules
from engine.evaluate.runtime import Engine
from engine.evaluate.variants import VariantJudge, letters

from .conftest import RULES, copy_rules

RULES_MODEL = load_rules(RULES)


def judges(rules: Rules) -> tuple[VariantJudge, VariantJudge]:
    """(by parts, whole evaluations) for the same rules."""
    parts = compile_parts(rules)
    assert parts is not None
    return (
        VariantJudge(Engine(compile_conclusions(rules)), Engine(parts)),
        VariantJudge(Engine(compile_rules(rules, next_steps=False)), None),
    )


def test_every_yes_no_combination_and_random_unknowns_agree(monkeypatch) -> None:
    by_parts, whole = judges(RULES_MODEL)
    rng = random.Random(2122)
    variants = ["".join(v) for v in itertools.product("yn", repeat=len(RULES_MODEL.questions))]
    variants += ["".join(rng.choice("ynu") for _ in RULES_MODEL.questions) for _ in range(3000)]
    pairs = [(answers, {}) for answers in variants]
    # with profiles: variants are of final answers, so derive them first (as Advisor.recommend_many does)
    engine = Engine(compile_rules(RULES_MODEL))
    for _ in range(300):
        profile = {"students": rng.randint(0, 9000), "sis": rng.choice(["PowerSchool", "Genesis", "Other"])}
        answers = {q.id: rng.choice(["yes", "no", "unknown"]) for q in RULES_MODEL.questions}
        final = engine.evaluate([encode_intake(engine.program, answers, profile)])[0].answers
        pairs.append((letters(engine.program, final), profile))
    expected = whole.judge(pairs)
    assert by_parts.judge(pairs) == expected

    def no_engine(*_: object) -> None:
        raise AssertionError("the engine was asked again")

    monkeypatch.setattr(Engine, "fire", no_engine)
    monkeypatch.setattr(Engine, "conclude", no_engine)
    assert by_parts.judge(pairs[::7]) == expected[::7]  # all memoised the second time


def test_parts_split_the_deciding_rules_by_the_answers_they_read() -> None:
    program = compile_parts(RULES_MODEL)
    assert program is not None
    reads = [set(part.reads) for part in program.parts]
    assert all(not (a & b) for a, b in itertools.combinations(reads, 2))  # no answer read by two parts
    fired_by = sorted(a.rule for a in program.actions.values() if a.kind in ("vote", "override"))
    deciding = [o.id for o in RULES_MODEL.overrides if o.effect == "recommend"]
    assert fired_by == sorted([f.id for f in RULES_MODEL.factors] + deciding)  # each rule in exactly one part
    assert {("a_sis_supports_clever", "a_sftp_daily")} <= {part.reads for part in program.parts}


def test_a_derived_answer_that_reads_answers_makes_variants_whole(tmp_path) -> None:
    folder = copy_rules(
        tmp_path / "rules",
        ("derived.yaml", "when: {profile: uses_clever, equals: true}", "when: {answer: sis_supports_clever, is: yes}"),
    )
    rules = load_rules(folder)
    assert compile_parts(rules) is None
    advisor = Advisor(rules)
    rec = advisor.recommend({"district": {"name": "X"}, "answers": {"sis_supports_clever": "no", "mobile_population": "yes"}})
    assert rec.outcome.answers["clever_customer"] == "unknown"
    flip = next(w for w in rec.what_if if w.question == "sis_supports_clever")
    # with the answer flipped the derived rule fires: only a whole evaluation sees that
    flipped = advisor.evaluate([{**rec.outcome.answers, "sis_supports_clever": "yes"}])[0]
    assert flipped.derived == {"clever_customer": "uses_clever_already"}
    assert (flip.outcome.option, flip.outcome.confidence, flip.outcome.decided_by) == (
        flipped.option,
        flipped.confidence,
        flipped.decided_by,
    )


def whole(advisor: Advisor) -> Advisor:
    """The same rules, every variant judged by a whole evaluation."""
    twin = Advisor(advisor.rules)
    twin.judge = VariantJudge(Engine(compile_rules(advisor.rules, next_steps=False)), None)
    return twin


# Rules edited so that more kinds of rule feed the parts and the conclusions.
EDITS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "the tests' rules": (),
    "a deciding override reads the profile": (
        (
            "overrides.yaml",
            "        - {answer: sftp_daily, is: no}\n    effect: {recommend: user_import}",
            "        - {answer: sftp_daily, is: no}\n        - {profile: students, at_least: 1000}\n"
            "    effect: {recommend: user_import}",
        ),
    ),
    "a confidence level reads an answer and the profile": (
        (
            "policy.yaml",
            "      when: {metric: margin_share, at_least: 0.25}",
            "      when: {any: [{metric: margin_share, at_least: 0.25}, {answer: mobile_population, is: yes},"
            " {profile: students, at_least: 4000}]}",
        ),
    ),
}


@pytest.fixture(scope="module", params=sorted(EDITS))
def pair(request, tmp_path_factory) -> tuple[Advisor, Advisor]:
    """An advisor judging variants by parts, and one judging them whole, for the same rules."""
    edits = EDITS[request.param]
    folder = copy_rules(tmp_path_factory.mktemp("rules") / "rules", *edits) if edits else RULES
    advisor = Advisor.load(folder)
    return advisor, whole(advisor)


def test_the_edits_reach_the_parts_and_the_conclusions(tmp_path) -> None:
    overrides = load_rules(copy_rules(tmp_path / "a", *EDITS["a deciding override reads the profile"]))
    program = compile_parts(overrides)
    assert program is not None and any("p_students" in part.reads for part in program.parts)
    policy = load_rules(copy_rules(tmp_path / "b", *EDITS["a confidence level reads an answer and the profile"]))
    assert {"a_mobile_population", "p_students"} <= set(compile_conclusions(policy).conclusion_reads)


ANSWER = st.sampled_from(["yes", "no", "unknown"])
DISTRICT = st.fixed_dictionaries(
    {"district": st.just({"name": "X"})},
    optional={
        "answers": st.fixed_dictionaries({}, optional={q.id: ANSWER for q in RULES_MODEL.questions}),
        "profile": st.fixed_dictionaries(
            {},
            optional={
                "students": st.integers(min_value=0, max_value=9000),
                "sis": st.sampled_from(["PowerSchool", "Genesis", "Home-grown"]),
                "uses_clever": st.booleans(),
            },
        ),
    },
)


@settings(max_examples=150, deadline=None)
@given(data=st.lists(DISTRICT, min_size=1, max_size=8))
def test_by_parts_gives_the_same_advice_as_whole_evaluations(pair: tuple[Advisor, Advisor], data: list[dict]) -> None:
    by_parts, whole_advisor = pair
    districts = [district_from_data(d, by_parts.rules) for d in data]
    for a, b in zip(by_parts.recommend_many(districts), whole_advisor.recommend_many(districts)):
        assert (a.what_if, a.open_questions, a.combinations) == (b.what_if, b.open_questions, b.combinations)
