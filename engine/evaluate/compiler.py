"""Compile the rules model into a durable_rules ruleset given as data.

Facts flow through stages, each a band of engine priorities (`pri`, lower fires first):

    derive ─derived─▶ derive′ ─admit─▶ intake ─factors─▶ votes ─overrides─▶ tally ─decision─▶
                                                        decision ─confidence, next steps─▶

* `intake` (built by the runtime): `a_<question>` answers (yes/no/unknown) and `p_<field>` profile
  values. When a question that derived rules answer is still unknown, the runtime asserts a small
  `derive` fact first: those questions' answers and what the derived rules read (`derive_reads`).
  A derived rule matches a derive fact whose answer is `unknown` and replaces it with one carrying
  the derived answer (and `d_<question>` naming the rule); retraction cancels the activations of
  the old fact, so an explicit answer always wins, one derived rule per question fires, and a
  derived answer may lead to another. The admit rule, after every derived rule, asserts the intake
  with the derived answers: the full intake is matched once, not once per derived answer.
* factor rules match the intake and record a vote; override rules record that they fired.
* the tally rule (after every vote and override) asserts a `tally` fact: the scores `s_*`, the
  score metrics `m_*`, the `leader`, `o_<override>` flags for fired `recommend` overrides, and the
  answers and profile fields that later rules read (`Program.carried`): the fewer properties a
  fact has, the less the engine copies into every activation it makes.
* decision rules match the tally: the highest-priority fired override, else the leader, else the
  tie-break. Their conditions are made mutually exclusive here, at compile time, because
  durable_rules' negated joins do not cancel activations already queued.
* confidence rules (first match wins, made exclusive the same way) and next-step rules match the
  `decision` fact, which carries the tally plus `option` and `decided_by`. A level stronger than
  the policy's review cap (`review: {at_most: ...}`) compiles to two rules: without `review` it
  gives its level, with `review` the cap.

Conditions are single-fact expressions in negation normal form; a missing profile field never
satisfies a comparison, and its negation always holds.

What-if variants are judged from memoised pieces instead of whole evaluations (see `variants.py`):

* the parts program (`compile_parts`): the factor rules and deciding overrides of each `Part` — a
  group of rules that read the same answers — match a `part<i>` fact holding just those answers.
  A single-fact condition depends only on the properties it names, so a part's firings are a
  function of those values;
* the conclusions program (`compile_conclusions`): the decision and confidence rules alone, on a
  `tally` fact holding only the properties they read (`conclusion_reads`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import orjson

from engine.rules.checks import MAX_ENGINE_RULES
from engine.rules.conditions import AllOf, Condition, Not, expression, normalise
from engine.rules.model import Factor, Override, Rules

FORMAT_TAG = "ra2"  # bump when the compiled form changes, so cached rulesets never mix

# durable_rules keeps `pri` in 16 bits (100_000 wraps around), so stages are bands of 1,000;
# checks.py caps the engine rules at 400, so no band overflows into the next.
STAGE_DERIVED = 1_000
STAGE_ADMIT = 1_999  # after every derived rule (at most 400 rules, see checks.py)
STAGE_FACTORS = 2_000
STAGE_OVERRIDES = 3_000
STAGE_TALLY = 4_000
STAGE_DECISION = 5_000
STAGE_CONFIDENCE = 6_000
STAGE_NEXT_STEPS = 7_000


@dataclass(frozen=True)
class Action:
    """What a fired engine rule does; `rule` is the YAML rule id shown in the trace."""

    kind: str  # derive | admit | vote | override | tally | decide | confidence | next_step | seen
    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    matches: str = ""  # the type of fact the rule matches: derive, intake, tally, decision or part<i>


@dataclass(frozen=True)
class Part:
    """Factor rules and deciding overrides that read the same answers (and profile fields).

    `reads` names the fact properties its rules test (`a_<question>`, `p_<field>`); no rule outside
    the part tests any of them, so parts can be judged one at a time and their firings combined.
    """

    fact_type: str
    reads: tuple[str, ...]


@dataclass(frozen=True)
class Program:
    """A compiled ruleset: its engine definition, the action behind each engine rule, its encoding."""

    name: str
    definition: dict[str, Any]
    actions: dict[str, Action]
    questions: tuple[str, ...]
    profile_fields: tuple[str, ...]
    options: tuple[str, ...]
    scored_questions: tuple[str, ...] = ()  # questions with factor rules: the ones the metrics count
    derivable: tuple[str, ...] = ()  # questions some derived rule can answer
    derive_reads: tuple[str, ...] = ()  # what the derive fact holds: those answers and what derived rules read
    decision_profile_fields: tuple[str, ...] = ()  # profile fields rules read beyond derivation
    carried: tuple[str, ...] = ()  # intake properties the tally carries on: those later rules read
    parts: tuple[Part, ...] = ()  # the parts program only (`compile_parts`)
    conclusion_reads: tuple[str, ...] = ()  # tally properties the decision and confidence rules read

    @cached_property
    def score_names(self) -> tuple[str, ...]:
        """The tally's score properties, `s_<option>`, in the order of `options`."""
        return tuple(f"s_{o}" for o in self.options)

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each question's place in `questions` (and in a variant's answer letters)."""
        return {q: i for i, q in enumerate(self.questions)}

    def engine_definition(self) -> dict[str, Any]:
        """A fresh copy for durable_rules, which consumes the `run` entries it is given (plain JSON
        data: a round trip through orjson copies it ~6x faster than `copy.deepcopy`)."""
        return orjson.loads(orjson.dumps(self.definition))


def ruleset_name(rules: Rules, kind: str = "") -> str:
    """A ruleset's name in the engine: the compiled form, the rules' digest, and which ruleset."""
    return f"{FORMAT_TAG}_{rules.digest[:20]}" + (f"_{kind}" if kind else "")


def encode_intake(program: Program, answers: dict[str, str], profile: dict[str, Any]) -> dict[str, Any]:
    """The intake fact for one district (without `sid`): only the profile fields rules read.

    When no derivable question is left unknown, derived rules cannot fire, so only the fields read
    beyond derivation go in: fewer properties to match, and intakes that differ only in fields no
    rule would read share one memoised outcome.
    """
    fact: dict[str, Any] = {"t": "intake"}
    for question in program.questions:
        fact[f"a_{question}"] = answers.get(question, "unknown")
    open_derivable = any(fact[f"a_{q}"] == "unknown" for q in program.derivable)
    for name in program.profile_fields if open_derivable else program.decision_profile_fields:
        value = profile.get(name)
        if value is not None:
            fact[f"p_{name}"] = normalise(value)
    return fact


class _Ruleset:
    """Engine rules being compiled: the durable_rules definition and the action behind each rule."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.definition: dict[str, Any] = {}
        self.actions: dict[str, Action] = {}
        self._catalogues = {name: c.items for name, c in rules.catalogues.items()}

    def add(self, engine_name: str, fact_type: str, condition: dict[str, Any] | None, pri: int, action: Action) -> None:
        test: dict[str, Any] = {"t": fact_type}
        if condition is not None:
            test = {"$and": [test, condition]}
        self.definition[engine_name] = {"all": [{"m": test}], "pri": pri, "run": engine_name}
        self.actions[engine_name] = replace(action, matches=fact_type)

    def when(self, condition: Condition | None) -> dict[str, Any] | None:
        return None if condition is None else expression(condition, self._catalogues)

    def factor(self, prefix: str, fact_type: str, rule: Factor) -> None:
        self.add(
            f"{prefix}factor/{rule.id}",
            fact_type,
            {f"a_{rule.question}": rule.answer},
            STAGE_FACTORS,
            Action("vote", rule.id, {"option": rule.favours, "weight": rule.weight}),
        )

    def override(self, prefix: str, fact_type: str, rule: Override, pri: int) -> None:
        self.add(
            f"{prefix}override/{rule.id}",
            fact_type,
            self.when(rule.when),
            pri,
            Action("override", rule.id, {"effect": rule.effect, "option": rule.option}),
        )

    def program(self, name: str, **fields: Any) -> Program:
        rules = self.rules
        return Program(
            name=name,
            definition=self.definition,
            actions=self.actions,
            questions=tuple(q.id for q in rules.questions),
            profile_fields=tuple(sorted(rules.profile_fields())),
            options=tuple(o.id for o in rules.options),
            scored_questions=tuple(q.id for q in rules.questions if any(f.question == q.id for f in rules.factors)),
            **fields,
        )


