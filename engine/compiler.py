"""Compile the rules model into a durable_rules ruleset given as data.

Facts flow through stages, each a band of engine priorities (`pri`, lower fires first):

    intake ─derived─▶ intake′ ─factors─▶ votes ─overrides─▶ tally ─decision─▶ decision ─confidence,
                                                                                       next steps─▶

* `intake` (asserted by the runtime): `a_<question>` answers (yes/no/unknown) and `p_<field>`
  profile values. A derived rule matches an intake whose answer is `unknown` and replaces it with
  one carrying the derived answer (and `d_<question>` naming the rule); retraction cancels the
  activations of the old intake, so an explicit answer always wins and one derived rule per
  question fires.
* factor rules match the final intake and record a vote; override rules record that they fired.
* the tally rule (after every vote and override) asserts a `tally` fact: the intake, the score
  metrics `m_*`, the `leader`, and `o_<override>` flags for fired `recommend` overrides.
* decision rules match the tally: the highest-priority fired override, else the leader, else the
  tie-break. Their conditions are made mutually exclusive here, at compile time, because
  durable_rules' negated joins do not cancel activations already queued.
* confidence rules (first match wins, made exclusive the same way) and next-step rules match the
  `decision` fact, which carries the tally plus `option` and `decided_by`.

Conditions are single-fact expressions in negation normal form; a missing profile field never
satisfies a comparison, and its negation always holds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from .model import (
    AllOf,
    AnswerIs,
    AnyOf,
    Condition,
    DecidedBy,
    MetricTest,
    Not,
    ProfileTest,
    Rules,
)

FORMAT_TAG = "ra1"  # bump when the compiled form changes, so cached rulesets never mix

# durable_rules keeps `pri` in 16 bits (100_000 wraps around), so stages are bands of 1,000;
# checks.py caps the engine rules at 400, so no band overflows into the next.
STAGE_DERIVED = 1_000
STAGE_FACTORS = 2_000
STAGE_OVERRIDES = 3_000
STAGE_TALLY = 4_000
STAGE_DECISION = 5_000
STAGE_CONFIDENCE = 6_000
STAGE_NEXT_STEPS = 7_000

_COMPARISONS = {"at_least": "$gte", "at_most": "$lte", "more_than": "$gt", "less_than": "$lt"}
_OPPOSITE = {"at_least": "less_than", "less_than": "at_least", "at_most": "more_than", "more_than": "at_most"}


@dataclass(frozen=True)
class Action:
    """What a fired engine rule does; `rule` is the YAML rule id shown in the trace."""

    kind: str  # derive | vote | override | tally | decide | confidence | next_step
    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    matches: str = ""  # the type of fact the rule matches: intake, tally or decision

    @property
    def reads_fact(self) -> bool:
        """Whether the action needs the matched fact's content (the others need only its session)."""
        return self.kind in ("derive", "tally", "decide")


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
    decision_profile_fields: tuple[str, ...] = ()  # profile fields rules read beyond derivation

    def engine_definition(self) -> dict[str, Any]:
        """A fresh copy for durable_rules, which consumes the `run` entries it is given."""
        return copy.deepcopy(self.definition)


def ruleset_name(rules: Rules, *, next_steps: bool = True) -> str:
    return f"{FORMAT_TAG}_{rules.digest[:20]}" + ("" if next_steps else "_verdicts")


def normalise(value: Any) -> Any:
    """Profile values as facts hold them: text compared ignoring case and surrounding spaces."""
    if isinstance(value, str):
        return value.strip().casefold()
    return value


