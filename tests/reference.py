"""A small, independent evaluator of the rule model, for differential testing only.

It reads the same `Rules` dataclasses but shares no code with the compiler or the runtime: plain
Python over the documented semantics (docs/rule-language.md). The package never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.rules.conditions import AllOf, AnswerIs, AnyOf, Condition, DecidedBy, MetricTest, Not, ProfileTest
from engine.rules.model import Rules


@dataclass(frozen=True)
class Expected:
    option: str
    decided_by: str
    confidence: str
    overrides: tuple[str, ...]
    answers: dict[str, str]
    scores: dict[str, float]


def _text(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def holds(condition: Condition | None, world: dict[str, Any]) -> bool:
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(holds(c, world) for c in condition.items)
    if isinstance(condition, AnyOf):
        return any(holds(c, world) for c in condition.items)
    if isinstance(condition, Not):
        return not holds(condition.item, world)
    if isinstance(condition, AnswerIs):
        return world["answers"][condition.question] in condition.values
    if isinstance(condition, DecidedBy):
        return world.get("decided_by") == condition.value
    if isinstance(condition, MetricTest):
        return _compare(condition.op, world["metrics"][condition.metric], condition.value)
    assert isinstance(condition, ProfileTest)
    value = world["profile"].get(condition.field)
    if condition.op == "present":
        return (value is not None) == condition.value
    if value is None:
        return condition.op == "not_equals"
    if condition.op == "equals":
        return _text(value) == _text(condition.value)
    if condition.op == "not_equals":
        return _text(value) != _text(condition.value)
    if condition.op == "in":
        return _text(value) in {_text(v) for v in condition.value}
    if condition.op == "in_catalogue":
        return _text(value) in {_text(v) for v in world["catalogues"][condition.value]}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return _compare(condition.op, value, condition.value)


def _compare(op: str, left: float, right: float) -> bool:
    return {
        "at_least": left >= right,
        "at_most": left <= right,
        "more_than": left > right,
        "less_than": left < right,
    }[op]


def evaluate(rules: Rules, answers: dict[str, str], profile: dict[str, Any] | None = None) -> Expected:
    profile = profile or {}
    final = {q.id: answers.get(q.id, "unknown") for q in rules.questions}
    world: dict[str, Any] = {
        "answers": final,
        "profile": profile,
        "catalogues": {name: c.items for name, c in rules.catalogues.items()},
    }
    for rule in sorted(rules.derived, key=lambda d: d.priority):
        if final[rule.question] == "unknown" and holds(rule.when, world):
            final[rule.question] = rule.answer

    scores = {o.id: 0.0 for o in rules.options}
    for factor in rules.factors:
        if final[factor.question] == factor.answer:
            scores[factor.favours] += factor.weight
    fired = tuple(o.id for o in sorted(rules.overrides, key=lambda o: o.priority) if holds(o.when, world))

    ordered = sorted(scores.values(), reverse=True)
    margin = ordered[0] - ordered[1]
    total = sum(scores.values())
    scored = {f.question for f in rules.factors}
    unanswered = sum(1 for q, v in final.items() if v == "unknown" and q in scored)
    world["metrics"] = {
        "margin": margin,
        "margin_share": round(margin / total, 6) if total else 0.0,
        "answered": len(scored) - unanswered,
        "unanswered": unanswered,
        "total_weight": total,
    }
    deciding = [o for o in sorted(rules.overrides, key=lambda o: o.priority) if o.effect == "recommend" and o.id in fired]
    if deciding:
        option, decided_by = deciding[0].option, "override"
    elif margin == 0:
        option, decided_by = rules.policy.tie_break, "tie_break"
    else:
        option, decided_by = max(scores, key=scores.__getitem__), "score"
    world["decided_by"] = decided_by
    confidence = next(level.level for level in rules.policy.confidence if holds(level.when, world))
    review = rules.policy.review
    if review and review.at_most and any(o.effect == "review" for o in rules.overrides if o.id in fired):
        order = list(rules.policy.levels)  # strongest first: a review flag caps the level
        confidence = order[max(order.index(confidence), order.index(review.at_most))]
    assert option is not None
    return Expected(option, decided_by, confidence, fired, final, scores)