def compile_rules(rules: Rules, *, next_steps: bool = True) -> Program:
    """The durable_rules ruleset for `rules`, named by their digest.

    `next_steps=False` leaves the next-step rules out: what-if variants need only the verdict,
    and a quarter of a district's firings are next steps.
    """
    out = _Ruleset(rules)
    for index, rule in enumerate(rules.derived):
        unanswered = {f"a_{rule.question}": "unknown"}
        out.add(
            f"derived/{rule.id}",
            "derive",
            {"$and": [unanswered, out.when(rule.when)]},
            STAGE_DERIVED + index,
            Action("derive", rule.id, {"question": rule.question, "answer": rule.answer}),
        )
    if rules.derived:
        out.add("policy/derived", "derive", None, STAGE_ADMIT, Action("admit", "policy.derived"))
    for factor in rules.factors:
        out.factor("", "intake", factor)
    for index, override in enumerate(rules.overrides):
        out.override("", "intake", override, STAGE_OVERRIDES + index)
    out.add("policy/tally", "intake", None, STAGE_TALLY, Action("tally", "policy.tally"))
    _conclusion_stages(out)
    for index, step in enumerate(rules.next_steps if next_steps else ()):
        chosen = {"option": step.option}
        out.add(
            f"next_step/{step.id}",
            "decision",
            {"$and": [chosen, out.when(step.when)]} if step.when else chosen,
            STAGE_NEXT_STEPS + index,
            Action("next_step", step.id),
        )
    later = [c.when for c in rules.policy.confidence] + [n.when for n in rules.next_steps if next_steps]
    derive_reads = {f"a_{d.question}" for d in rules.derived} | {name for d in rules.derived for name in _reads(d.when)}
    return out.program(
        ruleset_name(rules, "" if next_steps else "verdicts"),
        derivable=tuple(sorted({d.question for d in rules.derived})),
        derive_reads=tuple(sorted(derive_reads)),
        decision_profile_fields=tuple(sorted(rules.profile_fields(beyond_derivation=True))),
        carried=tuple(sorted({name for c in later for name in _reads(c) if name[:2] in ("a_", "p_")})),
    )


