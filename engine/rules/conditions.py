"""The condition forms of the rule language, one class each, and the registry that finds them.

A form knows everything about itself: how it is parsed from a `when:` mapping, what is wrong with
it beyond its schema (`problems`), its durable_rules expression over one fact (`expression`, with
`not` pushed down to the tests), which fact properties and answers it reads, how it holds in the
implication check of `checks.py` (`holds`), and how it reads in prose for a district coordinator
(`prose`). Callers (model, checks, compiler, variants, exhaustive, render context) go through
these methods, so adding a form is one class here, one entry in `FORMS` (or `PROFILE_OPS` for a
new comparison of a profile field) and its definition in `schemas/rules/condition.schema.json`.

Built only from schema-valid data, so parsers trust shapes and types.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.errors import SourceLocation, did_you_mean

ANSWERS = ("yes", "no", "unknown")
DECIDED_BY = ("override", "score", "tie_break")

Locate = Callable[[tuple], SourceLocation]
Expression = dict[str, Any]
Catalogues = Mapping[str, Sequence[str]]

_FIELD_WORDS = {"sis": "SIS", "sftp": "SFTP", "csv": "CSV", "id": "ID", "nces": "NCES", "lea": "LEA", "clever": "Clever"}


def normalise(value: Any) -> Any:
    """Profile values (and the rules' values they are compared with) as facts hold them: text
    compared ignoring case and surrounding spaces; numbers in a form the engine reads."""
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, float):
        return engine_number(value)
    return value


def engine_number(value: float) -> float | int:
    """durable_rules misreads a JSON number with an exponent but no fraction (`1e+16`, `1e-7`:
    the intake then matches no rule and the evaluation fails). A whole number goes in as an
    integer, exactly; any other such float as its neighbour one unit in the last place towards
    zero, which JSON writes with a fraction (`9.999999999999999e-08`); a subnormal one as 0.0."""
    if value.is_integer():
        return int(value)
    if abs(value) < sys.float_info.min:
        return 0.0
    if "e" in repr(value) and "." not in repr(value):
        return math.nextafter(value, 0.0)
    return value


@functools.lru_cache(maxsize=256)
def field_label(name: str) -> str:
    """A profile field name for people: `uses_clever` -> "Uses Clever", `sis` -> "SIS"."""
    words = [_FIELD_WORDS.get(w, w) for w in name.split("_") if w]
    if words and words[0] == words[0].lower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def value_text(value: Any) -> str:
    """A profile value for people: 18,400; yes / no; text as written."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,}"
    return str(value)


# How the policy's metrics and ways of deciding read in a sentence (the decision guide prints them).
_METRIC_WORDS = {
    "margin": "the leading option's lead in points",
    "margin_share": "the leading option's lead as a share of all the weight of the answers",
    "answered": "the number of questions answered",
    "unanswered": "the number of questions still open",
    "total_weight": "the total weight of the answers",
}
_DECIDED_BY_WORDS = {
    "override": "a condition decided on its own",
    "score": "the weighted score decided",
    "tie_break": "the scores were tied",
}


def _words(name: str) -> str:
    """A field or metric name inside a sentence: `sis` -> "SIS", `margin_share` -> "margin share"."""
    return " ".join(_FIELD_WORDS.get(w, w) for w in name.split("_") if w)


def _join(parts: Sequence[str], word: str) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} {word} {parts[-1]}"


@dataclass(frozen=True)
class Wording:
    """What prose needs from the rules: each question's text and each catalogue's description."""

    questions: Mapping[str, str]
    catalogues: Mapping[str, str]


@dataclass(frozen=True)
class Scope:
    """What `problems` checks a condition against: the ids that exist and where it was written."""

    questions: Sequence[str]
    catalogues: Sequence[str]
    policy: bool  # a confidence level of policy.yaml: metric and decided_by tests are allowed


