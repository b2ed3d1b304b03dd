"""The template context: what a document template sees, built from a Recommendation and its rules.

Plain JSON data (dicts, lists, strings, numbers, booleans, null), documented variable by variable in
docs/templates.md; `rostering-advisor context FILE` prints it. Strings written in the rules are
`RulesText` (a `str`), so Markdown templates escape them lightly; everything else, the district's
own strings first, is escaped strictly. Ids are present for templates that need to test them, but
every id has a label or text beside it for printing.

What does not depend on the district (labels, texts, option descriptions) is prepared once per
rules digest; building a context is then a few dozen small dicts.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, overload

from engine.evaluate.advisor import Recommendation
from engine.files import GENERATOR
from engine.render.escaping import RulesText
from engine.rules.conditions import Wording, field_label, prose, value_text
from engine.rules.model import Rules

DIGEST_SHORT = 12
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def wording(rules: Rules) -> Wording:
    """What the prose of conditions needs from the rules: question texts, catalogue descriptions."""
    return Wording({q.id: q.text.strip() for q in rules.questions}, {k: c.description for k, c in rules.catalogues.items()})


def rules_info(rules: Rules) -> dict[str, Any]:
    """The `rules` variable: the rules' name, version and digest."""
    return {
        "name": _text(rules.manifest.name),
        "version": rules.version,
        "digest": rules.digest,
        "digest_short": rules.digest[:DIGEST_SHORT],
    }


@overload
def _text(value: str) -> RulesText: ...
@overload
def _text(value: None) -> None: ...
def _text(value: str | None) -> RulesText | None:
    return None if value is None else RulesText(value.strip())


def _num(value: float) -> int | float:
    """A number as JSON shows it best: 3, not 3.0."""
    return int(value) if float(value).is_integer() else round(value, 6)


@dataclass(frozen=True, eq=False)
class _RulesView:
    """The district-independent part of the context, for one rules digest (one view per digest:
    never compared)."""

    option_label: dict[str, RulesText]
    options: dict[str, dict[str, Any]]
    option_order: tuple[str, ...]
    questions: dict[str, dict[str, Any]]
    question_order: tuple[str, ...]
    factors: dict[str, Any]
    rationale: dict[str, RulesText]
    overrides: dict[str, Any]
    override_questions: dict[str, tuple[tuple[str, tuple[str, ...]], ...]]
    condition_text: dict[str, RulesText]  # each override's condition in prose
    override_reads: dict[str, dict[str, Any]]  # how many questions, and whether the profile, it reads
    derived: dict[str, RulesText]
    levels: dict[str, tuple[RulesText, RulesText]]
    review_note: RulesText | None
    next_steps: dict[str, tuple[int, RulesText]]
    tie_break_reason: RulesText
    rules: dict[str, Any]
    # question entries by (question, answer, derived rule, factor rule): few, and shared by every
    # context that shows the same answer (templates cannot change them)
    entries: dict[tuple[str, str, str | None, str | None], dict[str, Any]] = field(default_factory=dict)


_VIEWS: dict[str, _RulesView] = {}


def _view(rules: Rules) -> _RulesView:
    view = _VIEWS.get(rules.digest)
    if view is None:
        view = _VIEWS[rules.digest] = _build_view(rules)
    return view


def _build_view(rules: Rules) -> _RulesView:
    words = wording(rules)
    themes = {t.id: _text(t.label) for t in rules.themes}
    options = {
        o.id: {
            "id": o.id,
            "index": index,
            "label": _text(o.label),
            "summary": _text(o.summary),
            "means": tuple(_text(m) for m in o.means),  # tuples: shared by every context, never changed
            "caveats": tuple(_text(c) for c in o.caveats),
        }
        for index, o in enumerate(rules.options)
    }
    questions = {
        q.id: {
            "id": q.id,
            "number": number,
            "text": _text(q.text),
            "help": _text(q.help),
            "theme": q.theme,
            "theme_label": themes.get(q.theme),
            "informational": q.informational,
        }
        for number, q in enumerate(rules.questions, start=1)
    }
    return _RulesView(
        option_label={o.id: _text(o.label) for o in rules.options},
        options=options,
        option_order=tuple(o.id for o in rules.options),
        questions=questions,
        question_order=tuple(q.id for q in rules.questions),
        factors=rules.index.factors,
        rationale={f.id: _text(f.rationale) for f in rules.factors},
        overrides=rules.index.overrides,
        override_questions={o.id: o.when.supporting_answers() for o in rules.overrides},
        condition_text={o.id: RulesText(prose(o.when, words)) for o in rules.overrides},
        override_reads={
            o.id: {"reads_questions": len(o.when.questions_read()), "reads_profile": bool(o.when.profile_read())}
            for o in rules.overrides
        },
        derived={d.id: _text(d.explanation) for d in rules.derived},
        levels={k: (_text(v.label), _text(v.description)) for k, v in rules.policy.levels.items()},
        review_note=_text(rules.policy.review.note) if rules.policy.review else None,
        next_steps={n.id: (n.priority, _text(n.text)) for n in rules.next_steps},
        tie_break_reason=_text(rules.policy.tie_break_reason),
        rules=rules_info(rules),
    )


