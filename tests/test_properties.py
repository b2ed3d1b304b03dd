"""Property-based tests: whatever a district sends, the result is advice or one of our errors."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Advisor, AdvisorError
from engine.evaluate.answers import district_from_document
from engine.rules.source import load_json, load_yaml

from .conftest import RULES

QUESTIONS = [q.id for q in Advisor.load(RULES).rules.questions]
FIXTURE = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30)
)
ANYTHING = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20
)
ANSWER_WORDS = st.sampled_from(["yes", "no", "unknown", "Yes", "NO", "y", "n", "true", "false", "on", "off", "", True, False, None])
ANSWERS = st.fixed_dictionaries({}, optional={q: ANSWER_WORDS for q in QUESTIONS})
PROFILE = st.fixed_dictionaries(
    {},
    optional={
        "students": st.integers(min_value=0, max_value=2_000_000),
        "sis": st.sampled_from(["PowerSchool", "Skyward", "Genesis", "Home-grown"]),
        "uses_clever": st.booleans(),
    },
)


@FIXTURE
@given(document=st.one_of(ANYTHING, st.fixed_dictionaries({"district": ANYTHING}, optional={"answers": ANYTHING, "profile": ANYTHING})))
def test_any_document_recommends_or_fails_with_our_error(advisor: Advisor, document: object) -> None:
    try:
        result = advisor.recommend(document)  # type: ignore[arg-type]
    except AdvisorError:
        return
    assert result.option in {o.id for o in advisor.rules.options}


@FIXTURE
@given(text=st.text(max_size=300))
def test_any_text_as_yaml_or_json_loads_or_fails_with_our_error(advisor: Advisor, text: str) -> None:
    for load in (load_yaml, load_json):
        try:
            district_from_document(load(text, "fuzz"), advisor.rules)
        except AdvisorError:
            pass


@FIXTURE
@given(answers=ANSWERS, profile=PROFILE)
def test_yaml_and_json_forms_agree(advisor: Advisor, tmp_path_factory, answers: dict, profile: dict) -> None:
    folder = tmp_path_factory.mktemp("forms")
    document = {"district": {"name": "Same District", "id": "0600001"}, "answers": answers, "profile": profile}
    (folder / "d.json").write_text(json.dumps(document), encoding="utf-8")
    (folder / "d.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    from_json = advisor.recommend(advisor.read(folder / "d.json")).to_dict()
    from_yaml = advisor.recommend(advisor.read(folder / "d.yaml")).to_dict()
    from_data = advisor.recommend(document).to_dict()
    assert from_json["recommendation"] == from_yaml["recommendation"] == from_data["recommendation"]
    assert from_json["answers"] == from_yaml["answers"]


@FIXTURE
@given(answers=ANSWERS, first=ANSWER_WORDS, second=ANSWER_WORDS)
def test_an_answer_no_rule_uses_never_changes_the_advice(edited_rules, answers: dict, first, second) -> None:
    advisor = _advisor_with_unused_question(edited_rules)
    base = {**answers}
    one = advisor.recommend({"district": {"name": "A"}, "answers": {**base, "mobile_population": first}})
    two = advisor.recommend({"district": {"name": "A"}, "answers": {**base, "mobile_population": second}})
    assert (one.option, one.confidence, one.decided_by) == (two.option, two.confidence, two.decided_by)
    assert one.outcome.scores == two.outcome.scores


def test_unrelated_profile_fields_and_notes_never_change_the_advice(advisor: Advisor) -> None:
    answers = {"sis_changing": "no", "mobile_population": "yes", "sftp_daily": "yes"}
    plain = advisor.recommend({"district": {"name": "A"}, "answers": answers})
    decorated = advisor.recommend(
        {"district": {"name": "A"}, "answers": answers, "profile": {"state": "OR", "schools": 12}, "notes": "x" * 500}
    )
    assert plain.to_dict()["recommendation"] == decorated.to_dict()["recommendation"]


_UNUSED: dict[str, Advisor] = {}


def _advisor_with_unused_question(edited_rules) -> Advisor:
    """Rules where `mobile_population` is informational: asked, but no rule reads it."""
    if "advisor" not in _UNUSED:
        folder = edited_rules(
            (
                "factors.yaml",
                "  - question: mobile_population\n    yes:\n      favours: sis_sync\n      weight: 2\n"
                "      rationale: Frequent updates would help keep data correct.\n    no:\n      favours: user_import\n"
                "      weight: 1\n      rationale: SIS Sync would needlessly complicate things.\n",
                "",
            ),
            ("questions.yaml", "    theme: students\n", "    theme: students\n    informational: true\n"),
        )
        _UNUSED["advisor"] = Advisor.load(folder)
    return _UNUSED["advisor"]
