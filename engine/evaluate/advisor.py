"""The Python API: load the rules once, then recommend for one district or many.

    advisor = Advisor.load()                       # ./rules, or the shipped rules
    rec = advisor.recommend({"district": {"name": "Lakeview"}, "answers": {...}})
    rec.to_dict()                                  # the JSON contract of `recommend --format json`

Besides the main evaluation, each recommendation judges variants of its final answers (derived
ones included): every combination of the open (unknown) questions when there are at most
`MAX_COMBINED_UNKNOWNS`, else each open question alone; and each answered question flipped, to
find the single answers that would change the option. `variants.VariantJudge` judges them, for
all the districts of a call together, from memoised pieces the engine computes.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import cache
from engine.compact_json import compact_bytes, indented
from engine.errors import Diagnostic, InputError, SourceLocation
from engine.evaluate.answers import District, district_from_data, read_district
from engine.evaluate.compiler import Program, compile_conclusions, compile_parts, compile_rules, encode_intake, ruleset_name
from engine.evaluate.runtime import Engine, Outcome, Outline, RulesetRefused, Verdict
from engine.evaluate.variants import WORD, VariantJudge, letters
from engine.files import GENERATOR, SEAL_BLANK, seal
from engine.rules.model import Factor, Rules
from engine.rules.rulebook import load_rules

if TYPE_CHECKING:
    from engine.evaluate.plan import Plan, Planner

MAX_COMBINED_UNKNOWNS = 8
_PROGRAMS: dict[str, tuple[Program, Program, Program | None]] = {}  # digest -> (full, what-if, parts)


@dataclass(frozen=True)
class WhatIf:
    """A single changed answer and the outcome it leads to."""

    question: str
    answer: str  # the district's (final) answer
    changed_to: str
    outcome: Verdict


@dataclass(frozen=True)
class OpenQuestion:
    """An unknown question: the options each answer leads to (counted over the combinations of the
    other unknowns), and whether answering it could, on its own, change the option."""

    question: str
    if_yes: dict[str, int]
    if_no: dict[str, int]
    could_change: bool


@dataclass(frozen=True)
class Recommendation:
    """The advice for one district: the engine's outcome and the what-if variants around it."""

    district: District
    rules: Rules
    outcome: Outcome
    what_if: tuple[WhatIf, ...]
    open_questions: tuple[OpenQuestion, ...]
    combinations: dict[str, int] | None  # option -> number of combinations of the unknowns, when enumerated

    @property
    def option(self) -> str:
        return self.outcome.option

    @property
    def confidence(self) -> str:
        return self.outcome.confidence

    @property
    def decided_by(self) -> str:
        return self.outcome.decided_by

    @property
    def unanswered(self) -> list[str]:
        return [q for q, v in self.outcome.answers.items() if v == "unknown"]

    @property
    def flips(self) -> list[WhatIf]:
        """The single changed answers that would change the recommended option."""
        return [w for w in self.what_if if w.outcome.option != self.option]

    @property
    def needs_review(self) -> bool:
        """True when an override flagged the advice for review by a person."""
        overrides = self.rules.index.overrides
        return any(overrides[o].effect == "review" for o in self.outcome.overrides)

    @property
    def contrary(self) -> str | None:
        """The option that most ways of answering the open questions lead to, when that is not the
        recommended one (known only when every combination was tried)."""
        combos = self.combinations
        if not combos:
            return None
        total = sum(combos.values())
        return next((o for o, n in combos.items() if o != self.option and 2 * n > total), None)

    def deciding_questions(self, limit: int = 3) -> list[str]:
        """Up to `limit` open questions that decide the advice: those whose answer can change the
        option, the ones whose yes and no lead most differently to the recommended option first."""

        def share(counts: dict[str, int]) -> float:
            total = sum(counts.values())
            return counts.get(self.option, 0) / total if total else 0.0

        movers = [o for o in self.open_questions if o.could_change]
        ranked = sorted(movers, key=lambda o: -abs(share(o.if_yes) - share(o.if_no)))  # stable: rules' order on ties
        return [o.question for o in ranked[:limit]]

    @property
    def deciding_override(self) -> str | None:
        return self.outcome.decision_rule.rsplit(".", 1)[-1] if self.decided_by == "override" else None

    def summary(self) -> str:
        """One sentence: what, for whom, how sure, and why in a few words."""
        rules = self.rules
        label = rules.option(self.option).label
        # "confidence: leaning" reads for every level label; "leaning confidence" does not.
        level = f"confidence: {rules.policy.levels[self.confidence].label.lower()}"
        if self.needs_review and rules.policy.review:
            # the weakest level is not lifted by a review ("insufficient information, until reviewed" is false)
            weakest = self.confidence == list(rules.policy.levels)[-1]
            level += ", and a person should review it" if weakest else f", {rules.policy.review.note}"
        who = self.district.name
        if self.decided_by == "override":
            assert self.deciding_override is not None  # a deciding override decided it
            override = rules.index.overrides[self.deciding_override]
            why = f"a deciding condition applies: {_first_sentence(override.reason)}"
        elif self.decided_by == "tie_break":
            why = f"the answers are evenly balanced, and {_lower_first(_first_sentence(rules.policy.tie_break_reason))}"
        else:
            scores = self.outcome.scores
            other = max((o for o in scores if o != self.option), key=lambda o: scores[o], default=None)
            versus = f" to {_number(scores[other])}" if other else ""
            why = f"the weighted answers favor it {_number(scores[self.option])}{versus}"
        return f"{label} is recommended for {who} ({level}): {_lower_first(why).rstrip('.')}."

    def to_json(self, *, compact: bool = False) -> bytes:
        """The JSON document (`recommend --format json`; batch: `compact`, one line), its last key
        the seal that marks it as written by this tool (`files.seal`)."""
        data = {**self.to_dict(), "seal": SEAL_BLANK}
        return seal(compact_bytes(data) + b"\n" if compact else indented(data))

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: see README, "Output"."""
        rules = self.rules
        index = rules.index
        outcome = self.outcome
        factors = index.factors
        overrides = index.overrides
        voted = {factors[v].question: factors[v] for v in outcome.votes}
        derived = outcome.derived
        deciding = self.deciding_override
        district = self.district
        return {
            "generator": GENERATOR,
            "district": {"name": district.name, "id": district.id, "profile": district.profile, "notes": district.notes},
            "recommendation": {
                "option": self.option,
                "label": index.options[self.option].label,
                "confidence": self.confidence,
                "confidence_label": rules.policy.levels[self.confidence].label,
                "decided_by": self.decided_by,
                "decided_by_rule": outcome.decision_rule,
                "summary": self.summary(),
                "needs_review": self.needs_review,
            },
            "scores": dict(outcome.scores),
            "metrics": dict(outcome.metrics),
            "answers": {
                q: (
                    {"value": value, "source": "derived", "rule": derived[q], "explanation": index.derived[derived[q]].explanation}
                    if q in derived
                    else {"value": value, "source": "unknown" if value == "unknown" else "answered"}
                )
                for q, value in outcome.answers.items()
            },
            "factors": [_factor_entry(q, value, voted.get(q)) for q, value in outcome.answers.items()],
            "overrides": [
                {
                    "id": o,
                    "effect": overrides[o].effect,
                    "option": overrides[o].option,
                    "reason": overrides[o].reason,
                    "revisit_when": overrides[o].revisit_when,
                    "decided": o == deciding,
                }
                for o in outcome.overrides
            ],
            "unanswered": self.unanswered,
            "open_questions": [
                {"question": o.question, "if_yes": o.if_yes, "if_no": o.if_no, "could_change": o.could_change}
                for o in self.open_questions
            ],
            "unknown_combinations": self.combinations,
            "what_if": [
                {
                    "question": w.question,
                    "answer": w.answer,
                    "changed_to": w.changed_to,
                    "option": w.outcome.option,
                    "confidence": w.outcome.confidence,
                    "decided_by": w.outcome.decided_by,
                }
                for w in self.flips
            ],
            "next_steps": [{"id": n, "text": index.next_steps[n].text} for n in outcome.next_steps],
            "rules": {"version": rules.version, "digest": rules.digest},
            "facts": list(outcome.facts),
            "trace": [{"rule": rule, "kind": kind, "facts": [fact]} for rule, kind, fact in outcome.trace],
        }


def _factor_entry(question: str, answer: str, factor: Factor | None) -> dict[str, Any]:
    """A question's entry in the JSON `factors`: the vote its answer cast, if any."""
    if factor is None:
        return {"question": question, "answer": answer, "favours": None, "weight": 0, "rationale": None, "rule": None}
    return {
        "question": question,
        "answer": answer,
        "favours": factor.favours,
        "weight": factor.weight,
        "rationale": factor.rationale,
        "rule": factor.id,
    }