def compile_conclusions(rules: Rules) -> Program:
    """Only the decision and confidence rules, entered by `tally` facts (what-if variants).

    A ruleset of its own because durable_rules clears memory for every rule of a ruleset when it
    opens a session (~8 KB a rule): a dozen rules, not sixty, for each tally judged.
    """
    out = _Ruleset(rules)
    _conclusion_stages(out)
    return out.program(ruleset_name(rules, "conclusions"), conclusion_reads=_conclusion_reads(rules))


def _conclusion_stages(out: _Ruleset) -> None:
    """The decision rules (on the tally) and the confidence rules (on the decision)."""
    rules = out.rules
    deciding = [o for o in rules.overrides if o.effect == "recommend"]
    for index, rule in enumerate(deciding):
        fired = {"$ex": {f"o_{rule.id}": 1}}
        earlier = [{"$nex": {f"o_{o.id}": 1}} for o in deciding[:index]]
        out.add(
            f"decision/override/{rule.id}",
            "tally",
            {"$and": [fired, *earlier]} if earlier else fired,
            STAGE_DECISION + index,
            Action("decide", f"policy.decision.override.{rule.id}", {"by": "override", "option": rule.option, "override": rule.id}),
        )
    no_override = [{"$nex": {f"o_{o.id}": 1}} for o in deciding]
    for option in rules.options:
        out.add(
            f"decision/score/{option.id}",
            "tally",
            {"$and": [{"leader": option.id}, *no_override]},
            STAGE_DECISION + len(deciding),
            Action("decide", f"policy.decision.score.{option.id}", {"by": "score", "option": option.id}),
        )
    out.add(
        "decision/tie_break",
        "tally",
        {"$and": [{"leader": "tie"}, *no_override]},
        STAGE_DECISION + len(deciding),
        Action("decide", "policy.decision.tie_break", {"by": "tie_break", "option": rules.policy.tie_break}),
    )
    earlier_levels: list[Condition] = []
    capped = rules.policy.capped_levels()
    for index, level_rule in enumerate(rules.policy.confidence):
        exclusive = AllOf(tuple([*(Not(c) for c in earlier_levels), *([level_rule.when] if level_rule.when else [])]))
        condition = out.when(exclusive) if exclusive.items else None
        level = {"level": level_rule.level, "uncapped": level_rule.level}
        if level_rule.level in capped:  # a review flag lowers this level to the policy's cap
            assert rules.policy.review is not None and rules.policy.review.at_most is not None
            for flag, params in (("$nex", level), ("$ex", dict(level, level=rules.policy.review.at_most))):
                test = {flag: {"review": 1}}
                out.add(
                    f"confidence/{level_rule.id}" + ("/review" if flag == "$ex" else ""),
                    "decision",
                    {"$and": [condition, test]} if condition else test,
                    STAGE_CONFIDENCE + index,
                    Action("confidence", level_rule.id, params),
                )
        else:
            action = Action("confidence", level_rule.id, level)
            out.add(f"confidence/{level_rule.id}", "decision", condition, STAGE_CONFIDENCE + index, action)
        if level_rule.when is not None:
            earlier_levels.append(level_rule.when)