def encode_intake(program: Program, answers: dict[str, str], profile: dict[str, Any]) -> dict[str, Any]:
    """The intake fact for one district (without `sid`): only the profile fields rules read.

    When no derivable question is left unknown, derived rules cannot fire, so only the fields read
    beyond derivation go in: what-if variants of many districts then share one memoised result.
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


def compile_rules(rules: Rules, *, next_steps: bool = True) -> Program:
    """The durable_rules ruleset for `rules`, named by their digest.

    `next_steps=False` leaves the next-step rules out: what-if variants need only the verdict,
    and a quarter of a district's firings are next steps.
    """
    definition: dict[str, Any] = {}
    actions: dict[str, Action] = {}
    catalogues = {name: c.items for name, c in rules.catalogues.items()}

    def add(engine_name: str, fact_type: str, condition: dict[str, Any] | None, pri: int, action: Action) -> None:
        test: dict[str, Any] = {"t": fact_type}
        if condition is not None:
            test = {"$and": [test, condition]}
        definition[engine_name] = {"all": [{"m": test}], "pri": pri, "run": engine_name}
        actions[engine_name] = replace(action, matches=fact_type)

    def when(condition: Condition | None) -> dict[str, Any] | None:
        return None if condition is None else _expression(condition, catalogues, negate=False)

    for index, rule in enumerate(rules.derived):
        unanswered = {f"a_{rule.question}": "unknown"}
        add(
            f"derived/{rule.id}",
            "intake",
            {"$and": [unanswered, when(rule.when)]},
            STAGE_DERIVED + index,
            Action("derive", rule.id, {"question": rule.question, "answer": rule.answer}),
        )
    for rule in rules.factors:
        add(
            f"factor/{rule.id}",
            "intake",
            {f"a_{rule.question}": rule.answer},
            STAGE_FACTORS,
            Action("vote", rule.id, {"option": rule.favours, "weight": rule.weight}),
        )
    for index, rule in enumerate(rules.overrides):
        add(
            f"override/{rule.id}",
            "intake",
            when(rule.when),
            STAGE_OVERRIDES + index,
            Action("override", rule.id, {"effect": rule.effect, "option": rule.option}),
        )
    add("policy/tally", "intake", None, STAGE_TALLY, Action("tally", "policy.tally"))

    deciding = [o for o in rules.overrides if o.effect == "recommend"]
    for index, rule in enumerate(deciding):
        fired = {"$ex": {f"o_{rule.id}": 1}}
        earlier = [{"$nex": {f"o_{o.id}": 1}} for o in deciding[:index]]
        add(
            f"decision/override/{rule.id}",
            "tally",
            {"$and": [fired, *earlier]} if earlier else fired,
            STAGE_DECISION + index,
            Action("decide", f"policy.decision.override.{rule.id}", {"by": "override", "option": rule.option, "override": rule.id}),
        )
    no_override = [{"$nex": {f"o_{o.id}": 1}} for o in deciding]
    for option in rules.options:
        add(
            f"decision/score/{option.id}",
            "tally",
            {"$and": [{"leader": option.id}, *no_override]},
            STAGE_DECISION + len(deciding),
            Action("decide", f"policy.decision.score.{option.id}", {"by": "score", "option": option.id}),
        )
    add(
        "decision/tie_break",
        "tally",
        {"$and": [{"leader": "tie"}, *no_override]},
        STAGE_DECISION + len(deciding),
        Action("decide", "policy.decision.tie_break", {"by": "tie_break", "option": rules.policy.tie_break}),
    )

    earlier_levels: list[Condition] = []
    for index, rule in enumerate(rules.policy.confidence):
        exclusive = AllOf(tuple([*(Not(c) for c in earlier_levels), *([rule.when] if rule.when else [])]))
        add(
            f"confidence/{rule.id}",
            "decision",
            when(exclusive) if exclusive.items else None,
            STAGE_CONFIDENCE + index,
            Action("confidence", rule.id, {"level": rule.level}),
        )
        if rule.when is not None:
            earlier_levels.append(rule.when)

    for index, rule in enumerate(rules.next_steps if next_steps else ()):
        chosen = {"option": rule.option}
        add(
            f"next_step/{rule.id}",
            "decision",
            {"$and": [chosen, when(rule.when)]} if rule.when else chosen,
            STAGE_NEXT_STEPS + index,
            Action("next_step", rule.id),
        )

    return Program(
        name=ruleset_name(rules, next_steps=next_steps),
        definition=definition,
        actions=actions,
        questions=tuple(q.id for q in rules.questions),
        profile_fields=tuple(sorted(rules.profile_fields())),
        options=tuple(o.id for o in rules.options),
        scored_questions=tuple(q.id for q in rules.questions if any(f.question == q.id for f in rules.factors)),
        derivable=tuple(sorted({d.question for d in rules.derived})),
        decision_profile_fields=tuple(sorted(rules.profile_fields(beyond_derivation=True))),
    )


def _expression(condition: Condition, catalogues: dict[str, tuple[str, ...]], negate: bool) -> dict[str, Any]:
    """A durable_rules expression over one fact, with `not` pushed down to the tests."""
    if isinstance(condition, Not):
        return _expression(condition.item, catalogues, not negate)
    if isinstance(condition, (AllOf, AnyOf)):
        conjunction = isinstance(condition, AllOf) != negate
        parts = [_expression(item, catalogues, negate) for item in condition.items]
        if len(parts) == 1:
            return parts[0]
        return {"$and" if conjunction else "$or": parts}
    if isinstance(condition, AnswerIs):
        return _one_of(f"a_{condition.question}", list(condition.values), negate, always_present=True)
    if isinstance(condition, DecidedBy):
        return _one_of("decided_by", [condition.value], negate, always_present=True)
    if isinstance(condition, MetricTest):
        op = _OPPOSITE[condition.op] if negate else condition.op
        return {_COMPARISONS[op]: {f"m_{condition.metric}": condition.value}}
    return _profile(condition, catalogues, negate)


def _profile(test: ProfileTest, catalogues: dict[str, tuple[str, ...]], negate: bool) -> dict[str, Any]:
    name = f"p_{test.field}"
    missing = {"$nex": {name: 1}}
    if test.op == "present":
        return {"$ex" if test.value != negate else "$nex": {name: 1}}
    if test.op in _COMPARISONS:
        if not negate:
            return {_COMPARISONS[test.op]: {name: test.value}}
        return {"$or": [{_COMPARISONS[_OPPOSITE[test.op]]: {name: test.value}}, missing]}
    if test.op == "not_equals":
        return _profile(ProfileTest(test.field, "equals", test.value, test.loc), catalogues, not negate)
    values = {"equals": lambda: [test.value], "in": lambda: list(test.value), "in_catalogue": lambda: list(catalogues[test.value])}[
        test.op
    ]()
    return _one_of(name, [normalise(v) for v in values], negate, always_present=False)


def _one_of(name: str, values: list[Any], negate: bool, always_present: bool) -> dict[str, Any]:
    if not negate:
        tests = [{name: v} for v in values]
        return tests[0] if len(tests) == 1 else {"$or": tests}
    tests = [{"$neq": {name: v}} for v in values]
    differs = tests[0] if len(tests) == 1 else {"$and": tests}
    return differs if always_present else {"$or": [differs, {"$nex": {name: 1}}]}
