"""One message per document: the Markdown advice never contradicts itself or the engine's data.

For every one of the 8,192 yes/no answer sets and for a deterministic sample of answer sets with
unknowns, the headline's option and confidence, the review box, the "at a glance" facts, the
deciding condition's section and the open questions' counts are checked against the
Recommendation. Each distinct set of claims (`_claims`) is rendered once; without unknowns the
claims depend only on the engine's main outcome, so the 8,192 sets cost one engine evaluation each
and a few dozen full recommendations and renders. `ROSTERING_ADVICE_FULL=1` samples 3,000 sets with unknowns per rule set
instead of 300.

The rule sets: the tests' own (tests/fixtures/rules), that set with overrides a product manager
could add (two answers through `any`, a profile-only condition, an override for the other option,
and a review cap), and — as a property that holds for any valid rule set — the shipped rules.
The templates are the tests' own (tests/fixtures/templates): the wording checked is theirs.
"""

from __future__ import annotations

import datetime
import itertools
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

from engine import Advisor
from engine.evaluate.advisor import Recommendation
from engine.evaluate.answers import District
from engine.evaluate.runtime import Outcome
from engine.render.documents import Renderer
from engine.rules.conditions import AllOf, AnswerIs, AnyOf, Condition, Wording, prose
from engine.rules.model import Rules

from .conftest import ROOT, copy_rules

FIXTURES = ROOT / "tests" / "fixtures"
DAY = datetime.date(2026, 1, 15)
SAMPLED = 3000 if os.environ.get("ROSTERING_ADVICE_FULL") == "1" else 300
# The fixture templates' headline phrase for each confidence level of the rule sets used here.
PHRASES = {
    "strong": "with strong confidence",
    "moderate": "with moderate confidence",
    "lean": "as a narrow lean",
    "insufficient": "but only provisionally",
}
WORDS = {w: n for n, w in enumerate("no one two three four five six seven eight nine ten eleven twelve".split())}
EXTRA_OVERRIDES = """
  - id: pm_either_staffing_answer
    priority: 5
    when:
      any:
        - {answer: dedicated_sis_staff, is: no}
        - {answer: teachers_want_sync, is: no}
    effect: {flag: review}
    reason: Staffing or teachers may not carry a sync.

  - id: pm_eager_clever_district
    priority: 8
    when:
      all:
        - {answer: strong_desire_for_sync, is: yes}
        - {answer: clever_customer, is: yes}
        - {answer: mobile_population, is: yes}
    effect: {recommend: sis_sync}
    reason: An eager Clever district with a mobile population is best served by a sync.

  - id: pm_very_large_district
    priority: 9
    when: {profile: students, at_least: 100000}
    effect: {recommend: user_import}
    reason: The platform asks districts this large to start with imports.
"""
REVIEW_CAP = """  review:
    at_most: lean
    note: pending a person's check
  levels:"""


def _pm_rules(folder: Path) -> Path:
    """The tests' rules with overrides and a review cap a product manager could add."""
    return copy_rules(
        folder,
        ("overrides.yaml", "\n  - id: dbm_will_not_set_up", EXTRA_OVERRIDES + "\n  - id: dbm_will_not_set_up"),
        ("policy.yaml", "  levels:", REVIEW_CAP),
    )


@pytest.fixture(scope="module", params=["fixture", "product_manager", "shipped"])
def advisor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Advisor:
    folder = {
        "fixture": lambda: FIXTURES / "rules",
        "product_manager": lambda: _pm_rules(tmp_path_factory.mktemp("pm") / "rules"),
        "shipped": lambda: ROOT / "rules",
    }[request.param]()
    return Advisor.load(folder)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(FIXTURES / "templates")


def _district(rules: Rules, answers: dict[str, str], profile: dict[str, Any]) -> District:
    return District(name="Sample District", id=None, profile=profile, answers=answers)