class Advisor:
    """Rules compiled once into the engine; recommendations for districts."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        if rules.digest not in _PROGRAMS:
            _PROGRAMS[rules.digest] = _programs(rules)
        self.program, judged, parts = _PROGRAMS[rules.digest]
        try:
            self.engine = Engine(self.program)
            self.judge = VariantJudge(Engine(judged), Engine(parts) if parts is not None else None)
        except RulesetRefused as refused:
            raise _unbuildable(rules, refused) from None

    @functools.cached_property
    def planner(self) -> Planner:
        """Made by the first `plan`: `recommend` needs no planner, nor its module loaded (start-up time)."""
        from engine.evaluate.plan import Planner

        return Planner(self.rules, self.program, self.judge)

    def start(self) -> None:
        """Evaluate one district that answered nothing: the engine builds and runs every ruleset
        (what `validate` does before it approves the rules)."""
        self.recommend_many([district_from_data({"district": {"name": "validate"}}, self.rules)])

    @classmethod
    def load(cls, rules_dir: Path | str | None = None) -> Advisor:
        return cls(load_rules(Path(rules_dir) if rules_dir is not None else None))

    def read(self, path: Path | str) -> District:
        """An answers file, checked against these rules' questions."""
        return read_district(Path(path), self.rules)

    def recommend(self, district: District | dict[str, Any]) -> Recommendation:
        if not isinstance(district, District):
            district = district_from_data(district, self.rules)
        return self.recommend_many([district])[0]

    def plan(self, district: District | dict[str, Any]) -> Plan:
        """What to ask next: the open question that matters most, or that the option is settled."""
        if not isinstance(district, District):
            district = district_from_data(district, self.rules)
        (main,) = self.engine.evaluate([encode_intake(self.program, district.answers, district.profile)])
        return self.planner.plan(district, main)

    def evaluate(self, answer_sets: Iterable[dict[str, str]], profile: dict[str, Any] | None = None) -> list[Outcome]:
        """Bare engine outcomes for answer sets (exhaustive checks and impact analysis use this)."""
        return self.engine.evaluate(encode_intake(self.program, answers, profile or {}) for answers in answer_sets)

    def outline(self, answer_sets: Sequence[dict[str, str]], profile: dict[str, Any] | None = None) -> list[Outline]:
        """What the engine decides for each answer set, without facts and trace (exhaustive checks, impact)."""
        return self.engine.outline([encode_intake(self.program, answers, profile or {}) for answers in answer_sets])

    def recommend_many(self, districts: Sequence[District]) -> list[Recommendation]:
        """Recommendations for many districts, their evaluations batched into few engine calls."""
        mains = self.engine.evaluate(encode_intake(self.program, d.answers, d.profile) for d in districts)
        plans = [_Plan.of(self.program, main) for main in mains]
        verdicts = iter(
            self.judge.judge([(answers, district.profile) for district, plan in zip(districts, plans) for answers in plan.answer_sets()])
        )
        results = []
        for district, main, plan in zip(districts, mains, plans):
            combos = [next(verdicts) for _ in plan.combinations]
            flips = [next(verdicts) for _ in plan.flips]
            results.append(
                Recommendation(
                    district=district,
                    rules=self.rules,
                    outcome=main,
                    what_if=tuple(
                        WhatIf(q, main.answers[q], WORD[answers[plan.position[q]]], verdict)
                        for (q, answers), verdict in zip(plan.flips, flips)
                    ),
                    open_questions=plan.open_questions(combos),
                    combinations=_count(c.option for c in combos) if plan.exhaustive else None,
                )
            )
        return results