@dataclass(frozen=True)
class World:
    """One case of the implication check: the answers, and the truth of every other test."""

    answers: Mapping[str, str]
    tests: Mapping[Any, bool]


# --- comparisons shared by profile and metric tests ----------------------------------------------

NUMERIC_OPS = ("at_least", "at_most", "more_than", "less_than")
_COMPARISONS = {"at_least": "$gte", "at_most": "$lte", "more_than": "$gt", "less_than": "$lt"}
_OPPOSITE = {"at_least": "less_than", "less_than": "at_least", "at_most": "more_than", "more_than": "at_most"}
_COMPARISON_WORDS = {"at_least": "at least", "at_most": "at most", "more_than": "more than", "less_than": "fewer than"}


def _compare(op: str, name: str, value: Any, negate: bool) -> Expression:
    return {_COMPARISONS[_OPPOSITE[op] if negate else op]: {name: value}}


def _one_of(name: str, values: list[Any], negate: bool, always_present: bool) -> Expression:
    if not negate:
        tests = [{name: v} for v in values]
        return tests[0] if len(tests) == 1 else {"$or": tests}
    tests = [{"$neq": {name: v}} for v in values]
    differs = tests[0] if len(tests) == 1 else {"$and": tests}
    return differs if always_present else {"$or": [differs, {"$nex": {name: 1}}]}


# --- the forms --------------------------------------------------------------------------------