def compile_parts(rules: Rules) -> Program | None:
    """The rules of each `Part` as a ruleset of its own, or None when variants must be judged whole.

    None when a derived answer depends on other answers (changing one answer may then change what
    is derived), or when the parts would pass the engine's rule limit.
    """
    parts = _parts(rules)
    if not parts or sum(len(members) + 1 for _, members in parts) > MAX_ENGINE_RULES:
        return None
    out = _Ruleset(rules)
    for part, members in parts:
        kind = part.fact_type
        for rule in members:
            if isinstance(rule, Override):
                out.override(f"{kind}/", kind, rule, STAGE_OVERRIDES)
            else:
                out.factor(f"{kind}/", kind, rule)
        # every fact must match some rule: durable_rules refuses a fact that matches none
        out.add(f"{kind}/seen", kind, None, STAGE_TALLY, Action("seen", f"{kind}.seen"))
    return out.program(ruleset_name(rules, "parts"), parts=tuple(part for part, _ in parts))


def _reads(condition: Condition | None) -> set[str]:
    """The fact properties a condition tests."""
    return set() if condition is None else condition.reads()


def _parts(rules: Rules) -> list[tuple[Part, list[Factor | Override]]]:
    """The verdict's intake-stage rules (factors, deciding overrides), grouped by what they read.

    Empty when variants cannot be judged by parts: when a derived answer depends on other answers,
    changing one answer may change what is derived, so a variant needs a whole evaluation.
    Overrides that only flag for review change a verdict's confidence only when the policy caps it
    for them (`policy.review.at_most`); otherwise they are left out.
    """
    if any(d.when.questions_read() for d in rules.derived):
        return []
    members: list[tuple[set[str], Factor | Override]] = [({f"a_{f.question}"}, f) for f in rules.factors]
    # review flags change a verdict only when the policy caps the confidence for them
    members += [(_reads(o.when), o) for o in rules.overrides if o.effect == "recommend" or rules.policy.capped_levels()]
    groups: list[tuple[set[str], list[Factor | Override]]] = []
    for reads, rule in members:  # merge every group that shares a property with this rule
        joined = [g for g in groups if g[0] & reads]
        merged = (set(reads).union(*(g[0] for g in joined)), [r for g in joined for r in g[1]] + [rule])
        groups = [g for g in groups if not any(g is j for j in joined)] + [merged]
    order = {name: i for i, name in enumerate(_property_order(rules))}
    return [
        (Part(f"part{index}", tuple(sorted(reads, key=order.__getitem__))), rules_of)
        for index, (reads, rules_of) in enumerate(groups)
    ]


def _property_order(rules: Rules) -> Iterable[str]:
    yield from (f"a_{q.id}" for q in rules.questions)
    yield from (f"p_{name}" for name in sorted(rules.profile_fields()))


def _conclusion_reads(rules: Rules) -> tuple[str, ...]:
    """What the decision and confidence rules read of the tally: the leader, the flags of the
    deciding overrides, and whatever the confidence conditions test (metrics, answers, profile)."""
    reads = {"leader"} | {f"o_{o.id}" for o in rules.overrides if o.effect == "recommend"}
    if rules.policy.capped_levels():
        reads.add("review")
    for level in rules.policy.confidence:
        reads |= _reads(level.when)
    return tuple(sorted(reads))