def _programs(rules: Rules) -> tuple[Program, Program, Program | None]:
    """The compiled programs of `rules` (full, what-if, parts), from the disk cache when it has them."""
    cached = cache.load("programs", rules.digest)
    if (
        isinstance(cached, tuple)
        and len(cached) == 3
        and all(isinstance(p, Program) and p.name.startswith(ruleset_name(rules)) for p in cached if p is not None)
        and cached[0] is not None
    ):
        return cached
    parts = compile_parts(rules)
    # what-if variants: by parts and conclusions, or (when parts cannot serve) whole, without next steps
    judged = compile_conclusions(rules) if parts is not None else compile_rules(rules, next_steps=False)
    programs = (compile_rules(rules), judged, parts)
    cache.store("programs", rules.digest, programs)
    return programs


@dataclass
class _Plan:
    """The variant answer sets evaluated beside a district's main outcome, as answer letters
    (`variants.letters`): every combination of the open questions when there are at most
    `MAX_COMBINED_UNKNOWNS`, else each open question alone; and each answered question flipped."""

    position: dict[str, int]
    unknowns: list[str]
    combinations: list[str]
    flips: list[tuple[str, str]]
    exhaustive: bool

    @classmethod
    def of(cls, program: Program, main: Outcome) -> _Plan:
        final = letters(program, main.answers)
        position = program.positions
        unknowns = [q for q in program.questions if main.answers[q] == "unknown"]
        spots = [position[q] for q in unknowns]
        if len(unknowns) <= MAX_COMBINED_UNKNOWNS:
            pattern = final.replace("u", "%s")  # the open questions are the `u`s
            combinations = [pattern % values for values in itertools.product("yn", repeat=len(spots))] if spots else []
            exhaustive = bool(spots)
        else:
            combinations = [_set(final, i, value) for i in spots for value in "yn"]
            exhaustive = False
        flips = [(q, _set(final, i, "n" if final[i] == "y" else "y")) for q, i in position.items() if final[i] != "u"]
        return cls(position, unknowns, combinations, flips, exhaustive)

    def answer_sets(self) -> list[str]:
        return self.combinations + [answers for _, answers in self.flips]

    def open_questions(self, outcomes: list[Verdict]) -> tuple[OpenQuestion, ...]:
        out = []
        for question in self.unknowns:
            spot = self.position[question]
            others = [self.position[q] for q in self.unknowns if q != question]
            by_answer: dict[str, list[str]] = {"y": [], "n": []}
            # combinations that differ only in this question: does its answer alone move the option?
            pairs: dict[tuple, set[str]] = {}
            for answers, outcome in zip(self.combinations, outcomes):
                value = answers[spot]
                if value in by_answer:
                    by_answer[value].append(outcome.option)
                    pairs.setdefault(tuple(answers[i] for i in others), set()).add(outcome.option)
            could_change = any(len(options) > 1 for options in pairs.values())
            out.append(OpenQuestion(question, _count(by_answer["y"]), _count(by_answer["n"]), could_change))
        return tuple(out)


def _set(answers: str, position: int, letter: str) -> str:
    """`answers` with one letter replaced."""
    return answers[:position] + letter + answers[position + 1 :]


def _count(options: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for option in options:
        counts[option] = counts.get(option, 0) + 1
    return dict(sorted(counts.items()))


def _first_sentence(text: str) -> str:
    head, dot, _ = text.strip().partition(". ")
    return head + "." if dot else text.strip()


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _number(value: float) -> str:
    return f"{value:g}"


def _unbuildable(rules: Rules, refused: RulesetRefused) -> InputError:
    """Rules that validate against the schemas but that durable_rules cannot build, at each rule
    it refuses (else at the rules folder): exit 2, never a traceback."""
    why = f"durable_rules cannot build {{}} ({refused}); split its conditions into smaller rules"
    located = sorted({where for where in map(rules.rule_location, refused.rules) if where is not None})
    if not located:
        return InputError.at(SourceLocation(rules.source), why.format("these rules: too many of them, or too large"))
    return InputError([Diagnostic(loc, why.format("this rule")) for loc in located])