def _firing_answers(condition: Condition, answers: dict[str, str]) -> list[str]:
    """The questions whose answers make a condition hold, outside any `not` (what the document names)."""
    if isinstance(condition, AnswerIs):
        return [condition.question] if answers[condition.question] in condition.values else []
    if isinstance(condition, (AllOf, AnyOf)):
        return list(dict.fromkeys(q for item in condition.items for q in _firing_answers(item, answers)))
    return []


def _outcome_claims(rules: Rules, outcome: Outcome) -> tuple:
    """What the checked sentences read of the engine's outcome."""
    override = outcome.decision_rule.rsplit(".", 1)[-1] if outcome.decided_by == "override" else ""
    when = rules.index.overrides[override].when if override else None
    return (
        outcome.option, outcome.confidence, outcome.uncapped_confidence, outcome.decided_by, override,
        outcome.overrides, tuple(_firing_answers(when, outcome.answers)) if when else (),
        tuple(sorted(outcome.scores.items())), sum(1 for v in outcome.answers.values() if v == "unknown"),
    )  # fmt: skip


def _claims(rec: Recommendation) -> tuple:
    """Everything the checked sentences depend on: recommendations with equal claims read alike."""
    return (
        _outcome_claims(rec.rules, rec.outcome), tuple(sorted((rec.combinations or {}).items())), rec.contrary,
        tuple(rec.deciding_questions()), tuple(o.could_change for o in rec.open_questions),
    )  # fmt: skip


def check(doc: str, rec: Recommendation) -> None:
    """The Markdown document's claims agree with each other and with the recommendation."""
    rules = rec.rules
    label = rules.option(rec.option).label
    level = rules.policy.levels[rec.confidence]
    headline = next(line for line in doc.splitlines() if line.startswith("Our recommendation for"))
    bold = re.findall(r"\*\*(.+?)\*\*", headline)
    assert bold[0] == label, headline
    assert [p for lv, p in PHRASES.items() if p in headline] == [PHRASES[rec.confidence]], headline
    assert f"- **Confidence:** {level.label}" in doc

    # the review box, and the confidence beside it
    review = rules.policy.review
    assert ("> **Have a person review this advice" in doc) == rec.needs_review
    if rec.needs_review:
        note = review.note if review else "pending a person's review"
        assert note in headline, headline  # never "strong" (or any level) without the review beside it
        assert f"- **Confidence:** {level.label} ({note})." in doc
        if review and review.at_most:
            order = list(rules.policy.levels)
            assert order.index(rec.confidence) >= order.index(review.at_most)
    else:
        assert rec.confidence == rec.outcome.uncapped_confidence

    # the open questions: the headline names the majority of their completions when it goes the other way
    combos = rec.combinations
    majority = [o for o, n in (combos or {}).items() if 2 * n > sum(combos.values())] if combos else []
    if majority and majority[0] != rec.option:
        other = rules.option(majority[0]).label
        assert re.search(rf"leads? to \*\*{re.escape(other)}\*\* instead", headline), headline
        deciding = [rules.question(q).text for q in rec.deciding_questions()]
        assert len(deciding) <= 3 and all(f"“{text}”" in headline for text in deciding), headline
        assert deciding or combos[majority[0]] == sum(combos.values())
    else:
        assert "instead" not in headline, headline
    across = re.search(r"Across all (\S+) combinations of answers to the open questions, we would recommend (.+)\.", doc)
    if across:
        assert combos is not None and WORDS.get(across.group(1), None) in (None, sum(combos.values()))
        said = {lbl: WORDS.get(n, None) if n in WORDS else int(n) for lbl, n in re.findall(r"(\S[^,]*?) in (\S+?)(?: and |$)", across.group(2))}
        assert said == {rules.option(o).label: n for o, n in combos.items()}, across.group(0)
    unanswered = len(rec.unanswered)
    answered = re.search(r"- \*\*Questions answered:\*\* (\d+) of (\d+)", doc)
    assert answered and (int(answered.group(1)), int(answered.group(2))) == (len(rules.questions) - unanswered, len(rules.questions))

    # the deciding condition: what the heading and the "because" sentence say it read
    if rec.decided_by == "override":
        override = rules.index.overrides[rec.deciding_override]
        firing = _firing_answers(override.when, rec.outcome.answers)
        heading = next(line for line in doc.splitlines() if line.startswith("## ") and "settle" in line)
        if len(firing) == 1 and not override.when.profile_read():
            assert heading == "## One of your answers settles it"
        elif firing and not override.when.profile_read():
            assert heading == f"## Your answers to {list(WORDS)[len(firing)]} questions settle it"
        else:
            assert heading == "## A deciding condition settles it"
        because = doc[doc.index(heading) :].split("\n\n")[1]
        for question in rules.questions:
            assert (f"“{question.text}”" in because) == (question.id in firing), because
        wording = Wording({q.id: q.text.strip() for q in rules.questions}, {k: c.description for k, c in rules.catalogues.items()})
        full = f"The condition in full: it applies when {prose(override.when, wording)}." in " ".join(because.split())
        assert full == bool(override.when.profile_read() or len(override.when.questions_read()) != len(firing))
        assert "precondition" not in doc[doc.index(heading) : doc.index("## What could change this")]


