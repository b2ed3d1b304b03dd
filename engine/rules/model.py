"""The rules as frozen dataclasses; every element knows where in the YAML it was written.

Built only from schema-valid data (see `rulebook.py`), so constructors trust shapes and types.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SourceLocation
from engine.rules.conditions import Condition

# --- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """A way of populating accounts that the rules can recommend (`options.yaml`)."""

    id: str
    label: str
    summary: str
    means: tuple[str, ...]
    caveats: tuple[str, ...]
    loc: SourceLocation


@dataclass(frozen=True)
class Theme:
    """A group of questions, in the order the questionnaire and the guide show them."""

    id: str
    label: str
    loc: SourceLocation


@dataclass(frozen=True)
class Question:
    """One question of the decision guide; an `informational` one needs no factor rule."""

    id: str
    text: str
    help: str
    theme: str
    informational: bool
    loc: SourceLocation


@dataclass(frozen=True)
class Factor:
    """One vote: an answer to a question favours an option with a weight."""

    id: str
    question: str
    answer: str
    favours: str
    weight: float
    rationale: str
    loc: SourceLocation


@dataclass(frozen=True)
class Override:
    """A condition that decides regardless of the score (`recommend`) or flags the advice for `review`."""

    id: str
    priority: int
    when: Condition
    effect: str  # "recommend" or "review"
    option: str | None  # the option recommended, for effect "recommend"
    reason: str
    revisit_when: str | None
    loc: SourceLocation


@dataclass(frozen=True)
class Catalogue:
    """A named list of values a profile field is checked against (`in_catalogue`)."""

    id: str
    description: str
    items: tuple[str, ...]
    loc: SourceLocation


@dataclass(frozen=True)
class Derived:
    """An answer derived from the profile when the district gave none; an explicit answer wins."""

    id: str
    question: str
    answer: str
    priority: int
    when: Condition
    explanation: str
    loc: SourceLocation


@dataclass(frozen=True)
class ConfidenceRule:
    """A confidence level and when it applies (first match wins; `when` None: always)."""

    id: str
    level: str
    when: Condition | None
    loc: SourceLocation


@dataclass(frozen=True)
class Level:
    """A confidence level's label and description, as documents show them."""

    id: str
    label: str
    description: str


@dataclass(frozen=True)
class ReviewPolicy:
    """How a review flag bears on the confidence: capped at a level, and qualified by a phrase."""

    at_most: str | None
    note: str
    loc: SourceLocation


@dataclass(frozen=True)
class Policy:
    """The tie-break, the confidence rules and levels, and how a review flag bears on confidence."""

    tie_break: str
    tie_break_reason: str
    confidence: tuple[ConfidenceRule, ...]
    levels: dict[str, Level]  # strongest first
    tie_break_loc: SourceLocation
    review: ReviewPolicy | None = None

    def capped_levels(self) -> tuple[str, ...]:
        """The levels stronger than the review cap: a review flag lowers them to the cap."""
        cap = self.review.at_most if self.review else None
        if cap is None or cap not in self.levels:
            return ()
        order = list(self.levels)
        return tuple(order[: order.index(cap)])


@dataclass(frozen=True)
class NextStep:
    """A next step for the recommended option, shown when its condition (if any) holds."""

    id: str
    option: str
    priority: int
    when: Condition | None
    text: str
    loc: SourceLocation


@dataclass(frozen=True)
class ChangelogEntry:
    """One release of the rules in the manifest's changelog."""

    version: str
    date: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """The rules' name, rule-language `format` and content `version`, with their changelog."""

    format: int
    name: str
    version: str
    changelog: tuple[ChangelogEntry, ...]
    loc: SourceLocation


@dataclass(frozen=True)
class RulesIndex:
    """The rules' elements by id."""

    options: dict[str, Option]
    questions: dict[str, Question]
    factors: dict[str, Factor]
    overrides: dict[str, Override]
    derived: dict[str, Derived]
    next_steps: dict[str, NextStep]


@dataclass(frozen=True)
class Rules:
    """Everything in a rules directory, checked; `digest` identifies the content."""

    manifest: Manifest
    options: tuple[Option, ...]
    themes: tuple[Theme, ...]
    questions: tuple[Question, ...]
    factors: tuple[Factor, ...]
    overrides: tuple[Override, ...]
    catalogues: dict[str, Catalogue]
    derived: tuple[Derived, ...]
    policy: Policy
    next_steps: tuple[NextStep, ...]
    digest: str
    source: str
    content: dict[str, Any] = field(compare=False, repr=False)

    @property
    def version(self) -> str:
        return self.manifest.version

    @functools.cached_property
    def index(self) -> RulesIndex:
        """Built once: every district's JSON and document looks elements up by id."""
        return RulesIndex(
            options={o.id: o for o in self.options},
            questions={q.id: q for q in self.questions},
            factors={f.id: f for f in self.factors},
            overrides={o.id: o for o in self.overrides},
            derived={d.id: d for d in self.derived},
            next_steps={n.id: n for n in self.next_steps},
        )

    def option(self, option_id: str) -> Option:
        return self.index.options[option_id]

    def question(self, question_id: str) -> Question:
        return self.index.questions[question_id]

    def all_rule_ids(self) -> list[str]:
        """Ids of every YAML rule that compiles to an engine rule (for coverage)."""
        return (
            [d.id for d in self.derived]
            + [f.id for f in self.factors]
            + [o.id for o in self.overrides]
            + [c.id for c in self.policy.confidence]
            + [n.id for n in self.next_steps]
        )

    def locations(self) -> dict[tuple[str, str], SourceLocation]:
        """Where each element was written, by (kind, id): for reports that point into the YAML."""
        out: dict[tuple[str, str], SourceLocation] = {("manifest", "manifest"): self.manifest.loc}
        out.update({("options", o.id): o.loc for o in self.options})
        out.update({("themes", t.id): t.loc for t in self.themes})
        out.update({("questions", q.id): q.loc for q in self.questions})
        out.update({("factors", f.id): f.loc for f in self.factors})
        out.update({("overrides", o.id): o.loc for o in self.overrides})
        out.update({("catalogues", k): c.loc for k, c in self.catalogues.items()})
        out.update({("derived", d.id): d.loc for d in self.derived})
        out.update({("confidence", c.id): c.loc for c in self.policy.confidence})
        out.update({("next_steps", n.id): n.loc for n in self.next_steps})
        out[("policy", "tie_break")] = self.policy.tie_break_loc
        return out

    def rule_location(self, rule_id: str) -> SourceLocation | None:
        """Where a rule that compiles to an engine rule (by its trace id) was written."""
        table = self.locations()
        for kind in ("derived", "factors", "overrides", "confidence", "next_steps"):
            if (kind, rule_id) in table:
                return table[(kind, rule_id)]
        return None

    def profile_fields(self, *, beyond_derivation: bool = False) -> dict[str, str]:
        """Profile fields named by rules, with the kind of value they need: number, text or boolean.

        `beyond_derivation`: only those named outside derived-answer rules, i.e. the fields that
        still matter once every answer is given explicitly.
        """
        kinds: dict[str, str] = {}
        conditions: list[Condition | None] = [] if beyond_derivation else [d.when for d in self.derived]
        conditions += [o.when for o in self.overrides]
        conditions += [c.when for c in self.policy.confidence] + [n.when for n in self.next_steps]
        for condition in conditions:
            if condition is not None:
                for name, kind in condition.profile_read().items():
                    kinds.setdefault(name, kind)
        return kinds

