"""Verdicts for what-if variants: the same answers with one or a few changed.

A district's advice weighs ~15 variants (each answer flipped, each combination of its open
questions), and a batch of 13,000 districts asks for ~60,000 distinct ones: judging each with a
whole engine evaluation would cost more than everything else together. So a variant is judged
from memoised pieces, each computed by the engine (`compiler.compile_parts`):

1. each `Part` — the factor rules and deciding overrides that read the same answers — is
   evaluated on a fact holding only those answers; its votes and overrides are memoised by
   those answers, so the engine sees each part once per combination of its own answers;
2. the votes and overrides of all parts make the tally (`runtime.tally`, as the engine's own
   tally rule does), and the decision and confidence rules run on it, memoised by the tally
   properties they read.

Variants carry the district's final answers (derived ones included), so derived rules, which
read only the profile, cannot fire on them: a still-open question stays open. `judge` relies on
that: it is for variants of final answers. When a derived rule reads answers, or the parts would
pass the engine's rule limit, the rules compile to no parts and every variant gets a whole
evaluation instead.

A variant's answers are one letter per question, in the rules' order (`y`, `n`, `u`): compact
memo keys, and cheap to change one answer.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from engine.evaluate.compiler import Part, Program, encode_intake
from engine.evaluate.runtime import Engine, Verdict, tally
from engine.rules.conditions import normalise

LETTER = {"yes": "y", "no": "n", "unknown": "u"}
WORD = {letter: word for word, letter in LETTER.items()}
MEMO_SIZE = 1 << 17  # whole variants: a ~60-byte key each, the Verdicts themselves shared
PIECE_MEMO_SIZE = 1 << 14  # parts and conclusions: bounded by the rules, unless they read profile numbers

Variant = tuple[str, dict[str, Any]]  # (answers as letters, the district's profile)


def _nothing(answers: str) -> tuple:
    return ()


def _profile(profile: dict[str, Any], name: str) -> Any:
    """A profile value as a fact holds it (None: the fact leaves it out)."""
    return normalise(profile.get(name))


def letters(program: Program, answers: dict[str, str]) -> str:
    """Answers (question -> yes/no/unknown) as one letter per question of the program."""
    return "".join(LETTER[answers.get(q, "unknown")] for q in program.questions)


class VariantJudge:
    """Judges variants for one rules version, with memos shared by every district it judges.

    `engine` runs the conclusions program when `parts` (the parts program's engine) is given,
    else the whole what-if program (`compile_rules(rules, next_steps=False)`).
    """

    def __init__(self, engine: Engine, parts: Engine | None) -> None:
        self._engine = engine
        self._parts = parts
        program = engine.program
        self._questions = program.questions
        position = {f"a_{q}": i for q, i in program.positions.items()}  # by fact property
        # the letters of the scored questions, whose `u`s the tally counts as unanswered
        scored = [program.positions[q] for q in program.scored_questions]
        self._scored: Callable[[str], Any] = operator.itemgetter(*scored) if scored else _nothing
        # per part: its type, what reads its answers out of a variant's letters, its profile fields
        self._pieces: list[tuple[Part, Callable[[str], Any], tuple[str, ...]]] = []
        for part in parts.program.parts if parts is not None else ():
            spots = [position[r] for r in part.reads if r in position]
            fields = tuple(r[2:] for r in part.reads if r.startswith("p_"))
            self._pieces.append((part, operator.itemgetter(*spots) if spots else _nothing, fields))
        self._profiled_parts = tuple(i for i, (_, _, fields) in enumerate(self._pieces) if fields)
        # the profile fields a verdict can depend on: those the parts and conclusions read, or, for
        # whole evaluations, every field any rule reads
        read = {name for *_, fields in self._pieces for name in fields} | {r[2:] for r in program.conclusion_reads if r.startswith("p_")}
        self._profile_fields = tuple(sorted(read)) if parts is not None else program.profile_fields
        # what the conclusion fact holds: (property, position of the answer it copies, or -1)
        self._conclusion_reads = tuple((name, position.get(name, -1)) for name in program.conclusion_reads)
        self._conclusion_answers = any(name[:2] in ("a_", "p_") for name in program.conclusion_reads)
        self._memo: OrderedDict[str, Verdict] = OrderedDict()
        # per part, its votes and overrides by what it reads (`_part_keys`)
        self._part_memos: list[dict[Any, tuple[list, list]]] = [{} for _ in self._pieces]
        self._conclusions: dict[tuple, Verdict] = {}

    def judge(self, variants: Sequence[Variant]) -> list[Verdict]:
        """The verdict of each variant, in order."""
        keys = [self._key(answers, profile) for answers, profile in variants]
        results: dict[str, Verdict] = {}
        todo: dict[str, Variant] = {}
        for key, variant in zip(keys, variants):
            if key in results or key in todo:
                continue
            known = self._memo.get(key)
            if known is not None:
                self._memo.move_to_end(key)
                results[key] = known
            else:
                todo[key] = variant
        if todo:
            judged = self._compose(list(todo.values())) if self._parts is not None else self._whole(list(todo.values()))
            results.update(zip(todo, judged))
            self._memo.update(zip(todo, judged))
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return [results[key] for key in keys]

    def _key(self, answers: str, profile: dict[str, Any]) -> str:
        if not self._profile_fields:
            return answers
        return answers + repr(self.profile_key(profile))

    def profile_key(self, profile: dict[str, Any]) -> tuple:
        """The profile values a verdict can depend on: variants that differ only elsewhere share verdicts."""
        return tuple(_profile(profile, name) for name in self._profile_fields)

    def _whole(self, variants: list[Variant]) -> list[Verdict]:
        """Every variant evaluated by the whole verdicts program (derivation included)."""
        program = self._engine.program
        return self._engine.decide(
            [encode_intake(program, {q: WORD[a] for q, a in zip(self._questions, answers)}, profile) for answers, profile in variants]
        )

    def _compose(self, variants: list[Variant]) -> list[Verdict]:
        """Verdicts from memoised parts and conclusions; what is missing goes to the engine in one call per stage."""
        assert self._parts is not None
        memos, conclusions = self._part_memos, self._conclusions
        every: tuple[dict[Any, Any], ...] = (*memos, conclusions)
        for memo in every:  # bounded; only ever large if rules read profile numbers
            if len(memo) > PIECE_MEMO_SIZE:
                memo.clear()
        part_keys = [self._part_keys(answers, profile) for answers, profile in variants]
        found: list[list[Any]] = [list(map(dict.get, memos, keys)) for keys in part_keys]  # None where a part is not memoised
        missing: dict[tuple[int, Any], dict[str, Any]] = {}
        for keys, firings, (answers, profile) in zip(part_keys, found, variants):
            if None in firings:
                for i, key in enumerate(keys):
                    if firings[i] is None and (i, key) not in missing:
                        missing[i, key] = self._part_fact(self._pieces[i], answers, profile)
        if missing:
            for (i, key), fired in zip(missing, self._parts.fire(list(missing.values()))):
                memos[i][key] = fired
            found = [list(map(dict.get, memos, keys)) for keys in part_keys]
        program = self._engine.program
        scored = self._scored
        tallies: list[tuple] = []  # the conclusion key of each variant
        for firings, (answers, profile) in zip(found, variants):
            votes: list = []
            overrides: list = []
            for part_votes, part_overrides in firings:
                votes += part_votes
                overrides += part_overrides
            tallies.append(self._conclusion_key(tally(program, votes, overrides, scored(answers).count("u")), answers, profile))
        todo = list({key: None for key in tallies if key not in conclusions})
        if todo:
            names = self._engine.program.conclusion_reads
            facts = [{"t": "tally", **{n: v for n, v in zip(names, key) if v is not None}} for key in todo]
            conclusions.update(zip(todo, self._engine.conclude(facts)))
        return [conclusions[key] for key in tallies]

    def _part_keys(self, answers: str, profile: dict[str, Any]) -> list[Any]:
        """What each part reads of a variant: its answers' letters, with its profile values if it reads any."""
        keys = [read(answers) for _, read, _ in self._pieces]
        for i in self._profiled_parts:
            keys[i] = (keys[i], *(_profile(profile, f) for f in self._pieces[i][2]))
        return keys

    def _part_fact(
        self, piece: tuple[Part, Callable[[str], Any], tuple[str, ...]], answers: str, profile: dict[str, Any]
    ) -> dict[str, Any]:
        part, _, _ = piece
        fact: dict[str, Any] = {"t": part.fact_type}
        for name in part.reads:
            value = WORD[answers[self._engine.program.positions[name[2:]]]] if name.startswith("a_") else _profile(profile, name[2:])
            if value is not None:  # a missing profile field stays missing
                fact[name] = value
        return fact

    def _conclusion_key(self, fields: dict[str, Any], answers: str, profile: dict[str, Any]) -> tuple:
        """What the decision and confidence rules read of a tally, in `conclusion_reads` order
        (None for a property the fact would not have); the tally fact is made from it."""
        if not self._conclusion_answers:
            return tuple(map(fields.get, self._engine.program.conclusion_reads))
        key: list[Any] = []
        for name, position in self._conclusion_reads:
            if position >= 0:
                key.append(WORD[answers[position]])
            elif name.startswith("p_"):
                key.append(_profile(profile, name[2:]))
            else:
                key.append(fields.get(name))
        return tuple(key)
