"""The decision guide: the rule set itself rendered as the help article districts read.

    text = render_guide(Renderer(None), rules, "md", generated=generation_date(None, "date"))

`guide_context` turns the Rules into plain JSON data (documented in docs/templates.md, "The
decision guide"): every question with what each answer favours, its weight and why; the deciding
conditions and review flags with their conditions in plain words and when to revisit them; the
answers derived from a district profile and the catalogues they read; how confidence is judged;
next steps; the rules' version and changelog. The templates `guide.md.j2` and `guide.html.j2`
print it, so the published guide and the engine read the same rules and cannot drift apart.
"""

from __future__ import annotations

import datetime
from typing import Any

from engine.files import GENERATOR
from engine.render.context import _num, _text, date_text, rules_info, wording
from engine.render.documents import Renderer
from engine.rules.conditions import Condition, ProfileTest, atoms, prose
from engine.rules.model import Rules

GUIDE_TEMPLATE = "guide"  # guide.md.j2 / guide.html.j2 in the templates folder


def render_guide(renderer: Renderer, rules: Rules, fmt: str, *, generated: datetime.date) -> str:
    """The decision guide for `rules` in `fmt`, from the templates folder's guide template."""
    return renderer.render_context(renderer.template(fmt, GUIDE_TEMPLATE), guide_context(rules, generated))


def guide_context(rules: Rules, generated: datetime.date) -> dict[str, Any]:
    """What a guide template sees (see docs/templates.md, "The decision guide")."""
    words = wording(rules)
    label = {o.id: _text(o.label) for o in rules.options}
    number = {q.id: n for n, q in enumerate(rules.questions, start=1)}
    levels = rules.policy.levels

    def said(condition: Condition | None) -> str | None:
        return _text(prose(condition, words)) if condition is not None else None

    def question_ref(qid: str) -> dict[str, Any]:
        return {"question": qid, "number": number[qid], "text": _text(rules.question(qid).text)}

    def override(o: Any) -> dict[str, Any]:
        return {
            "id": o.id,
            "priority": o.priority,
            "effect": o.effect,
            "option": o.option,
            "option_label": label.get(o.option) if o.option else None,
            "condition_text": said(o.when),
            "reason": _text(o.reason),
            "revisit_when": _text(o.revisit_when),
            "questions": [question_ref(q) for q in sorted(o.when.questions_read(), key=number.__getitem__)],
            "reads_profile": bool(o.when.profile_read()),
        }

    def derived(d: Any) -> dict[str, Any]:
        catalogues = sorted({a.value for a in atoms(d.when) if isinstance(a, ProfileTest) and a.op == "in_catalogue"})
        return {
            "id": d.id,
            **question_ref(d.question),
            "answer": d.answer,
            "priority": d.priority,
            "condition_text": said(d.when),
            "explanation": _text(d.explanation),
            "fields": sorted(d.when.profile_read()),
            "catalogues": catalogues,
        }

    factors = {(f.question, f.answer): f for f in rules.factors}
    weights = [_num(f.weight) for f in rules.factors]
    overrides = [override(o) for o in rules.overrides]
    derived_rules = [derived(d) for d in rules.derived]
    questions = []
    for q in rules.questions:
        answers = []
        for answer in ("yes", "no"):
            f = factors.get((q.id, answer))
            if f is not None:
                answers.append(
                    {
                        "answer": answer,
                        "favours": f.favours,
                        "favours_label": label[f.favours],
                        "weight": _num(f.weight),
                        "rationale": _text(f.rationale),
                    }
                )
        questions.append(
            {
                "id": q.id,
                "number": number[q.id],
                "text": _text(q.text),
                "help": _text(q.help),
                "theme": q.theme,
                "informational": q.informational,
                "answers": answers,
                "derived": [d for d in derived_rules if d["question"] == q.id],
                "overrides": [o["id"] for o in overrides if q.id in {r["question"] for r in o["questions"]}],
            }
        )
    review = rules.policy.review
    return {
        "generator": GENERATOR,
        "generated": {"date": generated.isoformat(), "text": date_text(generated)},
        "rules": rules_info(rules),
        "changelog": [
            {"version": c.version, "date": c.date, "changes": [_text(x) for x in c.changes]} for c in rules.manifest.changelog
        ],
        "options": [
            {
                "id": o.id,
                "label": label[o.id],
                "summary": _text(o.summary),
                "means": [_text(m) for m in o.means],
                "caveats": [_text(c) for c in o.caveats],
                "next_steps": [
                    {"id": n.id, "text": _text(n.text), "condition_text": said(n.when)} for n in rules.next_steps if n.option == o.id
                ],
            }
            for o in rules.options
        ],
        "themes": [
            {"id": t.id, "label": _text(t.label), "questions": [q for q in questions if q["theme"] == t.id]} for t in rules.themes
        ],
        "questions": questions,
        "weights": {"max": max(weights, default=0), "min": min(weights, default=0)},
        "overrides": overrides,
        "deciding": [o for o in overrides if o["effect"] == "recommend"],
        "review_flags": [o for o in overrides if o["effect"] == "review"],
        "derived": derived_rules,
        "catalogues": [
            {"id": k, "description": _text(c.description), "items": list(c.items)} for k, c in rules.catalogues.items()
        ],
        "confidence": {
            "levels": [{"id": k, "label": _text(v.label), "description": _text(v.description)} for k, v in levels.items()],
            "rules": [
                {"level": c.level, "label": _text(levels[c.level].label), "condition_text": said(c.when)}
                for c in rules.policy.confidence
            ],
            "review": (
                {
                    "at_most": review.at_most,
                    "at_most_label": _text(levels[review.at_most].label) if review.at_most else None,
                    "note": _text(review.note),
                }
                if review
                else None
            ),
        },
        "tie_break": {
            "option": rules.policy.tie_break,
            "label": label[rules.policy.tie_break],
            "reason": _text(rules.policy.tie_break_reason),
        },
    }