def date_text(day: datetime.date) -> str:
    """A date as a US reader writes it: November 28, 2026."""
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def build_context(rec: Recommendation, generated: datetime.date) -> dict[str, Any]:
    """The context of one document (see docs/templates.md)."""
    view = _view(rec.rules)
    outcome = rec.outcome
    questions = _questions(view, outcome)
    by_question = {q["id"]: q for q in questions}
    voting = [q for q in questions if q["favours"] is not None]
    option = rec.option
    # Strongest first; equal weights keep the order of the questions.
    ranked = sorted(voting, key=lambda q: -q["weight"])
    supporting = [q for q in ranked if q["favours"] == option]
    opposing = [q for q in ranked if q["favours"] != option]
    scores = {o: _num(s) for o, s in outcome.scores.items()}
    options = _options(view, option, scores, voting)
    overrides = _overrides(view, outcome.overrides, rec.deciding_override, by_question)
    unanswered = [q for q in questions if q["answer"] == "unknown"]
    open_questions = [_open_question(o, by_question, view.option_label) for o in rec.open_questions]
    level_label, level_description = view.levels[rec.confidence]
    uncapped = outcome.uncapped_confidence
    return {
        "generator": GENERATOR,
        "generated": {"date": generated.isoformat(), "text": date_text(generated)},
        "district": _district(rec.district),
        "recommendation": {
            "option": option,
            "label": view.option_label[option],
            "summary": view.options[option]["summary"],
            "sentence": rec.summary(),
            "decided_by": rec.decided_by,
            "confidence": rec.confidence,
            "confidence_label": level_label,
            "confidence_description": level_description,
            "score": scores.get(option, 0),
            "needs_review": rec.needs_review,
            "review_note": view.review_note if rec.needs_review else None,
            "capped_from": uncapped if uncapped != rec.confidence else None,
            "capped_from_label": view.levels[uncapped][0] if uncapped != rec.confidence else None,
            "tie_break_reason": view.tie_break_reason,
        },
        "options": options,
        "alternatives": options[1:],
        "override": next((o for o in overrides if o["decided"]), None),
        "other_overrides": [o for o in overrides if o["effect"] == "recommend" and not o["decided"]],
        "review_flags": [o for o in overrides if o["effect"] == "review"],
        "overrides": overrides,
        "reasons": {
            "supporting": supporting,
            "opposing": opposing,
            "supporting_weight": _num(sum(q["weight"] for q in supporting)),
            "opposing_weight": _num(sum(q["weight"] for q in opposing)),
        },
        "questions": questions,
        "unanswered": unanswered,
        "flips": [_flip(w, by_question, view) for w in rec.flips],
        "open_questions": open_questions,
        "unknowns": _unknowns(rec, view.option_label, open_questions),
        "next_steps": [
            {"id": n, "text": view.next_steps[n][1]} for n in sorted(outcome.next_steps, key=lambda n: view.next_steps[n][0])
        ],
        "metrics": {k: _num(v) for k, v in outcome.metrics.items()},
        "counts": {
            "questions": len(questions),
            "answered": sum(1 for q in questions if q["source"] == "answered"),
            "derived": sum(1 for q in questions if q["derived"]),
            "unanswered": len(unanswered),
            "voting": len(voting),
        },
        "chart": {
            "max_score": max(scores.values(), default=0),
            "max_weight": max((q["weight"] for q in voting), default=0),
        },
        "rules": dict(view.rules),
    }


def _district(district: Any) -> dict[str, Any]:
    notes = district.notes
    return {
        "name": district.name,
        "id": district.id,
        "notes": notes,
        "notes_paragraphs": [p.strip() for p in _PARAGRAPH_BREAK.split(notes) if p.strip()],
        "profile": [
            {"field": k, "label": field_label(k), "value": v, "text": value_text(v)} for k, v in district.profile.items()
        ],
    }


def _questions(view: _RulesView, outcome: Any) -> list[dict[str, Any]]:
    """Every question in the rules' order, with the district's answer and the vote it cast."""
    votes = {view.factors[rule].question: view.factors[rule] for rule in outcome.votes}
    questions = []
    for qid in view.question_order:
        value = outcome.answers.get(qid, "unknown")
        derived_rule = outcome.derived.get(qid)
        factor = votes.get(qid)
        key = (qid, value, derived_rule, factor.id if factor else None)
        entry = view.entries.get(key)
        if entry is None:
            entry = view.entries[key] = _question_entry(view, qid, value, derived_rule, factor)
        questions.append(entry)
    return questions