def _render_and_check(advisor: Advisor, renderer: Renderer, districts: list[District]) -> tuple[int, set[str], set[str]]:
    """Check one document per distinct set of claims; the overrides and levels they covered."""
    template = renderer.template("md")
    seen: dict[tuple, None] = {}
    overrides: set[str] = set()
    levels: set[str] = set()
    for rec in advisor.recommend_many(districts):
        key = _claims(rec)
        if key in seen:
            continue
        seen[key] = None
        check(renderer.render_context(template, renderer.context(rec, generated=DAY)), rec)
        overrides.update(rec.outcome.overrides)
        levels.add(rec.confidence)
    return len(seen), overrides, levels


def test_every_yes_no_answer_set(advisor: Advisor, renderer: Renderer) -> None:
    rules = advisor.rules
    questions = [q.id for q in rules.questions]
    answer_sets = [dict(zip(questions, values)) for values in itertools.product(("yes", "no"), repeat=len(questions))]
    # without unknowns the claims depend only on the main outcome: one full recommendation per distinct one
    distinct: dict[tuple, dict[str, str]] = {}
    fired: set[str] = set()
    levels: set[str] = set()
    for answers, outcome in zip(answer_sets, advisor.evaluate(answer_sets)):
        distinct.setdefault(_outcome_claims(rules, outcome), answers)
        fired.update(outcome.overrides)
        levels.add(outcome.confidence)
    rendered, overrides, rendered_levels = _render_and_check(advisor, renderer, [_district(rules, a, {}) for a in distinct.values()])
    # every override and every confidence level reachable over the 8,192 sets had a document checked
    assert (overrides, rendered_levels) == (fired, levels)
    assert {o.id for o in rules.overrides if o.effect == "recommend" and not o.when.profile_read()} <= fired
    assert rendered == len(distinct) > 10


def test_sampled_answer_sets_with_unknowns(advisor: Advisor, renderer: Renderer) -> None:
    rules = advisor.rules
    rng = random.Random(15)
    questions = [q.id for q in rules.questions]
    profiles = [{}, {"students": 18400, "sis": "PowerSchool", "uses_clever": True}, {"students": 250000, "sis": "Genesis"}]
    districts = []
    for i in range(SAMPLED):
        share = (0.15, 0.3, 0.5, 0.8)[i % 4]
        answers = {q: "unknown" if rng.random() < share else rng.choice(("yes", "no")) for q in questions}
        districts.append(_district(rules, answers, profiles[i % len(profiles)]))
    rendered, overrides, levels = _render_and_check(advisor, renderer, districts)
    assert rendered > SAMPLED // 4
    assert "insufficient" in levels
    assert {o.id for o in rules.overrides if o.effect == "review"} <= overrides
