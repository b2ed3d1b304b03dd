"""Conditions in plain words: what the documents and the decision guide say a rule reads.

One function per condition form, in one table (`_FORMS`), so that every sentence about a rule is
derived from the rule itself: a product manager can write any condition the rule language allows
and the documents still say what it tests. (A registry of condition forms may absorb the table.)
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from engine.rules.model import AllOf, AnswerIs, AnyOf, Condition, DecidedBy, MetricTest, Not, ProfileTest, Rules, atoms

# Words of profile field names shown in capitals or as names (the fields have no labels in the rules).
_FIELD_WORDS = {"sis": "SIS", "sftp": "SFTP", "csv": "CSV", "id": "ID", "nces": "NCES", "lea": "LEA", "clever": "Clever"}
_ANSWER_WORDS = {"yes": "yes", "no": "no", "unknown": "not answered"}
_COMPARISON_WORDS = {"at_least": "at least", "at_most": "at most", "more_than": "more than", "less_than": "less than"}
_METRIC_WORDS = {
    "margin": "the leading option's lead in points",
    "margin_share": "the lead as a share of all the weight cast",
    "answered": "the number of questions answered",
    "unanswered": "the number of questions still open",
    "total_weight": "the total weight of the answers",
}
_DECIDED_BY_WORDS = {
    "override": "a deciding condition chose the option",
    "score": "the weighted score chose the option",
    "tie_break": "the scores were tied and the tie-break chose the option",
}


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


def condition_text(condition: Condition | None, rules: Rules) -> str:
    """The condition as a clause: `the answer to “…” is no and the district's SIS is …`."""
    if condition is None:
        return "always"
    return _FORMS[type(condition)](condition, rules, False)


def questions_read(condition: Condition | None) -> tuple[str, ...]:
    """The questions a condition reads, in the order it names them."""
    return tuple(dict.fromkeys(a.question for a in atoms(condition) if isinstance(a, AnswerIs)))


def fields_read(condition: Condition | None) -> tuple[str, ...]:
    """The profile fields a condition reads, in the order it names them."""
    return tuple(dict.fromkeys(a.field for a in atoms(condition) if isinstance(a, ProfileTest)))


def _values(values: tuple[str, ...] | list[Any], joiner: str = "or") -> str:
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {joiner} {words[-1]}"


def _answer(c: AnswerIs, rules: Rules, negate: bool) -> str:
    values = [v for v in ("yes", "no", "unknown") if (v in c.values) != negate]
    text = rules.question(c.question).text if c.question in rules.index.questions else c.question
    if not values:
        return f"the question “{text}” has any answer" if negate else f"the question “{text}” has no possible answer"
    return f"the answer to “{text}” is {_values([_ANSWER_WORDS[v] for v in values])}"


def _profile(c: ProfileTest, rules: Rules, negate: bool) -> str:
    field = f"the district's {field_label(c.field)}"
    if c.op == "present":
        return f"{field} is {'given' if c.value != negate else 'not given'}"
    if c.op in _COMPARISON_WORDS:
        clause = f"{field} is {_COMPARISON_WORDS[c.op]} {value_text(c.value)}"
        return f"not ({clause})" if negate else clause
    if c.op == "in_catalogue":
        catalogue = rules.catalogues.get(c.value)
        named = f"“{catalogue.description.rstrip('.')}”" if catalogue else c.value
        return f"{field} is {'not ' if negate else ''}in the list {named}"
    listed = [value_text(v) for v in (c.value if c.op == "in" else [c.value])]
    differs = (c.op == "not_equals") != negate
    return f"{field} is {'not ' if differs else ''}{_values(listed)}" + (" (or not given)" if differs else "")


def _metric(c: MetricTest, rules: Rules, negate: bool) -> str:
    value = f"{c.value:.0%}" if c.metric == "margin_share" else value_text(c.value)
    clause = f"{_METRIC_WORDS.get(c.metric, c.metric)} is {_COMPARISON_WORDS[c.op]} {value}"
    return f"not ({clause})" if negate else clause


def _decided_by(c: DecidedBy, rules: Rules, negate: bool) -> str:
    clause = _DECIDED_BY_WORDS[c.value]
    return f"not ({clause})" if negate else clause


def _group(c: AllOf | AnyOf, rules: Rules, negate: bool) -> str:
    conjunction = isinstance(c, AllOf) != negate  # De Morgan: not (A and B) = not A or not B
    parts = [_FORMS[type(item)](item, rules, negate) for item in c.items]
    parts = [f"({p})" if _compound(item) else p for p, item in zip(parts, c.items)]
    if len(parts) == 1:
        return parts[0]
    return _values(parts, "and" if conjunction else "or") if len(parts) == 2 else (
        ("all of: " if conjunction else "any of: ") + "; ".join(parts)
    )


def _compound(c: Condition) -> bool:
    """True for a group of several conditions (under any number of `not`s): it reads in brackets."""
    while isinstance(c, Not):
        c = c.item
    return isinstance(c, (AllOf, AnyOf)) and len(c.items) > 1


def _not(c: Not, rules: Rules, negate: bool) -> str:
    return _FORMS[type(c.item)](c.item, rules, not negate)


_FORMS: dict[type, Callable[[Any, Rules, bool], str]] = {
    AnswerIs: _answer,
    ProfileTest: _profile,
    MetricTest: _metric,
    DecidedBy: _decided_by,
    AllOf: _group,
    AnyOf: _group,
    Not: _not,
}