def _question_entry(view: _RulesView, qid: str, value: str, derived_rule: str | None, factor: Any) -> dict[str, Any]:
    entry = dict(view.questions[qid])
    entry.update(
        answer=value,
        source="derived" if derived_rule else ("unknown" if value == "unknown" else "answered"),
        derived=derived_rule is not None,
        derived_explanation=view.derived.get(derived_rule) if derived_rule else None,
        favours=factor.favours if factor else None,
        favours_label=view.option_label[factor.favours] if factor else None,
        favours_index=view.options[factor.favours]["index"] if factor else None,
        weight=_num(factor.weight) if factor else 0,
        rationale=view.rationale[factor.id] if factor else None,
    )
    return entry


def _options(view: _RulesView, option: str, scores: dict[str, Any], voting: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The options, the recommended one first, each with its score."""
    total = sum(scores.values())
    options = []
    for oid in (option, *(o for o in view.option_order if o != option)):
        entry = dict(view.options[oid])
        score = scores.get(oid, 0)
        entry.update(
            recommended=oid == option,
            score=score,
            share_percent=round(100 * score / total) if total else 0,
            votes=sum(1 for q in voting if q["favours"] == oid),
        )
        options.append(entry)
    return options


def _overrides(
    view: _RulesView, fired: tuple[str, ...], deciding: str | None, by_question: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The overrides that fired, in the order they fired, with the answers that made them fire."""
    out = []
    for oid in fired:
        rule = view.overrides[oid]
        answers = [by_question[q] for q, values in view.override_questions[oid] if by_question[q]["answer"] in values]
        out.append(
            {
                "id": oid,
                "effect": rule.effect,
                "option": rule.option,
                "option_label": view.option_label.get(rule.option) if rule.option else None,
                "reason": _text(rule.reason),
                "revisit_when": _text(rule.revisit_when),
                "condition_text": view.condition_text[oid],
                "decided": oid == deciding,
                **view.override_reads[oid],
                "questions": [
                    {"question": q["id"], "number": q["number"], "text": q["text"], "answer": q["answer"]} for q in answers
                ],
            }
        )
    return out


def _flip(what_if: Any, by_question: dict[str, dict[str, Any]], view: _RulesView) -> dict[str, Any]:
    question = by_question[what_if.question]
    outcome = what_if.outcome
    return {
        "question": what_if.question,
        "number": question["number"],
        "text": question["text"],
        "answer": what_if.answer,
        "derived": question["derived"],
        "changed_to": what_if.changed_to,
        "option": outcome.option,
        "label": view.option_label[outcome.option],
        "confidence": outcome.confidence,
        "confidence_label": view.levels[outcome.confidence][0],
        "decided_by": outcome.decided_by,
    }


def _branch(counts: dict[str, int], label: dict[str, RulesText]) -> dict[str, Any]:
    outcomes = [{"option": o, "label": label[o], "count": n} for o, n in counts.items()]
    return {
        "outcomes": outcomes,
        "total": sum(counts.values()),
        "only": outcomes[0]["label"] if len(outcomes) == 1 else None,
    }


def _open_question(open_q: Any, by_question: dict[str, dict[str, Any]], label: dict[str, RulesText]) -> dict[str, Any]:
    question = by_question[open_q.question]
    return {
        "question": open_q.question,
        "number": question["number"],
        "text": question["text"],
        "help": question["help"],
        "could_change": open_q.could_change,
        "if_yes": _branch(open_q.if_yes, label),
        "if_no": _branch(open_q.if_no, label),
    }


def _unknowns(rec: Recommendation, label: dict[str, RulesText], open_questions: list[dict[str, Any]]) -> dict[str, Any]:
    combos = rec.combinations
    open_count = len(rec.open_questions)
    contrary = rec.contrary
    by_question = {o["question"]: o for o in open_questions}
    return {
        "count": open_count,
        "exhaustive": combos is not None or open_count == 0,
        "combinations": sum(combos.values()) if combos else (0 if open_count == 0 else None),
        "outcomes": [{"option": o, "label": label[o], "count": n} for o, n in (combos or {}).items()],
        "recommended_count": (combos or {}).get(rec.option, 0),
        "contrary": {"option": contrary, "label": label[contrary], "count": combos[contrary]} if contrary and combos else None,
        "deciding": [{k: by_question[q][k] for k in ("question", "number", "text")} for q in rec.deciding_questions()],
    }
