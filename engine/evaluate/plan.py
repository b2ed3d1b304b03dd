"""The questionnaire's plan: which open question to ask next, and when to stop asking.

A district's open questions (unknown after derivation) can be completed with yes/no answers in
2^k ways. The plan counts, for each completion, the option it leads to, and from those counts
says whether the option is `settled` (every completion leads to the current option), which options
are still `reachable`, and which open question to ask next: the one whose answer tells the most
about the option (the largest information gain over the completions, each counted once).

The outcomes come from the engine: every yes/no answer set of the rules' questions (at most
`MAX_PLANNED_QUESTIONS` of them) is judged once per rules digest (and per profile values the
rules read beyond derivation) by the what-if `VariantJudge`, and kept as one bit set per option —
bit `i` is set when answer set `i` leads to the option. A district's completions are then the
answer sets that agree with its final answers: a few integer ANDs and bit counts per open
question, so a plan costs about one engine evaluation (the district's own) once the table exists.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError, SourceLocation
from engine.evaluate.answers import District
from engine.evaluate.compiler import Program
from engine.evaluate.runtime import Outcome
from engine.evaluate.variants import VariantJudge, letters
from engine.rules.model import Rules

MAX_PLANNED_QUESTIONS = 16  # 65,536 answer sets judged once per rules version: about a second
_TABLES_SIZE = 16
_TABLES: OrderedDict[tuple, _Table] = OrderedDict()  # (digest, base letters, profile key) -> table


@dataclass(frozen=True)
class OpenQuestion:
    """An open question of a plan, with the figures it is ranked by.

    `if_yes` / `if_no`: the options the completions lead to when it is answered yes / no;
    `could_change`: some answer to it alone (the other answers kept) changes the option;
    `gain`: what its answer tells about the option, in bits (0 when it cannot change anything);
    `askable`: False when the district answered it "unknown" (it is not asked again).
    `help` holds the guide's words for each answer (`yes` / `no`): the option it favours and why;
    `about` the question's own help text.
    """

    id: str
    text: str
    about: str
    help: dict[str, str]
    askable: bool
    could_change: bool
    gain: float
    if_yes: dict[str, int]
    if_no: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "about": self.about,
            "help": dict(self.help),
            "askable": self.askable,
            "could_change": self.could_change,
            "gain": round(self.gain, 6),
            "if_yes": dict(self.if_yes),
            "if_no": dict(self.if_no),
        }


@dataclass(frozen=True)
class Plan:
    """Where a (partly answered) district stands, and what to ask next.

    `reachable`: option -> number of yes/no completions of the open questions (those answered
    "unknown" included) that lead to it; `settled`: every completion leads to `option`;
    `next`: the askable question to ask next (None when settled or when no askable question can
    change the option); `open`: the open questions, those that matter most first.
    """

    option: str
    label: str
    confidence: str
    confidence_label: str
    scores: dict[str, float]
    settled: bool
    next: OpenQuestion | None
    reachable: dict[str, int]
    open: tuple[OpenQuestion, ...]
    answered: tuple[str, ...]  # questions with a yes/no answer, given or derived
    derived: dict[str, str]  # question -> why the profile answers it (the derived rule's explanation)
    labels: dict[str, str] = field(repr=False)  # option id -> label, for `standing`

    @property
    def deciding(self) -> tuple[OpenQuestion, ...]:
        """The askable open questions whose answer could still change the option."""
        return tuple(q for q in self.open if q.askable and q.could_change)

    def standing(self) -> str:
        """One line for a coordinator: the option so far and how many questions could change it."""
        if self.settled:
            left = len([q for q in self.open if q.askable])
            tail = f"; no answer to the {plural(left, 'remaining question')} can change it" if left else ""
            return f"{self.label} is settled{tail}"
        count = len(self.deciding)
        if count:
            return f"for now {self.label}; {plural(count, 'question')} could still change it"
        return f"for now {self.label}; only questions answered \"unknown\" could still change it"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`rostering-advisor plan --format json`)."""
        return {
            "option": self.option,
            "label": self.label,
            "confidence": self.confidence,
            "confidence_label": self.confidence_label,
            "scores": dict(self.scores),
            "settled": self.settled,
            "standing": self.standing(),
            "next": self.next.id if self.next is not None else None,
            "reachable": dict(self.reachable),
            "answered": list(self.answered),
            "derived": dict(self.derived),
            "open": [q.to_dict() for q in self.open],
        }

    def to_text(self) -> str:
        """The plan for a person reading it out (`rostering-advisor plan --format text`)."""
        total = sum(self.reachable.values())
        lines = [
            f"{self.standing()[:1].upper()}{self.standing()[1:]}.",
            f"So far: {self.label} (confidence: {self.confidence_label.lower()}); scores "
            + ", ".join(f"{self.labels[o]} {_number(v)}" for o, v in self.scores.items())
            + ".",
            f"The {plural(len(self.open), 'open question')} can be answered in {total:,} ways: "
            + ", ".join(f"{n:,} lead to {self.labels[o]}" for o, n in self.reachable.items())
            + ".",
        ]
        lines += [f"Answered from the profile: {q} ({why})" for q, why in self.derived.items()]
        if self.next is not None:
            lines += ["", f"Ask next: {self.next.text} ({self.next.id})"]
            lines += [f"  {answer}: {text}" for answer, text in self.next.help.items()]
        if self.open:
            lines += ["", "Open questions, the most telling first:"]
        for question in self.open:
            if not question.askable:
                note = 'answered "unknown", not asked again'
            elif question.could_change:
                note = "could change the option"  # how much it tells (`gain`, in bits) is in the JSON
            else:
                note = "cannot change the option"
            lines.append(f"  {question.text} ({question.id}): {note}")
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return f"{value:g}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _Table:
    """The option of every yes/no completion of `base` (answer letters whose `u`s are the open
    questions), as a bit set per option: bit `i` of `masks[o]` is set when completion `i` leads to
    `o`. Bit `j` of `i` set means the `j`-th open question of `base` is answered no."""

    def __init__(self, base: str, judge: VariantJudge, profile: dict[str, Any], options: tuple[str, ...]) -> None:
        self.spots = [i for i, letter in enumerate(base) if letter == "u"]
        self.size = 1 << len(self.spots)
        self.full = (1 << self.size) - 1
        pattern = base.replace("u", "%s")
        completions = [pattern % tuple("n" if i >> j & 1 else "y" for j in range(len(self.spots))) for i in range(self.size)]
        verdicts = judge.judge([(answers, profile) for answers in completions])
        bits = {o: bytearray(b"0" * self.size) for o in options}
        for i, verdict in enumerate(verdicts):
            bits.setdefault(verdict.option, bytearray(b"0" * self.size))[self.size - 1 - i] = ord("1")
        self.masks = {o: int(b, 2) for o, b in bits.items()}
        # yes[j]: the completions answering the j-th open question yes (bit j clear)
        self.yes = [self._answered_yes(j) for j in range(len(self.spots))]

    def _answered_yes(self, j: int) -> int:
        """Indexes with bit `j` clear: a run of 2^j ones every 2^(j+1) bits, repeated over the table."""
        period = 1 << (j + 1)
        run = (1 << (1 << j)) - 1
        return self.full // ((1 << period) - 1) * run

    def cube(self, final: str) -> int:
        """The completions that agree with the final answers `final` (a yes/no letter fixes a spot)."""
        mask = self.full
        for j, spot in enumerate(self.spots):
            letter = final[spot]
            if letter == "y":
                mask &= self.yes[j]
            elif letter == "n":
                mask &= self.full ^ self.yes[j]
        return mask