class _Form(ABC):
    """What every form answers; leaf tests override `reads`, `questions_read`, `profile_read`."""

    key: ClassVar[str]  # the YAML key that identifies the form in a `when:` mapping

    @classmethod
    @abstractmethod
    def parse(cls, data: dict[str, Any], path: tuple, locate: Locate) -> Condition:
        """The form from its schema-valid mapping at `path`."""

    @abstractmethod
    def expression(self, catalogues: Catalogues, negate: bool) -> Expression:
        """The durable_rules expression over one fact; `negate` pushes a `not` down to the tests."""

    @abstractmethod
    def holds(self, world: World) -> bool:
        """Whether it holds in one case of the implication check."""

    @abstractmethod
    def prose(self, words: Wording) -> str:
        """How it reads for a district coordinator."""

    def children(self) -> tuple[Condition, ...]:
        return ()

    def reads(self) -> set[str]:
        """The properties of intake and tally facts it tests: `a_<question>`, `p_<field>`, `m_<metric>`."""
        return set().union(*(c.reads() for c in self.children()))

    def questions_read(self) -> set[str]:
        """The questions whose answers the condition tests."""
        return set().union(*(c.questions_read() for c in self.children()))

    def profile_read(self) -> dict[str, str]:
        """The profile fields it tests, with the kind of value each needs: number, text, boolean or any."""
        out: dict[str, str] = {}
        for child in self.children():
            for name, kind in child.profile_read().items():
                out.setdefault(name, kind)
        return out

    def supporting_answers(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The answer tests outside any `not`, as (question, answers): the answers that can make it hold."""
        return tuple(dict.fromkeys(t for child in self.children() for t in child.supporting_answers()))

    def problems(self, scope: Scope) -> Iterator[tuple[SourceLocation, str]]:
        """References that do not resolve, and forms not allowed where the condition is written."""
        for child in self.children():
            yield from child.problems(scope)


@dataclass(frozen=True)
class AnswerIs(_Form):
    """`{answer: Q, is: yes}` or `{answer: Q, is: [no, unknown]}`."""

    key: ClassVar[str] = "answer"
    question: str
    values: tuple[str, ...]
    loc: SourceLocation = field(compare=False)

    @classmethod
    def parse(cls, data: dict[str, Any], path: tuple, locate: Locate) -> AnswerIs:
        values = data["is"] if isinstance(data["is"], list) else [data["is"]]
        return cls(data["answer"], tuple(values), locate(path))

    def reads(self) -> set[str]:
        return {f"a_{self.question}"}

    def questions_read(self) -> set[str]:
        return {self.question}

    def supporting_answers(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return ((self.question, self.values),)

    def problems(self, scope: Scope) -> Iterator[tuple[SourceLocation, str]]:
        if self.question not in scope.questions:
            yield self.loc, f"unknown question '{self.question}'{did_you_mean(self.question, list(scope.questions))}"

    def expression(self, catalogues: Catalogues, negate: bool) -> Expression:
        return _one_of(f"a_{self.question}", list(self.values), negate, always_present=True)

    def holds(self, world: World) -> bool:
        return world.answers[self.question] in self.values

    def prose(self, words: Wording) -> str:
        question = f'"{words.questions.get(self.question, self.question)}"'
        known = [v for v in self.values if v != "unknown"]
        if not known:
            return f"you have not answered {question}"
        answered = f"you answered {_join(known, 'or')} to {question}"
        return answered + (" or have not answered it" if "unknown" in self.values else "")


@dataclass(frozen=True)
class ProfileOp:
    """One comparison of a profile field: its durable_rules expression, its prose, its value kind."""

    expression: Callable[[ProfileTest, Catalogues, bool], Expression]
    prose: Callable[[ProfileTest, Wording], str]
    kind: Callable[[Any], str]  # the kind of value the field needs, from the comparison's value


def _kind_of_value(value: Any) -> str:
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, (int, float)):
        return "number"
    return "text"


def _numeric(op: str) -> ProfileOp:
    def expression(test: ProfileTest, catalogues: Catalogues, negate: bool) -> Expression:
        compared = _compare(op, test.name, normalise(test.value), negate)
        return {"$or": [compared, {"$nex": {test.name: 1}}]} if negate else compared  # a missing field never compares

    return ProfileOp(
        expression,
        lambda test, words: f"your district has {_COMPARISON_WORDS[op]} {value_text(test.value)} {_words(test.field)}",
        lambda value: "number",
    )


def _equality(
    values: Callable[[ProfileTest, Catalogues], list[Any]], negated: bool, phrase: Callable[[ProfileTest, Wording], str]
) -> ProfileOp:
    def expression(test: ProfileTest, catalogues: Catalogues, negate: bool) -> Expression:
        return _one_of(test.name, [normalise(v) for v in values(test, catalogues)], negate != negated, always_present=False)

    def text(test: ProfileTest, words: Wording) -> str:
        if isinstance(test.value, bool):  # `uses_clever` is no verb: name the field and its value
            return f'your district\'s profile {"does not say" if negated else "says"} "{field_label(test.field)}: {value_text(test.value)}"'
        return f"your district's {_words(test.field)} {phrase(test, words)}"

    return ProfileOp(expression, text, _kind_of_value)


def _present(test: ProfileTest, catalogues: Catalogues, negate: bool) -> Expression:
    return {"$ex" if test.value != negate else "$nex": {test.name: 1}}


def _catalogue_name(test: ProfileTest, words: Wording) -> str:
    return words.catalogues.get(test.value, test.value).strip().rstrip(".")


PROFILE_OPS: dict[str, ProfileOp] = {
    **{op: _numeric(op) for op in NUMERIC_OPS},
    "equals": _equality(lambda t, c: [t.value], False, lambda t, w: f"is {value_text(t.value)}"),
    "not_equals": _equality(lambda t, c: [t.value], True, lambda t, w: f"is not {value_text(t.value)}"),
    "in": _equality(lambda t, c: list(t.value), False, lambda t, w: f"is {_join([value_text(v) for v in t.value], 'or')}"),
    "in_catalogue": _equality(lambda t, c: list(c[t.value]), False, lambda t, w: f'is on the list "{_catalogue_name(t, w)}"'),
    "present": ProfileOp(
        _present,
        lambda t, w: f"your district {'gave' if t.value else 'did not give'} its {_words(t.field)}",
        lambda value: "any",
    ),
}


@dataclass(frozen=True)
class ProfileTest(_Form):
    """`{profile: F, <op>: value}` with one comparison of `PROFILE_OPS`."""

    key: ClassVar[str] = "profile"
    field: str
    op: str
    value: Any
    loc: SourceLocation = dataclasses.field(compare=False)  # `field` is the profile field's name here

    @classmethod
    def parse(cls, data: dict[str, Any], path: tuple, locate: Locate) -> ProfileTest:
        (op,) = [k for k in data if k != cls.key]
        return cls(data[cls.key], op, data[op], locate(path))

    @property
    def name(self) -> str:
        return f"p_{self.field}"

    def reads(self) -> set[str]:
        return {self.name}

    def profile_read(self) -> dict[str, str]:
        return {self.field: PROFILE_OPS[self.op].kind(self.value)}

    def problems(self, scope: Scope) -> Iterator[tuple[SourceLocation, str]]:
        if self.op == "in_catalogue" and self.value not in scope.catalogues:
            yield self.loc, f"unknown catalogue '{self.value}'{did_you_mean(self.value, list(scope.catalogues))}"

    def expression(self, catalogues: Catalogues, negate: bool) -> Expression:
        return PROFILE_OPS[self.op].expression(self, catalogues, negate)

    def holds(self, world: World) -> bool:
        return world.tests[self]  # an independent true/false variable: the check stays cautious

    def prose(self, words: Wording) -> str:
        return PROFILE_OPS[self.op].prose(self, words)


class _PolicyOnly(_Form):
    """Tests of the score and the decision: only confidence levels in policy.yaml may use them."""

    loc: SourceLocation

    def problems(self, scope: Scope) -> Iterator[tuple[SourceLocation, str]]:
        if not scope.policy:
            yield self.loc, f"'{self.key}' conditions are only allowed in policy.yaml confidence levels"

    def holds(self, world: World) -> bool:
        return False  # never written where the implication check looks (overrides)


@dataclass(frozen=True)
class MetricTest(_PolicyOnly):
    """`{metric: M, <comparison>: number}` (policy only)."""

    key: ClassVar[str] = "metric"
    metric: str
    op: str
    value: float
    loc: SourceLocation = field(compare=False)

    @classmethod
    def parse(cls, data: dict[str, Any], path: tuple, locate: Locate) -> MetricTest:
        (op,) = [k for k in data if k != cls.key]
        return cls(data[cls.key], op, data[op], locate(path))

    def reads(self) -> set[str]:
        return {f"m_{self.metric}"}

    def expression(self, catalogues: Catalogues, negate: bool) -> Expression:
        return _compare(self.op, f"m_{self.metric}", self.value, negate)

    def prose(self, words: Wording) -> str:
        value = f"{self.value:.0%}" if self.metric == "margin_share" else value_text(self.value)
        return f"{_METRIC_WORDS.get(self.metric, 'the ' + _words(self.metric))} is {_COMPARISON_WORDS[self.op]} {value}"


@dataclass(frozen=True)
class DecidedBy(_PolicyOnly):
    """`{decided_by: override | score | tie_break}` (policy only)."""

    key: ClassVar[str] = "decided_by"
    value: str
    loc: SourceLocation = field(compare=False)

    @classmethod
    def parse(cls, data: dict[str, Any], path: tuple, locate: Locate) -> DecidedBy:
        return cls(data[cls.key], locate(path))

    def reads(self) -> set[str]:
        return set()  # the decision rule writes `decided_by` on the decision fact itself

    def expression(self, catalogues: Catalogues, negate: bool) -> Expression:
        return _one_of("decided_by", [self.value], negate, always_present=True)

    def prose(self, words: Wording) -> str:
        return _DECIDED_BY_WORDS.get(self.value, f"the option was chosen by {_words(self.value)}")


@dataclass(frozen=True, repr=False, eq=False)  # AllOf and AnyOf make their own repr and eq
class _Junction(_Form):
    """`all` and `any`: a list of conditions, joined by `word` in prose."""

    items: tuple[Condition, ...]
    word: ClassVar[str]
    conjunction: ClassVar[bool]

    @classmethod
    def parse(cls, data: dict[str, Any], path: tuple, locate: Locate) -> Any:
        return cls(tuple(parse_condition(c, path + (cls.key, i), locate) for i, c in enumerate(data[cls.key])))

    def children(self) -> tuple[Condition, ...]:
        return self.items

    def expression(self, catalogues: Catalogues, negate: bool) -> Expression:
        parts = [item.expression(catalogues, negate) for item in self.items]
        if len(parts) == 1:
            return parts[0]
        return {"$and" if self.conjunction != negate else "$or": parts}

    def holds(self, world: World) -> bool:
        test = all if self.conjunction else any
        return test(item.holds(world) for item in self.items)

    def prose(self, words: Wording) -> str:
        parts = [_nested(item, words) for item in self.items]
        return _join(parts, self.word)


@dataclass(frozen=True)
class AllOf(_Junction):
    """`{all: [C1, C2, ...]}`: every condition holds."""

    key: ClassVar[str] = "all"
    word: ClassVar[str] = "and"
    conjunction: ClassVar[bool] = True


@dataclass(frozen=True)
class AnyOf(_Junction):
    """`{any: [C1, C2, ...]}`: at least one condition holds."""

    key: ClassVar[str] = "any"
    word: ClassVar[str] = "or"
    conjunction: ClassVar[bool] = False


@dataclass(frozen=True)
class Not(_Form):
    """`{not: C}`: the condition does not hold."""

    key: ClassVar[str] = "not"
    item: Condition

    @classmethod
    def parse(cls, data: dict[str, Any], path: tuple, locate: Locate) -> Not:
        return cls(parse_condition(data[cls.key], path + (cls.key,), locate))

    def children(self) -> tuple[Condition, ...]:
        return (self.item,)

    def expression(self, catalogues: Catalogues, negate: bool) -> Expression:
        return self.item.expression(catalogues, not negate)

    def holds(self, world: World) -> bool:
        return not self.item.holds(world)

    def supporting_answers(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return ()

    def prose(self, words: Wording) -> str:
        return f"not ({self.item.prose(words)})"


def _nested(condition: Condition, words: Wording) -> str:
    """A part of a longer sentence: an `all` or `any` of several parts in parentheses."""
    text = condition.prose(words)
    return f"({text})" if isinstance(condition, _Junction) and len(condition.items) > 1 else text


Condition = AnswerIs | ProfileTest | MetricTest | DecidedBy | AllOf | AnyOf | Not

# The registry: each form by the YAML key that identifies it, combinators first (their mappings
# hold nothing else).
FORMS: dict[str, type[_Form]] = {form.key: form for form in (AllOf, AnyOf, Not, AnswerIs, DecidedBy, MetricTest, ProfileTest)}


def parse_condition(data: dict[str, Any], path: tuple, locate: Locate) -> Condition:
    """A schema-valid `when:` mapping as a Condition tree."""
    form = next(form for key, form in FORMS.items() if key in data)
    return form.parse(data, path, locate)


def atoms(condition: Condition | None) -> Iterator[Condition]:
    """Every leaf test in a condition."""
    if condition is None:
        return
    children = condition.children()
    if not children:
        yield condition
    for child in children:
        yield from atoms(child)


def expression(condition: Condition, catalogues: Catalogues) -> Expression:
    """A durable_rules expression over one fact that holds when `condition` does."""
    return condition.expression(catalogues, False)


def prose(condition: Condition | None, words: Wording) -> str:
    """How a condition reads for a district coordinator; empty for no condition."""
    return "" if condition is None else condition.prose(words)