class Planner:
    """Plans for one rules version: the table of outcomes is built once per digest and profile key."""

    def __init__(self, rules: Rules, program: Program, judge: VariantJudge) -> None:
        self.rules = rules
        self.program = program
        self.judge = judge
        index = rules.index
        self._labels = {o.id: o.label for o in rules.options}
        self._help: dict[str, dict[str, str]] = {q.id: {} for q in rules.questions}
        for factor in rules.factors:
            self._help[factor.question][factor.answer] = f"{index.options[factor.favours].label}: {factor.rationale}"

    def plan(self, district: District, main: Outcome) -> Plan:
        """The plan for `district`, whose engine outcome is `main` (derived answers included)."""
        program = self.program
        final = letters(program, main.answers)
        table = self._table(final, district)
        cube = table.cube(final)
        reachable = _counts(table.masks, cube)
        total = cube.bit_count()
        settled = reachable == {main.option: total}
        entropy = _entropy(reachable.values(), total)
        questions = self.rules.index.questions
        ranked = []
        for j, spot in enumerate(table.spots):
            if final[spot] != "u":
                continue
            qid = program.questions[spot]
            yes = cube & table.yes[j]
            no = cube ^ yes
            if_yes, if_no = _counts(table.masks, yes), _counts(table.masks, no)
            shift = 1 << j  # completion i answering yes pairs with i + 2^j answering no
            could_change = any(((m & yes) << shift) != (m & no) for m in table.masks.values())
            n_yes = yes.bit_count()
            rest = (n_yes * _entropy(if_yes.values(), n_yes) + (total - n_yes) * _entropy(if_no.values(), total - n_yes)) / total
            question = questions[qid]
            ranked.append(
                OpenQuestion(
                    id=qid,
                    text=question.text,
                    about=question.help,
                    help=dict(self._help[qid]),
                    askable=district.answers.get(qid) != "unknown",
                    could_change=could_change,
                    gain=max(entropy - rest, 0.0) if could_change else 0.0,
                    if_yes=if_yes,
                    if_no=if_no,
                )
            )
        ranked.sort(key=lambda q: (not q.could_change, -round(q.gain, 9)))  # stable: ties keep the guide's order
        following = None if settled else next((q for q in ranked if q.askable and q.could_change), None)
        return Plan(
            option=main.option,
            label=self._labels[main.option],
            confidence=main.confidence,
            confidence_label=self.rules.policy.levels[main.confidence].label,
            scores=dict(main.scores),
            settled=settled,
            next=following,
            reachable=reachable,
            open=tuple(ranked),
            answered=tuple(q for q in program.questions if main.answers[q] != "unknown"),
            derived={q: self.rules.index.derived[rule].explanation for q, rule in main.derived.items()},
            labels=self._labels,
        )

    def _table(self, final: str, district: District) -> _Table:
        """All answer sets when the rules have few enough questions, else the completions of `final`."""
        base = "u" * len(final) if len(final) <= MAX_PLANNED_QUESTIONS else final
        if base.count("u") > MAX_PLANNED_QUESTIONS:
            raise InputError.at(
                SourceLocation(district.source),
                f"{base.count('u')} open questions: a plan looks at most {MAX_PLANNED_QUESTIONS} ahead; answer some of them first",
            )
        key = (self.rules.digest, base, self.judge.profile_key(district.profile))
        table = _TABLES.get(key)
        if table is None:
            table = _TABLES[key] = _Table(base, self.judge, district.profile, self.program.options)
            while len(_TABLES) > _TABLES_SIZE:
                _TABLES.popitem(last=False)
        else:
            _TABLES.move_to_end(key)
        return table


def _counts(masks: dict[str, int], cube: int) -> dict[str, int]:
    """Option -> completions in `cube` leading to it (options with none left out)."""
    counts = {o: (m & cube).bit_count() for o, m in masks.items()}
    return {o: n for o, n in sorted(counts.items()) if n}


def _entropy(counts: Any, total: int) -> float:
    """Shannon entropy (bits) of the option over `total` equally likely completions."""
    if total == 0:
        return 0.0
    return -sum(n / total * math.log2(n / total) for n in counts if n)
